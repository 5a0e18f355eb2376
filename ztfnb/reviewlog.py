"""The review decisions log: one JSON object a line, appended safely, read forgivingly.

`ReviewLog` keeps decisions in an append-only JSON-lines file. Each decision
is one line written with a single ``write`` on a file opened for appending,
under an exclusive ``flock`` and followed by ``fsync``: two processes
recording at once lose nothing, a restarted kernel sees every decision, and
a writer killed mid-line leaves a log that still reads (the partial line is
skipped, and the next writer starts on a fresh line).

Reading never raises on what a line holds. Every line that is not a decision
as `ReviewLog.record` writes it (not UTF-8, not JSON, nested too deep, not an
object, a field missing or of the wrong type or out of range, a verdict not
in `VERDICTS`, …) is skipped and listed with its line number and why
(`ReviewLog.skipped`); every good line around it is kept. A log is shared by
people and processes, so one bad line must not hide everyone's decisions.
"""

import datetime
import fcntl
import getpass
import json
import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from ztfnb.camera import N_QUADRANTS

__all__ = ["VERDICTS", "ReviewLog", "check_decision"]

VERDICTS = ("accept", "reject")
_MAX_REASON = 1000  # characters; record() cuts longer ones, so a longer one is not its
_MAX_NAME = 200  # characters of an exposure or reviewer name
_MAX_TIME = 64
# bytes: a decision is at most ~13 kB even with every character of the reason escaped
# (\uXXXX twice for a surrogate pair); a longer line is not parsed at all
_MAX_LINE = 64 * 1024
_REQUIRED = ("time", "exposure", "rcid", "verdict")
_COLUMNS = ["time", "exposure", "rcid", "verdict", "reason", "reviewer"]


def _shown(value, width=40):
    """A value for a message, cut short (a huge number or string must not flood it)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _json_type(value):
    """What JSON calls the type of a parsed value."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    names = {dict: "object", list: "array", str: "string", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def _text(entry, name, limit, required=True):
    value = entry.get(name, None if required else "")
    if not isinstance(value, str):
        raise ValueError(f"{name} is a JSON {_json_type(value)}, not a string: {_shown(value)}")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value)} characters long (at most {limit})")
    if "\x00" in value:
        raise ValueError(f"{name} holds a NUL character")
    return value


def check_decision(entry):
    """The decision held by one parsed line, or `ValueError` saying why it is not one.

    Parameters
    ----------
    entry : object
        What ``json.loads`` made of the line.

    Returns
    -------
    dict
        ``time, exposure, rcid, verdict, reason, reviewer`` (extra keys dropped).
    """
    if not isinstance(entry, dict):
        raise ValueError(f"a JSON {_json_type(entry)}, not an object")
    missing = [name for name in _REQUIRED if name not in entry]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    rcid = entry["rcid"]
    # record() writes a JSON integer; 3.0, true, "3" or 1e400 were written by something else
    if type(rcid) is not int or not 0 <= rcid < N_QUADRANTS:
        raise ValueError(f"rcid {_shown(rcid)} is not a whole number 0-{N_QUADRANTS - 1}")
    verdict = entry["verdict"]
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise ValueError(f"verdict {_shown(verdict)} is not one of {', '.join(VERDICTS)}")
    exposure = _text(entry, "exposure", _MAX_NAME)
    if not exposure.strip() or not exposure.isprintable():
        raise ValueError(f"exposure {_shown(exposure)} is not a catalogue's name")
    time = _text(entry, "time", _MAX_TIME)
    try:
        datetime.datetime.fromisoformat(time)
    except ValueError:
        raise ValueError(f"time {_shown(time)} is not an ISO 8601 time") from None
    return {
        "time": time,
        "exposure": exposure,
        "rcid": rcid,
        "verdict": verdict,
        "reason": _text(entry, "reason", _MAX_REASON, required=False),
        "reviewer": _text(entry, "reviewer", _MAX_NAME, required=False),
    }


