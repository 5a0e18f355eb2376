"""How many BLAS threads ztfnb's numerical work uses: the one home of that setting.

The prior fit and the matching make thousands of small matrix products and
solves (a few hundred columns at most). OpenBLAS starts one thread per core and
makes them spin-wait between products; on a 2-core machine shared with other
work that spinning costs more than the threads gain: pinning BLAS to one thread
took the prior fit from 4.9–6.1 s to 3.1 s (issue 15). `threadpoolctl` sets the
limit for the duration of a call only, so a caller's own setting is restored.
"""

import functools

from threadpoolctl import ThreadpoolController

__all__ = ["MEMORY_BOUND", "SMALL_PRODUCTS", "blas_threads", "small_products"]

#: BLAS threads for work made of many small products (the prior fit, matching).
SMALL_PRODUCTS = 1
#: BLAS threads for one large product whose time is writing its output (light-travel time).
#: OpenBLAS's second thread spin-waits on a shared machine; where two cores write faster than
#: one, ztfnb cuts the product among its own threads instead (`ztfnb.timecorr._WRITERS`).
MEMORY_BOUND = 1

_CONTROLLER = []


def _controller():
    """threadpoolctl's controller, built once (≈0.2 ms: it walks the loaded libraries)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def blas_threads(limit=SMALL_PRODUCTS):
    """A context manager limiting BLAS (OpenBLAS, MKL, BLIS) to ``limit`` threads.

    Parameters
    ----------
    limit : int

    Returns
    -------
    context manager
        threadpoolctl's; restores the previous limits on exit.
    """
    return _controller().limit(limits=limit, user_api="blas")


def small_products(function):
    """Decorate a function whose work is many small products: it runs under `blas_threads`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return function(*args, **kwargs)

    return wrapper
