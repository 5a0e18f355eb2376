"""Flux-conserving resampling of a spectrum onto new bins.

The input is a flux density constant over each input bin; each output bin
gets the integral of it over the bin divided by its width. The cumulative
integral at the input edges is interpolated linearly at the output edges —
exact for piecewise-constant input — so the total over any span covered by
both grids is conserved to rounding. Outside the input, the density is zero.

A bad input bin (NaN or infinite, e.g. a masked pixel of a template) spoils
only the output bins that overlap it: they are NaN, every other bin is exact.
A plain cumulative sum would carry the NaN into every bin after it.
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
        Density per unit of the edges (e.g. mJy per Hz of bin). NaN or
        infinite values mark bad bins; a masked array's masked values too.
    edges_out : `~numpy.ndarray`, shape (m + 1,)
        Increasing output edges, same unit.

    Returns
    -------
    `~numpy.ndarray`, shape (m,)
        NaN in the output bins that overlap a bad input bin (by more than a
        shared edge).

    Raises
    ------
    ValueError
        Edges that do not increase, or a density of the wrong length.
    """
    edges_in = np.asarray(edges_in, float)
    edges_out = np.asarray(edges_out, float)
    density_in = np.ma.filled(np.ma.asarray(density_in, float), np.nan)
    for name, edges in (("input", edges_in), ("output", edges_out)):
        bad = np.flatnonzero(~(np.diff(edges) > 0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name} bin edges must increase: edge {i + 1} ({edges[i + 1]}) is not above "
                f"edge {i} ({edges[i]}), counting from 0"
            )
    if density_in.shape != (edges_in.size - 1,):
        raise ValueError(
            f"need one density per input bin: {edges_in.size - 1}, got shape {density_in.shape}"
        )
    widths = np.diff(edges_in)
    bad = ~np.isfinite(density_in)
    cumulative = np.concatenate([[0.0], np.cumsum(np.where(bad, 0.0, density_in) * widths)])
    at_out = np.interp(edges_out, edges_in, cumulative, left=0.0, right=cumulative[-1])
    result = np.diff(at_out) / np.diff(edges_out)
    if bad.any():
        # the bad width each output bin covers: exactly 0 where it overlaps none
        bad_width = np.concatenate([[0.0], np.cumsum(bad * widths)])
        covered = np.diff(np.interp(edges_out, edges_in, bad_width, left=0.0, right=bad_width[-1]))
        result[covered > 0] = np.nan
    return result
