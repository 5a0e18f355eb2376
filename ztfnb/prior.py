"""The astrometric prior: the camera's focal plane, fitted once, applied to any exposure.

Model
-----
For a detection at pixel (x, y) on quadrant q of exposure e, the focal-plane
position is ``u = CD_q · (x − CRPIX_q)`` (degrees; CRPIX_q is the boresight in
the quadrant's pixels), the optics map it to ``P(u)`` (a TPV polynomial with
identity linear part) and the exposure sees it at::

    ξ = M_e · P(u) + t_e

in the tangent plane about its pointing **in the refracted, aberrated
hour-angle/declination frame** (`ztfnb.observed.ObservedPlane`, astropy's
``HADec`` with the header's weather). Because refraction and aberration are
computed exactly there, ``M_e`` (rotation, scale, anisotropy) and ``t_e``
(pointing offset) are small and the camera model is the same at every
airmass. This goes past the ZTF prior, which fitted in the tangent plane of
ICRS and left the non-linear part of differential refraction (≈1.6″ at
airmass 1.9) in its errors.

Fitting (`fit_prior`) is linear least squares, iterated with outlier
rejection, in two stages: the CCDs as rigid bodies (each a similarity
transform of the header's nominal quadrant geometry) with the polynomial,
which fixes the distortion; then each quadrant's own CRPIX and CD with the
polynomial held. Exposures' ``M_e, t_e`` average to zero; for a new exposure
they are measured from its own detections (`refine_pointing`) before its
``.ahead`` is written (`ahead_headers`): per quadrant, CRVAL = the boresight,
the quadrant's CRPIX and CD, and PV terms fitted to the full model, refraction
included.
"""

from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from scipy import sparse
from scipy.spatial import cKDTree

from ztfnb._version import __version__
from ztfnb.camera import NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.match import (
    MatchConfig,
    Offset,
    find_offset,
    match_catalog,
    match_quadrant,
    usable_detections,
)
from ztfnb.observed import ObservedPlane
from ztfnb.reference import field_reference
from ztfnb.tangent import gnomonic
from ztfnb.tpv import evaluate, fit_tpv, term_powers, tpv_header

__all__ = [
    "ExposureTerms",
    "FocalPlaneModel",
    "PriorFit",
    "PriorFitConfig",
    "ahead_headers",
    "fit_prior",
    "refine_pointing",
]

_ARCSEC = 1 / 3600
_CENTRE = np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2])
_KPIX = 1000.0  # pixel offsets are fitted in thousands of pixels, for conditioning
_NO_OFFSET = Offset(0.0, 0.0, 0, 0.0)


@dataclass(frozen=True)
class PriorFitConfig:
    """Settings of `fit_prior`.

    Attributes
    ----------
    degree : int
        Degree of the distortion polynomial (TPV), 2–7.
    clip : float
        Outlier rejection threshold, in robust standard deviations.
    iterations : int
        Fit / reject rounds per stage.
    floor : `~astropy.units.Quantity`
        Added in quadrature to SExtractor's centroid errors (image motion).
    min_stars : int
        Fewest matched stars for a quadrant's own CRPIX and CD; with fewer it
        keeps its CCD's rigid placement.
    min_quadrant_stars : int
        Fewest stars a quadrant present in the catalogues may keep after outlier
        rejection; with fewer the fit is refused rather than written.
    max_rejected : float
        Largest share of matched stars that rejection may drop; more means the
        model does not describe the data (a distortion degree too low, say),
        and the fit is refused. A good fit drops under 1% (bad quadrants of a
        calibration exposure); one without the refraction model, ZTF's way,
        ≈16% up to airmass 1.5; a quadratic for the cubic camera ≈40%.
    block_offset : `~astropy.units.Quantity`
        A quadrant of one exposure whose median residual exceeds this (and
        five times its error) is dropped as bad data.
    refraction : bool
        Fit in the refracted frame (default). ``False`` fits in the frame
        without refraction, as the ZTF prior did: kept for comparison.
    match : `~ztfnb.match.MatchConfig`
    """

    degree: int = 3
    clip: float = 5.0
    iterations: int = 4
    floor: u.Quantity = 0.03 * u.arcsec
    min_stars: int = 30
    min_quadrant_stars: int = 10
    max_rejected: float = 0.25
    block_offset: u.Quantity = 0.12 * u.arcsec
    refraction: bool = True
    match: MatchConfig = field(default_factory=MatchConfig)


@dataclass
class FocalPlaneModel:
    """The fitted camera: per-quadrant CRPIX and CD, and the distortion polynomial.

    Attributes
    ----------
    rcid : `~numpy.ndarray`, shape (n,)
    crpix : `~numpy.ndarray`, shape (n, 2)
    cd : `~numpy.ndarray`, shape (n, 2, 2)
        Degrees per pixel.
    pv1, pv2 : dict
        TPV coefficients of the distortion (``PV1_1 = PV2_1 = 1``).
    degree : int
    quadrants : `~astropy.table.Table`
        Per-quadrant fit statistics.
    meta : dict
        Provenance.
    """

    rcid: np.ndarray
    crpix: np.ndarray
    cd: np.ndarray
    pv1: dict
    pv2: dict
    degree: int
    quadrants: Table = None
    meta: dict = field(default_factory=dict)

    def table(self):
        """Per-quadrant CRPIX, CD and fit statistics as one table."""
        table = QTable(self.quadrants, copy=True)
        table["crpix1"] = self.crpix[:, 0] * u.pix
        table["crpix2"] = self.crpix[:, 1] * u.pix
        for i in (1, 2):
            for j in (1, 2):
                table[f"cd{i}_{j}"] = self.cd[:, i - 1, j - 1] * u.deg / u.pix
        return table

    def _row(self, rcid):
        rows = np.flatnonzero(self.rcid == rcid)
        if rows.size == 0:
            raise KeyError(f"the prior has no quadrant rcid {rcid}")
        return int(rows[0])

    def focal(self, rcid, x, y):
        """Focal-plane (u, v) in degrees of 1-based pixel positions."""
        row = self._row(rcid)
        offsets = np.stack(
            [np.asarray(x, float) - self.crpix[row, 0], np.asarray(y, float) - self.crpix[row, 1]]
        )
        return tuple(np.tensordot(self.cd[row], offsets, axes=1))

    def plane(self, rcid, x, y):
        """Tangent-plane position (degrees) before the exposure's own terms: P(u)."""
        return evaluate(self.pv1, self.pv2, *self.focal(rcid, x, y))


