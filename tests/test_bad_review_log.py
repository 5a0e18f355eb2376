"""A review log with lines that are not decisions: each skipped and counted, every good one kept.

Each kind of bad line is placed between decisions `ReviewLog.record` wrote; the
reader must keep those, list the bad line by its number and say why, and never
raise. Then all of them in one file, read by the session and the widget.
"""

import json

import pytest

from tests.test_review import _metrics
from ztfnb.camera import N_QUADRANTS
from ztfnb.review import ReviewLog, ReviewSession

TIME = "2026-11-23T04:05:06.000007+00:00"


def _line(**fields):
    entry = {"time": TIME, "exposure": "e0", "rcid": 7, "verdict": "reject", "reason": "x"}
    entry.update(fields)
    return json.dumps({k: v for k, v in entry.items() if v is not _DROP}).encode()


_DROP = object()
_DEEP = 20_000  # deeper than json's recursion limit, shorter than the longest line read

#: Lines that are not decisions, by kind (bytes, without the newline).
BAD = {
    "not JSON": b"this is not json",
    "cut off mid-line": b'{"time": "2026-11-23T04:05:06", "exposure": "e0", "rcid": 4, "verd',
    "JSON list": b"[1, 2, 3]",
    "JSON string": b'"accept"',
    "JSON number": b"42",
    "JSON null": b"null",
    "JSON true": b"true",
    "empty object": b"{}",
    "no rcid": _line(rcid=_DROP),
    "no verdict": _line(verdict=_DROP),
    "no time": _line(time=_DROP),
    "no exposure": _line(exposure=_DROP),
    "rcid 3.0": _line(rcid=3.0),
    "rcid 3.5": _line(rcid=3.5),
    "rcid true": _line(rcid=True),
    "rcid false": _line(rcid=False),
    "rcid string": _line(rcid="3"),
    "rcid null": _line(rcid=None),
    "rcid list": _line(rcid=[3]),
    "rcid 100000": _line(rcid=100000),
    "rcid 10**30": _line(rcid=10**30),
    "rcid of 5000 digits": _line(rcid=0).replace(b'"rcid": 0', b'"rcid": ' + b"9" * 5000),
    "rcid 1e400": _line(rcid=0).replace(b'"rcid": 0', b'"rcid": 1e400'),
    "rcid NaN": _line(rcid=0).replace(b'"rcid": 0', b'"rcid": NaN'),
    "rcid -1": _line(rcid=-1),
    "rcid past the camera": _line(rcid=N_QUADRANTS),
    "verdict maybe": _line(verdict="maybe"),
    "verdict ACCEPT": _line(verdict="ACCEPT"),
    "verdict number": _line(verdict=1),
    "verdict list": _line(verdict=["accept"]),
    "reason list": _line(reason=["too", "far"]),
    "reason object": _line(reason={"why": "far"}),
    "reason number": _line(reason=3),
    "reason too long": _line(reason="r" * 1001),
    "reason with NUL": _line(reason="a\x00b"),
    "reviewer list": _line(reviewer=["me"]),
    "exposure empty": _line(exposure=""),
    "exposure blank": _line(exposure="   "),
    "exposure number": _line(exposure=5),
    "exposure with NUL": _line(exposure="e\x000"),
    "exposure too long": _line(exposure="e" * 201),
    "time unparsable": _line(time="yesterday"),
    "time number": _line(time=1700000000),
    "time empty": _line(time=""),
    "deep list": b"[" * _DEEP + b"]" * _DEEP,
    "deep field": _line(reason=0).replace(
        b'"reason": 0', b'"reason": ' + b"[" * _DEEP + b"]" * _DEEP
    ),
    "nested 100k deep": b"[" * 100_000 + b"]" * 100_000,
    "NUL bytes": b"\x00" * 64,
    "NUL in a decision": _line()[:20] + b"\x00" + _line()[20:],
    "invalid UTF-8": _line(exposure="e0").replace(b'"e0"', b'"e\xff\xfe0"'),
    "UTF-16": _line().decode().encode("utf-16"),
    "UTF-8 BOM": b"\xef\xbb\xbf" + _line(),
    "empty line": b"",
    "blank line": b"   \t ",
    "huge line": b'{"reason": "' + b"x" * 100_000 + b'"}',
}

#: Lines `record` did not write but that are decisions all the same.
KEPT = {
    "no reason, no reviewer": _line(reason=_DROP),
    "an extra field": _line(extra={"a": [1, 2]}),
    "rcid 0": _line(rcid=0),
    "last rcid": _line(rcid=N_QUADRANTS - 1),
    "date only": _line(time="2026-11-23"),
}


