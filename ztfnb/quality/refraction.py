"""The night's pixel scale against airmass: two models, two checks of every exposure.

Differential refraction compresses the sky across the field by ``A sec²z``
vertically and ``A`` horizontally (``ΔZ = A tan z``; erfa's ``refco`` gives
``A`` for the weather and wavelength), so a solution's pixel scale (sky per
pixel) is larger than the camera's in a vacuum by the isotropic part,
``A (1 + X²)/2`` at airmass X.

- **Prior → solution** (`fit_refraction_model`): each exposure's scale change
  from its ``.ahead`` to its solution, ``c0 + c1 (1 + X²)/2`` (percent). A
  prior that carries refraction leaves nothing for it to follow (changes of
  ≈10⁻⁶ %): what it checks is that no exposure's solution rescaled itself.
- **Relative to the zenith** (`fit_zenith_model`), the diagnostic the ZTF
  team relied on: each exposure's pixel scale over the prior's camera alone
  in a vacuum (``zenith_scale``, from the ``.ahead``'s ``ZVACSCL``), which
  follows ``c0 + A (1 + X²)/2`` with the night's ``A``: fitted, and set
  beside the ``A`` the weather predicts (`refraction_constants`). The
  ``B tan³z`` term of refraction adds ``B (3t² + 4t)/2`` (t = X² − 1), −8 ppm
  at airmass 2.2 where the ``A`` term is 670: it enters the model with the
  weather's ``B/A``, so that the fitted ``A`` is erfa's (leaving it out would
  make it ≈2 % low over airmass 1–2.2).

In both, exposures off the model by more than a number of robust sigmas and
a floor are marked.
"""

import astropy.units as u
import erfa
import numpy as np
from astropy.table import QTable

from ztfnb.quality.metrics import PPM
from ztfnb.quality.robust import MAD_SIGMA, consensus
from ztfnb.quality.verdict import QualityConfig

__all__ = [
    "exposure_zenith_scale",
    "fit_refraction_model",
    "fit_zenith_model",
    "refraction_coefficients",
    "refraction_constants",
    "zenith_coefficients",
    "zenith_curve",
]

#: Why an exposure has no scale relative to the zenith.
NO_ZVACSCL = (
    "its .ahead has no ZVACSCL (a prior written before ztfnb wrote it, or not ztfnb's): "
    "no pixel scale relative to the zenith"
)


def refraction_constants(weather):
    """erfa's refraction constants ``A, B`` (``ΔZ = A tan z + B tan³ z``) at a weather.

    Parameters
    ----------
    weather : `~ztfnb.site.Weather`

    Returns
    -------
    a, b : float
        Parts per million (radians × 10⁶); 0 in a vacuum.
    """
    a, b = erfa.refco(
        weather.pressure.to_value(u.hPa),
        weather.temperature.to_value(u.deg_C),
        weather.relative_humidity,
        weather.wavelength.to_value(u.um),
    )
    return float(a) * 1e6, float(b) * 1e6


def zenith_curve(airmass, beta=0.0):
    """How refraction's isotropic compression grows with airmass, per unit of ``A``.

    ``(1 + X²)/2 + β (3t² + 4t)/2`` with t = X² − 1 = tan²z: the mean of the
    vertical (``A sec²z + 3B tan²z sec²z``) and horizontal (``A + B tan²z``)
    compressions over ``A``, with ``β = B/A``.
    """
    airmass = np.asarray(airmass, float)
    tan2 = airmass**2 - 1
    return (1 + airmass**2) / 2 + beta * (3 * tan2**2 + 4 * tan2) / 2