@dataclass
class ExposureTerms:
    """An exposure's own terms: ``ξ = M · P(u) + t`` in its observed plane.

    Attributes
    ----------
    name : str
    plane : `~ztfnb.observed.ObservedPlane`
        About the exposure's optical axis as measured (the telescope's pointing
        moved by ``pointing_shift``): projecting about the wrong point leaves
        second-order errors of ≈0.25″ at the field edge per arcminute.
    matrix : `~numpy.ndarray`, shape (2, 2)
    offset : `~numpy.ndarray`, shape (2,)
        Remaining translation in that plane, degrees.
    n_stars : int
    rms : float
        Arcseconds per axis.
    pointing_shift : `~numpy.ndarray`, shape (2,)
        How far the plane's axis was moved from the pointing, degrees.
    """

    name: str
    plane: ObservedPlane
    matrix: np.ndarray = field(default_factory=lambda: np.eye(2))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))
    n_stars: int = 0
    rms: float = np.nan
    pointing_shift: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def offset_arcsec(self):
        """The exposure's pointing offset from TELRAD/TELDECD (plane shift plus residual), arcsec."""
        return (self.pointing_shift + self.offset) / _ARCSEC

    @property
    def rotation_arcsec(self):
        """Rotation at one degree from the axis, arcseconds (antisymmetric part of M)."""
        return (self.matrix[1, 0] - self.matrix[0, 1]) / 2 * 3600

    @property
    def scale(self):
        """Mean scale factor − 1."""
        return (self.matrix[0, 0] + self.matrix[1, 1]) / 2 - 1

    @property
    def anisotropy(self):
        """Size of the symmetric traceless part of M (stretch along one axis)."""
        return float(
            np.hypot(
                (self.matrix[0, 0] - self.matrix[1, 1]) / 2,
                (self.matrix[0, 1] + self.matrix[1, 0]) / 2,
            )
        )

    @property
    def boresight(self):
        """ICRS position of the focal-plane origin."""
        return self.plane.deproject(self.offset[0], self.offset[1])

    def apply(self, xi, eta):
        return self.matrix[0, 0] * xi + self.matrix[0, 1] * eta + self.offset[0], self.matrix[
            1, 0
        ] * xi + self.matrix[1, 1] * eta + self.offset[1]


@dataclass
class PriorFit:
    """What `fit_prior` returns.

    Attributes
    ----------
    model : `FocalPlaneModel`
    exposures : list of `ExposureTerms`
    residuals : `~astropy.table.QTable`
        Every matched star: exposure, rcid, x, y, residuals (arcsec), whether used.
    stage_rms : dict
        Weighted rms per axis after each stage, arcseconds.
    """

    model: FocalPlaneModel
    exposures: list
    residuals: QTable
    stage_rms: dict

    def exposure_table(self):
        """Per-exposure terms as a table."""
        return QTable(
            {
                "exposure": [e.name for e in self.exposures],
                "offset_xi": [e.offset_arcsec[0] for e in self.exposures] * u.arcsec,
                "offset_eta": [e.offset_arcsec[1] for e in self.exposures] * u.arcsec,
                "rotation": [e.rotation_arcsec for e in self.exposures] * u.arcsec,
                "scale": [e.scale * 1e6 for e in self.exposures],
                "anisotropy": [e.anisotropy * 1e6 for e in self.exposures],
                "n_stars": [e.n_stars for e in self.exposures],
                "rms": [e.rms for e in self.exposures] * u.arcsec,
            }
        )


# ---------------------------------------------------------------- data gathering


@dataclass
class _Stars:
    """Matched stars of all calibration exposures, flattened."""

    exposure: np.ndarray
    rcid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray  # degrees
    xi: np.ndarray  # Gaia in the exposure's observed plane, degrees
    eta: np.ndarray
    nominal_u: np.ndarray  # the header WCS's focal-plane position, degrees
    nominal_v: np.ndarray


def _reference(catalog, gaia, config):
    """Gaia stars of the field at the exposure's epoch, brighter than the limit."""
    return field_reference(gaia, catalog, config.reference_mag_limit)


def _centroid_sigma(objects, rows, floor_deg, scale_deg):
    error = np.asarray(objects["ERRAWIN_IMAGE"], float)[rows]
    if "ERRBWIN_IMAGE" in objects.colnames:
        minor = np.asarray(objects["ERRBWIN_IMAGE"], float)[rows]
        # the minor axis where SExtractor gave one; the major alone (conservative) elsewhere
        error = np.where(np.isfinite(minor), np.hypot(error, minor) / np.sqrt(2), error)
    return np.hypot(error * scale_deg, floor_deg)


def _weather(catalog, refraction):
    """The exposure's weather, or a vacuum (no refraction) for the ZTF-style comparison."""
    return catalog.weather if refraction else replace(catalog.weather, pressure=0 * u.hPa)


