"""Child processes that die with their parent, even when the parent is killed with SIGKILL.

A pool worker, or SCAMP started by one, outlives a parent killed by SIGKILL
(out of memory, a batch system's limit, ``kill -9``): it goes on running
SCAMP and writing into the output folder of a command that has already
failed, then waits forever for a parent that will never read its answer.
Linux offers the cure in the kernel: ``prctl(PR_SET_PDEATHSIG)`` sends a
signal to a process the moment the thread that made it exits
(``man 2 prctl``). Elsewhere, or for a parent that died before the call, a
thread watches for the change of parent.

`die_with_parent` is for a pool worker's initializer; `dies_with_us` is the
``preexec_fn`` of an external program (SCAMP, SExtractor, SWarp) so that it
stops with the worker that started it.
"""

import os
import signal
import threading
import time
from pathlib import Path

__all__ = ["die_with_parent", "dies_with_us", "pid_alive"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal(signum):
    """Ask Linux to send ``signum`` when the parent exits; False where that is not possible."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def die_with_parent(parent, on_death=None, interval=0.5):
    """Stop this process when process ``parent`` dies, however it dies.

    Parameters
    ----------
    parent : int
        The parent's PID, read in the parent (``os.getpid()`` passed to the
        pool's initializer): a parent that died before this call is noticed.
    on_death : callable, optional
        Called (in a watching thread) when the parent is gone; it should end
        the process. Default: ``os._exit(1)`` — no clean-up is left to an
        interpreter whose parent is gone.
    interval : float
        Seconds between two looks at the parent, where the kernel's signal
        is not available.

    Notes
    -----
    On Linux the kernel sends SIGTERM at once; the process's SIGTERM handler
    (or the default action, which ends it) does the rest.
    """
    _set_parent_death_signal(signal.SIGTERM)
    stop = on_death or (lambda: os._exit(1))

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        stop()

    threading.Thread(target=watch, name="ztfnb-parent-watch", daemon=True).start()


def dies_with_us():
    """``preexec_fn`` for `subprocess`: the program gets SIGKILL when the process that started it ends.

    An external program keeps no state worth a clean stop once the command
    that wanted its answer has gone.
    """
    _set_parent_death_signal(signal.SIGKILL)


def pid_alive(pid):
    """Whether a process of this id runs on this host (a zombie counts as gone).

    Used to tell a dead writer's leftovers (temporary files, a batch's
    folders, a kernel's connection folder) from a live one's.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    try:  # Linux: a zombie waits for its parent to reap it; it writes nothing more
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
