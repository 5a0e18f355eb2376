"""Robust statistics of a group of quadrants: what most of them agree on, and how closely.

An exposure's quadrants are compared with one another (their scale change,
their extra centroid error, how far each is from Gaia). A median breaks down
once half of them failed, and a failed solution can fail in many ways; the
good ones agree with each other. `consensus` therefore starts from the
tightest group of a quarter of the values and grows it by clipping: the
median and MAD of the values that agree, robust to up to three quarters of
outliers, and no threshold of the verdict involved.
"""

import numpy as np

__all__ = ["consensus", "robust_sigma"]

#: MAD → standard deviation of a normal distribution.
MAD_SIGMA = 1.4826


def robust_sigma(values):
    """1.4826 × the median absolute deviation from the median (NaN for no values)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return float(MAD_SIGMA * np.median(np.abs(values - np.median(values))))


def consensus(values, share=0.25, clip=5.0, rounds=5):
    """Location and spread of the values most of a group agree on.

    The start is the median of the tightest window holding ``share`` of the
    values (at least 3); then, ``rounds`` times, the values within ``clip``
    robust sigmas of the location are kept and the location and spread
    recomputed as their median and 1.4826 × MAD. A normal sample is recovered
    whole; values far from the largest tight group never enter.

    Parameters
    ----------
    values : array-like
        NaN values are ignored.
    share : float
        Fraction of the values in the starting window, 0–1.
    clip : float
        Robust sigmas.
    rounds : int

    Returns
    -------
    location, spread : float
        NaN for no finite values; the spread is 0 for fewer than two.
    members : `~numpy.ndarray` of bool
        Which of ``values`` agree (False for NaN).
    """
    values = np.asarray(values, float)
    finite = np.isfinite(values)
    members = np.zeros(values.shape, bool)
    if not finite.any():
        return np.nan, np.nan, members
    data = np.sort(values[finite])
    n = data.size
    if n < 3:
        members[finite] = True
        return float(np.median(data)), robust_sigma(data) if n > 1 else 0.0, members
    k = min(n, max(3, int(np.ceil(share * n))))
    widths = data[k - 1 :] - data[: n - k + 1]
    start = int(np.argmin(widths))
    location = float(np.median(data[start : start + k]))
    spread = robust_sigma(data[start : start + k])
    for _ in range(rounds):
        # a tight start underestimates the spread: the width of the window keeps it open
        limit = clip * spread + (widths[start] / 2 if _ == 0 else 0.0)
        keep = np.abs(data - location) <= limit
        if keep.sum() < 2:
            break
        location, spread = float(np.median(data[keep])), robust_sigma(data[keep])
    members[finite] = np.abs(values[finite] - location) <= clip * spread
    return location, spread, members