def _match_exposure(catalog, gaia, config, index):
    """Match one calibration exposure through its header WCS, quadrant by quadrant."""
    reference = _reference(catalog, gaia, config.match)
    pairs = match_catalog(catalog, reference, config=config.match)
    if len(pairs) == 0:
        raise InputError("no quadrant could be matched to Gaia", path=catalog.path)
    ref = np.asarray(pairs["ref_index"], int)
    observed = ObservedPlane.about(
        catalog.pointing, catalog.mid_time, _weather(catalog, config.refraction)
    )
    ref_xi, ref_eta = observed.project(SkyCoord(reference["ra"][ref], reference["dec"][ref]))
    ref_sigma = np.hypot(reference["ra_error"][ref], reference["dec_error"][ref]).to_value(
        u.deg
    ) / np.sqrt(2)
    nominal_u, nominal_v = gnomonic(
        pairs["ra"].value, pairs["dec"].value, catalog.pointing.ra.deg, catalog.pointing.dec.deg
    )
    sigma = np.empty(len(pairs))
    for position in np.unique(pairs["extension"]):
        mine = np.asarray(pairs["extension"]) == position
        extension = catalog.extensions[position]
        scale = np.sqrt(abs(np.linalg.det(extension.wcs.pixel_scale_matrix)))
        sigma[mine] = _centroid_sigma(
            extension.objects, np.asarray(pairs["row"])[mine], config.floor.to_value(u.deg), scale
        )
    stars = {
        "exposure": np.full(len(pairs), index),
        "rcid": np.asarray(pairs["rcid"], int),
        "x": pairs["x"].value,
        "y": pairs["y"].value,
        "sigma": np.hypot(sigma, ref_sigma),
        "xi": ref_xi,
        "eta": ref_eta,
        "nominal_u": nominal_u,
        "nominal_v": nominal_v,
    }
    return stars, observed


# ---------------------------------------------------------------- linear algebra


def _solve(blocks, target, weight, n_columns, constraints=()):
    """Weighted least squares with sparse design blocks and exact linear constraints.

    ``blocks`` is a list of (row indices, column indices, values) triples;
    ``constraints`` a list of (column indices, values) rows whose weighted sum
    must be zero (imposed exactly, with Lagrange multipliers). Columns with no
    data stay zero. The normal equations are scaled to unit diagonal first:
    columns differ by many orders of magnitude (pixels, degrees, polynomial
    terms).
    """
    rows = np.concatenate([b[0] for b in blocks])
    columns = np.concatenate([b[1] for b in blocks])
    values = np.concatenate([b[2] for b in blocks])
    design = sparse.csr_matrix((values, (rows, columns)), shape=(target.size, n_columns))
    normal = (design.T @ (sparse.diags(weight) @ design)).toarray()
    right = design.T @ (weight * target)
    active = np.flatnonzero(np.diag(normal) > 0)
    scale = 1 / np.sqrt(np.diag(normal)[active])
    normal = normal[np.ix_(active, active)] * np.outer(scale, scale)
    right = right[active] * scale
    where = {column: i for i, column in enumerate(active)}
    constraint_rows = []
    for constraint_columns, constraint_values in constraints:
        vector = np.zeros(active.size)
        for column, value in zip(constraint_columns, constraint_values, strict=True):
            if column in where:
                vector[where[column]] = value * scale[where[column]]
        if np.any(vector):
            constraint_rows.append(vector)
    if constraint_rows:
        c = np.array(constraint_rows)
        kkt = np.block([[normal, c.T], [c, np.zeros((len(c), len(c)))]])
        rhs = np.concatenate([right, np.zeros(len(c))])
    else:
        kkt, rhs = normal, right
    try:
        solved = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        solved = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    solution = np.zeros(n_columns)
    solution[active] = solved[: active.size] * scale
    return solution


def _poly_columns(own, other, terms):
    return np.column_stack([own**i * other**j for _, i, j in terms])


def _robust_sigma(values):
    return 1.4826 * np.median(np.abs(values - np.median(values)))


# ---------------------------------------------------------------- the fit


