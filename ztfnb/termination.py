"""SIGTERM as an exception, so that a terminated simulation cleans up after itself.

By default SIGTERM (a batch system's time limit, ``kill``, a container
stopping) ends Python at once: no ``finally`` runs, and the simulator's hidden
temporary folder (``.OUT.*.tmp``) stays behind. Raised as `SystemExit`, it
unwinds through `~ztfnb.io.atomic.atomic_directory`, which removes it.

Meant for the command line only: a library call must not take over a
process's signals (a Jupyter kernel, for one, would swallow the exit).
"""

import contextlib
import signal
import threading

__all__ = ["EXIT_TERMINATED", "sigterm_raises_exit"]

#: Exit status after SIGTERM, as a shell reports a process the signal killed.
EXIT_TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_raises_exit():
    """Within the block, SIGTERM raises ``SystemExit(EXIT_TERMINATED)``.

    The previous handler is restored on leaving. Outside the main thread,
    where Python cannot handle signals, the block runs unchanged.

    Yields
    ------
    None
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum, frame):
    # a second SIGTERM must not interrupt the clean-up the first one started
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(EXIT_TERMINATED)
