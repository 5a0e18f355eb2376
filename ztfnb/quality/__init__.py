"""Judging astrometric solutions: metrics per quadrant, a refraction model per night, a verdict.

Parts: `ztfnb.quality.metrics` (measuring every quadrant of a solved
exposure), `~ztfnb.quality.refraction` (the night's scale against airmass),
`~ztfnb.quality.verdict` (thresholds and flags) and `~ztfnb.quality.night`
(`night_metrics`, all of it for a night, what ``ztfnb quality`` runs).
"""

from ztfnb.quality.metrics import (
    SolvedNight,
    exposure_matches,
    exposure_metrics,
    pixel_scale_change,
)
from ztfnb.quality.night import night_metrics
from ztfnb.quality.refraction import fit_refraction_model, refraction_coefficients
from ztfnb.quality.verdict import (
    QualityConfig,
    exposure_scale_change,
    verdict,
    verified_quadrants,
)

__all__ = [
    "QualityConfig",
    "SolvedNight",
    "exposure_matches",
    "exposure_metrics",
    "exposure_scale_change",
    "fit_refraction_model",
    "night_metrics",
    "pixel_scale_change",
    "refraction_coefficients",
    "verdict",
    "verified_quadrants",
]