class _JointFit:
    """State of the two-stage fit over the flattened star arrays."""

    def __init__(self, stars, planes, config):
        self.s = stars
        self.planes = list(planes)
        self.shift = np.zeros((len(planes), 2))
        self.n = stars.x.size
        self.n_exposures = len(planes)
        self.config = config
        self.terms = term_powers(config.degree, include_linear=False)
        self.pv = (np.zeros(len(self.terms)), np.zeros(len(self.terms)))
        self.matrix = np.tile(np.eye(2), (self.n_exposures, 1, 1))
        self.offset = np.zeros((self.n_exposures, 2))
        self.used = np.ones(self.n, bool)
        self.rcids = np.unique(stars.rcid)
        self.quadrant_index = np.searchsorted(self.rcids, stars.rcid)
        self.ccd_index = stars.rcid // 4
        # nominal quadrant geometry: the header WCS, as an affine map of centred pixels
        self.px = (stars.x - _CENTRE[0]) / _KPIX
        self.py = (stars.y - _CENTRE[1]) / _KPIX
        self.nominal = {}
        for q, rcid in enumerate(self.rcids):
            rows = self.quadrant_index == q
            design = np.column_stack([np.ones(rows.sum()), self.px[rows], self.py[rows]])
            self.nominal[rcid] = (
                np.linalg.lstsq(design, stars.nominal_u[rows], rcond=None)[0],
                np.linalg.lstsq(design, stars.nominal_v[rows], rcond=None)[0],
            )
        self.affine = {
            rcid: self.nominal[rcid] for rcid in self.rcids
        }  # current (a_u, a_v) per quadrant
        self.from_ccd = {int(r): True for r in self.rcids}

    # -- evaluation
    def focal(self):
        a_u = np.array([self.affine[r][0] for r in self.rcids])[self.quadrant_index]
        a_v = np.array([self.affine[r][1] for r in self.rcids])[self.quadrant_index]
        u_ = a_u[:, 0] + a_u[:, 1] * self.px + a_u[:, 2] * self.py
        v_ = a_v[:, 0] + a_v[:, 1] * self.px + a_v[:, 2] * self.py
        return u_, v_

    def distortion(self, u_, v_):
        return _poly_columns(u_, v_, self.terms) @ self.pv[0], _poly_columns(
            v_, u_, self.terms
        ) @ self.pv[1]

    def predict(self):
        u_, v_ = self.focal()
        du, dv = self.distortion(u_, v_)
        pu, pv = u_ + du, v_ + dv
        m = self.matrix[self.s.exposure]
        t = self.offset[self.s.exposure]
        return m[:, 0, 0] * pu + m[:, 0, 1] * pv + t[:, 0], m[:, 1, 0] * pu + m[:, 1, 1] * pv + t[
            :, 1
        ]

    def residuals(self):
        xi, eta = self.predict()
        return self.s.xi - xi, self.s.eta - eta

    # -- design pieces shared by both stages
    def _exposure_blocks(self, rows, first_column, u0, v0, used_rows):
        e = self.s.exposure[used_rows]
        base = first_column + 6 * e
        n = rows.size
        xi_rows, eta_rows = rows, rows + n
        blocks = [
            (xi_rows, base, np.ones(n)),
            (eta_rows, base + 1, np.ones(n)),
            (xi_rows, base + 2, u0),
            (xi_rows, base + 3, v0),
            (eta_rows, base + 4, u0),
            (eta_rows, base + 5, v0),
        ]
        constraints = [
            ([first_column + 6 * k + p for k in range(self.n_exposures)], np.ones(self.n_exposures))
            for p in range(6)
        ]
        return blocks, constraints

    def _store_exposure_terms(self, solution, first_column):
        for k in range(self.n_exposures):
            p = solution[first_column + 6 * k : first_column + 6 * k + 6]
            self.offset[k] = p[:2]
            self.matrix[k] = np.eye(2) + np.array([[p[2], p[3]], [p[4], p[5]]])

    # -- stage 1: rigid CCDs + polynomial + exposure terms
    def stage_ccd(self):
        used = np.flatnonzero(self.used)
        n = used.size
        rows = np.arange(n)
        nom_u = np.empty(n)
        nom_v = np.empty(n)
        for q, rcid in enumerate(self.rcids):
            mine = self.quadrant_index[used] == q
            a_u, a_v = self.nominal[rcid]
            nom_u[mine] = a_u[0] + a_u[1] * self.px[used][mine] + a_u[2] * self.py[used][mine]
            nom_v[mine] = a_v[0] + a_v[1] * self.px[used][mine] + a_v[2] * self.py[used][mine]
        u0, v0 = self.focal()
        u0, v0 = u0[used], v0[used]
        ccd = self.ccd_index[used]
        k = len(self.terms)
        # columns: 16 CCDs × (tu, tv, a, b) | poly ξ (k) | poly η (k) | exposures × 6
        c_poly = 64
        c_exp = c_poly + 2 * k
        n_columns = c_exp + 6 * self.n_exposures
        xi_rows, eta_rows = rows, rows + n
        blocks = [
            (xi_rows, 4 * ccd, np.ones(n)),
            (eta_rows, 4 * ccd + 1, np.ones(n)),
            (xi_rows, 4 * ccd + 2, nom_u),
            (xi_rows, 4 * ccd + 3, -nom_v),
            (eta_rows, 4 * ccd + 2, nom_v),
            (eta_rows, 4 * ccd + 3, nom_u),
        ]
        poly_u = _poly_columns(u0, v0, self.terms)
        poly_v = _poly_columns(v0, u0, self.terms)
        for j in range(k):
            blocks.append((xi_rows, np.full(n, c_poly + j), poly_u[:, j]))
            blocks.append((eta_rows, np.full(n, c_poly + k + j), poly_v[:, j]))
        exposure_blocks, constraints = self._exposure_blocks(rows, c_exp, u0, v0, used)
        blocks += exposure_blocks
        target = np.concatenate([self.s.xi[used] - nom_u, self.s.eta[used] - nom_v])
        weight = np.tile(1 / self.s.sigma[used] ** 2, 2)
        solution = _solve(blocks, target, weight, n_columns, constraints)
        for rcid in self.rcids:
            c = rcid // 4
            tu, tv, a, b = solution[4 * c : 4 * c + 4]
            a_u, a_v = self.nominal[rcid]
            # (I + [[a, −b], [b, a]]) · nominal + t
            self.affine[rcid] = (
                np.array(
                    [
                        a_u[0] * (1 + a) - b * a_v[0] + tu,
                        a_u[1] * (1 + a) - b * a_v[1],
                        a_u[2] * (1 + a) - b * a_v[2],
                    ]
                ),
                np.array(
                    [
                        a_v[0] * (1 + a) + b * a_u[0] + tv,
                        a_v[1] * (1 + a) + b * a_u[1],
                        a_v[2] * (1 + a) + b * a_u[2],
                    ]
                ),
            )
        self.pv = (solution[c_poly : c_poly + k], solution[c_poly + k : c_poly + 2 * k])
        self._store_exposure_terms(solution, c_exp)

    # -- stage 2: each quadrant's own affine, polynomial held
    def stage_quadrants(self):
        counts = np.bincount(self.quadrant_index[self.used], minlength=self.rcids.size)
        own = counts >= self.config.min_stars
        used = np.flatnonzero(self.used & own[self.quadrant_index])
        n = used.size
        if n == 0:
            return
        rows = np.arange(n)
        u0, v0 = self.focal()
        du, dv = self.distortion(u0, v0)
        u0, v0, du, dv = u0[used], v0[used], du[used], dv[used]
        q = self.quadrant_index[used]
        c_exp = 6 * self.rcids.size
        n_columns = c_exp + 6 * self.n_exposures
        px, py = self.px[used], self.py[used]
        xi_rows, eta_rows = rows, rows + n
        blocks = [
            (xi_rows, 6 * q, np.ones(n)),
            (xi_rows, 6 * q + 1, px),
            (xi_rows, 6 * q + 2, py),
            (eta_rows, 6 * q + 3, np.ones(n)),
            (eta_rows, 6 * q + 4, px),
            (eta_rows, 6 * q + 5, py),
        ]
        exposure_blocks, constraints = self._exposure_blocks(rows, c_exp, u0 + du, v0 + dv, used)
        blocks += exposure_blocks
        target = np.concatenate([self.s.xi[used] - du, self.s.eta[used] - dv])
        weight = np.tile(1 / self.s.sigma[used] ** 2, 2)
        solution = _solve(blocks, target, weight, n_columns, constraints)
        for index, rcid in enumerate(self.rcids):
            if own[index]:
                p = solution[6 * index : 6 * index + 6]
                self.affine[rcid] = (p[:3].copy(), p[3:].copy())
                self.from_ccd[int(rcid)] = False
        self._store_exposure_terms(solution, c_exp)

    def recentre(self):
        """Move each exposure's plane onto its fitted axis and re-express its stars there."""
        for k in range(self.n_exposures):
            new = self.planes[k].shifted(*self.offset[k])
            rows = self.s.exposure == k
            self.s.xi[rows], self.s.eta[rows] = self.planes[k].transfer(
                self.s.xi[rows], self.s.eta[rows], new
            )
            self.planes[k] = new
            self.shift[k] += self.offset[k]
            self.offset[k] = 0.0

    def reject(self):
        """Drop outlying stars, and whole quadrant-exposure blocks that are off together."""
        dxi, deta = self.residuals()
        normalised = np.hypot(dxi, deta) / self.s.sigma / np.sqrt(2)
        sigma = _robust_sigma(normalised[self.used]) if self.used.sum() > 10 else 1.0
        self.used = normalised <= self.config.clip * max(sigma, 1e-6) + np.median(
            normalised[self.used]
        )
        limit = self.config.block_offset.to_value(u.deg)
        blocks = self.s.exposure * 64 + self.s.rcid
        for block in np.unique(blocks):
            rows = (blocks == block) & self.used
            if rows.sum() < 5:
                continue
            median = np.hypot(np.median(dxi[rows]), np.median(deta[rows]))
            error = 1.2533 * np.median(self.s.sigma[rows]) / np.sqrt(rows.sum())
            if median > max(limit, 5 * error):
                self.used[blocks == block] = False

    def rms(self):
        dxi, deta = self.residuals()
        return float(np.sqrt(np.mean(dxi[self.used] ** 2))) * 3600, float(
            np.sqrt(np.mean(deta[self.used] ** 2))
        ) * 3600


