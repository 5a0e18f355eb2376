"""Batches: grids, failures among good runs, resuming after SIGKILL, a real Dask cluster on 127.0.0.1."""

import json
import os
import re
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

from ztfnb.batch import load_grid, plan_batch, run_batch, run_name
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
        "x: int = 1  # a number\nfail: bool = False  # raise\nnap: float = 0.0  # seconds to sleep\n"
        "scale: float = 1.0  # unused\npids: str = \"\"  # folder for the kernel's and its parent's ids\n"
        'output_dir: str = ""  # report folder'
    )
    parameters.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "import os, time\nfrom pathlib import Path\n"
        "if pids:  # whole or not at all: a test may read it at any moment\n"
        "    new = Path(pids, f'.{os.getpid()}')\n"
        "    new.write_text(str(os.getppid()))\n"
        "    os.replace(new, Path(pids, str(os.getpid())))\n"
        "time.sleep(nap)\nassert not fail, 'asked to fail'\nprint('x is', x)\n"
        "from ztfnb.io.summary import write_summary\nwritten = write_summary(output_dir, {'square': x * x})"
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
    assert not (tmp_path / "out").exists()  # nothing is created before the grid is checked


@pytest.mark.parametrize(
    ("grid", "run", "says"),
    [
        ("scale: [1.0, .nan]\n", 2, "finite"),
        ("scale: [1.0, 2.0, .inf]\n", 3, "finite"),
        ("x: [1, 1]\n", 2, "the same parameters as an earlier run"),
        ("runs:\n  - {x: 1}\n  - {x: 2}\n  - {x: 1}\n", 3, "the same parameters"),
    ],
)
def test_a_bad_run_of_a_grid_is_named_by_the_grid_file_and_its_number(tmp_path, grid, run, says):
    # before, the message named the previous run's values where the grid file should be
    notebook = _notebook(tmp_path)
    path = tmp_path / "g.yaml"
    path.write_text(grid)
    with pytest.raises(ParameterError) as refused:
        plan_batch(notebook, load_grid(path), tmp_path / "out", grid=path)
    message = str(refused.value)
    assert message.startswith(f"{path}, run {run}") and says in message, message


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


