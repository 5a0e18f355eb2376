"""A whole night solved and judged as its exposures arrive (``ztfnb night``).

The night's folder is scanned for catalogues (``*.ldac`` per exposure, or the
archive's per-quadrant ``*_sexcat.fits``, grouped by `ztfnb.catalogs`); each
new exposure is solved by SCAMP and measured in the same worker, from one
read of its catalogue (`ztfnb.solve`, ``solve --quality``), on a local process
pool or a Dask scheduler's workers. The worker leaves
``OUT/<exposure>.quality.ecsv``: an exposure with one newer than its
catalogue is done, so a run killed at any point resumes where it stopped and
a second run skips what the first finished. Once no work is left the night
step runs over the measured exposures (the refraction models and the
verdict: small per-exposure tables, `~ztfnb.quality.night.judge_night`) and
writes ``metrics.ecsv``, ``metrics.exposures.ecsv``, ``metrics.html`` (what
``ztfnb app review OUT`` opens) and ``summary.ecsv``.

Memory: one catalogue per worker at a time; the parent holds the Gaia table
(read once, inherited by the forked workers) and the per-exposure results.

Watching (``watch`` seconds): the folder is scanned again every ``watch``
seconds; a file is taken once its size and time are the same at two scans
(a file still being copied is left for the next), and the night step runs
each time the work runs out. ``latency.ecsv`` records every exposure's
catalogue time, the worker's start and end and its seconds.
"""

import os
import signal
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable
from astropy.time import Time

from ztfnb.batchlock import BatchLock
from ztfnb.catalogs import find_exposures
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.lifetime import die_with_parent
from ztfnb.prior.file import read_prior
from ztfnb.quality.night import ExposureQuality, judge_night
from ztfnb.qualityfiles import check_quality_paths, write_quality
from ztfnb.scamp import check_settings, find_scamp
from ztfnb.solve import SolveConfig, _gaia, _Job, _run_job, write_summary
from ztfnb.solvedfolder import METRICS, exposure_quality_path

__all__ = ["LATENCY", "NightInterrupted", "NightRun", "run_night"]

#: The per-exposure latency log in the output folder.
LATENCY = "latency.ecsv"
#: What a night's folder is scanned for (the Gaia table and SCAMP's references are not catalogues).
_PATTERNS = ("*.ldac", "*_sexcat.fits", "*_sexcat.fits.gz")


class NightInterrupted(KeyboardInterrupt):
    """Ctrl-C: the work under way was stopped, what was done is judged and written."""


@dataclass
class NightRun:
    """What `run_night` did.

    Attributes
    ----------
    summary : `~astropy.table.QTable`
        ``summary.ecsv`` (`ztfnb.solve.solve_night`'s columns), every exposure.
    quadrants, exposures : `~astropy.table.QTable` or None
        The verdict (None when no exposure was measured).
    latency : `~astropy.table.QTable`
        ``latency.ecsv``, this run's exposures and those of earlier runs.
    new, skipped : int
        Exposures done by this run, and found done.
    """

    summary: QTable
    quadrants: QTable | None
    exposures: QTable | None
    latency: QTable
    new: int
    skipped: int


