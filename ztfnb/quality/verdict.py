"""The verdict: which quadrants' solutions should not be used, and why.

A quadrant is judged against what its own stars' errors and the rest of its
exposure predict, not against fixed limits: on a night of poorer seeing every
rms grows, and a fixed 0.2″ flags good quadrants. The measurements
(`ztfnb.quality.metrics`) give each star its expected error (SExtractor's ⊕
Gaia's at the epoch ⊕ the exposure's extra error), and each effect its
uncertainty from the quadrant's stars. For each effect — the rms beyond the
errors (χ²/dof of the normalised residuals), the median offset, the smooth
residual field at a corner, the displacement from the prior at a corner
beyond the exposure's own correction, the pixel scale off the exposure's —
the significance is the effect over its uncertainty, compared robustly with
the exposure's other quadrants (what most of them agree on,
`ztfnb.quality.robust.consensus`): for χ²/dof, its excess over the
exposure's and in units of the larger of its error and the spread across the
exposure; for the others, the uncertainties are scaled up by as much as the
exposure's quadrants sit above pure noise. A quadrant is flagged when an
effect is at least ``significance`` sigmas AND at least ``min_effect`` in
arcseconds (the scale as the displacement it makes at a corner): significant
and large enough to matter, against ZTF's failures of 0.3–1.5″.

Absolute limits stay available (``max_rms``, ``max_offset``…), off by default
except ZTF's own rule that a pixel-scale change over 1 % makes an image
unusable. Too few stars, a matched fraction under half the exposure's, an
absent quadrant or a missing solution are flagged as before; so are the
quadrants of an exposure off the night's prior → solution refraction model.
An exposure off the zenith-relative scale model is marked in the exposures
table (`ztfnb.quality.refraction`), and its quadrants are judged on their own
evidence.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.camera import NAXIS1, NAXIS2, PIXEL_SCALE
from ztfnb.quality.robust import consensus
from ztfnb.settings import OFF, PPM, Settings, setting

__all__ = ["OFF", "QualityConfig", "verdict", "verified_quadrants"]

#: Half a quadrant's diagonal (arcsec): a scale error of f displaces its corners by f × this.
HALF_DIAGONAL = 0.5 * float(np.hypot(NAXIS1, NAXIS2)) * PIXEL_SCALE.to_value(u.arcsec)


@dataclass(frozen=True)
class QualityConfig(Settings):
    """Thresholds of the verdict, and the one home of their defaults.

    Every threshold takes a number in its unit, a Quantity, or text
    (``"0.2 arcsec"``, ``"200 mas"``); an optional limit also takes ``None``
    or ``"off"``. Values are checked here (`ValueError` naming the field).
    ``ztfnb quality`` and the quality notebook take their options and
    defaults from these fields.

    Attributes
    ----------
    significance : float
        Robust sigmas an effect must reach against its own uncertainty and the
        spread across its exposure.
    min_effect : `~astropy.units.Quantity`
        Smallest effect that matters: offset, corner error, rms beyond the
        errors, displacement from the prior, scale deviation at a corner.
    max_rms, max_offset, max_corner_error, max_displacement : `~astropy.units.Quantity` or None
        Absolute limits (rms per axis; median offset; smooth residual at a
        corner; prior → solution at a corner beyond the exposure's affine
        map); off by default.
    max_scale_change : float or None
        Percent, prior → solution (ZTF: over 1 % makes an image unusable).
    max_scale_deviation : float or None
        Percent from the exposure's scale change, absolute; off by default.
    min_matched : int
        Fewest matched stars.
    min_matched_fraction : float
        Of the exposure's matched fraction (what most quadrants agree on).
    refraction_outlier : float
        Robust sigmas from the night's prior → solution refraction model
        (exposures; their quadrants are flagged).
    refraction_floor : float
        Percent: smaller departures from that model are never outliers.
    zenith_outlier : float
        Robust sigmas from the night's zenith-relative scale model
        (exposures are marked; their quadrants are judged on their own).
    zenith_floor : float
        Parts per million: smaller departures from that model are never outliers.
    """

    significance: float = setting(
        5.0,
        help="robust sigmas a quadrant must be worse than its errors and its exposure predict",
        unit=None,
        option="--significance",
    )
    min_effect: u.Quantity = setting(
        0.1 * u.arcsec,
        help="and the least effect that matters, arcsec (offset, corner error, rms beyond the "
        "errors, displacement from the prior, scale deviation at a corner)",
        unit=u.arcsec,
        option="--min-effect",
        rule=">=0",
    )
    max_rms: u.Quantity | None = setting(
        None,
        help="absolute limit: rms per axis, arcsec",
        unit=u.arcsec,
        option="--max-rms",
        optional=True,
    )
    max_offset: u.Quantity | None = setting(
        None,
        help="absolute limit: median offset, arcsec",
        unit=u.arcsec,
        option="--max-offset",
        optional=True,
    )
    max_corner_error: u.Quantity | None = setting(
        None,
        help="absolute limit: error at a corner, arcsec",
        unit=u.arcsec,
        option="--max-corner",
        optional=True,
    )
    max_displacement: u.Quantity | None = setting(
        None,
        help="absolute limit: prior -> solution at a corner beyond the exposure's affine map, arcsec",
        unit=u.arcsec,
        option="--max-displacement",
        optional=True,
    )
    max_scale_change: float | None = setting(
        1.0,
        help="absolute limit: pixel-scale change prior -> solution, percent (ZTF's rule)",
        unit=u.percent,
        option="--max-scale-change",
        optional=True,
    )
    max_scale_deviation: float | None = setting(
        None,
        help="absolute limit: pixel scale from the exposure's, percent",
        unit=u.percent,
        option="--max-scale-deviation",
        optional=True,
    )
    min_matched: int = setting(
        30, help="fewest matched stars", unit=None, option="--min-matched", kind=int, rule=">=0"
    )
    min_matched_fraction: float = setting(
        0.5,
        help="least matched fraction, as a share of the exposure's",
        unit=None,
        option="--min-matched-fraction",
        rule="0-1",
    )
    refraction_outlier: float = setting(
        5.0,
        help="robust sigmas off the prior -> solution scale model",
        unit=None,
        option="--refraction-outlier",
    )
    refraction_floor: float = setting(
        0.02,
        help="least departure from that model that counts, percent",
        unit=u.percent,
        option="--refraction-floor",
        rule=">=0",
    )
    zenith_outlier: float = setting(
        5.0,
        help="robust sigmas off the zenith-relative scale model",
        unit=None,
        option="--zenith-outlier",
    )
    zenith_floor: float = setting(
        20.0,
        help="least departure from that model that counts, ppm",
        unit=PPM,
        option="--zenith-floor",
        rule=">=0",
    )


def _config(config):
    if config is None:
        return QualityConfig()
    if not isinstance(config, QualityConfig):
        raise TypeError(f"the verdict takes a QualityConfig, got {type(config).__name__}")
    return config


def _values(table, name, unit=None):
    """A column as floats (in ``unit`` when given), NaN where the table lacks it."""
    if name not in table.colnames:
        return np.full(len(table), np.nan)
    column = table[name]
    if unit is not None and isinstance(column, u.Quantity):
        return np.asarray(column.to_value(unit), float)
    return np.asarray(getattr(column, "value", column), float)


def _flags(table, name, default=False):
    if name not in table.colnames:
        return np.full(len(table), default)
    return np.asarray(table[name], bool)


def _sigmas(z):
    return ">999σ" if z > 999 else f"{z:.0f}σ"


#: Fewest present quadrants whose consensus an exposure's quadrants are judged against
#: (`consensus` starts from the tightest 3 values: with 5, two bad ones are outvoted).
MIN_GROUP = 5


class _Judge:
    """The tests of the verdict over a metrics table, with their reasons and badness."""

    def __init__(self, table, config):
        self.table = table
        self.config = config
        n = len(table)
        self.reasons = [[] for _ in range(n)]
        self.kinds = [set() for _ in range(n)]
        self.badness = np.zeros(n)
        self.names = np.asarray(table["exposure"])
        self.present = ~_flags(table, "absent") & ~_flags(table, "unsolved")
        self.groups = [np.flatnonzero(self.names == name) for name in np.unique(self.names)]

    def exposure(self, values):
        """Per row, the location and spread its exposure's present quadrants agree on.

        An exposure with fewer than `MIN_GROUP` present quadrants (a few
        quadrants extracted, dead CCDs) cannot outvote one bad quadrant:
        with two, the "consensus" is their mean, and a corner 1.5″ off
        raises its own bar. Its quadrants are set against the whole night's
        instead, and where the night too has fewer, against nothing (NaN:
        each quadrant is judged by its own errors alone).
        """
        location = np.full(len(values), np.nan)
        spread = np.full(len(values), np.nan)
        pooled = None
        for rows in self.groups:
            here = values[rows[self.present[rows]]]
            if np.isfinite(here).sum() >= MIN_GROUP:
                found = consensus(here)
            else:
                if pooled is None:
                    every = values[self.present]
                    enough = np.isfinite(every).sum() >= MIN_GROUP
                    pooled = consensus(every) if enough else (np.nan, np.nan)
                found = pooled
            location[rows], spread[rows] = found[0], found[1]
        return location, spread

    def noise_aware(self, kind, effect, z, message):
        """Flag where ``z`` ≥ significance and ``effect`` ≥ min_effect (both arcsec)."""
        k = self.config.significance
        floor = self.config.min_effect.to_value(u.arcsec)
        with np.errstate(invalid="ignore", divide="ignore"):
            past = np.minimum(z / k, effect / floor if floor > 0 else np.inf)
        past = np.where(self.present, np.nan_to_num(past, nan=0.0, posinf=1e3), 0.0)
        self.badness = np.fmax(self.badness, past)
        for i in np.flatnonzero(past >= 1):
            self.reasons[i].append(message(i))
            self.kinds[i].add(kind)

    def limit(self, kind, values, limit, message):
        """An absolute limit (skipped when None)."""
        if limit is None:
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(values) / limit
        ratio = np.where(self.present, ratio, np.nan)
        for i in np.flatnonzero(ratio > 1):
            self.reasons[i].append(message(values[i]))
            self.kinds[i].add(kind)
        self.badness = np.fmax(self.badness, np.nan_to_num(ratio))

    def flag(self, i, reason, badness, kind="data"):
        self.reasons[i].append(reason)
        self.kinds[i].add(kind)
        self.badness[i] = max(self.badness[i], badness)


#: Median of each statistic over its own uncertainty where there is only noise: a 2-D
#: length (Rayleigh), the largest of four corners' (the corner fit, the displacement),
#: a 1-D size (half-normal). An exposure whose quadrants sit higher has errors that
#: say too little, and they are scaled up by as much.
_NULL_MEDIAN = {"offset": 1.177, "corner": 1.917, "displacement": 1.917, "scale": 0.674}


def _significance(judge, kind, effect, error):
    """An effect over its uncertainty, the uncertainty as the exposure's quadrants show it.

    ``error`` is the quadrant's own (from its stars); where it has none (no
    stars), its exposure's typical one. The ratio's location across the
    exposure (what most quadrants agree on) over its value for pure noise,
    when above 1, scales every error of the exposure up.
    """
    typical, _ = judge.exposure(error)
    error = np.where(np.isfinite(error) & (error > 0), error, typical)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = effect / error
    location, _ = judge.exposure(ratio)
    inflate = np.fmax(1.0, np.nan_to_num(location / _NULL_MEDIAN[kind], nan=1.0))
    return ratio / inflate


def _residual_tests(judge):
    """The tests on residuals against Gaia: rms beyond the errors, offset, corners."""
    table, config = judge.table, judge.config
    # rms: χ²/dof of the normalised residuals over the exposure's own (seeing raises them
    # all), in units of its uncertainty, as large as the quadrants' χ² scatter across it
    chi2, chi2_err = _values(table, "chi2"), _values(table, "chi2_err")
    excess = _values(table, "excess_rms", u.arcsec)
    location, spread = judge.exposure(chi2)
    typical, _ = judge.exposure(chi2_err)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = chi2_err * np.fmax(1.0, np.nan_to_num(spread / typical, nan=1.0))
        z = (chi2 - location) / scale
    table["chi2_nsigma"] = z
    judge.noise_aware(
        "rms",
        excess,
        z,
        lambda i: (
            f'rms {np.sqrt(chi2[i]):.1f}× its errors ({excess[i]:.2f}" beyond them, '
            f"{_sigmas(z[i])})"
        ),
    )
    for name, kind, error_name, message in (
        ("offset", "offset", "offset_err", lambda v, z: f'offset {v:.2f}" ({_sigmas(z)})'),
        (
            "corner_error",
            "corner",
            "corner_err",
            lambda v, z: f'corner off by {v:.2f}" ({_sigmas(z)})',
        ),
    ):
        effect = _values(table, name, u.arcsec)
        z = _significance(judge, kind, effect, _values(table, error_name, u.arcsec))
        table[f"{kind}_nsigma"] = z
        judge.noise_aware(kind, effect, z, lambda i, e=effect, z=z, m=message: m(e[i], z[i]))
    rms = config.max_rms.to_value(u.arcsec) if config.max_rms is not None else None
    judge.limit("rms", _values(table, "rms_ra", u.arcsec), rms, lambda v: f'rms RA {v:.2f}"')
    judge.limit("rms", _values(table, "rms_dec", u.arcsec), rms, lambda v: f'rms Dec {v:.2f}"')
    judge.limit(
        "offset",
        _values(table, "offset", u.arcsec),
        config.max_offset.to_value(u.arcsec) if config.max_offset is not None else None,
        lambda v: f'offset {v:.2f}"',
    )
    judge.limit(
        "corner",
        _values(table, "corner_error", u.arcsec),
        config.max_corner_error.to_value(u.arcsec) if config.max_corner_error is not None else None,
        lambda v: f'corner off by {v:.2f}"',
    )


def _prior_tests(judge):
    """The tests against the prior: displacement at a corner, scale change and deviation."""
    table, config = judge.table, judge.config
    # how well the solution is known at a corner: the residual field's uncertainty there
    error = _values(table, "corner_err", u.arcsec)
    comparable = _flags(table, "prior_comparable", default=True)
    displacement = np.where(comparable, _values(table, "corner_displacement", u.arcsec), np.nan)
    z = _significance(judge, "displacement", displacement, error)
    table["displacement_nsigma"] = z
    judge.noise_aware(
        "displacement",
        displacement,
        z,
        lambda i: f'moved {displacement[i]:.2f}" from the prior at a corner ({_sigmas(z[i])})',
    )
    change = _values(table, "scale_change", u.percent)
    # a prior without the focal-plane distortion (the telescope's linear WCS) differs in scale
    # from quadrant to quadrant by the distortion: its scale deviations say nothing either
    location, _ = judge.exposure(np.where(comparable, change, np.nan))
    deviation = np.where(comparable, change - location, np.nan)
    table["scale_deviation"] = deviation * u.percent
    effect = np.abs(deviation) / 100 * HALF_DIAGONAL
    z = _significance(judge, "scale", effect, error)
    table["scale_nsigma"] = z
    judge.noise_aware(
        "scale",
        effect,
        z,
        lambda i: (
            f"pixel scale {deviation[i]:+.3f}% from the exposure's "
            f'({effect[i]:.2f}" at a corner, {_sigmas(z[i])})'
        ),
    )
    judge.limit(
        "displacement",
        displacement,
        config.max_displacement.to_value(u.arcsec) if config.max_displacement is not None else None,
        lambda v: f'moved {v:.2f}" from the prior at a corner',
    )
    judge.limit(
        "scale", change, config.max_scale_change, lambda v: f"pixel scale changed {v:+.2f}%"
    )
    judge.limit(
        "scale",
        deviation,
        config.max_scale_deviation,
        lambda v: f"pixel scale {v:+.2f}% from the exposure's",
    )


def _data_tests(judge):
    """No solution, absent quadrants, too few stars or a low matched fraction."""
    table, config = judge.table, judge.config
    unsolved, absent = _flags(table, "unsolved"), _flags(table, "absent")
    fraction = _values(table, "matched_fraction")
    usual, _ = judge.exposure(fraction)
    matched = np.asarray(table["n_matched"], int)
    for i in range(len(table)):
        if unsolved[i] and not absent[i]:
            judge.flag(i, "no solution (no .head)", 10)
        elif absent[i]:
            judge.flag(i, "quadrant absent from the catalogue", 10)
        elif matched[i] < config.min_matched:
            judge.flag(
                i,
                f"only {matched[i]} stars matched",
                config.min_matched / max(matched[i], 1),
            )
        elif np.isfinite(usual[i]) and fraction[i] < config.min_matched_fraction * usual[i]:
            judge.flag(
                i,
                f"matched fraction {fraction[i]:.2f}",
                config.min_matched_fraction * usual[i] / max(fraction[i], 1e-3),
            )


def verified_quadrants(metrics, config=None):
    """Quadrants whose solution Gaia confirms.

    Enough matched stars, present, and no residual test (rms beyond the
    errors, offset, corner) flags them.

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
    config : `QualityConfig`, optional

    Returns
    -------
    `~numpy.ndarray` of bool
    """
    config = _config(config)
    judge = _Judge(QTable(metrics, copy=True), config)
    _residual_tests(judge)
    with np.errstate(invalid="ignore"):
        return (
            (np.asarray(metrics["n_matched"]) >= config.min_matched)
            & np.isfinite(_values(metrics, "offset"))
            & judge.present
            & np.array([not kinds for kinds in judge.kinds])
        )


def verdict(metrics, config=None, exposures=None):
    """Flag quadrants whose solution should not be used, saying why.

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
        From `~ztfnb.quality.exposure_metrics` (one or many exposures).
    config : `QualityConfig`, optional
    exposures : `~astropy.table.QTable`, optional
        From `~ztfnb.quality.fit_refraction_model`: quadrants of outlying
        exposures are flagged.

    Returns
    -------
    `~astropy.table.QTable`
        ``metrics`` with ``flag``, ``reason``, ``badness`` (how far past the
        verdict's bars: the smaller of significance / ``significance`` and
        effect / ``min_effect`` for the noise-aware tests, metric / limit for
        absolute ones; above 1 where flagged), the significances
        ``chi2_nsigma, offset_nsigma, corner_nsigma, displacement_nsigma,
        scale_nsigma`` and ``scale_deviation``; the thresholds in
        ``meta["verdict"]``.
    """
    config = _config(config)
    table = QTable(metrics, copy=True)
    judge = _Judge(table, config)
    _residual_tests(judge)
    _prior_tests(judge)
    _data_tests(judge)
    if exposures is not None and "refraction_outlier" in exposures.colnames:
        outliers = {
            row["exposure"]: row["scale_residual"] for row in exposures if row["refraction_outlier"]
        }
        for i, name in enumerate(table["exposure"]):
            if name in outliers:
                judge.reasons[i].append(
                    f"exposure off the night's refraction model by {outliers[name].value:+.3f}%"
                )
    table["flag"] = np.array([bool(r) for r in judge.reasons])
    table["reason"] = ["; ".join(r) for r in judge.reasons]
    table["badness"] = judge.badness
    table.meta["verdict"] = config.describe()
    return table
