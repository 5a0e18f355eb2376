"""Moments of stars in circular apertures: SExtractor's definitions, all stamps at once.

``X2``, ``Y2``, ``XY`` of the background-subtracted pixels about the
first-moment centroid (Bertin, SExtractor manual v2.13, §10.1), measured in
a circle around each reference star rather than in a detection segment,
because a segment of a doubled star may split in two. Why not photutils:
its `~photutils.segmentation.SourceCatalog` gives the same unweighted
moments segment by segment; here every stamp is one array, the sums are a
few vectorised lines, and the noise propagation the verdict needs is not
in it.
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
    the pixels outside ``radius + 1`` in each stamp; the centroid is
    iterated so that the circle sits on the light, not on the expected
    position (an offset solution moves the star).

    Returns
    -------
    dict of arrays, shape (n,)
        ``x``, ``y`` (centroid, pixels from the stamp centre), ``xx``,
        ``yy``, ``xy`` (px²), ``flux``, ``snr``, ``noise_moment`` (px²,
        1σ of ``xx`` from the pixel noise), ``peak``.
    """
    n, size, _ = stamps.shape
    half = size // 2
    d = np.arange(-half, half + 1, dtype=float)
    gx, gy = d[None, None, :], d[None, :, None]
    r_stamp = np.hypot(gx, gy)
    outside = np.broadcast_to(r_stamp > outer + 1, stamps.shape)
    annulus = np.where(outside, stamps, np.nan)
    sky = np.nanmedian(annulus, axis=(1, 2))
    noise = 1.4826 * np.nanmedian(np.abs(annulus - sky[:, None, None]), axis=(1, 2))
    light = stamps - sky[:, None, None]
    cx, cy = np.asarray(x0, float).copy(), np.asarray(y0, float).copy()
    for _ in range(iterations):
        inside = np.hypot(gx - cx[:, None, None], gy - cy[:, None, None]) <= radius
        weighted = np.where(inside, light, 0.0)
        flux = weighted.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            nx_ = (weighted * gx).sum(axis=(1, 2)) / flux
            ny_ = (weighted * gy).sum(axis=(1, 2)) / flux
        # a centroid that wanders out of the circle is no star: keep the last good one
        good = np.isfinite(nx_) & (np.hypot(nx_ - x0, ny_ - y0) < radius)
        cx, cy = np.where(good, nx_, cx), np.where(good, ny_, cy)
    dx, dy = gx - cx[:, None, None], gy - cy[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        xx = (weighted * dx**2).sum(axis=(1, 2)) / flux
        yy = (weighted * dy**2).sum(axis=(1, 2)) / flux
        xy = (weighted * dx * dy).sum(axis=(1, 2)) / flux
        # ∂xx/∂I_i = (dx_i² − xx)/F: the moment's noise from independent pixel noise
        spread = np.where(inside, (dx**2 - xx[:, None, None]) ** 2, 0.0).sum(axis=(1, 2))
        noise_moment = noise * np.sqrt(spread) / flux
        snr = flux / (noise * np.sqrt(inside.sum(axis=(1, 2))))
        # light beyond the aperture, out to where a take-off's second image would be
        distance = np.hypot(dx, dy)
        ring = (distance > radius) & (distance <= outer)
        halo = np.where(ring, light, 0.0).sum(axis=(1, 2)) / flux
        noise_halo = noise * np.sqrt(ring.sum(axis=(1, 2))) / flux
    peak = light.reshape(n, -1).max(axis=1)
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
        "peak": peak,
    }


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
