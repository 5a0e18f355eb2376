"""Judging astrometric solutions: metrics per quadrant, the night's scale models, a verdict.

Parts: `ztfnb.quality.metrics` (measuring every quadrant of a solved
exposure, `MetricsConfig`), `~ztfnb.quality.refraction` (the night's pixel
scale against airmass: prior → solution, and relative to the zenith),
`~ztfnb.quality.verdict` (`QualityConfig`, the noise-aware flags),
`~ztfnb.quality.robust` (what an exposure's quadrants agree on) and
`~ztfnb.quality.night` (`night_metrics`: all of it for a night, what
``ztfnb quality`` runs).
"""

from ztfnb.quality.metrics import (
    MetricsConfig,
    SolvedNight,
    exposure_matches,
    exposure_metrics,
    exposure_scale_change,
    pixel_scale_change,
)
from ztfnb.quality.night import night_metrics
from ztfnb.quality.refraction import (
    fit_refraction_model,
    fit_zenith_model,
    refraction_coefficients,
    refraction_constants,
    zenith_coefficients,
)
from ztfnb.quality.verdict import QualityConfig, verdict, verified_quadrants

__all__ = [
    "MetricsConfig",
    "QualityConfig",
    "SolvedNight",
    "exposure_matches",
    "exposure_metrics",
    "exposure_scale_change",
    "fit_refraction_model",
    "fit_zenith_model",
    "night_metrics",
    "pixel_scale_change",
    "refraction_coefficients",
    "refraction_constants",
    "verdict",
    "verified_quadrants",
    "zenith_coefficients",
]
