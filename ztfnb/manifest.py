"""A report's ``manifest.json``: the one contract between a run, a batch and the index pages.

`Manifest` is written by `ztfnb.runner.run_notebook` (last, so that a folder
without one is an interrupted run) and read by `ztfnb.batch` (to skip a run
already made) and `ztfnb.reportindex` (to list reports), always through
`Manifest.read` and `Manifest.write`, by attribute. The inputs it hashes are
chosen here too (`input_paths`).
"""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ztfnb.io.atomic import atomic_path
from ztfnb.provenance import walk_files

__all__ = ["LOG", "MANIFEST", "MAX_FOLDER_BYTES", "MAX_FOLDER_FILES", "Manifest", "input_paths"]

MANIFEST = "manifest.json"
LOG = "run.log"

#: A folder named by a parameter is hashed as an input only when it is this small. The file
#: count admits a night in ZTF's archive layout (two files per readout quadrant: 128 an
#: exposure, ≈ 1,000 for 8 exposures) up to the byte limit, which bounds the hashing time.
MAX_FOLDER_FILES = 20_000
MAX_FOLDER_BYTES = 2 * 1024**3


@dataclass
class Manifest:
    """What a report records about its run (``manifest.json``).

    Attributes
    ----------
    notebook : str
        The notebook, relative to the project root when under it.
    notebook_sha256 : str
    parameters_file : str, list of str or None
        The parameters file(s) read, in order (one: a string).
    parameters_file_sha256 : str, list of str or None
    parameters : dict
        Every value the run used: the notebook's literal defaults with the given values over them.
    output_dir : str
        The folder the report ends in.
    status : str
        ``"complete"`` or ``"failed"``.
    error : str or None
    run_id : str
    started, finished : str
        ISO 8601, UTC, to the second.
    duration_s : float
    versions : dict
        Software versions (`ztfnb.provenance.software_versions`).
    git : dict
    inputs, outputs : dict
        Path → sha256; inputs relative to the project root, outputs to the report.
    inputs_not_hashed : dict
        Path → why it was not hashed.
    """

    notebook: str = ""
    notebook_sha256: str | None = None
    parameters_file: str | list | None = None
    parameters_file_sha256: str | list | None = None
    parameters: dict = field(default_factory=dict)
    output_dir: str = ""
    status: str = "unknown"
    error: str | None = None
    run_id: str = ""
    started: str = ""
    finished: str = ""
    duration_s: float | None = None
    versions: dict = field(default_factory=dict)
    git: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    inputs_not_hashed: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)

    @property
    def complete(self):
        return self.status == "complete"

    def __getitem__(self, name):
        """``manifest["status"]``, as when the manifest was a dict (callers from before `Manifest`)."""
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def to_dict(self):
        return asdict(self)

    def write(self, folder):
        """Write ``folder/manifest.json`` whole (a temporary name, renamed)."""
        with atomic_path(Path(folder) / MANIFEST) as temporary:
            Path(temporary).write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    @classmethod
    def read(cls, folder):
        """The manifest in ``folder``, or None when there is none or it cannot be read.

        Keys it does not know are ignored and missing ones take their
        defaults, so a manifest of another ztfnb version still reads; a
        field of the wrong type makes it unreadable (None).
        """
        try:
            record = json.loads((Path(folder) / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        known = {f.name for f in fields(cls)}
        manifest = cls(**{k: v for k, v in record.items() if k in known})
        for name in ("parameters", "versions", "git", "inputs", "inputs_not_hashed", "outputs"):
            if not isinstance(getattr(manifest, name), dict):
                return None
        return manifest


def _named_path(value, root):
    """The existing file or folder a string parameter names, resolved; None otherwise."""
    if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > 4096:
        return None
    path = Path(value) if Path(value).is_absolute() else Path(root) / value
    try:
        return path.resolve() if path.exists() else None
    except (OSError, RuntimeError):  # unreadable, or a symbolic-link loop
        return None


def _folder_too_big(folder):
    """Why a folder is too big to hash as an input, or None when it is small enough."""
    count, size = 0, 0
    for file in walk_files(folder):
        count += 1
        try:
            size += file.stat().st_size
        except OSError:
            continue
        if count > MAX_FOLDER_FILES:
            return f"a folder of more than {MAX_FOLDER_FILES} files, not hashed"
        if size > MAX_FOLDER_BYTES:
            return f"a folder of more than {MAX_FOLDER_BYTES // 1024**3} GB, not hashed"
    return None


def input_paths(values, root, output_dir):
    """The files and small folders string parameters name: the run's inputs to hash.

    A value is taken for an input when it names an existing path (relative
    ones against the project root). Never hashed: the file system root, the
    home folder, the project root and the folders above it (a parameter
    ``"."`` or ``"/"`` is a working folder, not an input), the report's own
    folder and the folders holding it, and folders of more than
    `MAX_FOLDER_FILES` files or `MAX_FOLDER_BYTES` bytes.

    Parameters
    ----------
    values : dict
    root : path-like
    output_dir : path-like

    Returns
    -------
    paths : list of `~pathlib.Path`
    skipped : dict
        path → why it is not hashed.
    """
    root, output_dir = Path(root).resolve(), Path(output_dir).resolve()
    too_wide = {Path("/"), Path.home().resolve(), root, *root.parents}
    paths, skipped = [], {}
    for value in values.values():
        path = _named_path(value, root)
        if path is None or path == output_dir or output_dir in path.parents:
            continue  # not a path, or the report's own output
        if path in too_wide:
            skipped[str(path)] = "the file system root, home or project folder, not hashed"
        elif path in output_dir.parents:
            skipped[str(path)] = "a folder holding the report, not hashed"
        elif path.is_dir() and (reason := _folder_too_big(path)):
            skipped[str(path)] = reason
        elif path not in paths:
            paths.append(path)
    return paths, skipped