def run_night(
    night_dir,
    out,
    prior,
    gaia=None,
    workers=2,
    scheduler=None,
    watch=None,
    config=None,
    quality_config=None,
    metrics_config=None,
    progress=None,
    log=None,
):
    """Solve and judge a night's exposures as they arrive; resume what an earlier run left.

    Parameters
    ----------
    night_dir : path-like
        The night's catalogues.
    out : path-like
        Output folder (created; not ``night_dir``, whose scans would find SCAMP's files).
    prior : path-like
        From ``ztfnb prior fit``: required, a prior is fitted on calibration
        exposures, not on a night still arriving.
    gaia : path-like, optional
        The Gaia reference (default ``night_dir/gaia.fits``), read as ``ztfnb solve`` reads it.
    workers : int
        Local processes (ignored with ``scheduler``).
    scheduler : str, optional
        A Dask scheduler's address (``tcp://host:port``); its workers must see the same paths.
    watch : float, optional
        Seconds between scans of ``night_dir``, until Ctrl-C; None: one scan, then finish.
    config : `~ztfnb.solve.SolveConfig`, optional
    quality_config : `~ztfnb.quality.QualityConfig`, optional
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional
    progress : bool, optional
        A progress bar on standard error (default: when it is a terminal).
    log : callable, optional

    Returns
    -------
    `NightRun`

    Raises
    ------
    InputError
        A missing folder, prior or Gaia table; no catalogue at all in a single scan.
    NightInterrupted
        On Ctrl-C, once what was done is judged and written.
    """
    night_dir, out = Path(night_dir).absolute(), Path(out).absolute()
    if not night_dir.is_dir():
        raise InputError("not a folder (the night's catalogues)", path=night_dir)
    if out.resolve() == night_dir.resolve():
        raise InputError("the output folder must not be the night's folder", path=out)
    gaia = Path(gaia).absolute() if gaia else night_dir / "gaia.fits"
    if not gaia.exists():
        raise InputError("no Gaia table (give --gaia)", path=gaia)
    prior = Path(prior).absolute()
    find_scamp()
    config = config or SolveConfig()
    for _, options in config.passes():
        check_settings(options)
    read_prior(prior)
    scan = _Scanner(night_dir, settle=watch is not None)
    if watch is None and not scan.files():
        raise InputError(f"no catalogue ({', '.join(_PATTERNS)}) in it", path=night_dir)
    check_quality_paths(out / METRICS)
    _gaia(gaia)  # read once here: forked workers inherit it, a bad table is refused first
    out.mkdir(parents=True, exist_ok=True)
    with BatchLock(out, on_wait=log and (lambda who: log(f"{out}: waiting for {who}"))):
        night = _Night(out, config, quality_config, metrics_config, log)
        job = lambda source: _Job(source, prior, gaia, out, config, True, metrics_config)  # noqa: E731
        with _executor(workers, scheduler) as executor:
            return night.run(scan, executor, job, watch, progress)


class _Night:
    """The night's state: what is done (measured, with its summary row), the latency log."""

    def __init__(self, out, config, quality_config, metrics_config, log):
        self.out, self.config, self.log = out, config, log
        self.quality_config, self.metrics_config = quality_config, metrics_config
        self.measured, self.rows, self.order = {}, {}, []
        self.failed = {}  # exposure -> catalogue time of a run that ended in an error
        self.file_times = {}  # exposure -> its catalogue's time when submitted
        self.latency = _read_latency(out / LATENCY)
        self.new = self.skipped = 0

    def run(self, scan, executor, job, watch, progress):
        from tqdm.auto import tqdm

        bar = tqdm(desc="exposures", unit="exp", disable=None if progress is None else not progress)
        # judged at least once even when nothing is new: a run killed before its night step
        # left measured exposures that the verdict does not hold yet
        pending, judged, result = {}, False, None
        try:
            while True:
                for source in scan.sources(self.log):
                    if source.name not in self.order:
                        self.order.append(source.name)
                        bar.total = len(self.order)
                        if self._done(source):
                            self.skipped += 1
                            bar.update(1)
                            continue
                    elif source.name in self.measured or source.name in pending.values():
                        continue
                    if self.failed.get(source.name) == _time_of(source):
                        continue  # failed on this very file: tried again when it changes
                    self.file_times[source.name] = _time_of(source)
                    pending[executor.submit(job(source))] = source.name
                for future, row in executor.finished(pending, timeout=watch or None):
                    self._record(row, self.file_times[pending.pop(future)])
                    judged = False
                    bar.update(1)
                if not pending and not judged:
                    result, judged = self._judge(), True
                if not pending and watch is None:
                    return result
                if not pending:
                    time.sleep(watch)
        except KeyboardInterrupt:
            executor.stop()
            self._judge()
            raise NightInterrupted() from None
        finally:
            bar.close()

    def _done(self, source):
        """An exposure measured after its catalogue's last change: its record is read back."""
        record = exposure_quality_path(self.out, source.name)
        try:
            if record.stat().st_mtime < _time_of(source):
                return False
            measured = ExposureQuality.read(record)
        except (OSError, InputError):
            return False  # absent or unreadable: measured again
        self.measured[source.name] = measured.packed()
        self.rows[source.name] = measured.solve or {"exposure": source.name, "status": "solved"}
        return True

    def _record(self, row, file_time):
        name, measured = row["exposure"], row.pop("quality", None)
        started, ended = row.pop("started"), row.pop("ended")
        row.pop("traceback", None)
        self.rows[name] = row
        if measured is not None:
            self.measured[name] = measured.packed()  # held until the verdict: small
        else:
            self.failed[name] = file_time
        self.new += 1
        self.latency.append((name, row["status"], file_time, started, ended))
        _write_latency(self.out / LATENCY, self.latency)
        if self.log:
            self.log(f"{name}: {row['status']} {row.get('reason', '')}".rstrip())
            for message in measured.messages if measured is not None else []:
                self.log(message)

    def _judge(self):
        names = [name for name in self.order if name in self.rows]
        summary = write_summary(self.out, [self.rows[name] for name in names], self.config)
        measured = [self.measured[name] for name in names if name in self.measured]
        if not measured:
            return NightRun(
                summary, None, None, _latency_table(self.latency), self.new, self.skipped
            )
        quadrants, exposures, _ = judge_night(
            measured, self.quality_config, self.metrics_config, self.log
        )
        write_quality(
            self.out / METRICS, quadrants, exposures, title=f"ztfnb night: {self.out.name}"
        )
        return NightRun(
            summary, quadrants, exposures, _latency_table(self.latency), self.new, self.skipped
        )


