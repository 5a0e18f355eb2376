"""Run a parameterised notebook headless into a reproducible report (``ztfnb run``).

A report folder holds the executed notebook, its HTML export, ``run.log``
(every cell's output) and ``manifest.json``: parameters, software versions,
git commit, start and end times, and the sha256 of inputs and outputs. Files
are written under temporary names and renamed when whole, and the manifest
is written last: a folder without one is an interrupted run. A failed cell
fails the run; the partial notebook and its HTML are kept and the manifest
says ``"status": "failed"`` with the error.

The kernel runs in the project root (the folder holding ``pyproject.toml``
and ``notebooks/``), so relative paths in parameters mean the same from
wherever the command is started.
"""

import datetime
import html
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.parameters import check_parameters, load_parameters
from ztfnb.provenance import git_state, hash_paths, software_versions

__all__ = [
    "RunResult",
    "default_output_dir",
    "find_root",
    "run_notebook",
    "write_reports_index",
]

MANIFEST = "manifest.json"
LOG = "run.log"


@dataclass
class RunResult:
    """Outcome of one notebook run.

    Attributes
    ----------
    status : str
        ``"complete"`` or ``"failed"``.
    output_dir : `~pathlib.Path`
    notebook : `~pathlib.Path`
        The executed notebook.
    html : `~pathlib.Path` or None
    manifest : dict
    error : str or None
    """

    status: str
    output_dir: Path
    notebook: Path
    html: Path | None
    manifest: dict
    error: str | None = None

    @property
    def ok(self):
        return self.status == "complete"


def find_root(start):
    """The project root above ``start``: the first folder with ``pyproject.toml`` and ``notebooks/``.

    Falls back to ``start`` itself (a notebook outside a ztfnb checkout).
    """
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return start


def default_output_dir(notebook, root, now=None):
    """``<root>/reports/<YYYY-MM-DD>/<notebook stem>-<HHMMSS>``."""
    now = now or datetime.datetime.now()
    return (
        Path(root)
        / "reports"
        / now.strftime("%Y-%m-%d")
        / f"{Path(notebook).stem}-{now.strftime('%H%M%S')}"
    )


def _path_parameters(values, root, output_dir):
    """Existing files or folders named by string parameters (inputs to hash), outside the report."""
    paths = []
    for value in values.values():
        if not isinstance(value, str) or not value or "\n" in value or len(value) > 4096:
            continue
        path = Path(value) if Path(value).is_absolute() else Path(root) / value
        try:
            exists = path.exists()
        except OSError:
            continue
        if exists and output_dir.resolve() not in (path.resolve(), *path.resolve().parents):
            paths.append(path)
    return paths


