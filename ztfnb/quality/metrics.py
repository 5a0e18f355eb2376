"""Measuring astrometric solutions: per quadrant, against Gaia and against the prior.

For every exposure and quadrant, from a solved header (any SCAMP ``.head``)
and, when there, the prior it started from (``.ahead``):

- the detections matched to Gaia through the solution: number, matched
  fraction, rms per axis, median offset;
- what each matched star's residual should be: SExtractor's centroid error
  (``ERRAWIN/ERRBWIN`` × the solution's pixel scale) ⊕ Gaia's position error
  at the epoch ⊕ an extra error of the whole exposure (image motion, which
  SExtractor does not report), estimated from the exposure's own quadrants;
  from these, per quadrant: χ²/dof of the normalised residuals, the rms in
  excess of the errors, and the uncertainty of the median offset and of the
  corner errors;
- the same residuals in the quadrant's corners against its centre, and a
  smooth (cubic, weighted by the stars' errors) fit of the residual field
  evaluated at the four corners — the "takes off in a corner" failure;
- the pixel-scale change prior → solution on ZTF's grid (23 × 25 points, x
  every 128 px, y every 140 px; pixel area from the two diagonals), and the
  largest displacement between prior and solution at the corners, as it is
  (``prior_displacement``) and once the exposure-wide affine correction is
  taken out (``corner_displacement``);
- the solution's pixel scale relative to the zenith (``zenith_scale``): to
  the prior's camera alone in a vacuum, from the scale change and the
  ``.ahead``'s ``ZVACSCL`` (NaN without it);
- SCAMP's own statistics from its XML;
- the airmass of the quadrant's own centre (the telescope's single value is
  wrong for the outer CCDs of a 7° field).

Nothing here depends on the verdict's thresholds (`ztfnb.quality.verdict`):
exposure-wide references (the extra error, the exposure's scale change) are
what most of its quadrants agree on (`ztfnb.quality.robust.consensus`).
`SolvedNight` gives star-level matches of any exposure of a solved night.

Parts: `ztfnb.quality.residuals` (a quadrant's residual statistics and its
corner field), `ztfnb.quality.priorshape` (scale change and corner
displacement, prior → solution); this module matches, measures an exposure
and tabulates.
"""

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.table import QTable
from astropy.wcs import WCS

from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.io.headers import (
    check_wcs_keywords,
    has_wcs_keywords,
    is_partial,
    merge_header_blocks,
    read_header_blocks,
)
from ztfnb.match import MatchConfig, match_catalog, usable_detections
from ztfnb.quality.priorshape import _PROBES, SCALE_GRID, _corner_displacements, pixel_scale_change
from ztfnb.quality.residuals import _clipped, _extra_error, _residual_statistics
from ztfnb.quality.robust import consensus
from ztfnb.reference import field_reference
from ztfnb.scamp import read_scamp_xml
from ztfnb.settings import PPM
from ztfnb.site import PALOMAR

__all__ = [
    "PPM",
    "SCALE_GRID",
    "MetricsConfig",
    "SolvedNight",
    "exposure_consensus",
    "exposure_matches",
    "exposure_metrics",
    "exposure_scale_change",
    "pixel_scale_change",
]


def _quality_match():
    # a solution's turn, scale and parity are not searched (pose=None): they are what is judged
    return MatchConfig(
        search_radius=60 * u.arcsec,
        match_radius=3 * u.arcsec,
        final_radius=2 * u.arcsec,
        pose=None,
    )