def _log_with(path, middle):
    """Two decisions, the given lines, two more decisions; returns the log."""
    log = ReviewLog(path)
    log.record("e1", 1, "accept", "before")
    log.record("e1", 2, "reject", "before")
    with open(path, "ab") as handle:
        handle.write(b"".join(line + b"\n" for line in middle))
    log.record("e1", 3, "accept", "after")
    log.record("e1", 1, "reject", "after: second look")
    return log


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_line_between_decisions_is_skipped_and_counted(tmp_path, kind):
    log = _log_with(tmp_path / "review.jsonl", [BAD[kind]])
    history = log.history()
    assert [(e, int(r), v) for e, r, v in history["exposure", "rcid", "verdict"]] == [
        ("e1", 1, "accept"),
        ("e1", 2, "reject"),
        ("e1", 3, "accept"),
        ("e1", 1, "reject"),
    ]
    assert history.meta["skipped"] == 1
    ((number, why),) = log.skipped
    assert number == 3 and why and len(why) < 200, why
    latest = {(e, int(r)): v for e, r, v in log.latest()["exposure", "rcid", "verdict"]}
    assert latest == {("e1", 1): "reject", ("e1", 2): "reject", ("e1", 3): "accept"}
    assert log.skipped_note() == "1 line of review.jsonl could not be read as a decision: line 3"


@pytest.mark.parametrize("kind", KEPT)
def test_a_decision_not_written_by_record_is_kept(tmp_path, kind):
    log = _log_with(tmp_path / "review.jsonl", [KEPT[kind]])
    assert len(log.history()) == 5 and log.skipped == [] and log.skipped_note() == ""


def test_a_last_line_cut_off_says_so_and_the_next_decision_starts_a_fresh_line(tmp_path):
    path = tmp_path / "review.jsonl"
    log = ReviewLog(path)
    log.record("e1", 1, "accept")
    with open(path, "ab") as handle:
        handle.write(BAD["cut off mid-line"])  # no newline: the writer was killed
    assert log.skipped == [(2, log.skipped[0][1])] and "cut off" in log.skipped[0][1]
    log.record("e1", 2, "reject")
    assert list(log.history()["rcid"]) == [1, 2] and [n for n, _ in log.skipped] == [2]


def test_every_kind_in_one_file_keeps_every_decision_and_the_widget_counts_them(tmp_path):
    from ztfnb.widgets.review import ReviewWidget

    path = tmp_path / "review.jsonl"
    bad = list(BAD.values())
    kept = list(KEPT.values())
    mixed = [line for pair in zip(bad[: len(kept)], kept, strict=True) for line in pair]
    log = _log_with(path, mixed + bad[len(kept) :])
    numbers = [n for n, _ in log.skipped]
    assert len(numbers) == len(bad) and len(log.history()) == 4 + len(KEPT)
    # numbered as an editor numbers them: lines 1-2 are decisions, bad and kept lines alternate
    assert numbers[:5] == [3, 5, 7, 9, 11]
    note = log.skipped_note()
    assert note.startswith(f"{len(bad)} lines of review.jsonl could not be read as decisions: ")
    assert note.endswith(f"and {len(bad) - 12} more")

    session = ReviewSession(*_metrics(), log)
    session.select("e1", 2)
    session.reject("decided after the bad lines")
    assert len(log.skipped) == len(bad)  # a new decision does not heal or hide them
    widget = ReviewWidget(session)
    assert note in widget.log_note.value and "line 3: " in widget.log_note.value
    assert note in widget.static_html()
    queue = session.queue()
    decided = queue[(queue["exposure"] == "e1") & (queue["rcid"] == 2)][0]
    assert decided["decision"] == "reject"


def test_a_clean_log_shows_nothing(tmp_path):
    from ztfnb.widgets.review import ReviewWidget

    log = _log_with(tmp_path / "review.jsonl", [])
    assert log.skipped == [] and log.skipped_note() == ""
    assert ReviewWidget(ReviewSession(*_metrics(), log)).log_note.value == ""
    assert ReviewLog(tmp_path / "absent.jsonl").skipped == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rcid", 1e400),
        ("rcid", float("nan")),
        ("rcid", 10**30),
        ("rcid", N_QUADRANTS),
        ("rcid", -1),
        ("rcid", 2.5),
        ("rcid", "x"),
        ("rcid", [3]),
        ("rcid", None),
        ("verdict", "maybe"),
        ("verdict", ["accept"]),
        ("verdict", None),
        ("exposure", ""),
        ("exposure", "e\x000"),
        ("exposure", "e" * 201),
        ("reviewer", ["me"]),
    ],
)
def test_a_bad_decision_is_refused_in_one_line_and_not_written(tmp_path, field, value):
    path = tmp_path / "review.jsonl"
    log = ReviewLog(path)
    decision = {"exposure": "e0", "rcid": 5, "verdict": "accept", "reviewer": "me", field: value}
    with pytest.raises(ValueError, match=field) as refused:
        log.record(**decision)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 200
    assert not path.exists()
