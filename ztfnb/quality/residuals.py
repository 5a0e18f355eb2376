"""A quadrant's residuals against Gaia, against the errors they should have: rms, offset, χ², and the smooth field at its corners.

From the matched stars of one quadrant (`ztfnb.quality.metrics.exposure_matches`):
mismatches clipped, the exposure's extra error found from its quadrants, then
per quadrant the statistics `ztfnb.quality.verdict` judges (`_residual_statistics`):
the corner field by a weighted cubic made robust (`_corner_fit`).
"""

import numpy as np

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.quality.robust import MAD_SIGMA, consensus, robust_sigma

_CORNERS = np.array(
    [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5], [0.5, NAXIS2 + 0.5]]
)


#: Median of a χ² with two degrees of freedom (a star's normalised residual in 2-D).
_CHI2_2_MEDIAN = 2 * np.log(2)


#: Efficiency of the median: its error is this × σ/√n for normal data.
_MEDIAN_ERROR = np.sqrt(np.pi / 2)


def _corner_fit(x, y, dra, ddec, variance, degree=3, huber=3.0, rounds=5):
    """A smooth fit of the residual field, evaluated at the four corners.

    A polynomial of ``degree`` in x and y per axis, by least squares weighted
    by the stars' variances. On simulated nights a weighted cubic tells a
    corner that takes off from noise better than the unweighted quadratic
    (ZTF's "smooth fit"): it follows a bump confined to a corner, and its
    errors there are known.

    The weights are made robust (Huber's, iteratively reweighted): a star whose
    residual from the fitted field is more than ``huber`` times its error
    counts as if its error were that much larger. Without it one bright star
    whose stated error (SExtractor's, photon-limited: 0.001″) is far below its
    real centroid error (0.1–0.2″: near saturation, a neighbour) sets the
    field at a corner by itself: on an extracted catalogue one such star made a
    good quadrant's corner "0.23″ off" (tests/test_quality.py). The stars of a
    corner that truly takes off agree with each other and with the field the
    fit follows, so they keep their weight.

    Parameters
    ----------
    x, y : `~numpy.ndarray`
        Pixels.
    dra, ddec : `~numpy.ndarray`
        Residuals, arcsec.
    variance : `~numpy.ndarray`
        Each star's variance per axis (arcsec²): the weights, and the errors.
    degree : int
    huber : float
        Huber's threshold, in units of each star's error (on the length of its
        2-D residual from the fit).
    rounds : int
        Reweighting rounds.

    Returns
    -------
    size : `~numpy.ndarray`
        Length of the fitted residual at each corner (arcsec), shape (4,).
    error : `~numpy.ndarray`
        Its 1σ uncertainty per axis at each corner, shape (4,).
    """

    def terms(px, py):
        return np.column_stack(
            [px**i * py**j for i in range(degree + 1) for j in range(degree + 1 - i)]
        )

    design = terms((x - (NAXIS1 + 1) / 2) / NAXIS1, (y - (NAXIS2 + 1) / 2) / NAXIS2)
    at = terms(
        (_CORNERS[:, 0] - (NAXIS1 + 1) / 2) / NAXIS1, (_CORNERS[:, 1] - (NAXIS2 + 1) / 2) / NAXIS2
    )
    residual = np.column_stack([dra, ddec])
    robust = np.ones_like(x)
    for _ in range(rounds):
        weighted = design * (robust / variance)[:, None]
        solve = np.linalg.pinv(weighted.T @ design) @ weighted.T  # (terms, n)
        off = np.hypot(*(residual - design @ (solve @ residual)).T) / np.sqrt(variance)
        updated = np.minimum(1.0, huber / np.maximum(off, 1e-12))
        if np.allclose(updated, robust, rtol=1e-3, atol=1e-6):
            break
        robust = updated
    weighted = design * (robust / variance)[:, None]
    # the fitted value at a corner is a weighted sum of the residuals (one row per star)
    rows = weighted @ np.linalg.pinv(weighted.T @ design) @ at.T  # (n, 4)
    size = np.hypot(dra @ rows, ddec @ rows)
    return size, np.sqrt(variance @ rows**2)


def _clipped(values, clip=5.0):
    """Rows of 2-D residuals that are not mismatches (``clip`` robust sigmas beyond the median distance)."""
    keep = np.ones(values.shape[0], bool)
    for _ in range(3):
        centre = np.median(values[keep], axis=0)
        distance = np.hypot(*(values - centre).T)
        scale = MAD_SIGMA * np.median(distance[keep]) + 1e-9
        keep = distance <= clip * scale + np.median(distance[keep])
    return keep