def test_an_empty_run_list_is_refused_in_one_line(tmp_path, capsys):
    notebook = _notebook(tmp_path)
    grid = tmp_path / "g.yaml"
    grid.write_text("runs: []\n")
    with pytest.raises(ParameterError, match=r"g\.yaml: 'runs' is an empty list"):
        load_grid(grid)
    command = ["batch", str(notebook), "--grid", str(grid), "--out", str(tmp_path / "out")]
    assert main([*command, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "g.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ParameterError, match="no runs"):
        run_batch(notebook, [], tmp_path / "out", progress=False)


def _run_ids(out):
    return {name: m["run_id"] for name, m in _manifests(out).items()}


def test_resume_reruns_when_base_parameters_or_notebook_change(tmp_path):
    notebook = _notebook(tmp_path)
    out = tmp_path / "out"
    (tmp_path / "base1.yaml").write_text("scale: 2.0\n")
    (tmp_path / "base2.yaml").write_text("scale: 3.0\n")
    grid = [{"x": 2}]

    def batch(notebook=notebook, base="base1.yaml"):
        run_batch(notebook, grid, out, workers=1, parameters_file=tmp_path / base, progress=False)
        (name,) = _run_ids(out)
        return _run_ids(out)[name], _manifests(out)[name]

    first, manifest = batch()
    assert manifest["parameters"]["scale"] == 2.0
    assert batch()[0] == first  # same everything: done
    second, manifest = batch(base="base2.yaml")  # other base values: run again
    assert second != first and manifest["parameters"]["scale"] == 3.0
    document = nbformat.read(notebook, as_version=4)
    document.cells.append(new_code_cell("y = 1"))
    nbformat.write(document, notebook)
    third = batch(base="base2.yaml")[0]  # the notebook changed: run again
    assert third != second
    copy = tmp_path / "elsewhere" / notebook.name
    copy.parent.mkdir()
    copy.write_bytes(notebook.read_bytes())
    assert batch(copy, base="base2.yaml")[0] != third  # another notebook, same text: run again


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_nan_or_infinite_parameter_is_refused_before_any_run(tmp_path, value):
    from ztfnb.quantity import ParameterError

    notebook = _notebook(tmp_path)
    (tmp_path / "g.yaml").write_text(f"x: [1]\nscale: [1.0, {value}]\n")
    grid = load_grid(tmp_path / "g.yaml")
    with pytest.raises(ParameterError, match="scale must be a finite number"):
        run_batch(notebook, grid, tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists() or not _run_ids(tmp_path / "out")


def test_parameters_and_summary_keys_named_like_the_batch_columns_keep_them(tmp_path, capsys):
    document = new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}  # fmt: skip
    parameters = new_code_cell(
        'name: str = "m31"  # target\nstatus: str = "draft"  # review state\n'
        'error: float = 0.1  # arcsec\noutput_dir: str = ""  # report folder'
    )
    parameters.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from ztfnb.io.summary import write_summary\n"
        "write_summary(output_dir, {'name': 'x', 'status': 'bad', 'duration_s': 'slow', 'error': 5})"
    )
    document.cells = [parameters, body]
    notebook = tmp_path / "named.ipynb"
    nbformat.write(document, notebook)
    (tmp_path / "g.yaml").write_text("name: [m31, m33]\nstatus: [failed]\nerror: [0.1]\n")
    out = tmp_path / "out"
    command = ["batch", str(notebook), "--grid", str(tmp_path / "g.yaml"), "--out", str(out)]
    assert main([*command, "--no-progress"]) == 0
    assert "2 complete, 0 failed" in capsys.readouterr().out
    table = Table.read(out / "runs.ecsv")
    assert table.colnames[:4] == ["name", "status", "error", "duration_s"]
    assert list(table["status"]) == ["complete", "complete"]
    assert all((out / name / "manifest.json").is_file() for name in table["name"])
    assert sorted(table["param.name"]) == ["m31", "m33"]
    assert list(table["param.status"]) == ["failed", "failed"]
    assert list(table["summary.status"]) == ["bad", "bad"]
    assert list(table["summary.duration_s"]) == ["slow", "slow"]
    assert "2 complete, 0 failed, 0 pending" in (out / "index.html").read_text()


def test_manifest_and_saved_notebook_name_the_final_folder(tmp_path):
    notebook = _notebook(tmp_path)
    run_batch(notebook, [{"x": 3}], tmp_path / "out", workers=1, progress=False)
    ((name, manifest),) = _manifests(tmp_path / "out").items()
    folder = (tmp_path / "out" / name).resolve()
    # every value used, the notebook's defaults included, and the folder the report ends in
    assert manifest["parameters"] == {
        "x": 3,
        "fail": False,
        "nap": 0.0,
        "scale": 1.0,
        "pids": "",
        "output_dir": str(folder),
    }
    assert manifest["output_dir"] == str(folder)
    executed = nbformat.read(folder / "square.ipynb", as_version=4)
    (injected,) = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert f'output_dir = "{folder}"' in injected.source
    assert ".partial-" not in json.dumps(executed.metadata["papermill"])
    assert ".partial-" not in (folder / "square.html").read_text()


def test_a_batch_under_reports_leaves_no_dead_links_in_the_reports_index(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    notebook = _notebook(tmp_path / "notebooks")
    out = tmp_path / "reports" / "grid"
    run_batch(notebook, [{"x": 1}, {"x": 2}], out, workers=1, progress=False)
    page = (tmp_path / "reports" / "index.html").read_text()
    assert ".partial-" not in page
    for name in _manifests(out):
        assert f'href="grid/{name}/square.html"' in page
        # each report's key numbers and its manifest, log and summary, linked
        for kind in ("manifest.json", "run.log", "summary.json"):
            assert f'href="grid/{name}/{kind}"' in page
    assert "square 1<br>" in page or "square 1</td>" in page
    assert "square 4" in page
    links = re.findall(r'href="([^"]+)"', page)
    assert links and all((tmp_path / "reports" / link).exists() for link in links)
    batch_page = (out / "index.html").read_text()
    batch_links = re.findall(r'href="([^"]+)"', batch_page)
    assert any(link.endswith("/manifest.json") for link in batch_links)
    assert all((out / link).exists() for link in batch_links)


def test_reused_kernels_write_the_run_log(tmp_path):
    notebook = _notebook(tmp_path)
    run_batch(
        notebook, [{"x": 6}, {"x": 7}], tmp_path / "out", workers=2, reuse_kernels=True,
        progress=False,
    )  # fmt: skip
    for name, manifest in _manifests(tmp_path / "out").items():
        assert manifest["status"] == "complete"
        x = manifest["parameters"]["x"]
        assert f"x is {x}" in (tmp_path / "out" / name / "run.log").read_text()


def test_a_yaml_exponent_is_a_number_for_a_float_parameter(tmp_path):
    notebook = _notebook(tmp_path)
    (tmp_path / "g.yaml").write_text("scale: [1e-3, 2]\n")  # YAML 1.1 reads 1e-3 as text
    (run, other) = plan_batch(notebook, load_grid(tmp_path / "g.yaml"), tmp_path / "out")
    assert run.parameters == {"scale": 0.001} and run.effective["scale"] == 0.001
    assert other.parameters == {"scale": 2}


def _alive(pid):
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_until(condition, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _pid_files(pids):
    return [p for p in pids.iterdir() if not p.name.startswith(".")]


def _processes(pids):
    """Kernel process ids and their parents' (the pool workers), from the notebook's files."""
    files = _pid_files(pids)
    return {int(p.name) for p in files}, {int(p.read_text()) for p in files}


def _slow_batch(tmp_path, runs=6, nap=3.0, workers=2):
    notebook = _notebook(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()
    (tmp_path / "g.yaml").write_text(f"x: {list(range(runs))}\nnap: [{nap}]\npids: ['{pids}']\n")
    out = tmp_path / "out"
    command = [str(BIN / "ztfnb"), "batch", str(notebook), "--grid", str(tmp_path / "g.yaml")]
    command += ["--out", str(out), "--workers", str(workers), "--no-progress"]
    return command, out, pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_the_batch_its_workers_and_kernels(tmp_path, workers):
    command, out, pids = _slow_batch(tmp_path, workers=workers)
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # two runs done and more running: Ctrl-C (SIGINT to the whole process group)
        assert _wait_until(
            lambda: len(_manifests(out)) >= 2 and len(_pid_files(pids)) >= 2 + workers, 120
        )
        os.killpg(process.pid, signal.SIGINT)
        started = time.time()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130
    assert time.time() - started < 20  # queued runs were not executed first
    assert "Traceback" not in err, err
    (line,) = err.splitlines()  # the kernels' own messages go to each run's run.log
    assert line.startswith("ztfnb batch: interrupted:") and "run the same command again" in line
    kernels, workers = _processes(pids)
    assert _wait_until(lambda: not any(_alive(p) for p in kernels | workers), 10)
    table = Table.read(out / "runs.ecsv")
    manifests = _manifests(out)
    assert 2 <= len(manifests) < 6
    status = dict(zip(table["name"], table["status"], strict=True))
    assert {n for n, s in status.items() if s == "complete"} == set(manifests)
    assert {s for n, s in status.items() if n not in manifests} == {"pending"}
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    assert f"{len(manifests)} complete" in (out / "index.html").read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(180)
def test_a_batch_killed_with_sigkill_takes_its_workers_and_kernels_with_it(tmp_path):
    command, _, pids = _slow_batch(tmp_path, runs=4, nap=30.0)
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert _wait_until(lambda: len(_pid_files(pids)) >= 2, 120)
        kernels, workers = _processes(pids)
        assert process.pid not in workers and len(workers) == 2  # the runs are in pool workers
        os.kill(process.pid, signal.SIGKILL)  # the batch alone, as the OOM killer would
        process.wait()
        assert _wait_until(lambda: not any(_alive(p) for p in kernels | workers), 15)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left, if the test failed
        except ProcessLookupError:
            pass


def test_one_column_never_mixes_parameters_and_key_numbers(tmp_path):
    """A key of summary.json named like a parameter of another run goes to summary.<key> in every row."""
    document = new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}  # fmt: skip
    parameters = new_code_cell(
        'x: int = 1  # a number\nsquare: float = 0.0  # unused\noutput_dir: str = ""  # report folder'
    )
    parameters.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from ztfnb.io.summary import write_summary\nwrite_summary(output_dir, {'square': x * x})"
    )
    document.cells = [parameters, body]
    notebook = tmp_path / "mixed.ipynb"
    nbformat.write(document, notebook)
    (tmp_path / "g.yaml").write_text("runs:\n  - {x: 3}\n  - {square: 5.0}\n")
    table = run_batch(notebook, load_grid(tmp_path / "g.yaml"), tmp_path / "out", workers=1, progress=False)  # fmt: skip
    by_x = {row["name"]: row for row in Table.read(tmp_path / "out" / "runs.ecsv")}
    assert list(table["summary.square"]) == [9, 1]
    square = Table.read(tmp_path / "out" / "runs.ecsv")["square"]
    assert square.mask[0] and square[1] == 5.0 and len(by_x) == 2