def fit_prior(catalogs, gaia, config=None, log=None):
    """Fit the focal-plane prior jointly over calibration exposures.

    Parameters
    ----------
    catalogs : list of `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
        As read by `ztfnb.io.read_gaia`.
    config : `PriorFitConfig`, optional
    log : callable, optional

    Returns
    -------
    `PriorFit`

    Raises
    ------
    InputError
        No Gaia stars near an exposure, nothing matched, or no quadrant with
        enough matched stars.
    """
    config = config or PriorFitConfig()
    say = log or (lambda message: None)
    gathered, planes = [], []
    for index, catalog in enumerate(catalogs):
        stars, plane = _match_exposure(catalog, gaia, config, index)
        gathered.append(stars)
        planes.append(plane)
        say(
            f"{catalog.name}: {stars['x'].size} stars matched in {np.unique(stars['rcid']).size} quadrants"
        )
    stars = _Stars(**{key: np.concatenate([g[key] for g in gathered]) for key in gathered[0]})
    counts = {
        int(r): int(c) for r, c in zip(*np.unique(stars.rcid, return_counts=True), strict=True)
    }
    if max(counts.values()) < config.min_stars:
        worst = min(counts, key=counts.get)
        raise InputError(
            f"too few matched stars to fit: the best quadrant has {max(counts.values())} (rcid {worst} has {counts[worst]}); "
            f"need {config.min_stars}"
        )

    fit = _JointFit(stars, planes, config)
    stage_rms = {}
    # reject with the solution of the current planes, then move the planes: moving the tangent
    # point also turns its axes (meridian convergence), which only the next solve absorbs
    for _ in range(config.iterations):
        fit.stage_ccd()
        fit.reject()
        fit.recentre()
    fit.stage_ccd()
    stage_rms["rigid CCDs + polynomial"] = fit.rms()
    for _ in range(config.iterations):
        fit.stage_quadrants()
        fit.reject()
        fit.recentre()
    fit.stage_quadrants()
    stage_rms["per-quadrant CRPIX/CD"] = fit.rms()
    say(f"residual rms per axis: {stage_rms}")
    _check_constrained(fit, catalogs, config)
    missing = sorted(set(range(64)) - {int(r) for r in fit.rcids})
    if missing:
        say(
            f"the prior covers {64 - len(missing)} of 64 quadrants: rcid {', '.join(map(str, missing))} "
            "absent from every calibration catalogue"
        )
    return _package(fit, catalogs, config, stage_rms)