def _ipc_kernel_manager(folder):
    """A kernel manager talking to the kernel over Unix sockets in a private folder.

    No TCP port is opened (nothing for another user of a shared node to reach,
    and no unencrypted-TCP warning in every report).
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, Unicode

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        ip = Unicode(str(Path(folder) / "kernel"), config=True)

    return IPCKernelManager


def _export_html(executed, target):
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(executed, as_version=4)
    # with widget state the HTML would load a widget manager from a CDN (blank offline);
    # without it nbconvert shows each widget's static text/html view instead
    notebook.metadata.pop("widgets", None)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    with atomic_path(target) as temporary:
        Path(temporary).write_text(body, encoding="utf-8")


def _papermill_execute(notebook, output, parameters, kernel_name, cwd, progress):
    """Execute with papermill in a fresh kernel talking over Unix sockets."""
    import papermill

    sockets = tempfile.mkdtemp(prefix="ztfnb-kernel-")
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            cwd=str(cwd),
            progress_bar=progress,
            log_output=True,
            request_save_on_cell_execute=True,
            kernel_manager_class=_ipc_kernel_manager(sockets),
        )
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


class WarmKernel:
    """A kernel kept for several runs: imports stay loaded, the namespace is reset between runs.

    Starting a kernel and importing astropy and ztfnb costs a few seconds a
    run; a batch of quick notebooks spends most of its time there. Each run
    still gets a clean namespace (``%reset -f``); module-level state (imported
    modules, caches) is shared, so results are the same as in a fresh kernel
    for notebooks that do not change global settings.

    Parameters
    ----------
    cwd : path-like
        The kernel's working folder (the project root).
    kernel_name : str
    """

    def __init__(self, cwd, kernel_name="python3"):
        from jupyter_client.manager import KernelManager
        from traitlets import CaselessStrEnum, Unicode

        self._sockets = tempfile.mkdtemp(prefix="ztfnb-kernel-")
        sockets = self._sockets

        class _IPC(KernelManager):
            transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
            ip = Unicode(str(Path(sockets) / "kernel"), config=True)

        self.cwd = str(cwd)
        self.kernel_name = kernel_name
        self.manager = _IPC(kernel_name=kernel_name)
        self.manager.start_kernel(cwd=self.cwd)
        self.runs = 0

    def __call__(self, notebook, output, parameters, kernel_name, cwd, progress):
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
        from papermill.exceptions import PapermillExecutionError
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        if str(cwd) != self.cwd:
            raise ValueError(f"this kernel runs in {self.cwd}, not {cwd}")
        document = parameterize_notebook(
            load_notebook_node(str(notebook)), parameters, kernel_name=self.kernel_name
        )
        client = self.manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            client.execute_interactive("%reset -f", timeout=60, store_history=False)
        finally:
            client.stop_channels()
        runner = NotebookClient(
            document,
            km=self.manager,
            kernel_name=self.kernel_name,
            timeout=None,
            resources={"metadata": {"path": self.cwd}},
        )
        try:
            runner.execute()
        except CellExecutionError as failure:
            cell = next(
                (
                    c
                    for c in document.cells
                    if any(o.get("output_type") == "error" for o in c.get("outputs", []))
                ),
                None,
            )
            raise PapermillExecutionError(
                cell_index=document.cells.index(cell) if cell else -1,
                exec_count=cell.get("execution_count") if cell else None,
                source=cell.source if cell else "",
                ename=failure.ename,
                evalue=failure.evalue,
                traceback=[str(failure)],
            ) from failure
        finally:
            nbformat.write(document, str(output))
            self.runs += 1

    def close(self):
        """Stop the kernel."""
        try:
            self.manager.shutdown_kernel(now=True)
        finally:
            shutil.rmtree(self._sockets, ignore_errors=True)


def run_notebook(
    notebook,
    parameters_file=None,
    output_dir=None,
    overrides=None,
    kernel_name="python3",
    progress=False,
    executor=None,
    record_output_dir=None,
):
    """Execute a notebook with papermill and write its report.

    Parameters
    ----------
    notebook : path-like
    parameters_file : path-like, optional
        YAML overrides; default ``parameters/<notebook stem>.yaml`` under the root when it exists.
    output_dir : path-like, optional
        Default :func:`default_output_dir`.
    overrides : dict, optional
        Values applied over the file's (used by tests and batches).
    kernel_name : str
        Jupyter kernel; ``python3`` is the running interpreter's own.
    progress : bool
        Show papermill's progress bar.
    executor : callable, optional
        Runs the notebook: default papermill in a fresh kernel; a `WarmKernel` reuses one.
    record_output_dir : path-like, optional
        The folder the manifest names as the report's (a batch writes under a
        temporary name and renames the folder when complete).

    Returns
    -------
    `RunResult`

    Raises
    ------
    InputError, ParameterError
        Before anything runs: a missing notebook or parameters file, an
        unknown parameter, a value of the wrong type or unit.
    """
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise InputError("no such notebook", path=notebook)
    root = find_root(notebook.parent)
    if parameters_file is None:
        candidate = root / "parameters" / f"{notebook.stem}.yaml"
        parameters_file = candidate if candidate.is_file() else None
    values = load_parameters(parameters_file) if parameters_file else {}
    values.update(overrides or {})
    declared = check_parameters(notebook, values, source=str(parameters_file or "parameters"))

    started = datetime.datetime.now(datetime.UTC)
    output_dir = Path(output_dir or default_output_dir(notebook, root)).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / MANIFEST).unlink(missing_ok=True)
    if "output_dir" in declared and "output_dir" not in values:
        values["output_dir"] = str(output_dir)
    executed = output_dir / notebook.name
    partial = output_dir / f".{notebook.stem}.partial.ipynb"

    handler = logging.FileHandler(output_dir / LOG, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    papermill_logger = logging.getLogger("papermill")
    papermill_logger.addHandler(handler)
    previous_level = papermill_logger.level
    papermill_logger.setLevel(logging.INFO)
    status, error = "complete", None
    try:
        (executor or _papermill_execute)(notebook, partial, values, kernel_name, root, progress)
    except PapermillExecutionError as failure:
        status = "failed"
        error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
    except Exception as failure:  # kernel died, no such kernel...: still leave a marked report
        status = "failed"
        error = f"{type(failure).__name__}: {failure}"
    finally:
        papermill_logger.removeHandler(handler)
        papermill_logger.setLevel(previous_level)
        handler.close()
    if partial.exists():
        os.replace(partial, executed)

    html_path = None
    if executed.exists():
        html_path = output_dir / f"{notebook.stem}.html"
        try:
            _export_html(executed, html_path)
        except Exception as failure:
            html_path = None
            error = error or f"HTML export failed: {failure}"

    finished = datetime.datetime.now(datetime.UTC)
    inputs = (
        [notebook]
        + ([Path(parameters_file)] if parameters_file else [])
        + _path_parameters(values, root, output_dir)
    )
    manifest = {
        "notebook": _relative(notebook, root),
        "parameters_file": _relative(Path(parameters_file), root) if parameters_file else None,
        "parameters": values,
        "output_dir": str(record_output_dir or output_dir),
        "status": status,
        "error": error,
        "run_id": uuid.uuid4().hex,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 3),
        "versions": software_versions(),
        "git": git_state(root),
        "inputs": hash_paths(inputs, relative_to=root),
        "outputs": hash_paths(
            [p for p in output_dir.iterdir() if p.name != MANIFEST], relative_to=output_dir
        ),
    }
    with atomic_path(output_dir / MANIFEST) as temporary:
        Path(temporary).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    reports = root / "reports"
    if reports in output_dir.parents:
        write_reports_index(reports)
    return RunResult(status, output_dir, executed, html_path, manifest, error)


def _relative(path, root):
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def write_reports_index(reports):
    """Write ``reports/index.html`` listing every report under it, newest first."""
    reports = Path(reports)
    rows = []
    for manifest_path in reports.rglob(MANIFEST):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        folder = manifest_path.parent
        pages = sorted(folder.glob("*.html"))
        link = (
            pages[0].relative_to(reports).as_posix()
            if pages
            else folder.relative_to(reports).as_posix()
        )
        rows.append(
            (
                manifest.get("started", ""),
                manifest.get("notebook", ""),
                manifest.get("status", ""),
                manifest.get("duration_s", ""),
                link,
            )
        )
    rows.sort(reverse=True)
    cells = "\n".join(
        f'<tr><td>{html.escape(str(started))}</td><td><a href="{html.escape(link)}">{html.escape(str(name))}</a></td>'
        f'<td class="{html.escape(str(status))}">{html.escape(str(status))}</td><td>{duration}</td></tr>'
        for started, name, status, duration, link in rows
    )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ztfnb reports</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 10px}} .failed{{color:#b00}} .complete{{color:#070}}</style>
</head><body><h1>ztfnb reports</h1>
<table><tr><th>started (UTC)</th><th>notebook</th><th>status</th><th>seconds</th></tr>
{cells}
</table></body></html>
"""
    with atomic_path(reports / "index.html") as temporary:
        Path(temporary).write_text(page, encoding="utf-8")