@dataclass(frozen=True)
class MetricsConfig:
    """How solutions are measured (the verdict's thresholds are `~ztfnb.quality.QualityConfig`).

    Attributes
    ----------
    match : `~ztfnb.match.MatchConfig`
        Matching through a solution: offset search within 60″, pairs within 3″
        then 2″; no pose search.
    corner_fraction : float
        Size of a corner region, as a fraction of the quadrant's sides, in (0, 0.5].
    min_stars : int
        Fewest matched stars for a quadrant's residual statistics (≥ 11: the
        corner fit has ten terms per axis).
    clip : float
        A residual farther from the quadrant's median than this many robust
        sigmas (beyond the median distance) is a mismatch, > 0.
    min_extra_stars : int
        Fewest stars for a quadrant to take part in the estimate of its
        exposure's extra error, ≥ 3.
    """

    match: MatchConfig = field(default_factory=_quality_match)
    corner_fraction: float = 0.25
    min_stars: int = 12
    clip: float = 5.0
    min_extra_stars: int = 30

    def __post_init__(self):
        if not isinstance(self.match, MatchConfig):
            raise ValueError(f"match must be a MatchConfig, got {self.match!r}")
        checks = (
            ("corner_fraction", 0 < self.corner_fraction <= 0.5, "in (0, 0.5]"),
            ("min_stars", _whole(self.min_stars) and self.min_stars >= 11, "a whole number ≥ 11"),
            ("clip", self.clip > 0, "> 0"),
            (
                "min_extra_stars",
                _whole(self.min_extra_stars) and self.min_extra_stars >= 3,
                "a whole number ≥ 3",
            ),
        )
        for name, good, rule in checks:
            if not good:
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)!r}")

    def describe(self):
        """The settings as plain values (for a table's metadata)."""
        return {
            "match_final_radius": str(self.match.final_radius),
            "match_snr_min": float(self.match.snr_min),
            "corner_fraction": float(self.corner_fraction),
            "min_stars": int(self.min_stars),
            "clip": float(self.clip),
            "min_extra_stars": int(self.min_extra_stars),
        }


def _whole(value):
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _metrics_config(config):
    if config is None:
        return MetricsConfig()
    if not isinstance(config, MetricsConfig):
        raise TypeError(
            f"measuring takes a MetricsConfig, got {type(config).__name__} "
            "(the verdict's thresholds, QualityConfig, go to verdict or night_metrics)"
        )
    return config


def _wcs(header):
    import warnings

    from astropy.wcs import FITSFixedWarning

    if str(header.get("CTYPE1", "")).endswith("-TPV") and not any(
        k.startswith("PV") for k in header
    ):
        # SCAMP writes TPV with no PV for a linear header (SOLVE_ASTROM N): it means
        # TAN, while wcslib takes the missing PV as 0 and maps every pixel to CRVAL
        header = header.copy()
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


def _pixel_scale_arcsec(header):
    """The mean linear pixel scale of a header's linear part (√|det CD|), arcsec per pixel."""
    if "CD1_1" in header:
        matrix = [[header.get(f"CD{i}_{j}", 0.0) for j in (1, 2)] for i in (1, 2)]
    else:
        matrix = _wcs(header).pixel_scale_matrix
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, float)))) * 3600)


def exposure_matches(catalog, gaia, headers, config=None):
    """Detections matched to Gaia through solved headers (one per extension).

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    headers : list of `~astropy.io.fits.Header`
    config : `MetricsConfig`, optional

    Returns
    -------
    `~astropy.table.QTable`
        As `ztfnb.match.match_catalog`, with each star's expected error per
        axis: ``error_detection`` (SExtractor's ``ERRAWIN/ERRBWIN`` or the
        error columns `ztfnb.io.sextractor` chose, their quadratic mean, × the
        solution's pixel scale) and ``error_gaia``
        (Gaia's at the epoch, proper motion's error propagated), arcsec.
    """
    config = _metrics_config(config)
    reference = field_reference(gaia, catalog, config.match.reference_mag_limit)
    pairs = match_catalog(catalog, reference, headers=headers, config=config.match, search=True)
    detection = np.zeros(len(pairs))
    if len(pairs):
        position = np.asarray(pairs["extension"], int)
        row = np.asarray(pairs["row"], int)
        for index in np.unique(position):
            mine = position == index
            a, b = (axis[row[mine]] for axis in catalog.extensions[index].centroid_error)
            detection[mine] = np.sqrt((a**2 + b**2) / 2) * _pixel_scale_arcsec(headers[index])
        ref = np.asarray(pairs["ref_index"], int)
        gaia_error = np.sqrt(
            (
                u.Quantity(reference["ra_error"][ref], u.arcsec).value ** 2
                + u.Quantity(reference["dec_error"][ref], u.arcsec).value ** 2
            )
            / 2
        )
    else:
        gaia_error = np.zeros(0)
    pairs["error_detection"] = detection * u.arcsec
    pairs["error_gaia"] = gaia_error * u.arcsec
    return pairs


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


def _nonlinear(header):
    """Whether a WCS header carries distortion terms beyond the linear ones (TPV PV, SIP)."""
    for key, value in header.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
            continue
        if key.startswith("PV") and "_" in key:
            # TPV: PVi_0..2 are the constant and linear terms
            if key.split("_")[1].isdigit() and int(key.split("_")[1]) > 2:
                return True
        elif key[:2] in ("A_", "B_") and key[2:3].isdigit():  # SIP A_p_q, B_p_q
            return True
    return False


