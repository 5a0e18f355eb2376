"""Run a parameterised notebook headless into a reproducible report (``ztfnb run``).

A report folder holds the executed notebook, its HTML export, ``run.log``
(every cell's output) and ``manifest.json``: parameters (every value the run
used: the notebook's defaults with the overrides applied), software versions,
git commit, start and end times, and the sha256 of the notebook, the
parameters file, the input files named by parameters, and the outputs. Files
are written under temporary names and renamed when whole, and the manifest
is written last: a folder without one is an interrupted run. A failed cell
fails the run; the partial notebook and its HTML are kept and the manifest
says ``"status": "failed"`` with the error.

The kernel runs in the project root (the folder holding ``pyproject.toml``
and ``notebooks/``), so relative paths in parameters mean the same from
wherever the command is started. The HTML references nothing on the network.
"""

import datetime
import itertools
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.manifest import LOG, MANIFEST, Manifest, input_paths
from ztfnb.project import find_root
from ztfnb.provenance import git_state, hash_paths, sha256, software_versions
from ztfnb.quantity import shown
from ztfnb.reportindex import write_reports_index
from ztfnb.runparameters import (
    RESERVED,
    check_reserved,
    checked_parameters,
    files_record,
    notebook_defaults,
    parameters_file_for,
    parameters_file_sha256,
    parameters_files,
    read_notebook,
    without_output_dir,
)

