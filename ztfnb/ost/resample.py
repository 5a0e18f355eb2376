"""Flux-conserving resampling of a spectrum onto new bins.

The input is a flux density constant over each input bin; each output bin
gets the integral of it over the bin divided by its width. The cumulative
integral at the input edges is interpolated linearly at the output edges —
exact for piecewise-constant input — so the total over any span covered by
both grids is conserved to rounding. Outside the input, the density is zero.
"""

import numpy as np

__all__ = ["resample"]


def resample(edges_in, density_in, edges_out):
    """Mean density of a piecewise-constant spectrum over new bins.

    Parameters
    ----------
    edges_in : `~numpy.ndarray`, shape (n + 1,)
        Increasing bin edges (any unit, e.g. Hz).
    density_in : `~numpy.ndarray`, shape (n,)
        Density per unit of the edges (e.g. mJy per Hz of bin).
    edges_out : `~numpy.ndarray`, shape (m + 1,)
        Increasing output edges, same unit.

    Returns
    -------
    `~numpy.ndarray`, shape (m,)
    """
    edges_in = np.asarray(edges_in, float)
    edges_out = np.asarray(edges_out, float)
    density_in = np.asarray(density_in, float)
    if np.any(np.diff(edges_in) <= 0) or np.any(np.diff(edges_out) <= 0):
        raise ValueError("bin edges must increase")
    cumulative = np.concatenate([[0.0], np.cumsum(density_in * np.diff(edges_in))])
    at_out = np.interp(edges_out, edges_in, cumulative, left=0.0, right=cumulative[-1])
    return np.diff(at_out) / np.diff(edges_out)