class _Scanner:
    """The night folder's catalogues; with ``settle``, only files unchanged since the last scan."""

    def __init__(self, folder, settle):
        self.folder, self.settle, self.seen = folder, settle, {}

    def files(self):
        found = {p for pattern in _PATTERNS for p in self.folder.glob(pattern)}
        return sorted(p for p in found if not p.name.endswith(".gaia.ldac"))

    def sources(self, log=None):
        files, stable = self.files(), []
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue  # gone between the listing and now
            state = (info.st_size, info.st_mtime_ns)
            if not self.settle or self.seen.get(path) == state:
                stable.append(path)
            self.seen[path] = state
        try:
            return find_exposures(stable)
        except InputError as error:
            if not self.settle:
                raise
            if log:  # an exposure's quadrant files still arriving: the next scan sees them all
                log(f"waiting: {error}")
            return []


def _time_of(source):
    return max(path.stat().st_mtime for path in source.files)


class _executor:
    """Jobs on a local process pool or a Dask scheduler: ``submit``, ``finished``, ``stop``."""

    def __init__(self, workers, scheduler):
        self.workers, self.scheduler = max(1, workers or 1), scheduler

    def __enter__(self):
        if self.scheduler:
            from distributed import Client

            self.client = Client(self.scheduler, timeout="30s")
        else:
            # the workers (and the SCAMP each runs) stop with this process, even killed by SIGKILL
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_worker_start, initargs=(os.getpid(),)
            )
        return self

    def submit(self, job):
        if self.scheduler:
            key = f"ztfnb-night-{job.catalog.name}-{uuid.uuid4().hex[:6]}"
            return self.client.submit(_run_job, job, pure=False, key=key)
        return self.pool.submit(_run_job, job)

    def finished(self, pending, timeout):
        """``(future, row)`` of the jobs ended within ``timeout`` seconds (None: at least one)."""
        if not pending:
            return []
        if self.scheduler:
            from distributed import wait

            try:
                done = wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = []
        else:
            done = wait_futures(list(pending), timeout=timeout, return_when=FIRST_COMPLETED).done
        return [(future, future.result()) for future in sorted(done, key=lambda f: pending[f])]

    def stop(self):
        if self.scheduler:
            self.client.close()
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a running job is never cancelled by the pool
            process.terminate()

    def __exit__(self, *exc):
        if self.scheduler:
            self.client.close()
        else:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _worker_start(parent):
    """Ctrl-C reaches the whole process group: the night stops its workers, they don't stop alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def _read_latency(path):
    if not path.is_file():
        return []
    table = QTable.read(path, format="ascii.ecsv")
    return [
        (str(r["exposure"]), str(r["status"]), r["file_time"].unix, r["start"].unix, r["end"].unix)
        for r in table
    ]


def _latency_table(rows):
    table = QTable()
    table["exposure"] = [r[0] for r in rows] if rows else np.zeros(0, str)
    table["status"] = [r[1] for r in rows] if rows else np.zeros(0, str)
    for index, name in enumerate(("file_time", "start", "end"), 2):
        table[name] = Time([r[index] for r in rows], format="unix", scale="utc")
        table[name].format = "isot"
    table["seconds"] = np.array([r[4] - r[3] for r in rows], float) * u.s
    table.meta["description"] = (
        "per exposure: its catalogue's time, the worker's start and end, and end - start"
    )
    return table


def _write_latency(path, rows):
    with atomic_path(path) as temporary:
        _latency_table(rows).write(temporary, format="ascii.ecsv", overwrite=True)
