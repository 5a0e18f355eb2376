"""What every refusal must be: one line naming the file and the field, no traceback, nothing written.

Used by the ``test_bad_*`` files. ``refused(argv, watch=[...], names=[...])`` runs a
``ztfnb`` command line in this process (the console script's own ``main``: the same
code path, without a second of start-up per case), then asserts

- the exit status (2, the command line's status for a refused input),
- one line on stderr, starting ``ztfnb <command>: error:``, holding each of ``names``
  (the file, the field, the value) and no ``Traceback``,
- every folder in ``watch`` listed the same before and after (names, sizes and
  modification times of every file in it, hidden ones included), and every
  path in ``absent`` still absent.

``refused_process`` is the same check on a real ``python -m ztfnb`` process, for the
cases where what matters happens at start-up or at exit.
"""

import os
import subprocess
import sys
from pathlib import Path

EXIT_REFUSED = 2


def listing(folder):
    """Every file and folder under ``folder``: relative path → (size, mtime_ns), or None if absent."""
    folder = Path(folder)
    if not folder.exists():
        return None
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        out[str(path.relative_to(folder))] = (
            None if path.is_dir() else info.st_size,
            None if path.is_dir() else info.st_mtime_ns,
        )
    return out


def _check(status, stderr, names, watch_before, watch, absent, expect_status):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status == expect_status, f"exit status {status}, stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{stderr}"
    message = lines[0]
    assert message.startswith("ztfnb "), message
    assert ": error: " in message, message
    for name in names:
        assert str(name) in message, f"{name!r} is not named in: {message}"
    assert len(message) < 600, f"a message of {len(message)} characters: {message[:300]}…"
    for folder, before in zip(watch, watch_before, strict=True):
        assert listing(folder) == before, f"{folder} changed"
    for path in absent:
        assert not Path(path).exists(), f"{path} was made"
    return message


def refused(argv, *, names=(), watch=(), absent=(), capsys=None, status=EXIT_REFUSED):
    """Run ``ztfnb argv`` in this process; assert a one-line refusal and nothing written.

    Returns the message. ``capsys`` is pytest's fixture (needed to read stderr).
    """
    from ztfnb.cli import main

    argv = [str(a) for a in argv]
    before = [listing(folder) for folder in watch]
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse's refusals end the same way as in the console script
        got = exit_.code
    captured = capsys.readouterr()
    return _check(got, captured.err, names, before, watch, absent, status)


def refused_process(
    argv, *, names=(), watch=(), absent=(), cwd=None, env=None, status=EXIT_REFUSED
):
    """Run ``python -m ztfnb argv`` as its own process; assert a one-line refusal and nothing written."""
    before = [listing(folder) for folder in watch]
    result = subprocess.run(
        [sys.executable, "-m", "ztfnb", *[str(a) for a in argv]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return _check(result.returncode, result.stderr, names, before, watch, absent, status)
