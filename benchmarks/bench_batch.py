"""Batches of quick notebooks: 1 and 2 workers, kernel start per run against one kernel reused."""

import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from benchmarks.timing import Comparison
from ztfnb.batch import run_batch

RUNS = 8
WORK = 1.0  # seconds of the notebook's own work


def _notebook(folder):
    document = new_notebook()
    document.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = new_code_cell('x: int = 1  # a number\noutput_dir: str = ""  # report folder')
    parameters.metadata["tags"] = ["parameters"]
    # the work a quick report does: import the stack, compute for a second
    body = new_code_cell(
        f"import astropy.units as u\nimport ztfnb.ost\nimport time\nstart = time.perf_counter()\nwhile time.perf_counter() - start < {WORK}:\n    pass"
    )
    document.cells = [parameters, body]
    path = Path(folder) / "quick.ipynb"
    nbformat.write(document, path)
    return path


def _batch(notebook, folder, workers, reuse):
    start = time.perf_counter()
    table = run_batch(
        notebook,
        [{"x": k} for k in range(RUNS)],
        folder,
        workers=workers,
        reuse_kernels=reuse,
        progress=False,
    )
    assert all(table["status"] == "complete")
    return time.perf_counter() - start


def run():
    work = Path(tempfile.mkdtemp(prefix="ztfnb-bench-batch-"))
    try:
        notebook = _notebook(work)
        times = {}
        for workers in (1, 2):
            for reuse in (False, True):
                times[workers, reuse] = _batch(
                    notebook, work / f"out-{workers}-{reuse}", workers, reuse
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for reuse in (False, True):
        label = "kernel reused" if reuse else "kernel per run"
        efficiency = times[1, reuse] / (2 * times[2, reuse])
        overhead = times[1, reuse] / RUNS - WORK
        rows.append(
            Comparison(
                f"{RUNS} quick runs, {label}: 1 → 2 workers",
                "1 worker",
                "2 workers",
                times[1, reuse],
                times[2, reuse],
                f"scaling efficiency {efficiency:.0%}; overhead {overhead:.2f} s a run beside {WORK:.1f} s of work",
            )
        )
    for workers in (1, 2):
        rows.append(
            Comparison(
                f"{RUNS} quick runs on {workers} worker(s)",
                "kernel per run",
                "kernel reused",
                times[workers, False],
                times[workers, True],
                "",
            )
        )
    return rows