__all__ = [
    "LOG",
    "MANIFEST",
    "RESERVED",
    "Manifest",
    "RunResult",
    "check_reserved",
    "checked_parameters",
    "default_output_dir",
    "find_root",
    "input_paths",
    "new_report_dir",
    "notebook_defaults",
    "papermill_execute",
    "parameters_file_for",
    "parameters_file_sha256",
    "parameters_files",
    "read_notebook",
    "run_notebook",
    "stop_kernels",
    "without_output_dir",
    "write_reports_index",
]


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
    manifest : `ztfnb.manifest.Manifest`
    error : str or None
    """

    status: str
    output_dir: Path
    notebook: Path
    html: Path | None
    manifest: Manifest
    error: str | None = None

    @property
    def ok(self):
        return self.status == "complete"


def default_output_dir(notebook, root, now=None):
    """``<root>/reports/<YYYY-MM-DD>/<notebook stem>-<HHMMSS>``."""
    now = now or datetime.datetime.now()
    return (
        Path(root)
        / "reports"
        / now.strftime("%Y-%m-%d")
        / f"{Path(notebook).stem}-{now.strftime('%H%M%S')}"
    )


def new_report_dir(base):
    """Create a report folder no other run has: ``base``, else ``base-2``, ``base-3``, ...

    Two runs started in the same second would otherwise share one folder
    (the default name has whole seconds); ``mkdir`` without ``exist_ok`` is
    atomic, so concurrent runs each get their own.

    Parameters
    ----------
    base : path-like

    Returns
    -------
    `~pathlib.Path`
        The folder, created.
    """
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = base if number == 1 else base.with_name(f"{base.name}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder.resolve()


def stop_kernels():
    """Kill every kernel this process started that still runs (`ztfnb.engine.stop_kernels`)."""
    from ztfnb.engine import stop_kernels as stop

    stop()


def __getattr__(name):
    # WarmKernel lives with the engine; importing it here would import papermill with the runner
    if name == "WarmKernel":
        from ztfnb.engine import WarmKernel

        return WarmKernel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# nbconvert's lab template loads require.js, MathJax and mermaid from cdnjs; a
# report must open offline and tell no outside host it was opened, so those
# blocks are emptied (LaTeX in Markdown then shows as its source).
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _offline_exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        extra_loaders=[DictLoader({"ztfnb_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="ztfnb_offline.html.j2",
        mathjax_url="",
        require_js_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
    )


def _export_html(executed, target):
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    # with widget state the HTML would load a widget manager from a CDN (blank offline);
    # without it nbconvert shows each widget's static text/html view instead
    notebook.metadata.pop("widgets", None)
    body, _ = _offline_exporter().from_notebook_node(notebook)
    with atomic_path(target) as temporary:
        Path(temporary).write_text(body, encoding="utf-8")


def _name_final_folder(executed, written, final, name):
    """Make the saved notebook's injected ``output_dir`` name the folder the report ends in.

    A batch executes into a temporary folder and renames it when whole; the
    notebook ran with the temporary name, which is deleted by then, so the
    injected cell (and papermill's record of the parameters and output path)
    would otherwise point nowhere. ``name`` is the executed notebook's file name.
    """
    import nbformat
    from papermill.translators import PythonTranslator

    document = nbformat.read(str(executed), as_version=4)
    before = f"output_dir = {PythonTranslator.translate_str(str(written))}"
    after = f"output_dir = {PythonTranslator.translate_str(str(final))}"
    for cell in document.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(before, after)
    papermill = document.metadata.get("papermill", {})
    if papermill.get("parameters", {}).get("output_dir") == str(written):
        papermill["parameters"]["output_dir"] = str(final)
    if "output_path" in papermill:
        papermill["output_path"] = str(Path(final) / name)
    with atomic_path(executed) as temporary:
        nbformat.write(document, str(temporary))


def _progress_bar(notebook):
    """papermill's progress bar (tqdm's options) as ``ztfnb run`` shows it: cells done, time taken.

    ``03_ost_simulation: 4 of 12 cells done, 00:41 elapsed``; papermill
    updates it as each cell ends, and names a cell that has a
    ``#papermill_description=Label`` comment while it runs.
    """
    return {
        "desc": Path(notebook).stem,
        "bar_format": "{desc}: {n_fmt} of {total_fmt} cells done, {elapsed} elapsed",
        "file": sys.stderr,
    }


def papermill_execute(notebook, output, parameters, kernel_name, cwd, progress, km=None):
    """Execute with papermill's ``ztfnb`` engine (`ztfnb.engine`): a fresh private kernel, or ``km``.

    A fresh kernel's connection file and sockets are in a private folder in
    the report's folder (``output``'s), and its own output goes to ``run.log``.
    """
    import papermill

    from ztfnb.engine import ENGINE

    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        engine_name=ENGINE,
        kernel_name=kernel_name,
        cwd=str(cwd),
        progress_bar=_progress_bar(notebook) if progress else False,
        log_output=True,
        request_save_on_cell_execute=True,
        km=km,
        kernel_dir=Path(output).parent,
        kernel_log=Path(output).parent / LOG,  # the report's run.log, beside the notebook
    )


def run_notebook(
    notebook,
    parameters_file=None,
    output_dir=None,
    overrides=None,
    kernel_name="python3",
    progress=False,
    executor=None,
    record_output_dir=None,
    overrides_source=None,
    overwrite=False,
):
    """Execute a notebook with papermill and write its report.

    Parameters
    ----------
    notebook : path-like
    parameters_file : path-like or list of path-like, optional
        YAML values (several: each over the ones before); default
        ``parameters/<notebook stem>.yaml`` under the root when it exists.
    output_dir : path-like, optional
        Default: a new folder from :func:`default_output_dir` (with a ``-2``,
        ``-3``... suffix when another run has that name).
    overrides : dict, optional
        Values applied over the files' (``-y``, ``-p``, ``-r``; a batch's grid).
    kernel_name : str
        Jupyter kernel; ``python3`` is the running interpreter's own.
    progress : bool
        Show progress on standard error: cells done of all, time elapsed.
    executor : callable, optional
        Runs the notebook: default `papermill_execute` (a fresh kernel); a
        `ztfnb.engine.WarmKernel` reuses one.
    record_output_dir : path-like, optional
        The folder the report ends in, when ``output_dir`` is a temporary one
        (a batch renames it when complete): the manifest and the saved
        notebook's ``output_dir`` name this one.
    overrides_source : str, optional
        Where the overrides came from, for messages (``the command line``).
    overwrite : bool
        Write into an existing ``output_dir`` that holds files and is not a
        report (without it such a folder is refused: its files are not ours to replace).

    Returns
    -------
    `RunResult`

    Raises
    ------
    InputError, ParameterError
        Before anything runs: a missing or unreadable notebook, a missing
        parameters file, an unknown parameter, a value of the wrong type or
        unit, a parameter the runner sets itself (`RESERVED`), an output
        folder where the executed notebook would replace the notebook itself,
        or an output folder holding files that are not a report's.
    """
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook).resolve()
    read_notebook(notebook)
    root = find_root(notebook.parent)
    parameters_file = parameters_file_for(notebook, parameters_file)
    values, declared = checked_parameters(
        notebook, parameters_file, overrides, overrides_source=overrides_source
    )

    started = datetime.datetime.now(datetime.UTC)
    output_dir = _report_folder(notebook, root, output_dir, overwrite)
    (output_dir / MANIFEST).unlink(missing_ok=True)
    final_dir = Path(record_output_dir or output_dir)
    injected_output_dir = "output_dir" in declared  # never given: see RESERVED
    if injected_output_dir:
        values["output_dir"] = str(output_dir)
    executed = output_dir / notebook.name
    partial = output_dir / f".{notebook.stem}.partial.ipynb"

    (output_dir / LOG).write_bytes(b"")
    # appended to, by this process and by the kernel process (see _ipc_kernel_manager)
    handler = logging.FileHandler(output_dir / LOG, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    papermill_logger = logging.getLogger("papermill")
    papermill_logger.addHandler(handler)
    previous_level = papermill_logger.level
    papermill_logger.setLevel(logging.INFO)
    status, error = "complete", None
    try:
        (executor or papermill_execute)(notebook, partial, values, kernel_name, root, progress)
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
        if injected_output_dir and final_dir != output_dir:
            try:
                _name_final_folder(partial, output_dir, final_dir, executed.name)
            except (OSError, ValueError):  # keep the report as it ran rather than lose it
                pass
        os.replace(partial, executed)

    html_path = None
    if executed.exists():
        html_path = output_dir / f"{notebook.stem}.html"
        try:
            _export_html(executed, html_path)
        except Exception as failure:
            html_path = None
            error = error or f"HTML export failed: {failure}"

    escaped = _outside(output_dir)
    if escaped and status == "complete":
        status, error = "failed", escaped

    finished = datetime.datetime.now(datetime.UTC)
    used = {**notebook_defaults(notebook), **values}
    if injected_output_dir:
        used["output_dir"] = str(final_dir)
    # paths named by defaults are inputs too; output_dir is the report's own folder
    named, not_hashed = input_paths(without_output_dir(used), root, output_dir)
    inputs = [notebook, *parameters_files(parameters_file), *named]
    manifest = Manifest(
        notebook=_relative(notebook, root),
        notebook_sha256=sha256(notebook),
        # one file: its name and sha256; several (-f A -f B): lists, in the order read
        parameters_file=files_record(parameters_file, lambda path: _relative(path, root)),
        parameters_file_sha256=parameters_file_sha256(parameters_file),
        parameters=used,
        output_dir=str(final_dir),
        status=status,
        error=error,
        run_id=uuid.uuid4().hex,
        started=started.isoformat(timespec="seconds"),
        finished=finished.isoformat(timespec="seconds"),
        duration_s=round((finished - started).total_seconds(), 3),
        versions=software_versions(),
        git=git_state(root),
        inputs=hash_paths(inputs, relative_to=root, unreadable=not_hashed),
        inputs_not_hashed=dict(sorted(not_hashed.items())),
        outputs=hash_paths(
            [p for p in output_dir.iterdir() if p.name != MANIFEST], relative_to=output_dir
        ),
    )
    manifest.write(output_dir)
    reports = root / "reports"
    if record_output_dir is None and reports in output_dir.parents:
        write_reports_index(reports)  # a batch's folder is temporary: the batch indexes at its end
    return RunResult(status, output_dir, executed, html_path, manifest, error)


def _report_folder(notebook, root, output_dir, overwrite=False):
    """The report folder, created: the one asked for, or a new dated one.

    An existing folder is used when it is empty or holds a report (a
    ``manifest.json``, or the ``run.log`` of an interrupted run); one holding
    anything else is refused unless ``overwrite``: a report would replace
    files of the same names.
    """
    if output_dir is None:
        return new_report_dir(default_output_dir(notebook, root))
    output_dir = Path(output_dir).resolve()
    executed = output_dir / notebook.name
    if executed == notebook or (executed.exists() and executed.samefile(notebook)):
        raise InputError(
            "the executed notebook would replace the notebook itself; choose another output folder",
            path=output_dir,
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError("not a folder; choose another output folder", path=output_dir)
    if output_dir.is_dir() and not overwrite:
        names = sorted(p.name for p in output_dir.iterdir())
        if names and MANIFEST not in names and LOG not in names:
            raise InputError(
                f"holds files that are not a report's ({shown(names[0])}"
                f"{f' and {len(names) - 1} more' if len(names) > 1 else ''}); "
                "choose a new or empty folder, or give --overwrite",
                path=output_dir,
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


def _outside(folder):
    """Why a report reaches outside its folder (a link out of it), or None.

    The manifest hashes what the folder holds; a symbolic link would make it
    record, and the index link, a file the report did not write into its folder.
    """
    folder = Path(folder).resolve()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            target = path.resolve()
            if target != folder and folder not in target.parents:
                return f"{path.relative_to(folder)} leads outside the report's folder (to {target})"
    return None


def _relative(path, root):
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)