def _check_constrained(fit, catalogs, config):
    """Refuse a fit that rejection left without support: a prior written anyway would be wrong silently."""
    rejected = 1 - fit.used.mean()
    if rejected > config.max_rejected:
        raise InputError(
            f"{100 * rejected:.0f}% of the {fit.used.size} matched stars were rejected as outliers "
            f"(at most {100 * config.max_rejected:.0f}%): the model does not describe them; "
            f"is the distortion degree ({config.degree}) too low?",
            path=", ".join(c.path.name for c in catalogs),
        )
    # every quadrant the catalogues hold must be constrained; one they all lack is left out
    present = sorted({e.rcid for catalog in catalogs for e in catalog.extensions})
    for rcid in present:
        mine = fit.s.rcid == rcid
        kept = int((mine & fit.used).sum())
        if kept < config.min_quadrant_stars:
            ccdid, qid = ccdid_qid(int(rcid))
            holding = [c.path.name for c in catalogs if rcid in c.rcids]
            raise InputError(
                f"rcid {int(rcid)} (CCD {int(ccdid)}, quadrant {int(qid)}): {int(mine.sum())} "
                f"stars matched to Gaia, {kept} left after outlier rejection; need "
                f"{config.min_quadrant_stars}: add calibration exposures with stars there",
                path=", ".join(holding),
            )


def _package(fit, catalogs, config, stage_rms):
    rcids = fit.rcids
    cds, crpixes = [], []
    for rcid in rcids:
        a_u, a_v = fit.affine[rcid]
        cd = np.array([[a_u[1], a_u[2]], [a_v[1], a_v[2]]]) / _KPIX
        cds.append(cd)
        crpixes.append(_CENTRE - np.linalg.solve(cd, np.array([a_u[0], a_v[0]])))
    pv1 = {0: 0.0, 1: 1.0, 2: 0.0} | {
        term: float(fit.pv[0][j]) for j, (term, _, _) in enumerate(fit.terms)
    }
    pv2 = {0: 0.0, 1: 1.0, 2: 0.0} | {
        term: float(fit.pv[1][j]) for j, (term, _, _) in enumerate(fit.terms)
    }

    dxi, deta = fit.residuals()
    residuals = QTable(
        {
            "exposure": np.array([catalogs[e].name for e in fit.s.exposure]),
            "rcid": fit.s.rcid.astype(np.int16),
            "x": fit.s.x * u.pix,
            "y": fit.s.y * u.pix,
            "dxi": dxi * 3600 * u.arcsec,
            "deta": deta * 3600 * u.arcsec,
            "sigma": fit.s.sigma * 3600 * u.arcsec,
            "used": fit.used,
        }
    )
    rows = []
    for rcid in rcids:
        mine = (fit.s.rcid == rcid) & fit.used
        ccdid, qid = ccdid_qid(rcid)
        rows.append(
            (
                int(rcid),
                int(ccdid),
                int(qid),
                int(mine.sum()),
                int(((fit.s.rcid == rcid) & ~fit.used).sum()),
                len(np.unique(fit.s.exposure[mine])),
                float(np.sqrt(np.mean(dxi[mine] ** 2)) * 3600) if mine.any() else np.nan,
                float(np.sqrt(np.mean(deta[mine] ** 2)) * 3600) if mine.any() else np.nan,
                float(np.max(np.hypot(dxi[mine], deta[mine])) * 3600) if mine.any() else np.nan,
                "ccd" if fit.from_ccd[int(rcid)] else "quadrant",
            )
        )
    quadrants = Table(
        rows=rows,
        names=[
            "rcid",
            "ccdid",
            "qid",
            "n_stars",
            "n_rejected",
            "n_exposures",
            "rms_xi",
            "rms_eta",
            "max_residual",
            "placement",
        ],
    )
    for name in ("rms_xi", "rms_eta", "max_residual"):
        quadrants[name].unit = u.arcsec
    model = FocalPlaneModel(
        rcid=np.asarray(rcids, int),
        crpix=np.array(crpixes),
        cd=np.array(cds),
        pv1=pv1,
        pv2=pv2,
        degree=config.degree,
        quadrants=quadrants,
        meta={
            "ztfnb": __version__,
            "frame": "refracted HADec (astropy), tangent plane about the pointing, lon = -HA",
            "exposures": [c.name for c in catalogs],
            "degree": config.degree,
            "clip": config.clip,
            "refraction": config.refraction,
            "n_stars": int(fit.used.sum()),
            "rms_xi": stage_rms["per-quadrant CRPIX/CD"][0],
            "rms_eta": stage_rms["per-quadrant CRPIX/CD"][1],
        },
    )
    exposures = []
    for k_, catalog in enumerate(catalogs):
        mine = (fit.s.exposure == k_) & fit.used
        rms = (
            float(np.sqrt(np.mean(np.concatenate([dxi[mine], deta[mine]]) ** 2)) * 3600)
            if mine.any()
            else np.nan
        )
        exposures.append(
            ExposureTerms(
                catalog.name,
                fit.planes[k_],
                fit.matrix[k_].copy(),
                fit.offset[k_].copy(),
                int(mine.sum()),
                rms,
                pointing_shift=fit.shift[k_].copy(),
            )
        )
    return PriorFit(model, exposures, residuals, stage_rms)


# ---------------------------------------------------------------- applying the prior


