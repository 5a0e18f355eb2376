"""The review log survives concurrent writers, killed writers and restarts; the session and widget drive it."""

import json
import multiprocessing
import signal
import subprocess
import sys

import numpy as np
import pytest
from astropy.table import QTable

from ztfnb.review import ReviewLog, ReviewSession


def _writer(path, name, count):
    log = ReviewLog(path)
    for i in range(count):
        log.record(name, i % 64, "reject" if i % 2 else "accept", f"{name} decision {i}")


def test_two_processes_recording_at_once_lose_nothing(tmp_path):
    path = tmp_path / "review.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, f"writer{k}", 300)) for k in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    history = ReviewLog(path).history()
    assert len(history) == 600 and history.meta["skipped"] == 0
    for k in range(2):
        mine = history[history["exposure"] == f"writer{k}"]
        assert list(mine["reason"]) == [
            f"writer{k} decision {i}" for i in range(300)
        ]  # in order, none lost


def test_a_writer_killed_mid_line_leaves_a_readable_log(tmp_path):
    path = tmp_path / "review.jsonl"
    log = ReviewLog(path)
    log.record("e1", 3, "accept", "fine")
    # a process that dies between writing half a line and its newline
    script = (
        "import os, sys\n"
        f"fd = os.open({str(path)!r}, os.O_WRONLY | os.O_APPEND)\n"
        'os.write(fd, b\'{"time": "2026-01-01", "exposure": "e1", "rcid": 4, "verd\')\n'
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == -signal.SIGKILL
    history = log.history()
    assert len(history) == 1 and history.meta["skipped"] == 1
    log.record("e1", 5, "reject", "after the crash")
    history = log.history()
    assert list(history["rcid"]) == [3, 5] and history.meta["skipped"] == 1


def test_a_restarted_kernel_sees_every_decision(tmp_path):
    path = tmp_path / "review.jsonl"
    code = f"from ztfnb.review import ReviewLog; ReviewLog({str(path)!r}).record('e9', 12, 'reject', 'corner')"
    subprocess.run([sys.executable, "-c", code], check=True)
    latest = ReviewLog(path).latest()
    assert list(latest.colnames[:5]) == ["exposure", "rcid", "verdict", "reason", "time"]
    assert (latest["exposure"][0], latest["rcid"][0], latest["verdict"][0]) == ("e9", 12, "reject")


def test_latest_keeps_the_last_decision_per_quadrant(tmp_path):
    log = ReviewLog(tmp_path / "r.jsonl")
    log.record("a", 1, "reject", "first look")
    log.record("a", 2, "accept")
    log.record("a", 1, "accept", "second look")
    latest = {(r["exposure"], int(r["rcid"])): r["verdict"] for r in log.latest()}
    assert latest == {("a", 1): "accept", ("a", 2): "accept"}
    with pytest.raises(ValueError, match="verdict"):
        log.record("a", 1, "maybe")
    for rcid in (64, -1, 3.7, True, np.True_, "x", "3.5"):
        with pytest.raises(ValueError, match="rcid"):
            log.record("a", rcid, "accept")
    with pytest.raises(ValueError, match="exposure"):
        log.record(" ", 3, "accept")
    assert log.record("a", np.int64(3), "accept")["rcid"] == 3
    assert log.record("a", "7", "accept")["rcid"] == 7
    assert len(log.history()) == 5


def _metrics():
    rng = np.random.default_rng(0)
    rows = 3 * 64
    table = QTable()
    table["exposure"] = np.repeat(["e0", "e1", "e2"], 64)
    table["rcid"] = np.tile(np.arange(64), 3)
    for name in (
        "rms_ra",
        "rms_dec",
        "offset",
        "corner_error",
        "scale_change",
        "corner_displacement",
        "matched_fraction",
        "airmass",
    ):
        table[name] = rng.uniform(0, 0.1, rows)
    table["badness"] = rng.uniform(0, 0.9, rows)
    table["flag"] = np.zeros(rows, bool)
    table["reason"] = np.array([""] * rows, dtype="U80")
    for i, badness in ((5, 4.0), (70, 2.0), (140, 7.0)):
        table["flag"][i], table["badness"][i], table["reason"][i] = True, badness, "corner off"
    exposures = QTable(
        {
            "exposure": ["e0", "e1", "e2"],
            "airmass": [1.1, 1.5, 2.0],
            "scale_change": [0.0, 0.001, -0.001],
            "refraction_outlier": [False] * 3,
        }
    )
    return table, exposures


def test_session_orders_by_badness_and_records_decisions(tmp_path):
    table, exposures = _metrics()
    session = ReviewSession(table, exposures, tmp_path / "r.jsonl")
    queue = session.queue(only_flagged=True)
    assert list(zip(queue["exposure"], queue["rcid"], strict=True)) == [
        ("e2", 12),
        ("e0", 5),
        ("e1", 6),
    ]
    assert session.selected == ("e2", 12)
    session.reject("takes off")
    assert session.next() == ("e0", 5)
    session.accept()
    assert session.next() == ("e1", 6)
    latest = session.log.latest()
    assert {(r["exposure"], int(r["rcid"]), r["verdict"]) for r in latest} == {
        ("e2", 12, "reject"),
        ("e0", 5, "accept"),
    }
    assert (
        latest[latest["exposure"] == "e0"]["reason"][0] == "corner off"
    )  # the verdict's reason by default
    assert session.queue(undecided=True, only_flagged=True)["rcid"].tolist() == [6]
    values = session.values("e0", "badness")
    assert values.shape == (64,) and values[5] == 4.0


def test_widget_drives_the_session_without_a_browser(tmp_path):
    from ztfnb.widgets.review import ReviewWidget

    table, exposures = _metrics()
    session = ReviewSession(table, exposures, tmp_path / "r.jsonl")
    widget = ReviewWidget(session)
    assert widget.queue.value == ("e2", 12)
    assert [value for _, value in widget.queue.options] == [("e2", 12), ("e0", 5), ("e1", 6)]
    widget.queue.value = ("e1", 6)
    assert session.selected == ("e1", 6)
    widget.reason.value = "double stars in the corner"
    widget.reject_button.click()
    latest = session.log.latest()
    assert (
        latest["exposure"][0],
        int(latest["rcid"][0]),
        latest["verdict"][0],
        latest["reason"][0],
    ) == ("e1", 6, "reject", "double stars in the corner")
    assert "[reject]" in dict((v, k) for k, v in widget.queue.options)[("e1", 6)]
    # the widget moves on to the worst flagged quadrant still undecided
    assert session.selected == ("e2", 12) and widget.queue.value == ("e2", 12)
    assert "rejected e1 rcid 6" in widget.status.value and "now e2 rcid 12" in widget.status.value
    widget.metric.value = "corner_error"
    assert session.metric == "corner_error"
    assert set(widget.figures) == {"focal_plane", "quadrant", "scale_airmass"}
    widget.only_flagged.value = False
    assert len(widget.queue.options) == 3 * 64
    bundle = widget._repr_mimebundle_()
    assert (
        "application/vnd.jupyter.widget-view+json" in bundle
        and "static view" in bundle["text/html"]
    )
    json.dumps(bundle["text/plain"])
