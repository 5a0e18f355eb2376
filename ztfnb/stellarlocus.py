"""The stellar locus: the size every point source of a quadrant shares.

Stars are images of the PSF, so their ``FLUX_RADIUS`` is one value, measured
with a few per cent of scatter; galaxies are larger, each by its own amount,
and cosmic rays smaller. Point sources are therefore the narrow range of
radius that stands out from its neighbourhood among clean, bright
detections, wherever it lies: a spike over a smooth spread, as PSFEx picks
its PSF stars from the mode of the FWHM distribution (Bertin 2011, ASP Conf.
Ser. 442, 435). The median radius is that value only while stars are most of
the detections: at high Galactic latitude, or with a shallow reference,
galaxies outnumber them (≈150 a quadrant at ZTF's depth against tens of Gaia
stars in a sparse field) and the median lands among the galaxies, so that
every star of the quadrant would be refused.

Limit: choosing by size alone needs the stars to stand out. Tested (``tests/
test_stellar_locus.py``) with 20–200 stars among up to 10 times as many
galaxies of broad sizes, or 3 times as many just resolved (from 1.25 times
the PSF's radius); 10 times as many just-resolved galaxies outscore the stars.
"""

import numpy as np

__all__ = ["LOCUS_WIDTH", "stellar_radius"]

#: Width of the locus searched, as a ratio of radii: bright stars' measured FLUX_RADIUS
#: scatters by a few per cent (noise, the PSF's change across a quadrant).
LOCUS_WIDTH = 1.1


def stellar_radius(radius, width=LOCUS_WIDTH):
    """The point sources' radius: the median of the range of radii that stands out most.

    Each range ``[r, r·width)`` starting at a detection's radius is scored by
    its count less the larger count of the two ranges of the same width one
    range away on either side: a spike of equal sizes (stars) scores its
    whole count, a spread of sizes (galaxies, cosmic rays) little, however
    many, its edges included.

    Parameters
    ----------
    radius : `~numpy.ndarray`, shape (n,)
        Sizes (``FLUX_RADIUS`` or a like measure, any unit) of clean, bright
        detections; non-positive and non-finite values are ignored.
    width : float
        Ratio of the largest to the smallest radius of a range (> 1).

    Returns
    -------
    float
        NaN when no radius is usable. Of equal scores, the smallest radii's
        (a PSF is the smallest resolved image).
    """
    logs = np.sort(np.log(radius[np.isfinite(radius) & (radius > 0)]))
    if logs.size == 0:
        return np.nan
    step = np.log(width)

    def count(low, high):
        return np.searchsorted(logs, high, side="left") - np.searchsorted(logs, low, side="left")

    inside = count(logs, logs + step)
    # above *both* neighbours (the edge of a smooth spread has one empty flank, not a spike),
    # a range away on each side: the stars' own scatter spills beyond the range itself
    flanks = np.maximum(
        count(logs - 2 * step, logs - step), count(logs + 2 * step, logs + 3 * step)
    )
    start = int(np.argmax(inside - flanks))
    return float(np.exp(np.median(logs[start : start + inside[start]])))
