"""Batches: grids, failures among good runs, resuming after SIGKILL, a real Dask cluster on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from astropy.table import Table
from nbformat.v4 import new_code_cell, new_notebook

from ztfnb.batch import load_grid, run_batch, run_name
from ztfnb.cli import main
from ztfnb.parameters import ParameterError

BIN = Path(sys.executable).parent


def _notebook(folder):
    document = new_notebook()
    document.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = new_code_cell(
        'x: int = 1  # a number\nfail: bool = False  # raise\nnap: float = 0.0  # seconds to sleep\noutput_dir: str = ""  # report folder'
    )
    parameters.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "import time\ntime.sleep(nap)\nassert not fail, 'asked to fail'\n"
        "from ztfnb.io.summary import write_summary\nwrite_summary(output_dir, {'square': x * x})"
    )
    document.cells = [parameters, body]
    path = Path(folder) / "square.ipynb"
    nbformat.write(document, path)
    return path


def _manifests(out):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(out).glob("*/manifest.json")}


def test_grids_product_and_runs(tmp_path):
    (tmp_path / "g.yaml").write_text("x: [1, 2, 3]\nnap: [0, 0.5]\n")
    assert len(load_grid(tmp_path / "g.yaml")) == 6
    (tmp_path / "r.yaml").write_text("runs:\n  - {x: 1}\n  - {x: 5, fail: true}\n")
    assert load_grid(tmp_path / "r.yaml") == [{"x": 1}, {"x": 5, "fail": True}]
    (tmp_path / "bad.yaml").write_text("runs: 3\n")
    with pytest.raises(ParameterError, match="runs"):
        load_grid(tmp_path / "bad.yaml")
    assert run_name({"x": 1}) != run_name({"x": 2}) and run_name({"x": 1}) == run_name({"x": 1})


def test_unknown_parameters_stop_the_batch_before_it_starts(tmp_path, capsys):
    notebook = _notebook(tmp_path)
    (tmp_path / "g.yaml").write_text("x: [1, 2]\ncolour: [red]\n")
    assert (
        main(
            [
                "batch",
                str(notebook),
                "--grid",
                str(tmp_path / "g.yaml"),
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "unknown parameter(s) colour" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path):
    notebook = _notebook(tmp_path)
    runs = [{"x": 2}, {"x": 3, "fail": True}, {"x": 4}]
    table = run_batch(notebook, runs, tmp_path / "out", workers=2, progress=False)
    status = dict(zip(table["x"], table["status"], strict=True))
    assert status == {2: "complete", 3: "failed", 4: "complete"}
    failed = table[table["status"] == "failed"][0]
    assert "asked to fail" in failed["error"]
    manifests = _manifests(tmp_path / "out")
    assert len(manifests) == 3  # the failed run's report is kept too, marked failed
    assert {m["status"] for m in manifests.values()} == {"complete", "failed"}
    assert set(table["square"][table["status"] == "complete"]) == {
        4,
        16,
    }  # key numbers from summary.json
    page = (tmp_path / "out" / "index.html").read_text()
    assert "2 complete, 1 failed" in page

    # idempotent: nothing complete runs again; the failure is retried
    before = {name: m["run_id"] for name, m in manifests.items() if m["status"] == "complete"}
    run_batch(notebook, runs, tmp_path / "out", workers=2, progress=False)
    after = _manifests(tmp_path / "out")
    assert all(after[name]["run_id"] == run_id for name, run_id in before.items())


def test_killed_batch_resumes_and_leaves_no_half_report(tmp_path):
    notebook = _notebook(tmp_path)
    (tmp_path / "g.yaml").write_text("x: [1, 2, 3, 4, 5, 6]\nnap: [1.0]\n")
    out = tmp_path / "out"
    command = [
        str(BIN / "ztfnb"),
        "batch",
        str(notebook),
        "--grid",
        str(tmp_path / "g.yaml"),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(_manifests(out)) < 2:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = _manifests(out)
    assert 2 <= len(first) < 6
    visible = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert all(
        (p / "manifest.json").is_file() for p in visible
    )  # no half-written report under a run's name
    assert main(command[1:]) == 0
    final = _manifests(out)
    assert len(final) == 6 and all(m["status"] == "complete" for m in final.values())
    assert all(final[name]["run_id"] == manifest["run_id"] for name, manifest in first.items())
    assert not [p for p in out.iterdir() if p.name.startswith(".") and ".partial-" in p.name]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(300)
def test_batch_on_a_real_dask_cluster(tmp_path):
    notebook = _notebook(tmp_path)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    environment = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=environment,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=environment, cwd=tmp_path,
    )  # fmt: skip
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            worker_pids = set(client.run(os.getpid).values())
        assert os.getpid() not in worker_pids  # the runs happen in other processes
        table = run_batch(
            notebook,
            [{"x": k} for k in range(4)],
            tmp_path / "out",
            scheduler=address,
            progress=False,
        )
        assert list(table["status"]) == ["complete"] * 4
        assert sorted(table["square"]) == [0, 1, 4, 9]
        assert len(_manifests(tmp_path / "out")) == 4
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    assert isinstance(Table.read(tmp_path / "out" / "runs.ecsv"), Table)