def _solution_headers(catalog, path, notes):
    """A ``.head``/``.ahead``'s blocks with a whole WCS each: partial ones merged as SCAMP does."""
    blocks = read_header_blocks(path)
    if len(blocks) != len(catalog.extensions):
        raise InputError(
            f"{len(blocks)} header blocks for {len(catalog.extensions)} catalogue extensions "
            f"({catalog.path.name})",
            path=path,
        )
    if any(is_partial(block) for block in blocks):
        if any(has_wcs_keywords(block) for block in blocks):
            what = "a partial WCS (as SCAMP's instrument priors)"
        else:
            what = "no WCS keyword (comments or other keywords only)"
        blocks = merge_header_blocks(blocks, [e.header for e in catalog.extensions], path)
        notes.append(
            f"{Path(path).name}: {what}: merged with the catalogue's headers, as SCAMP does"
        )
    check_wcs_keywords(blocks, path)
    return blocks


def exposure_metrics(catalog, gaia, head, ahead=None, xml=None, config=None):
    """Metrics of every quadrant of one solved exposure.

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    head : path-like
        The solution (SCAMP ``.head``), one block per catalogue extension.
    ahead : path-like, optional
        The prior SCAMP started from. Blocks of either file that hold only part
        of a WCS (e.g. ``CRPIX``/``CD``, as SCAMP's instrument priors) are merged
        into the catalogue's headers as SCAMP merges them
        (`~ztfnb.io.headers.merge_header_blocks`), noted in ``meta["notes"]``.
    xml : path-like, optional
        SCAMP's XML.
    config : `MetricsConfig`, optional

    Returns
    -------
    `~astropy.table.QTable`
        One row per quadrant of the camera (absent ones marked).
    """
    config = _metrics_config(config)
    notes = []
    solutions = _solution_headers(catalog, head, notes)
    priors = None
    if ahead is not None and Path(ahead).is_file():
        priors = _solution_headers(catalog, ahead, notes)
    pairs = exposure_matches(catalog, gaia, solutions, config)
    scamp = _scamp_statistics(xml)
    frame = AltAz(obstime=catalog.mid_time, location=PALOMAR)
    solution_wcs = [_wcs(h) for h in solutions]
    centres = [w.all_pix2world([[(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2]], 1)[0] for w in solution_wcs]
    centre_sky = SkyCoord([c[0] for c in centres] * u.deg, [c[1] for c in centres] * u.deg)
    airmass = np.asarray(centre_sky.transform_to(frame).secz.value, float)

    # each quadrant's matched stars without mismatches, and what their residuals should be
    extension = np.asarray(pairs["extension"]) if len(pairs) else np.zeros(0, int)
    own_variance = (
        u.Quantity(pairs["error_detection"], u.arcsec).value ** 2
        + u.Quantity(pairs["error_gaia"], u.arcsec).value ** 2
    )
    stars = {}
    for position in range(len(catalog.extensions)):
        mine = extension == position
        if mine.sum() < config.min_stars:
            continue
        residual = np.column_stack([pairs["dra"][mine].value, pairs["ddec"][mine].value])
        keep = _clipped(residual, config.clip)
        stars[position] = (
            pairs["x"][mine].value[keep],
            pairs["y"][mine].value[keep],
            residual[keep],
            own_variance[mine][keep],
        )
    extra = _extra_error(
        [(r - np.median(r, axis=0), v) for _, _, r, v in stars.values()], config.min_extra_stars
    )

    rows = []
    corners_moved = []  # (prior, solution) RA/Dec of each quadrant's corners
    present = set()
    for position, ext in enumerate(catalog.extensions):
        present.add(ext.rcid)
        n_usable = int(usable_detections(ext.objects, config.match, columns=ext.columns).sum())
        n_matched = int(np.sum(extension == position))
        row = {
            "exposure": catalog.name,
            "rcid": ext.rcid,
            "airmass": airmass[position],
            "n_usable": n_usable,
            "n_matched": n_matched,
            "matched_fraction": float(n_matched / n_usable) if n_usable else 0.0,
            "extra_error": extra,
            **scamp,
        }
        if position in stars:
            x, y, residual, variance = stars[position]
            row.update(
                _residual_statistics(x, y, residual, variance + extra**2, config.corner_fraction)
            )
        if priors is not None:
            prior_wcs = _wcs(priors[position])
            change = pixel_scale_change(prior_wcs, solution_wcs[position])
            corners_moved.append(
                (
                    prior_wcs.all_pix2world(_PROBES, 1),
                    solution_wcs[position].all_pix2world(_PROBES, 1),
                )
            )
            vacuum = priors[position].get("ZVACSCL")
            row.update(
                {
                    "scale_change": float(np.mean(change)),
                    "scale_change_max": float(change.flat[np.argmax(np.abs(change))]),
                    "zenith_scale": (
                        (float(vacuum) * (1 + np.mean(change) / 100) - 1) * 1e6
                        if isinstance(vacuum, int | float) and not isinstance(vacuum, bool)
                        else np.nan
                    ),
                }
            )
        rows.append(row)
    if priors is not None:
        raw, shape, comparable = _corner_displacements(corners_moved, catalog.pointing)
        if comparable and any(map(_nonlinear, solutions)) and not any(map(_nonlinear, priors)):
            # the solution's distortion is all the prior lacks: no shape change to judge
            comparable = False
            notes.append(
                f"{Path(ahead).name}: a linear prior (no distortion terms) against a "
                "distorted solution: its corners and scale are not compared"
            )
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
                "extra_error": extra,
                "absent": True,
                **scamp,
            }
        )
    table = _as_table(rows)
    table.meta["notes"] = notes
    return table


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
    "offset_err": u.arcsec,
    "centre_offset": u.arcsec,
    "corner_offset": u.arcsec,
    "corner_error": u.arcsec,
    "corner_err": u.arcsec,
    "star_error": u.arcsec,
    "extra_error": u.arcsec,
    "excess_rms": u.arcsec,
    "chi2": None,
    "chi2_err": None,
    "scale_change": u.percent,
    "scale_change_max": u.percent,
    "zenith_scale": PPM,
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


