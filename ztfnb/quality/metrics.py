"""Measuring astrometric solutions: per quadrant, against Gaia and against the prior.

For every exposure and quadrant, from a solved header (any SCAMP ``.head``)
and, when there, the prior it started from (``.ahead``):

- the detections matched to Gaia through the solution: number, matched
  fraction, rms per axis, median offset;
- the same in the quadrant's corners against its centre, and a smooth
  (quadratic) fit of the residual field evaluated at the four corners — the
  "takes off in a corner" failure;
- the pixel-scale change prior → solution on ZTF's grid (23 × 25 points, x
  every 128 px, y every 140 px; pixel area from the two diagonals), and the
  largest displacement between prior and solution at the corners, as it is
  (``prior_displacement``) and once the exposure-wide affine correction is
  taken out (``corner_displacement``, which the verdict uses);
- SCAMP's own statistics from its XML;
- the airmass of the quadrant's own centre (the telescope's single value is
  wrong for the outer CCDs of a 7° field).

`SolvedNight` gives star-level matches of any exposure of a solved night.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.table import QTable
from astropy.wcs import WCS

from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.io.headers import check_wcs_keywords, read_header_blocks
from ztfnb.match import affine_fit, match_catalog, usable_detections
from ztfnb.quality.verdict import QualityConfig
from ztfnb.reference import field_reference
from ztfnb.scamp import read_scamp_xml
from ztfnb.site import PALOMAR
from ztfnb.tangent import gnomonic

__all__ = [
    "SCALE_GRID",
    "SolvedNight",
    "exposure_matches",
    "exposure_metrics",
    "pixel_scale_change",
]

#: ZTF's pixel-scale grid: x every 128 px (25 points), y every 140 px (23 points),
#: edge to edge of the 3072 × 3080 quadrant.
SCALE_GRID = (0.5 + 128 * np.arange(25), 0.5 + 140 * np.arange(23))
_CORNERS = np.array(
    [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5], [0.5, NAXIS2 + 0.5]]
)
_PROBES = np.vstack([_CORNERS, [[(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2]]])


def _wcs(header):
    import warnings

    from astropy.wcs import FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


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


def _corner_fit(x, y, dra, ddec):
    """A quadratic fit of the residual field, evaluated at the four corners (arcsec)."""
    px = (x - (NAXIS1 + 1) / 2) / NAXIS1
    py = (y - (NAXIS2 + 1) / 2) / NAXIS2
    design = np.column_stack([np.ones_like(px), px, py, px * px, px * py, py * py])
    cx = np.linalg.lstsq(design, dra, rcond=None)[0]
    cy = np.linalg.lstsq(design, ddec, rcond=None)[0]
    qx = (_CORNERS[:, 0] - (NAXIS1 + 1) / 2) / NAXIS1
    qy = (_CORNERS[:, 1] - (NAXIS2 + 1) / 2) / NAXIS2
    at = np.column_stack([np.ones(4), qx, qy, qx * qx, qx * qy, qy * qy])
    return np.hypot(at @ cx, at @ cy)


def _corner_displacements(corners_moved, pointing, tolerance=1.0, clip=5.0):
    """How far each quadrant's corners moved from the prior to the solution (arcsec).

    Returns the plain displacement at the four corners, the displacement left
    once the exposure's own affine map from prior to solution is taken out, and
    whether that map describes the exposure. The map is the pointing,
    rotation, scale and refraction the solution corrected over the whole field
    (a prior whose pointing was not refined is ≈20″ off there, and that is no
    fault of the solution); what remains is a quadrant whose shape changed: a
    corner that took off. It is found by consensus, as the map of one quadrant
    that most others agree with to ``tolerance``, then refitted to them, so that
    a majority of failed quadrants cannot bend it. A prior that lacks the
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
    keep = max((agreeing(q) for q in range(n)), key=np.sum)
    if keep.sum() < 3:
        return raw, np.full((n, 4), np.nan), False
    for _ in range(3):
        left = left_after(keep)[0]
        worst = left.max(axis=1)
        spread = 1.4826 * np.median(np.abs(worst[keep] - np.median(worst[keep])))
        keep = worst <= np.median(worst[keep]) + max(clip * spread, 0.05)
    comparable = keep.sum() >= max(3, n // 4) and np.median(worst[keep]) <= tolerance / 4
    return raw, left[:, :4], bool(comparable)


def _clipped(values, clip=5.0):
    keep = np.ones(values.shape[0], bool)
    for _ in range(3):
        centre = np.median(values[keep], axis=0)
        distance = np.hypot(*(values - centre).T)
        scale = 1.4826 * np.median(distance[keep]) + 1e-9
        keep = distance <= clip * scale + np.median(distance[keep])
    return keep


def exposure_matches(catalog, gaia, headers, config=None):
    """Detections matched to Gaia through solved headers (one per extension).

    Returns
    -------
    `~astropy.table.QTable`
        As `ztfnb.match.match_catalog`.
    """
    config = config or QualityConfig()
    reference = field_reference(gaia, catalog, config.match.reference_mag_limit)
    return match_catalog(catalog, reference, headers=headers, config=config.match, search=True)


def _scamp_statistics(xml):
    if xml is None or not Path(xml).is_file():
        return {"scamp_sigma": np.nan, "scamp_chi2": np.nan, "scamp_ndeg": -1}
    fields, _ = read_scamp_xml(xml)
    row = fields[0]
    sigma = np.atleast_1d(np.asarray(row["AstromSigma_Reference"], float))
    return {
        "scamp_sigma": float(np.max(sigma)),
        "scamp_chi2": float(row["Chi2_Reference"]),
        "scamp_ndeg": int(row["NDeg_Reference"]),
    }


def exposure_metrics(catalog, gaia, head, ahead=None, xml=None, config=None):
    """Metrics of every quadrant of one solved exposure.

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    head : path-like
        The solution (SCAMP ``.head``), one block per catalogue extension.
    ahead : path-like, optional
        The prior SCAMP started from.
    xml : path-like, optional
        SCAMP's XML.
    config : `QualityConfig`, optional

    Returns
    -------
    `~astropy.table.QTable`
        One row per quadrant of the camera (absent ones marked).
    """
    config = config or QualityConfig()
    solutions = read_header_blocks(head)
    check_wcs_keywords(solutions, head)
    if len(solutions) != len(catalog.extensions):
        raise InputError(
            f"{len(solutions)} header blocks for {len(catalog.extensions)} catalogue extensions ({catalog.path.name})",
            path=head,
        )
    priors = read_header_blocks(ahead) if ahead is not None and Path(ahead).is_file() else None
    if priors is not None:
        check_wcs_keywords(priors, ahead)
    if priors is not None and len(priors) != len(solutions):
        raise InputError(
            f"{len(priors)} blocks where the solution has {len(solutions)}", path=ahead
        )
    pairs = exposure_matches(catalog, gaia, solutions, config)
    scamp = _scamp_statistics(xml)
    frame = AltAz(obstime=catalog.mid_time, location=PALOMAR)
    centres = [
        _wcs(h).all_pix2world([[(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2]], 1)[0] for h in solutions
    ]
    centre_sky = SkyCoord([c[0] for c in centres] * u.deg, [c[1] for c in centres] * u.deg)
    airmass = np.asarray(centre_sky.transform_to(frame).secz.value, float)

    rows = []
    corners_moved = []  # (prior, solution) RA/Dec of each quadrant's corners
    present = set()
    for position, extension in enumerate(catalog.extensions):
        present.add(extension.rcid)
        mine = np.asarray(pairs["extension"]) == position
        n_usable = int(usable_detections(extension.objects, config.match).sum())
        residual = (
            np.column_stack([pairs["dra"][mine].value, pairs["ddec"][mine].value])
            if mine.any()
            else np.zeros((0, 2))
        )
        x, y = pairs["x"][mine].value, pairs["y"][mine].value
        row = {
            "exposure": catalog.name,
            "rcid": extension.rcid,
            "airmass": airmass[position],
            "n_usable": n_usable,
            "n_matched": int(mine.sum()),
            "matched_fraction": float(mine.sum() / n_usable) if n_usable else 0.0,
            **scamp,
        }
        if residual.shape[0] >= 10:
            keep = _clipped(residual)
            r, xk, yk = residual[keep], x[keep], y[keep]
            median = np.median(r, axis=0)
            corner_error = _corner_fit(xk, yk, r[:, 0], r[:, 1])
            fraction = config.corner_fraction
            in_corner = [
                ((xk < fraction * NAXIS1) if cx < 1000 else (xk > (1 - fraction) * NAXIS1))
                & ((yk < fraction * NAXIS2) if cy < 1000 else (yk > (1 - fraction) * NAXIS2))
                for cx, cy in _CORNERS
            ]
            corner_offsets = [
                np.hypot(*np.median(r[c], axis=0)) if c.sum() >= 5 else np.nan for c in in_corner
            ]
            centre = (np.abs(xk - NAXIS1 / 2) < NAXIS1 / 4) & (np.abs(yk - NAXIS2 / 2) < NAXIS2 / 4)
            row.update(
                {
                    "rms_ra": float(np.sqrt(np.mean((r[:, 0] - median[0]) ** 2))),
                    "rms_dec": float(np.sqrt(np.mean((r[:, 1] - median[1]) ** 2))),
                    "offset_ra": float(median[0]),
                    "offset_dec": float(median[1]),
                    "offset": float(np.hypot(*median)),
                    "centre_offset": float(np.hypot(*np.median(r[centre], axis=0)))
                    if centre.sum() >= 5
                    else np.nan,
                    "corner_offset": float(np.nanmax(corner_offsets))
                    if np.isfinite(corner_offsets).any()
                    else np.nan,
                    "corner_error": float(corner_error.max()),
                    "worst_corner": int(np.argmax(corner_error)),
                }
            )
        if priors is not None:
            prior_wcs, solution_wcs = _wcs(priors[position]), _wcs(solutions[position])
            change = pixel_scale_change(prior_wcs, solution_wcs)
            corners_moved.append(
                (prior_wcs.all_pix2world(_PROBES, 1), solution_wcs.all_pix2world(_PROBES, 1))
            )
            row.update(
                {
                    "scale_change": float(np.mean(change)),
                    "scale_change_max": float(change.flat[np.argmax(np.abs(change))]),
                }
            )
        rows.append(row)
    if priors is not None:
        raw, shape, comparable = _corner_displacements(corners_moved, catalog.pointing)
        for row, moved, changed in zip(rows, raw, shape, strict=True):
            row["prior_displacement"] = float(moved.max())
            row["corner_displacement"] = float(changed.max())
            row["prior_comparable"] = comparable
    for rcid in sorted(set(range(N_QUADRANTS)) - present):
        rows.append(
            {
                "exposure": catalog.name,
                "rcid": rcid,
                "airmass": np.nan,
                "n_usable": 0,
                "n_matched": 0,
                "matched_fraction": 0.0,
                "absent": True,
                **scamp,
            }
        )
    return _as_table(rows)


def _unsolved_metrics(catalog):
    """Rows for an exposure without a solved header: nothing measured, every quadrant flagged."""
    present = {extension.rcid for extension in catalog.extensions}
    rows = [
        {
            "exposure": catalog.name,
            "rcid": rcid,
            "n_matched": 0,
            "matched_fraction": 0.0,
            "absent": rcid not in present,
            "unsolved": True,
        }
        for rcid in range(N_QUADRANTS)
    ]
    return _as_table(rows)


_FLOAT_COLUMNS = {
    "airmass": None,
    "matched_fraction": None,
    "rms_ra": u.arcsec,
    "rms_dec": u.arcsec,
    "offset_ra": u.arcsec,
    "offset_dec": u.arcsec,
    "offset": u.arcsec,
    "centre_offset": u.arcsec,
    "corner_offset": u.arcsec,
    "corner_error": u.arcsec,
    "scale_change": u.percent,
    "scale_change_max": u.percent,
    "corner_displacement": u.arcsec,
    "prior_displacement": u.arcsec,
    "scamp_sigma": u.arcsec,
    "scamp_chi2": None,
}
_INT_COLUMNS = ("rcid", "n_usable", "n_matched", "scamp_ndeg", "worst_corner")


def _as_table(rows):
    table = QTable()
    table["exposure"] = [r["exposure"] for r in rows]
    for name in _INT_COLUMNS:
        table[name] = np.array([r.get(name, -1) for r in rows], dtype=np.int32)
    ccdid, qid = ccdid_qid(np.asarray(table["rcid"]))
    table["ccdid"], table["qid"] = ccdid.astype(np.int16), qid.astype(np.int16)
    for name, unit in _FLOAT_COLUMNS.items():
        values = np.array([r.get(name, np.nan) for r in rows], dtype=float)
        table[name] = values * unit if unit is not None else values
    table["absent"] = np.array([r.get("absent", False) for r in rows])
    table["prior_comparable"] = np.array([r.get("prior_comparable", False) for r in rows])
    table["unsolved"] = np.array([r.get("unsolved", False) for r in rows])
    return table


class SolvedNight:
    """Catalogues, solutions and Gaia of a night, for star-level looks at any exposure.

    Parameters
    ----------
    catalogs : list of path-like
    heads_dir : path-like
    gaia : `~astropy.table.QTable`
    config : `QualityConfig`, optional
    """

    def __init__(self, catalogs, heads_dir, gaia, config=None):
        from ztfnb.exposure import read_exposure

        self._paths = {Path(p).stem: Path(p) for p in catalogs}
        self._read = read_exposure
        self.heads_dir = Path(heads_dir)
        self.gaia = gaia
        self.config = config or QualityConfig()

    def matches(self, exposure):
        """Detections of an exposure matched to Gaia through its solution."""
        catalog = self._read(self._paths[exposure])
        return exposure_matches(
            catalog, self.gaia, read_header_blocks(self.heads_dir / f"{exposure}.head"), self.config
        )
