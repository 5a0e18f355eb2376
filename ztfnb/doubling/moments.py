"""Moments of stars in circular apertures: SExtractor's definitions, all stamps at once.

``X2``, ``Y2``, ``XY`` of the background-subtracted pixels about the
first-moment centroid (Bertin, SExtractor manual v2.13, §10.1), measured in
a circle around each reference star rather than in a detection segment,
because a segment of a doubled star may split in two. Why not photutils
(3.0 installs here without changing anything else): its
`~photutils.segmentation.SourceCatalog` gives the same unweighted moments
segment by segment but no uncertainty on them, and the verdict needs one;
here every stamp is one array and the sums are a few vectorised lines.
"""

import numpy as np

__all__ = ["aperture_moments", "axes", "cutouts", "sky_moments"]


def cutouts(image, x, y, half):
    """Square cut-outs (n, 2 half + 1, 2 half + 1) around rounded positions; ``ok`` where inside."""
    ny, nx = image.shape
    cx, cy = np.round(x).astype(int), np.round(y).astype(int)
    ok = (cx - half >= 0) & (cx + half < nx) & (cy - half >= 0) & (cy + half < ny)
    d = np.arange(-half, half + 1)
    rows = np.clip(cy[ok, None, None] + d[None, :, None], 0, ny - 1)
    cols = np.clip(cx[ok, None, None] + d[None, None, :], 0, nx - 1)
    return image[rows, cols], x[ok] - cx[ok], y[ok] - cy[ok], ok


def aperture_moments(stamps, x0, y0, radius, outer, iterations=3):
    """Background-subtracted first and second moments in a circle, with their noise.

    The background and the pixel noise are the median and 1.4826 × MAD of
    the pixels beyond ``outer + 1`` from the stamp's centre; the centroid
    is iterated so that the circle sits on the light, not on the expected
    position (an offset solution moves the star).

    Parameters
    ----------
    stamps : `~numpy.ndarray`, shape (n, size, size)
        From `cutouts`, with ``size // 2`` > ``outer + 1``.
    x0, y0 : `~numpy.ndarray`, shape (n,)
        Expected positions, pixels from each stamp's centre.
    radius, outer : float
        Pixels: the moments' circle, and the outer edge of the ring
        ``radius < r ≤ outer`` whose light is the halo.
    iterations : int
        Of the centroid.

    Returns
    -------
    dict of arrays, shape (n,)
        ``x``, ``y`` (centroid, pixels from the stamp centre), ``xx``,
        ``yy``, ``xy`` (px²), ``flux`` (in the circle), ``snr`` (flux over
        the pixel noise of the circle), ``noise_moment`` (px², 1σ of ``xx``
        from the pixel noise), ``halo`` (the ring's light over the
        circle's) and ``noise_halo``. NaN where the stamp holds NaN.
    """
    size = stamps.shape[1]
    d = np.arange(size, dtype=float) - size // 2
    gx, gy = d[None, None, :], d[None, :, None]
    outside = np.hypot(gx, gy) > outer + 1
    # np.median, not nanmedian: a NaN (no data) spoils the star, and says so by NaN
    sky = _masked_median(stamps, outside)
    noise = 1.4826 * _masked_median(np.abs(stamps - sky[:, None, None]), outside)
    light = stamps - sky[:, None, None]
    cx, cy = np.asarray(x0, float).copy(), np.asarray(y0, float).copy()
    for _ in range(iterations):
        _, weighted, flux = _circle(light, gx - cx[:, None, None], gy - cy[:, None, None], radius)
        with np.errstate(invalid="ignore", divide="ignore"):
            nx = (weighted * gx).sum(axis=(1, 2)) / flux
            ny = (weighted * gy).sum(axis=(1, 2)) / flux
        # a centroid that wanders out of the circle is no star: keep the last good one
        good = np.isfinite(nx) & (np.hypot(nx - x0, ny - y0) < radius)
        cx, cy = np.where(good, nx, cx), np.where(good, ny, cy)
    dx, dy = gx - cx[:, None, None], gy - cy[:, None, None]
    inside, weighted, flux = _circle(light, dx, dy, radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        xx = (weighted * dx**2).sum(axis=(1, 2)) / flux
        yy = (weighted * dy**2).sum(axis=(1, 2)) / flux
        xy = (weighted * dx * dy).sum(axis=(1, 2)) / flux
        # ∂xx/∂I_i = (dx_i² − xx)/F: the moment's noise from independent pixel noise
        spread = np.where(inside, (dx**2 - xx[:, None, None]) ** 2, 0.0).sum(axis=(1, 2))
        noise_moment = noise * np.sqrt(spread) / flux
        snr = flux / (noise * np.sqrt(inside.sum(axis=(1, 2))))
        # light beyond the circle, out to where a take-off's second image would be
        distance = np.hypot(dx, dy)
        ring = (distance > radius) & (distance <= outer)
        halo = np.where(ring, light, 0.0).sum(axis=(1, 2)) / flux
        noise_halo = noise * np.sqrt(ring.sum(axis=(1, 2))) / flux
    return {
        "x": cx,
        "y": cy,
        "xx": xx,
        "yy": yy,
        "xy": xy,
        "flux": flux,
        "snr": snr,
        "noise_moment": noise_moment,
        "halo": halo,
        "noise_halo": noise_halo,
    }


def _circle(light, dx, dy, radius):
    """The circle's mask, the light inside it (0 outside), and its sum."""
    inside = np.hypot(dx, dy) <= radius
    weighted = np.where(inside, light, 0.0)
    return inside, weighted, weighted.sum(axis=(1, 2))


def _masked_median(values, mask):
    """Median of each stamp's pixels where ``mask`` (one (1, size, size) for all), NaN if any is."""
    return np.median(values[:, mask[0]], axis=1)


def sky_moments(m, jacobian):
    """Pixel moment matrices (n, 2, 2) carried to the tangent plane (ξ East, η North), arcsec²."""
    pixel = np.stack([np.stack([m["xx"], m["xy"]], -1), np.stack([m["xy"], m["yy"]], -1)], -2)
    return jacobian @ pixel @ jacobian.T


def axes(matrix):
    """Semi-axes a ≥ b (sqrt of eigenvalues), position angle of a (deg, E of N) of (n, 2, 2)."""
    xx, yy, xy = matrix[:, 0, 0], matrix[:, 1, 1], matrix[:, 0, 1]
    mean, half = (xx + yy) / 2, np.hypot((xx - yy) / 2, xy)
    # the major axis's angle from η (North) towards ξ (East)
    angle = np.degrees(0.5 * np.arctan2(2 * xy, yy - xx)) % 180
    return mean + half, mean - half, angle
