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
import os
import shutil
import signal
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ztfnb.batchindex import run_row, write_index
from ztfnb.batchlock import BatchBusy, BatchLock, clean_partials, partial_name
from ztfnb.batchplan import BatchRun, is_done, load_grid, plan_batch, run_name
from ztfnb.lifetime import die_with_parent
from ztfnb.reportindex import write_reports_index
from ztfnb.runner import (
    find_root,
    run_notebook,
    stop_kernels,
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
        return run_row(run, result.manifest)
    except Exception as error:  # a run that cannot even start is recorded, not raised
        shutil.rmtree(partial, ignore_errors=True)
        return {
            "name": run.name,
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "duration_s": np.nan,
            "parameters": run.parameters,
        }


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