def _repeated_median(x, y):
    """Siegel's repeated-median line ``(intercept, slope)``: half the points may be outliers."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (y[:, None] - y[None, :]) / (x[:, None] - x[None, :])
    slopes[~np.isfinite(slopes)] = np.nan
    if not np.isfinite(slopes).any():
        return float(np.median(y)), 0.0
    slope = float(np.nanmedian(np.nanmedian(slopes, axis=1)))
    return float(np.median(y - slope * x)), slope


def exposure_zenith_scale(metrics, a, b):
    """An exposure's pixel scale relative to the zenith, at its own airmass (ppm).

    Across a 7° field differential refraction makes the quadrants' own values
    differ by hundreds of ppm (530 to 880 at airmass 2.2, with their own
    airmass). Each quadrant is brought to the exposure's airmass (the median
    of its quadrants', the exposures table's ``airmass``) along the weather's
    curve, ``a (g(X_q) − g(X))`` with g = `zenith_curve`; then the value most
    quadrants agree on (`~ztfnb.quality.robust.consensus`). The curve only
    moves values about the field's centre, and leaves the exposure's own value
    free to show another ``A``: an ``A`` ten percent off moves quadrants by
    ten percent of their spread, as much one way as the other. On the default
    night this takes the exposures' scatter about the night's model from
    2.8 ppm (the plain median) to 0.7.

    Parameters
    ----------
    metrics : `~astropy.table.QTable`
        One exposure's quadrants: ``airmass``, ``zenith_scale`` (ppm), ``absent``.
    a, b : float
        erfa's refraction constants at the exposure's weather, ppm.

    Returns
    -------
    float
        NaN without a zenith-relative scale.
    """
    present = ~np.asarray(metrics["absent"], bool)
    airmass = np.asarray(metrics["airmass"], float)
    values = u.Quantity(metrics["zenith_scale"], PPM).value
    usable = present & np.isfinite(values) & np.isfinite(airmass)
    if not usable.any():
        return np.nan
    centre = float(np.median(airmass[present & np.isfinite(airmass)]))
    beta = b / a if a > 0 else 0.0
    shift = a * (zenith_curve(airmass[usable], beta) - zenith_curve(centre, beta))
    return float(consensus(values[usable] - shift)[0])


def _robust_line(x, y, outlier, floor, rounds=5):
    """``y = intercept + slope x`` with outliers rejected (robust sigmas AND a floor).

    Started from the repeated-median line (so that one outlier among a few
    points cannot tilt it), then least squares on the points within
    ``max(outlier × robust sigma, floor)`` of the line, ``rounds`` times.

    Returns ``intercept, slope, kept, good, scatter`` (scatter: robust sigma of
    the kept residuals).
    """
    good = np.isfinite(x) & np.isfinite(y)
    if good.sum() >= 3:
        intercept, slope = _repeated_median(x[good], y[good])
    elif good.any():
        intercept, slope = float(np.median(y[good])), 0.0
    else:
        return np.nan, np.nan, good, good, np.nan
    keep = good.copy()
    for _ in range(rounds):
        residual = y - (intercept + slope * x)
        scatter = MAD_SIGMA * np.median(np.abs(residual[keep])) if keep.sum() >= 3 else 0.0
        keep = good & (np.abs(residual) <= max(outlier * scatter, floor))
        if keep.sum() >= 3:
            slope, intercept = np.polyfit(x[keep], y[keep], 1)
        elif keep.any():
            slope, intercept = 0.0, float(np.median(y[keep]))
    residual = y - (intercept + slope * x)
    scatter = MAD_SIGMA * np.median(np.abs(residual[keep])) if keep.sum() >= 3 else 0.0
    keep = good & (np.abs(residual) <= max(outlier * scatter, floor))
    return float(intercept), float(slope), keep, good, scatter


def fit_refraction_model(exposures, config=None):
    """Fit the night's prior → solution scale change against airmass and mark outlying exposures.

    The mean pixel-scale change of an exposure would follow differential
    refraction, ``c0 + c1 (1 + X²)/2`` (percent), the isotropic part of a
    compression by ``A sec²z`` vertically and ``A`` horizontally, had the
    prior not carried it. With a refraction-aware prior ``c1`` is near zero;
    with one that ignores refraction and an exposure's own scale it is about
    +100 A ≈ +0.023 %.

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
    intercept, slope, keep, good, _ = _robust_line(
        x, y, config.refraction_outlier, config.refraction_floor
    )
    coefficients = (intercept, slope)
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


