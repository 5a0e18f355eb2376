"""One batch at a time in a batch folder, and each batch's temporary folders named by their owner.

Two ``ztfnb batch`` on the same ``--out`` used to spoil each other: each
deleted every run in progress at its start, the other's live ones included,
and ran everything twice. A batch now holds ``DIR/.ztfnb-batch.lock`` (an
operating-system lock through ``filelock``: the system releases it when the
holder dies, SIGKILL included) for its whole life, and writes who holds it
(process id, host, start time) into ``DIR/.ztfnb-batch.lock.owner``. A second
batch on the folder waits for it and names the holder while it waits, or with
``wait=False`` refuses at once naming the holder; once it holds the lock it
finds the first batch's runs complete and skips them, so every run is made once.

Each batch has an owner id, ``p<pid>-<random>``, carried by the name of every
temporary folder it makes (``.<run>.partial-<owner>-<random>``). A batch
removes its own when it stops; the lock holder also removes those of owners
that are dead (their process is gone), which a SIGKILLed batch leaves behind.
"""

import datetime
import json
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

from ztfnb.lifetime import pid_alive

__all__ = [
    "LOCK",
    "BatchBusy",
    "BatchLock",
    "clean_partials",
    "new_owner",
    "owner_alive",
    "partial_name",
]

LOCK = ".ztfnb-batch.lock"
_OWNER_FILE = LOCK + ".owner"

#: ``.<run name>.partial-p<pid>-<token>-<random>``; ``.stale-`` for a replaced report on its way out.
_TEMPORARY = re.compile(
    r"^\.(?P<name>.+)\.(?:partial|stale)-(?:p(?P<pid>\d+)-[0-9a-f]+-)?[0-9a-f]+$"
)


class BatchBusy(RuntimeError):
    """Another batch holds the folder and the caller asked not to wait."""


def new_owner():
    """An owner id for this process's batch: ``p<pid>-<8 hex digits>``."""
    return f"p{os.getpid()}-{uuid.uuid4().hex[:8]}"


def partial_name(name, owner, kind="partial"):
    """The name of a temporary folder of run ``name`` made by ``owner``."""
    return f".{name}.{kind}-{owner}-{uuid.uuid4().hex[:12]}"


owner_alive = pid_alive  # kept under the name batch and its tests use


def clean_partials(out, owner, others=True):
    """Remove ``owner``'s temporary folders in ``out``, and with ``others`` those of dead owners.

    A folder of an owner whose process still runs is left alone: it is
    another batch's run in progress (or a cancelled Dask task finishing it).
    Folders named before owners were recorded (no ``p<pid>-`` part) count as
    dead ones.
    """
    mine = f"-{owner}-"
    for path in Path(out).glob(".*"):
        match = _TEMPORARY.match(path.name)
        if not match or not path.is_dir():
            continue
        if mine in path.name:
            shutil.rmtree(path, ignore_errors=True)
        elif others and (match["pid"] is None or not owner_alive(int(match["pid"]))):
            shutil.rmtree(path, ignore_errors=True)


class BatchLock:
    """The lock of a batch folder, held for a batch's whole life.

    Parameters
    ----------
    out : path-like
        The batch folder (it must exist).
    wait : bool
        Wait for a batch holding it (True), or raise `BatchBusy` at once.
    on_wait : callable, optional
        Called once with the holder's description (``process 1234 on host,
        since ...``) before waiting.
    """

    def __init__(self, out, wait=True, on_wait=None):
        from filelock import FileLock

        self.out = Path(out)
        self.wait = wait
        self.on_wait = on_wait
        self.owner = new_owner()
        # the lock file stays: removing a lock file while another process waits on it is racy
        self._lock = FileLock(self.out / LOCK, preserve_lock_file=True, thread_local=False)

    def holder(self):
        """Who holds the lock, as recorded in its sidecar file (text), or ``"another batch"``."""
        try:
            record = json.loads((self.out / _OWNER_FILE).read_text())
            return f"process {int(record['pid'])} on {record['host']}, since {record['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another batch"

    def acquire(self):
        """Take the lock (waiting, or refusing, as asked), record the holder, clean dead owners' folders."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            if not self.wait:
                raise BatchBusy(
                    f"{self.out}: in use by {self.holder()} (see {self.out / _OWNER_FILE}); "
                    "without --no-wait the batch waits for it"
                ) from None
            if self.on_wait:
                self.on_wait(self.holder())
            self._lock.acquire(timeout=-1, poll_interval=0.2)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "owner": self.owner,
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        (self.out / _OWNER_FILE).write_text(json.dumps(record) + "\n")
        clean_partials(self.out, self.owner)
        return self

    def release(self):
        """Remove this batch's temporary folders and give the lock up."""
        try:
            (self.out / _OWNER_FILE).unlink(missing_ok=True)
        finally:
            self._lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
