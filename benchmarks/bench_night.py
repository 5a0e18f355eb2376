"""A whole night through ``ztfnb night --once``: per-exposure time and peak memory against the night's size.

Each size is a fresh output folder for a simulated night (density 100 stars
per deg², the prior fitted once on a 3-exposure night); the command runs in
its own process on 2 local workers. Memory is reported as the largest
single process's peak (``RUSAGE_CHILDREN`` of a wrapper, which is a maximum
over processes, not a sum) and the whole process tree's (the command, its
workers, SCAMP), sampled every 0.5 s by psutil: its proportional set size
summed (each page shared by the forked workers counted once: the memory the
tree takes from the machine), and its resident sizes summed (shared pages
counted in every process that maps them, an overestimate). The
per-exposure time is the median worker time of ``latency.ecsv``; exposures
per hour count the command's whole wall time (start-up, Gaia read, night
step included). The smallest night also runs on a local Dask cluster of 2
workers (``--scheduler``), or the night of ``ZTFNB_BENCH_NIGHT_DASK``
exposures. Sizes: ``ZTFNB_BENCH_NIGHT_SIZES`` (default ``10,40``).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.table import QTable

from benchmarks.nights import night
from benchmarks.timing import Comparison

DENSITY = 100.0
BIN = Path(sys.executable).parent
_MEASURE = (
    "import json, resource, subprocess, sys, tempfile, time, psutil\n"
    "start, log = time.perf_counter(), tempfile.TemporaryFile('w+')\n"
    "done = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=log, text=True)\n"
    "root, total, proportional = psutil.Process(done.pid), 0, 0\n"
    "while done.poll() is None:\n"
    "    try:\n"
    "        tree = [m for p in [root, *root.children(recursive=True)] if p.is_running()\n"
    "                for m in [p.memory_full_info()]]\n"
    "        total = max(total, sum(m.rss for m in tree))\n"
    "        proportional = max(proportional, sum(m.pss for m in tree))\n"
    "    except psutil.Error:\n"
    "        pass\n"
    "    time.sleep(0.5)\n"
    "log.seek(0)\n"
    "err = log.read()\n"
    "print(json.dumps({'status': done.returncode, 'err': err[-2000:], "
    "'seconds': time.perf_counter() - start, 'total': total, 'pss': proportional, "
    "'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n"
)


def _sizes():
    return [int(n) for n in os.environ.get("ZTFNB_BENCH_NIGHT_SIZES", "10,40").split(",")]


def _prior(folder):
    """The prior fitted on a small night at the benchmark's usual density."""
    calibration = night(seed=7, exposures=3, density=1200.0)
    path = folder / "prior.fits"
    catalogs = sorted(calibration.glob("*.ldac"))
    arguments = ["--gaia", calibration / "gaia.fits", "--out", path, "--quiet"]
    subprocess.run(
        [sys.executable, "-m", "ztfnb", "prior", "fit", *catalogs, *arguments], check=True
    )
    return path


def _night_run(folder, prior, out, *options):
    command = [sys.executable, "-c", _MEASURE, sys.executable, "-m", "ztfnb", "night", folder]
    command += ["--out", out, "--prior", prior, "--once", "--quiet", *options]
    result = json.loads(
        subprocess.run(list(map(str, command)), capture_output=True, text=True, check=True).stdout
    )
    if result["status"] not in (0, 1):
        raise RuntimeError(f"ztfnb night failed: {result['err']}")
    latency = QTable.read(out / "latency.ecsv")
    result["per_exposure"] = float(np.median(latency["seconds"].value))
    result["n"] = len(latency)
    return result


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dask_cluster(workdir):
    port = _free_port()
    environment = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        start_new_session=True, env=environment, **quiet,
    )  # fmt: skip
    workers = subprocess.Popen(
        [str(BIN / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "2", "--nthreads", "1",
         "--no-dashboard", "--host", "127.0.0.1"],
        start_new_session=True, env=environment, cwd=workdir, **quiet,
    )  # fmt: skip
    from distributed import Client

    with Client(f"tcp://127.0.0.1:{port}", timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
    return f"tcp://127.0.0.1:{port}", (workers, scheduler)


def run():
    work = Path(tempfile.mkdtemp(prefix="ztfnb-bench-night-"))
    rows, results = [], {}
    try:
        prior = _prior(work)
        for size in _sizes():
            folder = night(seed=11, exposures=size, density=DENSITY)
            results[size] = _night_run(folder, prior, work / f"out-{size}", "--workers", "2")
            shutil.rmtree(work / f"out-{size}")
        smallest = min(results)
        on_dask = int(os.environ.get("ZTFNB_BENCH_NIGHT_DASK", smallest))
        address, processes = _dask_cluster(work)
        try:
            folder = night(seed=11, exposures=on_dask, density=DENSITY)
            dask = _night_run(folder, prior, work / "out-dask", "--scheduler", address)
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results[smallest]
    for size, result in results.items():
        rows.append(
            Comparison(
                f"ztfnb night, {size} exposures, 2 workers",
                f"{smallest} exposures",
                f"{size} exposures",
                base["per_exposure"],
                result["per_exposure"],
                f"median s per exposure; all processes {result['pss'] / 1e6:.0f} MB "
                f"({base['pss'] / 1e6:.0f} MB at {smallest}; resident summed {result['total'] / 1e6:.0f} MB), "
                f"largest one {result['peak'] / 1e6:.0f} MB; "
                f"{3600 * size / result['seconds']:.0f} exposures/hour ({result['seconds']:.0f} s)",
            )
        )
    local = results.get(on_dask)
    rows.append(
        Comparison(
            f"ztfnb night, {on_dask} exposures: local pool → Dask",
            "2 local workers",
            "Dask, 2 workers",
            local["seconds"] if local else np.nan,
            dask["seconds"],
            f"whole command; {3600 * on_dask / dask['seconds']:.0f} exposures/hour on Dask, "
            f"median {dask['per_exposure']:.2f} s per exposure (the workers' memory is not sampled)",
        )
    )
    return rows
