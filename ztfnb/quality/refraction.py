"""The night's refraction model: each exposure's scale change against airmass."""

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.quality.verdict import QualityConfig

__all__ = ["fit_refraction_model", "refraction_coefficients"]


def fit_refraction_model(exposures, config=None):
    """Fit the night's scale change against airmass and mark outlying exposures.

    The mean pixel-scale change of an exposure follows differential
    refraction, ``c0 + c1 (1 + X²)/2`` (percent), the isotropic part of a
    compression by ``A sec²z`` vertically and ``A`` horizontally. With a
    refraction-aware prior ``c1`` is near zero; with one that ignores
    refraction it is about −100 A ≈ −0.02 %.

    Parameters
    ----------
    exposures : `~astropy.table.QTable`
        Columns ``airmass`` and ``scale_change`` (percent).
    config : `QualityConfig`, optional

    Returns
    -------
    table : `~astropy.table.QTable`
        The input with ``scale_model``, ``scale_residual`` and ``refraction_outlier``.
    coefficients : tuple of float
        ``(c0, c1)``.
    """
    config = config or QualityConfig()
    table = QTable(exposures, copy=True)
    x = (1 + np.asarray(table["airmass"], float) ** 2) / 2
    y = u.Quantity(table["scale_change"], u.percent).value
    good = np.isfinite(x) & np.isfinite(y)
    keep = good.copy()
    coefficients = (np.nan, np.nan)
    for _ in range(5):
        if keep.sum() >= 3:
            slope, intercept = np.polyfit(x[keep], y[keep], 1)
        elif keep.sum() >= 1:
            slope, intercept = 0.0, float(np.median(y[keep]))
        else:
            break
        coefficients = (intercept, slope)
        residual = y - (intercept + slope * x)
        scale = 1.4826 * np.median(np.abs(residual[keep])) if keep.sum() >= 3 else 0.0
        keep = good & (
            np.abs(residual) <= max(config.refraction_outlier * scale, config.refraction_floor)
        )
    model = coefficients[0] + coefficients[1] * x
    table["scale_model"] = model * u.percent
    table["scale_residual"] = (y - model) * u.percent
    table["refraction_outlier"] = good & ~keep
    table.meta["refraction_model"] = {
        "c0": float(coefficients[0]),
        "c1": float(coefficients[1]),
        "form": "scale_change = c0 + c1 (1 + airmass**2) / 2, percent",
    }
    return table, coefficients


def refraction_coefficients(exposures, config=None):
    """The refraction model ``(c0, c1)`` of a per-exposure table read back from disk.

    From the table's metadata when `fit_refraction_model` wrote it there,
    else fitted again.
    """
    model = exposures.meta.get("refraction_model")
    if isinstance(model, dict) and {"c0", "c1"} <= set(model):
        return float(model["c0"]), float(model["c1"])
    return fit_refraction_model(exposures, config)[1]