def _parse(line, last):
    """The decision on one line (bytes, without its newline), or `ValueError` saying why not."""
    if len(line) > _MAX_LINE:
        raise ValueError(f"{len(line)} bytes long (a decision is at most {_MAX_LINE})")
    if not line.strip():
        raise ValueError("empty")
    if b"\x00" in line:
        raise ValueError("holds NUL bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        entry = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    except ValueError as error:  # also a number of more than 4300 digits
        # the file's last line without its newline: a writer stopped mid-line
        cut = " (cut off: a writer stopped mid-line)" if last else ""
        raise ValueError(f"not JSON{cut}: {str(error)[:80]}") from None
    return check_decision(entry)


def _login():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _whole_rcid(rcid):
    """A readout-channel number 0–63 (5, 5.0, np.int64(5), "5"), refusing 3.7 or a boolean."""
    try:
        whole = not isinstance(rcid, bool | np.bool_) and float(rcid).is_integer()
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or not 0 <= int(float(rcid)) < N_QUADRANTS:
        raise ValueError(f"rcid must be a whole number 0-{N_QUADRANTS - 1}, got {_shown(rcid)}")
    return int(float(rcid))


class ReviewLog:
    """Durable, append-only record of review decisions.

    Parameters
    ----------
    path : path-like
        The JSON-lines file (created on the first decision).
    """

    def __init__(self, path):
        self.path = Path(path)
        self._read_as = None  # (file identity, decisions, skipped) of the last read

    def record(self, exposure, rcid, verdict, reason="", reviewer=None):
        """Append a decision.

        Parameters
        ----------
        exposure : str
            Catalogue stem.
        rcid : int
            0–63.
        verdict : str
            ``"accept"`` or ``"reject"``.
        reason : str
            Cut to 1000 characters.
        reviewer : str, optional
            Default: the login name.

        Returns
        -------
        dict
            The decision as written.

        Raises
        ------
        ValueError
            For anything that would not read back as a decision (one line, saying what).
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {_shown(verdict)}")
        rcid = _whole_rcid(rcid)
        if not str(exposure).strip():
            raise ValueError("exposure must name the catalogue (its stem), got an empty name")
        entry = {
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds"),
            "exposure": str(exposure),
            "rcid": rcid,
            "verdict": verdict,
            "reason": str(reason)[:_MAX_REASON],
            "reviewer": reviewer or _login(),
        }
        try:
            check_decision(entry)  # what is written must read back
        except ValueError as error:
            raise ValueError(f"not recorded: {error}") from None
        data = (json.dumps(entry, ensure_ascii=True) + "\n").encode("ascii")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                data = b"\n" + data  # a writer died mid-line: start a fresh one
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # closing releases the lock
        return entry

    def _read(self):
        """Decisions and skipped lines, read again only when the file changed."""
        if not self.path.is_file():
            return [], []
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            # shared lock: a decision being written is read whole or not at all, never
            # reported as a broken line
            fcntl.flock(descriptor, fcntl.LOCK_SH)
            info = os.fstat(descriptor)
            identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            if self._read_as is not None and self._read_as[0] == identity:
                return self._read_as[1], self._read_as[2]
            with os.fdopen(os.dup(descriptor), "rb") as handle:
                data = handle.read()
        finally:
            os.close(descriptor)
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # the newline ending the last decision
        decisions, skipped = [], []
        for number, line in enumerate(lines, start=1):
            try:
                decisions.append(_parse(line, last=number == len(lines) and data[-1:] != b"\n"))
            except ValueError as error:
                skipped.append((number, str(error)))
        self._read_as = (identity, decisions, skipped)
        return decisions, skipped

    @property
    def skipped(self):
        """Lines that are not decisions: a list of (line number, why), numbered from 1."""
        return list(self._read()[1])

    def skipped_note(self, limit=12):
        """One sentence counting the skipped lines, with their numbers; empty when none.

        ``"3 lines of review.jsonl could not be read as decisions: lines 4, 9, 12"``
        """
        skipped = self.skipped
        if not skipped:
            return ""
        numbers = ", ".join(str(number) for number, _ in skipped[:limit])
        if len(skipped) > limit:
            numbers += f" and {len(skipped) - limit} more"
        if len(skipped) == 1:
            return f"1 line of {self.path.name} could not be read as a decision: line {numbers}"
        return (
            f"{len(skipped)} lines of {self.path.name} could not be read as decisions: "
            f"lines {numbers}"
        )

    def history(self):
        """Every readable decision in the order written.

        Returns
        -------
        `~astropy.table.Table`
            ``time, exposure, rcid, verdict, reason, reviewer``; ``meta["skipped"]``
            counts the lines that are not decisions, ``meta["skipped_lines"]`` lists
            them as (line number, why).
        """
        decisions, skipped = self._read()
        table = Table(
            rows=[tuple(d[name] for name in _COLUMNS) for d in decisions] or None,
            names=_COLUMNS,
            dtype=[str, str, np.int16, str, str, str],
        )
        table.meta["skipped"] = len(skipped)
        table.meta["skipped_lines"] = list(skipped)
        return table

    def latest(self):
        """The last decision for each (exposure, rcid).

        Returns
        -------
        `~astropy.table.Table`
            ``exposure, rcid, verdict, reason, time`` (and ``reviewer``); ``meta`` as
            in `history`.
        """
        decisions, skipped = self._read()
        last = {}
        for decision in decisions:
            last[(decision["exposure"], decision["rcid"])] = decision
        names = ["exposure", "rcid", "verdict", "reason", "time", "reviewer"]
        table = Table(
            rows=[tuple(d[name] for name in names) for d in last.values()] or None,
            names=names,
            dtype=[str, np.int16, str, str, str, str],
        )
        table.meta["skipped"] = len(skipped)
        table.meta["skipped_lines"] = list(skipped)
        return table
