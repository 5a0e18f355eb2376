"""The verdict: which quadrants' solutions should not be used, and why."""

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.match import MatchConfig

__all__ = ["QualityConfig", "exposure_scale_change", "verdict", "verified_quadrants"]


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the verdict (a quadrant is flagged when any is crossed).

    Attributes
    ----------
    max_rms : `~astropy.units.Quantity`
        Residual rms per axis.
    max_offset : `~astropy.units.Quantity`
        Median residual over the quadrant.
    max_corner_error : `~astropy.units.Quantity`
        Smooth residual field at a corner.
    max_scale_change : float
        Percent, prior → solution (ZTF: over 1% makes an image unusable).
    max_scale_deviation : float
        Percent, from the exposure's median scale change.
    max_displacement : `~astropy.units.Quantity`
        Prior → solution at a corner, beyond the exposure's affine map.
    min_matched : int
    min_matched_fraction : float
        Of the exposure's median matched fraction.
    refraction_outlier : float
        Robust sigmas from the night's refraction model (exposures).
    refraction_floor : float
        Percent: smaller departures from the model are never outliers.
    corner_fraction : float
        Size of a corner region, as a fraction of the quadrant's sides.
    match : `~ztfnb.match.MatchConfig`
    """

    max_rms: u.Quantity = 0.2 * u.arcsec
    max_offset: u.Quantity = 0.15 * u.arcsec
    max_corner_error: u.Quantity = 0.25 * u.arcsec
    max_scale_change: float = 1.0
    max_scale_deviation: float = 0.1
    max_displacement: u.Quantity = 0.5 * u.arcsec
    min_matched: int = 30
    min_matched_fraction: float = 0.5
    refraction_outlier: float = 5.0
    refraction_floor: float = 0.02
    corner_fraction: float = 0.25
    match: MatchConfig = field(
        default_factory=lambda: MatchConfig(
            search_radius=60 * u.arcsec, match_radius=3 * u.arcsec, final_radius=2 * u.arcsec
        )
    )


def verified_quadrants(metrics, config=None):
    """Quadrants whose solution Gaia confirms: enough stars, small rms and offset.

    Exposure-wide references (the exposure's scale change) are taken from
    these, so that a majority of failed quadrants cannot set them.
    """
    config = config or QualityConfig()
    limit_rms = config.max_rms.to_value(u.arcsec)
    with np.errstate(invalid="ignore"):
        return (
            (np.asarray(metrics["n_matched"]) >= config.min_matched)
            & (u.Quantity(metrics["rms_ra"], u.arcsec).value <= limit_rms)
            & (u.Quantity(metrics["rms_dec"], u.arcsec).value <= limit_rms)
            & (
                u.Quantity(metrics["offset"], u.arcsec).value
                <= config.max_offset.to_value(u.arcsec)
            )
            & ~np.asarray(metrics["absent"], bool)
        )


def exposure_scale_change(metrics, config=None):
    """Each exposure's pixel-scale change (percent): the median of its verified quadrants.

    Returns
    -------
    `~numpy.ndarray`
        One value per exposure, in the order of ``np.unique(metrics["exposure"])``;
        the median over all its quadrants where none is verified, NaN without a prior.
    """
    change = u.Quantity(metrics["scale_change"], u.percent).value
    verified = verified_quadrants(metrics, config) & np.isfinite(change)
    names = np.asarray(metrics["exposure"])
    values = []
    for name in np.unique(names):
        mine = (names == name) & np.isfinite(change)
        chosen = mine & verified if (mine & verified).any() else mine
        values.append(np.median(change[chosen]) if chosen.any() else np.nan)
    return np.array(values)


def verdict(metrics, config=None, exposures=None):
    """Flag quadrants whose solution should not be used, saying why.

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
        From `exposure_metrics` (one or many exposures).
    config : `QualityConfig`, optional
    exposures : `~astropy.table.QTable`, optional
        From `fit_refraction_model`: quadrants of outlying exposures are flagged.

    Returns
    -------
    `~astropy.table.QTable`
        ``metrics`` with ``flag``, ``reason`` and ``badness`` (largest ratio of
        a metric to its threshold).
    """
    config = config or QualityConfig()
    table = QTable(metrics, copy=True)
    n = len(table)
    reasons = [[] for _ in range(n)]
    badness = np.zeros(n)

    def check(values, limit, message):
        values = np.asarray(values, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(values) / limit
        for i in np.flatnonzero(ratio > 1):
            reasons[i].append(message(values[i]))
        np.fmax.at(badness, np.arange(n), np.nan_to_num(ratio))

    check(table["rms_ra"].value, config.max_rms.to_value(u.arcsec), lambda v: f'rms RA {v:.2f}"')
    check(table["rms_dec"].value, config.max_rms.to_value(u.arcsec), lambda v: f'rms Dec {v:.2f}"')
    check(table["offset"].value, config.max_offset.to_value(u.arcsec), lambda v: f'offset {v:.2f}"')
    check(
        table["corner_error"].value,
        config.max_corner_error.to_value(u.arcsec),
        lambda v: f'corner off by {v:.2f}"',
    )
    check(
        table["scale_change"].value,
        config.max_scale_change,
        lambda v: f"pixel scale changed {v:+.2f}%",
    )
    comparable = (
        np.asarray(table["prior_comparable"], bool)
        if "prior_comparable" in table.colnames
        else np.ones(n, bool)
    )
    check(
        np.where(comparable, table["corner_displacement"].value, np.nan),
        config.max_displacement.to_value(u.arcsec),
        lambda v: f'moved {v:.2f}" from the prior at a corner',
    )

    deviation = (
        table["scale_change"].value
        - exposure_scale_change(table, config)[np.unique(table["exposure"], return_inverse=True)[1]]
    )
    check(
        deviation,
        config.max_scale_deviation,
        lambda v: f"pixel scale {v:+.2f}% from the exposure's",
    )

    median_fraction = {}
    for name in np.unique(table["exposure"]):
        rows = (table["exposure"] == name) & ~np.asarray(table["absent"])
        median_fraction[name] = np.median(table["matched_fraction"][rows]) if rows.any() else 1.0
    unsolved = (
        np.asarray(table["unsolved"], bool) if "unsolved" in table.colnames else np.zeros(n, bool)
    )
    for i, row in enumerate(table):
        if unsolved[i] and not row["absent"]:
            reasons[i].append("no solution (no .head)")
            badness[i] = max(badness[i], 10)
            continue
        if row["absent"]:
            reasons[i].append("quadrant absent from the catalogue")
            badness[i] = max(badness[i], 10)
            continue
        if row["n_matched"] < config.min_matched:
            reasons[i].append(f"only {row['n_matched']} stars matched")
            badness[i] = max(badness[i], config.min_matched / max(row["n_matched"], 1))
        elif (
            row["matched_fraction"] < config.min_matched_fraction * median_fraction[row["exposure"]]
        ):
            reasons[i].append(f"matched fraction {row['matched_fraction']:.2f}")
            badness[i] = max(
                badness[i],
                config.min_matched_fraction
                * median_fraction[row["exposure"]]
                / max(row["matched_fraction"], 1e-3),
            )
    if exposures is not None and "refraction_outlier" in exposures.colnames:
        outliers = {
            row["exposure"]: row["scale_residual"] for row in exposures if row["refraction_outlier"]
        }
        for i, name in enumerate(table["exposure"]):
            if name in outliers:
                reasons[i].append(
                    f"exposure off the night's refraction model by {outliers[name].value:+.3f}%"
                )
    table["flag"] = np.array([bool(r) for r in reasons])
    table["reason"] = ["; ".join(r) for r in reasons]
    table["badness"] = badness
    return table