def refine_pointing(model, catalog, gaia, config=None, refraction=None, iterations=3):
    """Measure an exposure's own pointing offset, rotation, scale and anisotropy against Gaia.

    The prior predicts every detection's position in the exposure's observed
    plane; one offset search over all quadrants finds the pointing error; then,
    ``iterations`` times, stars are paired quadrant by quadrant and ``M`` and
    ``t`` fitted with outlier rejection, the plane moved onto the measured axis
    and the predictions updated, so that quadrants far from the axis pair up
    even when the first guess is several arcseconds off there.

    Parameters
    ----------
    model : `FocalPlaneModel`
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    config : `~ztfnb.match.MatchConfig`, optional
    refraction : bool, optional
        Default: as the prior was fitted.
    iterations : int

    Returns
    -------
    `ExposureTerms`

    Raises
    ------
    InputError
        When no offset is found or too few stars match.
    """
    config = config or MatchConfig()
    refraction = model.meta.get("refraction", True) if refraction is None else refraction
    plane = ObservedPlane.about(catalog.pointing, catalog.mid_time, _weather(catalog, refraction))
    reference = _reference(catalog, gaia, config)
    ref_xi, ref_eta = plane.project(SkyCoord(reference["ra"], reference["dec"]))
    predicted = []
    for extension in catalog.extensions:
        if extension.rcid not in model.rcid:
            continue
        usable = np.flatnonzero(usable_detections(extension.objects, config))
        xi, eta = model.plane(extension.rcid, extension.x[usable], extension.y[usable])
        pixel = np.sqrt(abs(np.linalg.det(model.cd[model._row(extension.rcid)])))
        error = np.asarray(extension.objects["ERRAWIN_IMAGE"], float)[usable] * pixel
        flux = np.asarray(extension.objects["FLUX_AUTO"], float)[usable]
        predicted.append((xi, eta, flux, 1 / (error**2 + (0.03 * _ARCSEC) ** 2)))
    if not predicted:
        raise InputError("none of the catalogue's quadrants is in the prior", path=catalog.path)
    fluxes, xis, etas = (np.concatenate([p[i] for p in predicted]) for i in (2, 0, 1))
    tree = cKDTree(np.column_stack([ref_xi, ref_eta]))
    start, found = _search_pointing(xis, etas, fluxes, tree, config, catalog.pointing.dec.deg)
    if not found.found:
        raise InputError(
            f"could not find the pointing offset against Gaia within {config.search_radius} "
            f"(peak of {found.peak} pairs over a background of {found.background:.1f})",
            path=catalog.path,
        )
    matrix, offset, shift = start, np.array([found.dx, found.dy]), np.zeros(2)
    for iteration in range(iterations + 1):
        pairs = [
            _pair(matrix, offset, xi, eta, flux, weight, tree, config)
            for xi, eta, flux, weight in predicted
        ]
        pu, pv, ref_index, w = (np.concatenate([p[i] for p in pairs]) for i in range(4))
        if pu.size < 20:
            raise InputError(
                f"only {pu.size} stars matched Gaia: cannot measure the pointing", path=catalog.path
            )
        matrix, offset, used, rms = _fit_affine(pu, pv, ref_xi[ref_index], ref_eta[ref_index], w)
        if iteration == iterations:
            break  # the last fit's terms belong to the current plane
        # project about the measured axis, not the commanded one; moving the plane also turns
        # its axes (meridian convergence), which the next fit absorbs
        moved = plane.shifted(*offset)
        ref_xi, ref_eta = plane.transfer(ref_xi, ref_eta, moved)
        tree = cKDTree(np.column_stack([ref_xi, ref_eta]))
        matrix = _turned(plane, moved, matrix)
        plane, shift, offset = moved, shift + offset, np.zeros(2)
    return ExposureTerms(
        catalog.name, plane, matrix, offset, int(used.sum()), rms, pointing_shift=shift
    )


#: Detections within this radius of the axis (degrees) search the turn of a field near a pole.
_TURN_SEARCH_RADIUS = 0.7
#: Largest turn searched, degrees.
_MAX_TURN = 10.0


def _search_pointing(xis, etas, fluxes, tree, config, dec_deg):
    """The pointing offset (and the field's turn, near a pole) as a starting matrix and offset.

    The peak of all displacements from predictions to Gaia gives the offset.
    Near a pole the plane about the commanded pointing is turned against the
    one about the true axis by meridian convergence (20″ of pointing error at
    Dec 89.7° turns it by a degree), which smears that peak; then trial turns
    up to what the search radius allows at this Dec are tried on the
    detections near the axis, in steps that keep the smear within a bin.

    Returns
    -------
    matrix : `~numpy.ndarray`, (2, 2)
    found : `~ztfnb.match.Offset`
    """
    radius, step = config.search_radius.to_value(u.deg), config.search_bin.to_value(u.deg)
    bright = np.argsort(fluxes)[::-1][: 10 * config.bright]
    found = find_offset(xis[bright], etas[bright], tree, radius, step)
    if found.found:
        return np.eye(2), found
    near = np.flatnonzero(np.hypot(xis, etas) < _TURN_SEARCH_RADIUS)
    near = near[np.argsort(fluxes[near])[::-1][: 10 * config.bright]]
    limit = min(
        _MAX_TURN, np.degrees(np.deg2rad(radius) * np.tan(np.deg2rad(min(abs(dec_deg), 89.99))))
    )
    turn_step = np.degrees(step / _TURN_SEARCH_RADIUS)
    best = (np.eye(2), found)
    steps = int(np.ceil(limit / turn_step))
    for turn in np.linspace(-limit, limit, 2 * steps + 1):  # symmetric, zero included
        c, s = np.cos(np.deg2rad(turn)), np.sin(np.deg2rad(turn))
        matrix = np.array([[c, -s], [s, c]])
        x, y = matrix @ np.vstack([xis[near], etas[near]])
        trial = find_offset(x, y, tree, radius, step)
        if trial.found and trial.peak > best[1].peak:
            best = (matrix, trial)
    return best


