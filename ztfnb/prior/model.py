"""The prior's types: the fitted camera, an exposure's own terms, the fit's settings and result.

See `ztfnb.prior` for the model these describe.
"""

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ztfnb.match import MatchConfig
from ztfnb.observed import ObservedPlane
from ztfnb.settings import Settings, setting
from ztfnb.tpv import MAX_DEGREE, evaluate

__all__ = ["ExposureTerms", "FocalPlaneModel", "PriorFit", "PriorFitConfig"]

_ARCSEC = 1 / 3600


@dataclass(frozen=True)
class PriorFitConfig(Settings):
    """Settings of `fit_prior`, and the one home of their defaults and ranges.

    Values are checked when made (`ValueError` naming the field); quantities
    also take text (``"0.03 arcsec"``). ``ztfnb prior fit`` builds its
    ``--degree`` and ``--clip`` from these fields.

    Attributes
    ----------
    degree : int
        Degree of the distortion polynomial (TPV), 2–7.
    clip : float
        Outlier rejection threshold, in robust standard deviations.
    iterations : int
        Most fit / reject rounds per stage: a stage stops sooner when another
        round moved no star's fitted position by more than 1 mas (one round
        on clean data from a good start).
    floor : `~astropy.units.Quantity`
        Added in quadrature to SExtractor's centroid errors (image motion).
    min_stars : int
        Fewest matched stars for a quadrant's own CRPIX and CD (an affine
        map); with fewer it keeps the similarity (shift, turn, scale) fitted
        with the polynomial.
    min_quadrant_stars : int
        Fewest stars a quadrant present in the catalogues may keep after outlier
        rejection; with fewer the fit is refused rather than written.
    max_rejected : float
        Largest share of matched stars that rejection may drop; more means the
        model does not describe the data (a distortion degree too low, say),
        and the fit is refused. A good fit drops under 1% (bad quadrants of a
        calibration exposure); catalogues of two cameras (one read out the
        other way) ≈50%. (A quadratic for the cubic camera is not refused: the
        quadrants' own CRPIX and CD take up all but the cubic's curvature,
        ≈0.1″ at worst.)
    block_offset : `~astropy.units.Quantity`
        A quadrant of one exposure whose median residual exceeds this, five
        times its error and the spread of all quadrant-exposure medians
        actually reached (``clip`` robust sigmas) is dropped as bad data.
    refraction : bool
        Fit in the refracted frame (default). ``False`` fits in the frame
        without refraction, as the ZTF prior did: kept for comparison.
    match : `~ztfnb.match.MatchConfig`
    """

    degree: int = setting(
        3, "distortion polynomial degree", option="--degree", kind=int, rule=(2, MAX_DEGREE)
    )
    clip: float = setting(5.0, "outlier rejection in robust sigmas", option="--clip", rule=(2, 50))
    iterations: int = setting(4, "most fit / reject rounds per stage", kind=int, rule=(1, 20))
    floor: u.Quantity = setting(
        0.03 * u.arcsec, "added to SExtractor's centroid errors", unit=u.arcsec, rule=">=0"
    )
    min_stars: int = setting(
        30, "fewest stars for a quadrant's own CRPIX and CD", kind=int, rule=(6, 10**6)
    )
    min_quadrant_stars: int = setting(
        10, "fewest stars a quadrant keeps after rejection", kind=int, rule=(3, 10**6)
    )
    max_rejected: float = setting(0.25, "largest share of stars rejected", rule="0-1")
    block_offset: u.Quantity = setting(
        0.12 * u.arcsec, "least offset of a dropped quadrant-exposure", unit=u.arcsec
    )
    refraction: bool = True
    match: MatchConfig = field(default_factory=MatchConfig)

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.refraction, bool | np.bool_):
            raise ValueError(f"refraction must be True or False, got {self.refraction!r}")
        if not isinstance(self.match, MatchConfig):
            raise ValueError(f"match must be a MatchConfig, got {type(self.match).__name__}")


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
