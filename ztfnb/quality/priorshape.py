"""How a solution's shape differs from the prior it started from: pixel-scale change on ZTF's grid, displacement at the corners.

`pixel_scale_change` (ZTF's 23 × 25 grid, pixel area from the diagonals) and
`_corner_displacements` (the corners' move prior → solution, and what is left
once the exposure's own affine map is taken out, found by consensus).
"""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.match import affine_fit
from ztfnb.quality.residuals import _CORNERS
from ztfnb.quality.robust import MAD_SIGMA
from ztfnb.tangent import gnomonic

#: ZTF's pixel-scale grid: x every 128 px (25 points), y every 140 px (23 points),
#: edge to edge of the 3072 × 3080 quadrant.
SCALE_GRID = (0.5 + 128 * np.arange(25), 0.5 + 140 * np.arange(23))


_PROBES = np.vstack([_CORNERS, [[(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2]]])


def pixel_scale_change(prior, solution, grid=SCALE_GRID):
    """Percent change of the pixel scale from one WCS to another, on ZTF's grid.

    For each grid point the pixel's area is half the product of the sky
    lengths of its two diagonals, (x, y)–(x+1, y+1) and (x+1, y)–(x, y+1);
    the change is ``100 (√A_solution − √A_prior) / √A_prior``.

    Parameters
    ----------
    prior, solution : `~astropy.wcs.WCS`
    grid : tuple of arrays
        x and y (1-based) of the grid.

    Returns
    -------
    `~numpy.ndarray`
        Percent, shape (len(y), len(x)).
    """
    gx, gy = np.meshgrid(*grid)

    def area(wcs):
        corners = [
            wcs.all_pix2world(gx + dx, gy + dy, 1) for dx, dy in ((0, 0), (1, 1), (1, 0), (0, 1))
        ]
        sky = [SkyCoord(ra * u.deg, dec * u.deg) for ra, dec in corners]
        return 0.5 * sky[0].separation(sky[1]).arcsec * sky[2].separation(sky[3]).arcsec

    before, after = area(prior), area(solution)
    return 100 * (np.sqrt(after) - np.sqrt(before)) / np.sqrt(before)


def _corner_displacements(corners_moved, pointing, tolerance=1.0, clip=5.0):
    """How far each quadrant's corners moved from the prior to the solution (arcsec).

    Returns the plain displacement at the four corners, the displacement left
    once the exposure's own affine map from prior to solution is taken out, and
    whether that map describes the exposure. The map is the pointing,
    rotation, scale and refraction the solution corrected over the whole field
    (a prior whose pointing was not refined is ≈20″ off there, and that is no
    fault of the solution); what remains is a quadrant whose shape changed: a
    corner that took off. It is found by consensus, as the map of one quadrant
    that most others agree with to ``tolerance``, then refitted to the majority
    of those it fits best (least trimmed squares) and to all within a few robust
    sigmas of them, so that neither a majority of failed quadrants nor a shifted
    one among a few can bend it. A prior that lacks the
    focal-plane distortion (the telescope's linear WCS) finds little consensus
    and is not comparable: its displacements say nothing of the solution. With
    fewer than three quadrants no map can be told apart from a take-off, and
    the plain displacement is what is measured.

    Parameters
    ----------
    corners_moved : list of (array, array)
        Per quadrant, RA/Dec (degrees) of the probe points (corners, then
        centre) through the prior and through the solution.
    pointing : `~astropy.coordinates.SkyCoord`
    tolerance : float
        Arcsec.

    Returns
    -------
    raw, shape : `~numpy.ndarray`
        (n_quadrants, 4) arcsec.
    comparable : bool
    """
    center = pointing.icrs.ra.deg, pointing.icrs.dec.deg
    before = np.array([gnomonic(*b.T, *center) for b, _ in corners_moved]) * 3600  # (n, 2, 5)
    after = np.array([gnomonic(*a.T, *center) for _, a in corners_moved]) * 3600
    n, _, probes = before.shape
    raw = np.hypot(*(after - before)[:, :, :4].transpose(1, 0, 2))

    def left_after(members):
        points = np.repeat(members, probes)
        bx, by = before[:, 0].ravel(), before[:, 1].ravel()
        ax, ay = after[:, 0].ravel(), after[:, 1].ravel()
        cx, cy = affine_fit(bx[points], by[points], ax[points], ay[points])
        left = np.hypot(
            ax - (cx[0] + cx[1] * bx + cx[2] * by), ay - (cy[0] + cy[1] * bx + cy[2] * by)
        )
        # a prior and its solution differ by a few percent at most: a map far from a rotation
        # (a collapsed solution, CD ≈ 0) is no candidate
        stretch = np.linalg.svd([cx[1:], cy[1:]], compute_uv=False)
        plausible = bool(np.all(np.abs(stretch - 1) < 0.05))
        return left.reshape(n, probes), plausible

    def agreeing(candidate):
        left, plausible = left_after(np.arange(n) == candidate)
        return (left.max(axis=1) <= tolerance) & plausible

    if n < 3:
        # too few quadrants to tell an exposure-wide correction from a take-off: as it is
        return raw, raw, True
    agree = [agreeing(q) for q in range(n)]
    keep = max(agree, key=np.sum)
    if keep.sum() < 3:
        return raw, np.full((n, 4), np.nan), False
    # the map that fits a majority of the agreeing quadrants best (least trimmed squares started
    # from agreeing quadrants' own maps, three concentration steps): a shifted quadrant among a
    # few must not bend it, as a least-squares fit to all of them would
    size = max(3, int(keep.sum()) // 2 + 1)
    best, subset = np.inf, None
    candidates = np.flatnonzero(keep)
    for candidate in candidates[:: max(1, candidates.size // 16)]:  # 16 starts are plenty
        members = np.arange(n) == candidate
        for _ in range(4):
            worst = left_after(members)[0].max(axis=1)
            chosen = np.argsort(worst)[:size]
            members = np.isin(np.arange(n), chosen)
        cost = float(np.sum(np.sort(worst)[:size] ** 2))
        if cost < best:
            best, subset = cost, members
    worst = left_after(subset)[0].max(axis=1)
    spread = MAD_SIGMA * np.median(np.abs(worst[subset] - np.median(worst[subset])))
    keep = worst <= np.median(worst[subset]) + max(clip * spread, 0.05)
    left = left_after(keep)[0]
    worst = left.max(axis=1)
    comparable = keep.sum() >= max(3, n // 4) and np.median(worst[keep]) <= tolerance / 4
    return raw, left[:, :4], bool(comparable)