def _extra_error(groups, min_stars):
    """The error every star of an exposure has beyond its own and Gaia's (arcsec).

    Per quadrant, the extra term τ that makes the median of the stars'
    normalised squared residuals ``|r − median|² / (σ² + τ²)`` that of a χ²
    with two degrees of freedom (0 when the errors already explain them);
    then what most quadrants agree on, so that failed ones do not set it.

    Parameters
    ----------
    groups : list of (residual, variance)
        Per quadrant: residuals about its median, shape (n, 2), arcsec, and
        each star's own variance per axis.
    min_stars : int

    Returns
    -------
    float
    """
    values = []
    for residual, variance in groups:
        if residual.shape[0] < min_stars:
            continue
        squared = np.sum(residual**2, axis=1)

        def excess(tau, squared=squared, variance=variance):
            return np.median(squared / (variance + tau**2)) - _CHI2_2_MEDIAN

        if excess(0.0) <= 0:
            values.append(0.0)
            continue
        low, high = 0.0, np.sqrt(np.median(squared) / _CHI2_2_MEDIAN) * 2 + 1e-6
        for _ in range(24):  # to 10⁻⁷ of the bracket
            middle = (low + high) / 2
            low, high = (middle, high) if excess(middle) > 0 else (low, middle)
        values.append((low + high) / 2)
    if not values:
        return 0.0
    return float(consensus(values)[0])


def _residual_statistics(x, y, residual, variance, corner_fraction):
    """Per quadrant: rms, offsets, corners and the noise-aware statistics of clipped residuals.

    ``residual`` (n, 2) arcsec, ``variance`` (n,) each star's expected
    variance per axis including the exposure's extra error.
    """
    n = residual.shape[0]
    median = np.median(residual, axis=0)
    about = residual - median
    squared = np.sum(about**2, axis=1) / variance
    chi2 = float(np.sum(squared) / max(2 * n - 2, 1))
    # offset: the median's uncertainty from the actual scatter (it holds what the errors miss)
    spread = np.array([robust_sigma(about[:, 0]), robust_sigma(about[:, 1])])
    offset_error = float(_MEDIAN_ERROR * np.sqrt(np.mean(spread**2) / n))
    # the corner errors grow with the scatter the errors miss, as most stars show it (a median:
    # a corner that took off must not widen its own error)
    scatter = float(np.median(squared) / _CHI2_2_MEDIAN)
    corner_error, corner_errors = _corner_fit(
        x, y, residual[:, 0], residual[:, 1], variance * max(scatter, 1.0)
    )
    worst = int(np.argmax(corner_error / corner_errors))  # the corner the stars say is off
    in_corner = [
        ((x < corner_fraction * NAXIS1) if cx < 1000 else (x > (1 - corner_fraction) * NAXIS1))
        & ((y < corner_fraction * NAXIS2) if cy < 1000 else (y > (1 - corner_fraction) * NAXIS2))
        for cx, cy in _CORNERS
    ]
    corner_offsets = [
        np.hypot(*np.median(residual[c], axis=0)) if c.sum() >= 5 else np.nan for c in in_corner
    ]
    centre = (np.abs(x - NAXIS1 / 2) < NAXIS1 / 4) & (np.abs(y - NAXIS2 / 2) < NAXIS2 / 4)
    return {
        "rms_ra": float(np.sqrt(np.mean(about[:, 0] ** 2))),
        "rms_dec": float(np.sqrt(np.mean(about[:, 1] ** 2))),
        "offset_ra": float(median[0]),
        "offset_dec": float(median[1]),
        "offset": float(np.hypot(*median)),
        "offset_err": offset_error,
        "centre_offset": float(np.hypot(*np.median(residual[centre], axis=0)))
        if centre.sum() >= 5
        else np.nan,
        "corner_offset": float(np.nanmax(corner_offsets))
        if np.isfinite(corner_offsets).any()
        else np.nan,
        "corner_error": float(corner_error[worst]),
        "corner_err": float(corner_errors[worst]),
        "worst_corner": worst,
        "star_error": float(np.sqrt(np.median(variance))),
        "chi2": chi2,
        # for normal errors (the null hypothesis): a failed quadrant's own scatter of χ² would
        # hide it; tails heavier than normal show as a wider spread across the exposure
        "chi2_err": float(1 / np.sqrt(n - 1)) if n > 1 else np.nan,
        "excess_rms": float(np.sqrt(max(np.mean(about**2) - np.mean(variance), 0.0))),
    }
