"""Many runs of a notebook, in parallel, resumable: locally or on a Dask cluster (``ztfnb batch``).

A grid file (YAML) either maps parameter names to lists — their product is
run — or holds ``runs:``, a list of parameter mappings. Every run is checked
against the notebook's parameters before anything starts, then executed by
`ztfnb.runner.run_notebook` into ``DIR/.<name>.partial-<id>/`` and renamed to
``DIR/<name>/`` when its report is whole (executed notebook, HTML,
``manifest.json``). A run whose folder holds a complete manifest for the same
notebook (path and sha256), parameters file content, parameter values
(defaults, base file and grid together) and input files is not run again, so
a batch stopped in any way (SIGKILL included) is finished by starting it
again. A failing run is recorded as failed with its error; the others go on.
``DIR/runs.ecsv`` and ``DIR/index.html`` list every run: the batch's columns
``name, status, error, duration_s``, then the grid's parameters and the run's
key numbers (a run may write ``summary.json`` of scalars into its output
folder) under their own names — as ``param.<name>`` or ``summary.<key>`` only
where a name would overwrite a column before it, so nothing a notebook names
can overwrite the batch's own columns.

Ctrl-C stops a batch: queued runs are cancelled, running ones stopped with
their kernels, the index written, and `BatchInterrupted` raised. Local worker
processes, and the kernels they start, die with the batch even when it is
killed with SIGKILL.

Runs go to a local process pool by default, or to an existing Dask scheduler
(``--scheduler tcp://HOST:PORT``) — for a Slurm site, start one with
dask-jobqueue's ``SLURMCluster`` (see the README).
"""

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from ztfnb.batchlock import BatchBusy, BatchLock, clean_partials, new_owner, partial_name
from ztfnb.io.atomic import atomic_path
from ztfnb.lifetime import die_with_parent
from ztfnb.manifest import Manifest
from ztfnb.parameters import ParameterError, read_yaml
from ztfnb.provenance import sha256
from ztfnb.quantity import shown
from ztfnb.reportindex import index_page, report_files, write_page, write_reports_index
from ztfnb.runner import (
    check_reserved,
    checked_parameters,
    find_root,
    notebook_defaults,
    parameters_file_for,
    parameters_file_sha256,
    read_notebook,
    run_notebook,
    stop_kernels,
    without_output_dir,
)

__all__ = [
    "BatchBusy",
    "BatchInterrupted",
    "BatchRun",
    "is_done",
    "load_grid",
    "plan_batch",
    "run_batch",
    "run_name",
]

#: The batch's own columns of ``runs.ecsv``; parameters and key numbers come after, prefixed.
COLUMNS = ("name", "status", "error", "duration_s")


class BatchInterrupted(KeyboardInterrupt):
    """A batch stopped by Ctrl-C, after its index was written.

    Attributes
    ----------
    table : `~astropy.table.Table`
        ``runs.ecsv`` as written.
    """

    def __init__(self, table):
        super().__init__("batch interrupted")
        self.table = table


def load_grid(path):
    """Parameter sets of a grid file.

    Returns
    -------
    list of dict

    Raises
    ------
    ParameterError
        No such file, not YAML, not a grid, or no run in it.
    """
    path = Path(path)
    content = read_yaml(path, what="grid file")
    if not isinstance(content, dict) or not content:
        raise ParameterError(f"{path}: expected a mapping of parameters to lists, or 'runs:'")
    if "runs" not in content:
        check_reserved(content, str(path))
    if "runs" in content:
        runs = content["runs"]
        if (
            set(content) != {"runs"}
            or not isinstance(runs, list)
            or not all(isinstance(r, dict) for r in runs)
        ):
            raise ParameterError(
                f"{path}: 'runs' must be the only key and hold a list of parameter mappings"
            )
        if not runs:
            raise ParameterError(f"{path}: 'runs' is an empty list: nothing to run")
        for number, values in enumerate(runs, 1):
            check_reserved(values, f"{path}, run {number}")
        return [dict(r) for r in runs]
    names = list(content)
    values = [content[n] if isinstance(content[n], list) else [content[n]] for n in names]
    if any(len(v) == 0 for v in values):
        raise ParameterError(
            f"{path}: empty list for {[n for n, v in zip(names, values, strict=True) if not v]}"
        )
    return [
        dict(zip(names, combination, strict=True)) for combination in itertools.product(*values)
    ]