def _turned(old, new, matrix, step=1e-3):
    """The matrix re-expressed in a moved plane, whose axes are turned by meridian convergence."""
    x, y = old.transfer(np.array([0.0, step, 0.0]), np.array([0.0, 0.0, step]), new)
    jacobian = np.array([[x[1] - x[0], x[2] - x[0]], [y[1] - y[0], y[2] - y[0]]]) / step
    return jacobian @ matrix


def _pair(matrix, offset, xi, eta, flux, weight, tree, config):
    """Pairs of one quadrant's predictions, moved by the current terms, with reference stars."""
    moved_xi = matrix[0, 0] * xi + matrix[0, 1] * eta + offset[0]
    moved_eta = matrix[1, 0] * xi + matrix[1, 1] * eta + offset[1]
    det, ref, _ = match_quadrant(moved_xi, moved_eta, flux, tree, config, offset=_NO_OFFSET)
    return xi[det], eta[det], ref, weight[det]


def _fit_affine(pu, pv, tx, ty, weight, rounds=4, clip=5.0):
    """Weighted affine fit ``target = M · p + t`` with outlier rejection."""
    used = np.ones(pu.size, bool)
    full = np.column_stack([np.ones(pu.size), pu, pv])
    for _ in range(rounds):
        root = np.sqrt(weight[used])[:, None]
        cx = np.linalg.lstsq(full[used] * root, tx[used] * root[:, 0], rcond=None)[0]
        cy = np.linalg.lstsq(full[used] * root, ty[used] * root[:, 0], rcond=None)[0]
        residual = np.hypot(tx - full @ cx, ty - full @ cy)
        used = residual <= clip * _robust_sigma(residual[used]) + np.median(residual[used])
    rms = float(np.sqrt(np.mean(residual[used] ** 2) / 2) * 3600)
    return np.array([[cx[1], cx[2]], [cy[1], cy[2]]]), np.array([cx[0], cy[0]]), used, rms


def predict_sky(model, terms, rcid, x, y):
    """ICRS positions the prior predicts for pixels of a quadrant in an exposure."""
    xi, eta = terms.apply(*model.plane(rcid, x, y))
    return terms.plane.deproject(xi, eta)


def ahead_headers(model, catalog, terms, degree=None, grid=16):
    """SCAMP ``.ahead`` blocks for a catalogue, one per extension in file order.

    Each block has CRVAL = the exposure's boresight, the quadrant's CRPIX and
    CD from the prior, and PV terms fitted on a grid of the quadrant (corners
    included) to the full prediction: distortion, the exposure's own terms and
    refraction for its pointing, time and weather.

    Parameters
    ----------
    model : `FocalPlaneModel`
    catalog : `~ztfnb.exposure.ExposureCatalog`
    terms : `ExposureTerms`
        From `refine_pointing` (or identity terms to skip refinement).
    degree : int, optional
        Of the written PV polynomial (default: the prior's).
    grid : int
        Points per side of the fitting grid.

    Returns
    -------
    list of `~astropy.io.fits.Header`
    """
    degree = degree or model.degree
    boresight = terms.boresight
    axis = np.linspace(0.5, NAXIS1 + 0.5, grid), np.linspace(0.5, NAXIS2 + 0.5, grid)
    gx, gy = (g.ravel() for g in np.meshgrid(*axis))
    missing = [e.rcid for e in catalog.extensions if e.rcid not in model.rcid]
    if missing:
        raise InputError(
            f"the prior has no quadrant rcid {', '.join(map(str, missing))}: no calibration "
            "catalogue held it; fit the prior with catalogues that do",
            path=catalog.path,
        )
    # one astropy call for every grid point of every quadrant
    planes = [terms.apply(*model.plane(e.rcid, gx, gy)) for e in catalog.extensions]
    sky = terms.plane.deproject(
        np.concatenate([p[0] for p in planes]), np.concatenate([p[1] for p in planes])
    )
    target_xi, target_eta = gnomonic(sky.ra.deg, sky.dec.deg, boresight.ra.deg, boresight.dec.deg)
    headers = []
    for index, extension in enumerate(catalog.extensions):
        rows = slice(index * gx.size, (index + 1) * gx.size)
        row = model._row(extension.rcid)
        w_u, w_v = model.focal(extension.rcid, gx, gy)
        pv1, pv2, rms = fit_tpv(w_u, w_v, target_xi[rows], target_eta[rows], degree)
        ccdid, qid = ccdid_qid(extension.rcid)
        header = tpv_header(
            (boresight.ra.deg, boresight.dec.deg),
            model.crpix[row],
            model.cd[row],
            pv1,
            pv2,
            extra=[
                ("RCID", int(extension.rcid), "readout channel"),
                ("CCDID", int(ccdid), ""),
                ("QID", int(qid), ""),
            ],
        )
        header["ZPRIORFT"] = (rms * 3600, "[arcsec] rms of this TPV about the ztfnb prior")
        header["ZPOINTX"] = (float(terms.offset_arcsec[0]), "[arcsec] measured pointing offset, xi")
        header["ZPOINTY"] = (
            float(terms.offset_arcsec[1]),
            "[arcsec] measured pointing offset, eta",
        )
        header["ZNMATCH"] = (int(terms.n_stars), "stars matched to Gaia for the pointing")
        headers.append(header)
    return headers
