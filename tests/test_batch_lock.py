"""Two batches on one folder: the second waits for the first and makes nothing twice."""

import os
import subprocess
import time

import pytest

from tests.refusals import refused
from tests.test_batch import _manifests, _pid_files, _slow_batch, _wait_until
from ztfnb.batchlock import LOCK, clean_partials, partial_name


@pytest.mark.timeout(120)
def test_two_batches_on_one_folder_make_every_run_once(tmp_path):
    command, out, pids = _slow_batch(tmp_path, runs=3, nap=0.5, workers=1)
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_until(lambda: (out / f"{LOCK}.owner").is_file(), 60)
        second = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        out_second, err_second = second.communicate(timeout=90)
        out_first, err_first = first.communicate(timeout=90)
    finally:
        for process in (first, locals().get("second")):
            if process is not None and process.poll() is None:
                process.kill()
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert f"in use by process {first.pid}" in err_second and "waiting" in err_second
    assert "3 complete, 0 failed" in out_first and "3 complete, 0 failed" in out_second
    manifests = _manifests(out)
    assert len(manifests) == 3 and {m["status"] for m in manifests.values()} == {"complete"}
    assert len(_pid_files(pids)) == 3  # three kernels ran a notebook: each run once
    assert not [p for p in out.iterdir() if ".partial-" in p.name or ".stale-" in p.name]


@pytest.mark.timeout(120)
def test_no_wait_refuses_naming_the_holder(tmp_path, capsys):
    command, out, pids = _slow_batch(tmp_path, runs=2, nap=3.0, workers=1)
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_until(lambda: len(_pid_files(pids)) >= 1, 60)  # a run is in progress
        live = [p for p in out.iterdir() if ".partial-" in p.name]
        refused(
            [*command[1:], "--no-wait"],
            names=[out, f"process {first.pid}", "--no-wait"],
            capsys=capsys,
        )
        assert all(p.is_dir() for p in live)  # the first batch's run in progress is untouched
    finally:
        first.kill()
        first.wait()


def test_only_dead_owners_temporary_folders_are_cleaned(tmp_path):
    mine, live, dead = "p1-aaaa0000", f"p{os.getpid()}-bbbb1111", "p999999999-cccc2222"
    folders = {
        owner: tmp_path / partial_name("x=1-0123abcd", owner) for owner in (mine, live, dead)
    }
    old = tmp_path / ".x=2-0123abcd.partial-0123456789ab"  # named before owners were
    for folder in [*folders.values(), old]:
        folder.mkdir()
    clean_partials(tmp_path, mine, others=False)
    assert not folders[mine].exists() and folders[dead].exists()
    clean_partials(tmp_path, "p2-dddd3333")
    assert folders[live].exists()  # this test's process is alive: its folder is a live run's
    assert not folders[dead].exists() and not old.exists()


def test_a_batch_started_twice_in_one_process_does_not_deadlock(tmp_path):
    """The lock is per batch, not per thread: a second batch after the first returns takes it again."""
    from tests.test_batch import _notebook
    from ztfnb.batch import run_batch

    notebook = _notebook(tmp_path)
    start = time.time()
    for _ in range(2):
        run_batch(notebook, [{"x": 1}], tmp_path / "out", workers=1, progress=False, wait=False)
    # the second call did not raise BatchBusy: the first let the lock go
    assert time.time() - start < 60