def _canonical(values):
    """One text for equal parameter values: NaN equals NaN, a tuple its list, keys sorted."""
    return json.dumps(values, sort_keys=True, default=str)


def run_name(parameters):
    """A folder name from parameters: readable, and unique through a short hash."""
    canonical = json.dumps(parameters, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    readable = "_".join(f"{k}={v}" for k, v in sorted(parameters.items()))
    readable = re.sub(r"[^A-Za-z0-9=.+-]+", "-", readable).strip("-")[:80]
    return f"{readable}-{digest}" if readable else digest


@dataclass
class BatchRun:
    """One run of a batch.

    Attributes
    ----------
    name : str
        Its folder's name.
    parameters : dict
        The grid's values for it.
    folder : `~pathlib.Path`
    notebook : `~pathlib.Path`
    parameters_file : `~pathlib.Path`, list of `~pathlib.Path` or None
        The base values (the file(s) given, or the notebook's default file).
    effective : dict
        Every value it runs with but ``output_dir``: the notebook's defaults,
        the base files', the command line's and the grid's.
    reuse_kernels : bool
    base : dict
        Values given on the command line (``-y``, ``-p``, ``-r``), under the grid's.
    owner : str
        The batch's owner id (`ztfnb.batchlock.new_owner`): its temporary folders carry it.
    """

    name: str
    parameters: dict
    folder: Path
    notebook: Path
    parameters_file: Path | list | None
    effective: dict = field(default_factory=dict)
    reuse_kernels: bool = False
    base: dict = field(default_factory=dict)
    owner: str = field(default_factory=new_owner)


def plan_batch(notebook, parameter_sets, out, parameters_file=None, base=None, grid=None):
    """Check every parameter set against the notebook and name its folder.

    Nothing is written.

    Parameters
    ----------
    notebook : path-like
    parameter_sets : list of dict
    out : path-like
    parameters_file : path-like or list of path-like, optional
        Base values (default ``parameters/<notebook stem>.yaml``).
    base : dict, optional
        Values over the files' and under the grid's (the command line's ``-y``, ``-p``, ``-r``).
    grid : path-like, optional
        The grid file, named in messages about its runs.

    Returns
    -------
    list of `BatchRun`

    Raises
    ------
    InputError, ParameterError
        A missing or unreadable notebook, no parameter set, an unknown
        parameter, a bad value, two identical runs.
    """
    notebook = Path(notebook).resolve()
    read_notebook(notebook)
    if not parameter_sets:
        raise ParameterError("no runs: the grid holds no parameter set")
    parameters_file = parameters_file_for(notebook, parameters_file)
    base = dict(base or {})
    # a bad base file or command-line value is named as such
    checked_parameters(notebook, parameters_file, base, overrides_source="the command line")
    defaults = notebook_defaults(notebook)
    runs, names = [], set()
    for number, parameters in enumerate(parameter_sets, 1):
        where = f"{grid or 'grid'}, run {number} ({shown(parameters, 60)})"
        check_reserved(parameters, where)
        values, _ = checked_parameters(
            notebook, parameters_file, {**base, **parameters}, source=where
        )
        grid = {k: values[k] for k in parameters}  # as read: '1e-3' for a float is 0.001
        name = run_name(grid)
        if name in names:
            raise ParameterError(
                f"{grid or 'grid'}: runs with the same parameters: {shown(parameters)}"
            )
        names.add(name)
        runs.append(
            BatchRun(
                name,
                grid,
                Path(out).resolve() / name,
                notebook,
                parameters_file,
                effective=without_output_dir({**defaults, **values}),
                base=base,
            )
        )
    return runs


def _sha256(path):
    """sha256 of a file, None if it cannot be read."""
    try:
        return sha256(path)
    except OSError:
        return None


def _recorded_path(name, root):
    path = Path(name)
    return (path if path.is_absolute() else Path(root) / path).resolve()


def is_done(run):
    """Whether the run's folder holds a complete report of this very run.

    The same notebook (path and sha256), the same parameters file content,
    the same values of every parameter (``output_dir`` aside; compared as
    canonical JSON, so NaN equals NaN), and input files that still have the
    recorded sha256.
    """
    manifest = Manifest.read(run.folder)
    if manifest is None or not manifest.complete:
        return False
    root = find_root(run.notebook.parent)
    if _canonical(without_output_dir(manifest.parameters)) != _canonical(run.effective):
        return False
    if _recorded_path(str(manifest.notebook), root) != run.notebook:
        return False
    if manifest.notebook_sha256 != _sha256(run.notebook):
        return False
    try:
        expected = parameters_file_sha256(run.parameters_file)
    except OSError:
        return False
    if manifest.parameters_file_sha256 != expected:
        return False
    for name, digest in manifest.inputs.items():
        if _sha256(_recorded_path(name, root)) != digest:
            return False
    return True


_KERNELS = {}


def _kernel(root):
    """A warm kernel for this process (and notebook root), stopped when the process ends."""
    from multiprocessing import util

    from ztfnb.engine import WarmKernel

    key = str(root)
    if key in _KERNELS and not _KERNELS[key].manager.is_alive():
        _KERNELS.pop(key).close()  # stopped by an interrupted batch: start another
    if key not in _KERNELS:
        kernel = WarmKernel(root)
        _KERNELS[key] = kernel
        util.Finalize(kernel, kernel.close, exitpriority=10)
    return _KERNELS[key]


def execute_run(run):
    """Execute one run into a temporary folder and rename it when whole. Never raises.

    Returns
    -------
    dict
        A row of ``runs.ecsv``.
    """
    partial = run.folder.parent / partial_name(run.name, run.owner)
    try:
        executor = _kernel(find_root(run.notebook.parent)) if run.reuse_kernels else None
        result = run_notebook(
            run.notebook,
            parameters_file=run.parameters_file,
            output_dir=partial,
            overrides={**run.base, **run.parameters},
            executor=executor,
            record_output_dir=run.folder,
        )
        if run.folder.exists():
            stale = run.folder.parent / partial_name(run.name, run.owner, kind="stale")
            os.replace(run.folder, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(partial, run.folder)
        return _row(run, result.manifest)
    except Exception as error:  # a run that cannot even start is recorded, not raised
        shutil.rmtree(partial, ignore_errors=True)
        return {
            "name": run.name,
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "duration_s": np.nan,
            "parameters": run.parameters,
        }


def _row(run, manifest):
    return {
        "name": run.name,
        "status": manifest.status,
        "error": manifest.error or "",
        "duration_s": np.nan if manifest.duration_s is None else manifest.duration_s,
        "parameters": run.parameters,
    }


def _pending(run):
    return {"name": run.name, "status": "pending", "error": "", "duration_s": np.nan}


def _summary(folder):
    try:
        values = json.loads((Path(folder) / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(v, int | float | str | bool)}


def _record(run, row, parameter_names):
    """One line of the index: the batch's columns, the run's parameters, then its key numbers.

    A parameter or key keeps its own name (``redshift``, ``cii_snr``) unless it
    would overwrite a column before it — a batch column, or for a key any
    parameter of the batch (``parameter_names``, over all runs, so that one
    column never holds parameters in one row and key numbers in another):
    then it is ``param.<name>`` or ``summary.<key>``.
    """
    record = {column: row[column] for column in COLUMNS}
    for key, value in run.parameters.items():
        record[f"param.{key}" if key in COLUMNS else key] = value
    taken = set(COLUMNS) | set(parameter_names)
    for key, value in _summary(run.folder).items():
        record[f"summary.{key}" if key in taken else key] = value
    return record


def write_index(out, runs, rows):
    """``runs.ecsv`` and ``index.html`` for the runs so far.

    Columns: ``name, status, error, duration_s`` (the batch's own), then each
    grid parameter and each key of the runs' ``summary.json`` under its own
    name (prefixed ``param.`` or ``summary.`` where it would overwrite one).
    """
    out = Path(out)
    parameter_names = {name for run in runs for name in run.parameters}
    records = []
    for run in runs:
        row = rows.get(run.name)
        if row is None:
            manifest = Manifest.read(run.folder)
            row = _row(run, manifest) if manifest else _pending(run)
        records.append(_record(run, row, parameter_names))
    columns = list(dict.fromkeys(k for r in [dict.fromkeys(COLUMNS), *records] for k in r))
    table = Table({c: _column([r.get(c) for r in records]) for c in columns})
    with atomic_path(out / "runs.ecsv") as temporary:
        table.write(temporary, format="ascii.ecsv", overwrite=True)
    rows = []
    for record in records:
        cells = [{"class": str(record["status"])}]
        for column in columns:
            value = str(_cell(record.get(column)))
            if column == "name" and (out / record["name"]).is_dir():
                pages = sorted((out / record["name"]).glob("*.html"))
                link = f"{record['name']}/{pages[0].name}" if pages else f"{record['name']}/"
                value = [(value, link)]
            cells.append(value)
        folder = out / record["name"]
        cells.append(report_files(folder, out) if folder.is_dir() else "")
        rows.append(cells)
    counts = {s: sum(r["status"] == s for r in records) for s in ("complete", "failed", "pending")}
    page = index_page(
        "ztfnb batch",
        f"{counts['complete']} complete, {counts['failed']} failed, {counts['pending']} pending",
        [*columns, "files"],
        rows,
    )
    write_page(out / "index.html", page)
    return table


def _column(values):
    """Numbers stay numbers (missing ones masked); anything else becomes text."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if present and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present
    ):
        missing = [v is None or (isinstance(v, float) and np.isnan(v)) for v in values]
        return np.ma.array(
            [0 if m else v for v, m in zip(values, missing, strict=True)], mask=missing
        )
    return [str(_cell(v)) for v in values]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


@contextlib.contextmanager
def _sigint_ignored():
    """No KeyboardInterrupt while a stopping batch cleans up (a second Ctrl-C must not leave workers)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals go elsewhere anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_batch(
    notebook,
    parameter_sets,
    out,
    workers=2,
    scheduler=None,
    parameters_file=None,
    reuse_kernels=False,
    progress=True,
    base=None,
    wait=True,
    on_wait=None,
    grid=None,
):
    """Run a notebook over parameter sets; finish what a previous batch left.

    The batch holds ``out``'s lock from its first write to its last
    (`ztfnb.batchlock`): a second batch on the same folder waits for it, then
    skips what it finished.

    Parameters
    ----------
    notebook : path-like
    parameter_sets : list of dict
        From `load_grid`.
    out : path-like
        Created only once every parameter set has been checked.
    workers : int
        Local processes (ignored with ``scheduler``).
    scheduler : str, optional
        A Dask scheduler's address (``tcp://host:port``).
    parameters_file : path-like or list of path-like, optional
        Base values under the grid's (default ``parameters/<notebook stem>.yaml``
        under the project root, when it exists, as for ``ztfnb run``).
    reuse_kernels : bool
        One kernel per worker for several runs (`ztfnb.engine.WarmKernel`).
    progress : bool
    base : dict, optional
        Values over the files' and under the grid's (``ztfnb batch -y/-p/-r``).
    wait : bool
        When another batch holds ``out``: wait for it (default), or raise `BatchBusy`.
    on_wait : callable, optional
        Called with the holder's description before waiting for it.
    grid : path-like, optional
        The grid file the parameter sets came from, named in messages.

    Returns
    -------
    `~astropy.table.Table`
        ``runs.ecsv``.

    Raises
    ------
    BatchInterrupted
        On Ctrl-C, once queued runs are cancelled, running ones stopped and
        the index written.
    BatchBusy
        Another batch holds ``out`` and ``wait`` is False.
    """
    runs = plan_batch(notebook, parameter_sets, out, parameters_file, base, grid)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with BatchLock(out, wait=wait, on_wait=on_wait) as lock:
        for run in runs:
            run.reuse_kernels = reuse_kernels
            run.owner = lock.owner
        return _run_locked(runs, out, workers, scheduler, progress, lock.owner)


def _run_locked(runs, out, workers, scheduler, progress, owner):
    """`run_batch` once the folder's lock is held."""
    rows = {}
    todo = [run for run in runs if not is_done(run)]
    skipped = len(runs) - len(todo)
    bar = _progress(len(runs), skipped, progress)
    write_index(out, runs, rows)
    results = _results(todo, workers, scheduler)
    interrupted = False
    try:
        for row in results:
            rows[row["name"]] = row
            bar.update(1)
            failed = sum(r["status"] != "complete" for r in rows.values())
            bar.set_postfix_str(
                f"done {len(rows) - failed + skipped}, failed {failed}, remaining {len(todo) - len(rows)}"
            )
            write_index(out, runs, rows)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with _sigint_ignored():
            results.close()  # when not finished: cancels queued runs, stops workers and kernels
            bar.close()
            if not scheduler:  # a cancelled Dask task may still be running: it renames its own
                clean_partials(out, owner, others=False)
            table = write_index(out, runs, rows)
            _index_reports(runs[0].notebook, out)
    if interrupted:
        raise BatchInterrupted(table)
    return table


def _index_reports(notebook, out):
    """Rebuild ``reports/index.html`` when the batch wrote under the project's ``reports/``."""
    reports = find_root(Path(notebook).parent) / "reports"
    if reports in Path(out).resolve().parents:
        write_reports_index(reports)


def _progress(total, skipped, enabled):
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=skipped,
        desc="runs",
        unit="run",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    bar.set_postfix_str(f"done {skipped}, failed 0, remaining {total - skipped}")
    return bar


def _results(runs, workers, scheduler):
    """Yield each run's row as it finishes; closing it early stops what is left."""
    if not runs:
        return _serial_results([])
    if scheduler:
        return _dask_results(runs, scheduler)
    if workers <= 1:
        return _serial_results(runs)
    return _local_results(runs, workers)


def _serial_results(runs):
    finished = False
    try:
        for run in runs:
            yield execute_run(run)
        finished = True
    finally:
        if not finished:
            with _sigint_ignored():
                stop_kernels()  # papermill had no chance to shut its kernel down


def _dask_results(runs, scheduler):
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler, timeout="30s") as client:
        futures = client.map(
            execute_run,
            runs,
            pure=False,
            key=[f"ztfnb-{run.name}-{uuid.uuid4().hex[:6]}" for run in runs],
        )
        finished = False
        try:
            for future in dask_completed(futures):
                yield future.result()
            finished = True
        finally:
            if not finished:
                with _sigint_ignored():
                    client.cancel(futures, force=True)


def _local_results(runs, workers):
    import multiprocessing

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )
    finished = False
    try:
        futures = [pool.submit(execute_run, run) for run in runs]
        for future in as_completed(futures):
            yield future.result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            with _sigint_ignored():
                _stop_pool(pool)


def _stop_pool(pool, grace=10.0):
    """Cancel queued runs and stop the workers (each kills its kernels on SIGTERM)."""
    # the pool forgets its processes on shutdown; a running run is never cancelled by it
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5)


def _worker_start(parent):
    """Set up a pool worker: the batch decides when it stops, and it dies with the batch.

    Ctrl-C reaches the whole process group; the workers ignore it and the
    batch stops them (SIGTERM), so a queued run never starts after it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    die_with_parent(parent, on_death=_worker_stop)


def _worker_stop(signum=signal.SIGTERM, frame=None):
    """Kill this worker's kernels, then the worker (no cleanup left to a dying interpreter)."""
    stop_kernels()
    os._exit(128 + signum)