def fit_zenith_model(exposures, config=None):
    """Fit the night's pixel scale relative to the zenith against airmass; mark exposures off it.

    ``zenith_scale = c0 + A w g(X)`` (ppm), ``g`` = `zenith_curve` with each
    exposure's ``β = B/A`` from the weather (≈ (1 + X²)/2), where ``w`` is
    its predicted ``A`` over the night's median (1 when the weather and
    filter are the same all night), so that the fitted ``A`` is the night's
    at its median weather and the exposures in other filters or weather sit
    on the model too. ``c0`` is the prior camera's own scale error. The
    least-squares fit rejects exposures more than
    ``zenith_outlier`` robust sigmas AND ``zenith_floor`` ppm off, and
    repeats. Without three exposures with a zenith-relative scale spanning
    0.1 in airmass, ``A`` is NaN and no exposure is marked.

    Parameters
    ----------
    exposures : `~astropy.table.QTable`
        Columns ``airmass``, ``zenith_scale`` (ppm), and optionally
        ``a_predicted`` and ``b_predicted`` (ppm, erfa's at each exposure's weather).
    config : `QualityConfig`, optional

    Returns
    -------
    table : `~astropy.table.QTable`
        The input with ``zenith_model``, ``zenith_residual`` (ppm) and
        ``zenith_outlier``; ``meta["zenith_model"]``: ``c0``, ``A``,
        ``A_error``, ``A_predicted`` (ppm), ``beta`` (the night's median
        ``B/A``), ``exposures`` (fitted), ``outliers``, ``form`` and a ``note``.
    """
    config = config or QualityConfig()
    table = QTable(exposures, copy=True)
    airmass = np.asarray(table["airmass"], float)
    y = u.Quantity(table["zenith_scale"], PPM).value
    predicted, b = (
        u.Quantity(table[name], PPM).value
        if name in table.colnames
        else np.full(len(table), np.nan)
        for name in ("a_predicted", "b_predicted")
    )
    night = float(np.nanmedian(predicted)) if np.isfinite(predicted).any() else np.nan
    known = np.isfinite(predicted) & (predicted > 0)
    weight = np.where(known & (night > 0), predicted / night, 1.0)
    beta = np.where(known & np.isfinite(b), b / np.where(known, predicted, 1.0), 0.0)
    x = weight * zenith_curve(airmass, beta)
    usable = np.isfinite(x) & np.isfinite(y)
    note = ""
    if usable.sum() < 3 or np.ptp(airmass[usable]) < 0.1:
        note = (
            f"{int(usable.sum())} exposure(s) with a scale relative to the zenith"
            + (" (ZVACSCL missing from the others' .ahead)" if usable.sum() < len(table) else "")
            + ": too few, or too close in airmass, to fit A"
        )
        intercept = slope = error = np.nan
        keep, good = np.zeros(len(table), bool), usable
    else:
        intercept, slope, keep, good, _ = _robust_line(
            x, y, config.zenith_outlier, config.zenith_floor
        )
        error = _slope_error(x[keep], y[keep] - intercept - slope * x[keep])
    model = intercept + slope * x
    table["zenith_model"] = model * PPM
    table["zenith_residual"] = (y - model) * PPM
    table["zenith_outlier"] = good & ~keep & np.isfinite(model)
    table.meta["zenith_model"] = {
        "c0": float(intercept),
        "A": float(slope),
        "A_error": float(error),
        "A_predicted": night,
        "beta": float(np.median(beta)) if beta.size else 0.0,
        "exposures": int(keep.sum()),
        "outliers": [str(n) for n in np.asarray(table["exposure"])[table["zenith_outlier"]]],
        "form": "zenith_scale = c0 + A w [(1 + X**2)/2 + beta (3 t**2 + 4 t)/2], ppm; X airmass, "
        "t = X**2 - 1, w = a_predicted / A_predicted, beta = b_predicted / a_predicted",
        "note": note,
    }
    return table


def _slope_error(x, residual):
    """Standard error of a fitted slope from the residuals' own scatter."""
    if x.size < 3 or np.ptp(x) == 0:
        return np.nan
    scatter = np.sqrt(np.sum(residual**2) / (x.size - 2))
    return float(scatter / np.sqrt(np.sum((x - x.mean()) ** 2)))


def zenith_coefficients(exposures, config=None):
    """The zenith model of a per-exposure table read back from disk (dict as in `fit_zenith_model`).

    From the table's metadata when `fit_zenith_model` wrote it there, else
    fitted again; None when the table has no ``zenith_scale``.
    """
    model = exposures.meta.get("zenith_model")
    if isinstance(model, dict) and {"c0", "A"} <= set(model):
        return dict(model)
    if "zenith_scale" not in exposures.colnames:
        return None
    return dict(fit_zenith_model(exposures, config).meta["zenith_model"])
