"""Where a report came from: software versions, git commit, file checksums.

Every report ends with a software-versions table and is accompanied by a
``manifest.json`` that records the parameters and the sha256 of its inputs
and outputs, so that a result can be traced and its inputs verified.
"""

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from functools import cache
from pathlib import Path

from astropy.table import Table

__all__ = [
    "git_state",
    "hash_paths",
    "sha256",
    "software_versions",
    "versions_table",
    "walk_files",
]

_PACKAGES = (
    "ztfnb",
    "numpy",
    "scipy",
    "astropy",
    "astropy-iers-data",
    "matplotlib",
    "papermill",
    "ipykernel",
)


@cache
def software_versions():
    """Versions of Python, the scientific stack, papermill and SCAMP (read once per process).

    Returns
    -------
    dict
        name → version string (``"not installed"`` where absent).
    """
    from ztfnb.scamp import scamp_version

    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["scamp"] = scamp_version() or "not installed"
    return versions


def versions_table():
    """The software versions and ztfnb's git commit as a two-column table, for the end of a report.

    The commit is marked "(modified)" when the work tree has uncommitted
    changes; outside a git checkout the row says "not a git checkout".
    """
    versions = dict(software_versions())
    state = git_state(Path(__file__).resolve().parents[1])
    commit = state["commit"] or "not a git checkout"
    if state["dirty"]:
        commit += " (modified)"
    versions["ztfnb commit"] = commit
    return Table({"software": list(versions), "version": list(versions.values())})


def git_state(root):
    """Commit and dirtiness of the git work tree at ``root`` (``None`` values outside git)."""

    def git(*args):
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


_DIGESTS = {}


def sha256(path, chunk=1 << 20):
    """Hex sha256 of a file, remembered in this process while its size and time are the same.

    The runs of a batch name the same inputs (a night of catalogues, 100 MB
    of Gaia): a worker, and the check of which runs are done, read each once.
    """
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def walk_files(folder, onerror=None):
    """The files under a folder, hidden files and folders (``.git``, ``.venv``...) left out.

    Symbolic links to folders are not followed (no loops, nothing outside).

    Parameters
    ----------
    folder : path-like
    onerror : callable, optional
        Called with the `OSError` of a folder that cannot be listed.

    Yields
    ------
    `~pathlib.Path`
        In sorted order within each folder.
    """
    for top, folders, files in os.walk(folder, onerror=onerror):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(top) / name


def _is_file(path):
    try:
        return path.is_file()
    except OSError:  # e.g. a folder on the way that cannot be searched
        return False


def hash_paths(paths, relative_to=None, unreadable=None):
    """sha256 of files, and of every file under folders (hidden ones left out).

    Parameters
    ----------
    paths : iterable of path-like
    relative_to : path-like, optional
        Keys are relative to this folder where possible.
    unreadable : dict, optional
        When given, a file or folder that cannot be read is recorded here
        (path → reason) and hashing goes on; otherwise its `OSError` is
        raised, naming it.

    Returns
    -------
    dict
        path → sha256, sorted by path.

    Raises
    ------
    OSError
        A file that cannot be read, when ``unreadable`` is None.
    """
    digests = {}

    def key(path):
        try:
            key = Path(path).resolve()
        except (OSError, RuntimeError):
            key = Path(os.path.abspath(path))
        if relative_to is not None:
            try:
                key = key.relative_to(Path(relative_to).resolve())
            except ValueError:
                pass
        return str(key)

    def failed(error, path):
        if unreadable is None:
            raise OSError(
                error.errno, f"cannot read {path}: {error.strerror}", str(path)
            ) from error
        unreadable[key(path)] = f"unreadable: {error.strerror or error}"

    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = walk_files(
                path, onerror=lambda error, top=path: failed(error, error.filename or top)
            )
        else:
            files = [path]
        for file in files:
            if not _is_file(file) or file.name.startswith("."):
                continue
            try:
                digests[key(file)] = sha256(file)
            except OSError as error:
                failed(error, file)
    return dict(sorted(digests.items()))