def exposure_consensus(metrics, column):
    """Per exposure, what its present quadrants agree on for a column (`~ztfnb.quality.robust.consensus`).

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
    column : str

    Returns
    -------
    location, spread : `~numpy.ndarray`
        One value per exposure, in the order of ``np.unique(metrics["exposure"])``,
        in the column's unit; NaN where no quadrant has a value.
    """
    values = np.asarray(getattr(metrics[column], "value", metrics[column]), float)
    present = ~np.asarray(metrics["absent"], bool)
    names = np.asarray(metrics["exposure"])
    location, spread = [], []
    for name in np.unique(names):
        found = consensus(values[(names == name) & present])
        location.append(found[0])
        spread.append(found[1])
    return np.array(location), np.array(spread)


def exposure_scale_change(metrics, config=None):
    """Each exposure's pixel-scale change (percent): what most of its quadrants agree on.

    The median of the quadrants that agree (`~ztfnb.quality.robust.consensus`,
    robust to a majority of failed ones); no threshold of the verdict enters.

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
    config : object, optional
        Ignored (the verdict's thresholds chose the quadrants before; kept so
        that calls with one still work).

    Returns
    -------
    `~numpy.ndarray`
        One value per exposure, in the order of ``np.unique(metrics["exposure"])``;
        NaN without a prior.
    """
    return exposure_consensus(metrics, "scale_change")[0]


class SolvedNight:
    """Catalogues, solutions and Gaia of a night, for star-level looks at any exposure.

    Parameters
    ----------
    catalogs : list of path-like
        FITS_LDAC catalogues or per-quadrant files (`ztfnb.catalogs`).
    heads_dir : path-like
    gaia : `~astropy.table.QTable`
    config : `MetricsConfig`, optional
    """

    def __init__(self, catalogs, heads_dir, gaia, config=None):
        from ztfnb.catalogs import find_exposures

        # per-exposure catalogues or per-quadrant files, by exposure name
        self._paths = {source.name: source for source in find_exposures(catalogs)}
        self.heads_dir = Path(heads_dir)
        self.gaia = gaia
        self.config = _metrics_config(config)

    def matches(self, exposure):
        """Detections of an exposure matched to Gaia through its solution."""
        catalog = self._paths[exposure].read()
        head = _solution_headers(catalog, self.heads_dir / f"{exposure}.head", [])
        return exposure_matches(catalog, self.gaia, head, self.config)
