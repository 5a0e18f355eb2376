"""Figures of a night's solution quality: focal-plane maps, residual vectors, scale against airmass."""

import textwrap

import astropy.units as u
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator

from ztfnb.camera import FocalPlane
from ztfnb.plots.camera import draw_focal_plane, draw_pixel_vectors, new_axes
from ztfnb.quality.night import rows_by_exposure
from ztfnb.quality.refraction import zenith_curve
from ztfnb.settings import PPM

_PPM = PPM  # one ppm unit for the package (ztfnb.settings)

__all__ = [
    "plot_flags",
    "plot_metric_focal_plane",
    "plot_quadrant_vectors",
    "plot_scale_airmass",
    "plot_worst_quadrants",
    "plot_zenith_scale",
]

_LABELS = {
    "badness": "badness (how far past the verdict's bars; > 1 flagged)",
    "chi2": "χ²/dof of the normalised residuals",
    "rms_ra": 'rms RA (")',
    "rms_dec": 'rms Dec (")',
    "offset": 'median offset (")',
    "corner_error": 'error at the worst corner (")',
    "scale_change": "pixel-scale change prior → solution (%)",
    "zenith_scale": "pixel scale relative to the zenith (ppm)",
    "corner_displacement": 'prior → solution at a corner (")',
    "matched_fraction": "matched fraction",
    "airmass": "airmass of the quadrant",
}


#: Badness below the verdict's bar in a map without reds (its darkest fifth cut, so that the
#: rcid labels stay readable), flagged quadrants in red.
_BADNESS_COLOURS = ListedColormap(colormaps["YlGnBu"](np.linspace(0.0, 0.8, 256))).with_extremes(
    over="C3"
)


def plot_metric_focal_plane(values, metric, exposure, highlight=None):
    """One exposure's quadrants coloured by a metric; the selected quadrant outlined."""
    figure, ax = new_axes(6.5, 6)
    if metric == "badness":
        # the verdict's own scale, 0 to its bar at 1, and flagged quadrants in red beyond it:
        # limits from the values would draw a good 0.9 as dark as a flagged 5
        style = {"cmap": _BADNESS_COLOURS, "vmin": 0.0, "vmax": 1.0}
    else:
        style = {"cmap": "viridis"}
    draw_focal_plane(ax, values=values, label=_LABELS.get(metric, metric), **style)
    if highlight is not None:
        corners = FocalPlane.nominal()[int(highlight)].corners_focal()
        ax.plot(*np.vstack([corners, corners[:1]]).T, color="k", lw=2.5)
    ax.set_title(exposure, fontsize=9)
    return figure


def _draw_residuals(ax, pairs, bin_pixels):
    """A quadrant's star-level residuals as binned vectors in the pixel frame, or say there are none."""
    if pairs is None or not len(pairs):
        ax.text(0.5, 0.5, "no matched stars", transform=ax.transAxes, ha="center")
        return
    draw_pixel_vectors(
        ax,
        pairs["x"].value,
        pairs["y"].value,
        pairs["dra"].value,
        pairs["ddec"].value,
        bin_pixels,
    )


def plot_quadrant_vectors(pairs, row, bin_pixels=256):
    """Residuals (Gaia − solution) of one quadrant, with the verdict and the corner errors."""
    figure, ax = new_axes(6.5, 6)
    title = f"{row['exposure']} rcid {row['rcid']}"
    _draw_residuals(ax, pairs, bin_pixels)
    reason = textwrap.fill(str(row["reason"]) or "no flag", 80)
    ax.set_title(f"{title}\n{reason}", fontsize=9)
    return figure


def _draw_prior_scale(ax, exposures, coefficients, highlight):
    airmass = np.asarray(exposures["airmass"], float)
    change = u.Quantity(exposures["scale_change"], u.percent).value
    outlier = (
        np.asarray(exposures["refraction_outlier"], bool)
        if "refraction_outlier" in exposures.colnames
        else np.zeros(len(exposures), bool)
    )
    ax.plot(airmass[~outlier], change[~outlier], "o", color="C0", label="exposures")
    if outlier.any():
        ax.plot(airmass[outlier], change[outlier], "o", color="C3", label="off the model")
    if coefficients is not None and np.all(np.isfinite(coefficients)):
        grid = np.linspace(1.0, max(2.3, np.nanmax(airmass)), 100)
        ax.plot(
            grid,
            coefficients[0] + coefficients[1] * (1 + grid**2) / 2,
            color="0.4",
            label="refraction model",
        )
    if highlight is not None:
        rows = np.asarray(exposures["exposure"]) == highlight
        ax.plot(airmass[rows], change[rows], "o", mfc="none", mec="k", ms=14, label="selected")
    ax.set_xlabel("airmass")
    ax.set_ylabel("pixel-scale change prior → solution (%)")
    ax.legend(fontsize=8)


def _zenith_points(exposures):
    """Airmass, the scales brought to the night's median weather, outliers, and the model (ppm)."""
    airmass = np.asarray(exposures["airmass"], float)
    scale = u.Quantity(exposures["zenith_scale"], _PPM).value
    model = exposures.meta.get("zenith_model") or {}
    outlier = (
        np.asarray(exposures["zenith_outlier"], bool)
        if "zenith_outlier" in exposures.colnames
        else np.zeros(len(exposures), bool)
    )
    c0, night = float(model.get("c0", np.nan)), float(model.get("A_predicted", np.nan))
    if np.isfinite(c0) and np.isfinite(night) and "a_predicted" in exposures.colnames:
        # the model gives each exposure its own weather's A: shown at the night's median one
        own = u.Quantity(exposures["a_predicted"], _PPM).value
        scale = np.where(own > 0, c0 + (scale - c0) * night / own, scale)
    return airmass, scale, outlier, model


def _draw_zenith_scale(ax, exposures, highlight):
    """Each exposure's pixel scale relative to the zenith, with the fitted and predicted models."""
    airmass, scale, outlier, model = _zenith_points(exposures)
    if not np.isfinite(scale).any():
        ax.text(
            0.5,
            0.5,
            "no pixel scale relative to the zenith:\nthe .ahead files have no ZVACSCL",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
        ax.set_xlabel("airmass")
        return
    label = "exposures (at the night's median weather)"
    ax.plot(airmass[~outlier], scale[~outlier], "o", color="C0", label=label)
    if outlier.any():
        ax.plot(airmass[outlier], scale[outlier], "o", color="C3", label="off the model")
    grid = np.linspace(1.0, max(2.3, np.nanmax(airmass)), 100)
    curve = zenith_curve(grid, float(model.get("beta", 0.0)))
    c0, fitted, predicted = (float(model.get(k, np.nan)) for k in ("c0", "A", "A_predicted"))
    if np.isfinite(fitted):
        error = float(model.get("A_error", np.nan))
        ax.plot(
            grid,
            c0 + fitted * curve,
            color="0.3",
            label=f"fitted: c0 + A (1 + X²)/2, A = {fitted:.1f} ± {error:.1f} ppm",
        )
    if np.isfinite(predicted):
        ax.plot(
            grid,
            (c0 if np.isfinite(c0) else 0.0) + predicted * curve,
            color="C2",
            ls="--",
            label=f"weather (erfa): A = {predicted:.1f} ppm",
        )
    if highlight is not None:
        rows = np.asarray(exposures["exposure"]) == highlight
        ax.plot(airmass[rows], scale[rows], "o", mfc="none", mec="k", ms=14, label="selected")
    ax.set_xlabel("airmass")
    ax.set_ylabel("pixel scale relative to the zenith (ppm)")
    ax.legend(fontsize=8)


def plot_zenith_scale(exposures, highlight=None):
    """Pixel scale relative to the zenith against airmass: the night's ``A`` fitted and from the weather.

    Each exposure's solutions over the prior's camera alone in a vacuum
    (``zenith_scale``), which differential refraction makes
    ``c0 + A (1 + X²)/2`` (and a small ``B tan³z`` term,
    `~ztfnb.quality.refraction.zenith_curve`). The model gives each exposure
    the ``A`` of its own weather and filter; the points are shown at the
    night's median weather, with the fitted curve and erfa's ``A`` for that
    weather (with the fitted ``c0``). Below, each exposure's departure from
    the model, and the floor an outlier must pass.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 5.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    _draw_zenith_scale(top, exposures, highlight)
    top.set_xlabel("")
    airmass, _, outlier, _ = _zenith_points(exposures)
    residual = (
        u.Quantity(exposures["zenith_residual"], _PPM).value
        if "zenith_residual" in exposures.colnames
        else np.full(len(exposures), np.nan)
    )
    floor = str(exposures.meta.get("verdict", {}).get("zenith_floor", "")).split()
    if floor and floor[0].replace(".", "", 1).isdigit():
        bottom.axhspan(-float(floor[0]), float(floor[0]), color="0.92", label="floor")
    bottom.axhline(0, color="0.3", lw=0.8)
    bottom.plot(airmass[~outlier], residual[~outlier], "o", color="C0", ms=4)
    bottom.plot(airmass[outlier], residual[outlier], "o", color="C3", ms=4)
    bottom.set_xlabel("airmass")
    bottom.set_ylabel("off the model (ppm)")
    return figure


def plot_scale_airmass(exposures, coefficients=None, highlight=None):
    """Pixel scale against airmass: prior → solution with its model, and relative to the zenith.

    The second panel (`plot_zenith_scale`) is drawn when the table has
    ``zenith_scale``.
    """
    from matplotlib.figure import Figure

    zenith = "zenith_scale" in exposures.colnames
    figure = Figure(figsize=(12.5 if zenith else 6.5, 4.2), layout="constrained")
    axes = figure.subplots(1, 2 if zenith else 1, squeeze=False)[0]
    _draw_prior_scale(axes[0], exposures, coefficients, highlight)
    if zenith:
        _draw_zenith_scale(axes[1], exposures, highlight)
    return figure


def plot_flags(quadrants):
    """Flagged quadrants per exposure."""
    figure, ax = new_axes(7, 3.2)
    names = list(dict.fromkeys(np.asarray(quadrants["exposure"]).astype(str)))
    rows_of, flags = rows_by_exposure(quadrants), np.asarray(quadrants["flag"], bool)
    counts = [int(flags[rows_of[name]].sum()) for name in names]
    ax.bar(range(len(names)), counts, color="C3")
    ax.set_xticks(range(len(names)))
    # the whole name: a cut one ("7120340_000804_zi") matches nothing a user types or greps
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of quadrants
    ax.set_ylabel("flagged quadrants")
    return figure


def plot_worst_quadrants(matches, rows, bin_pixels=384):
    """Residual vectors of several quadrants side by side (``matches(exposure)`` gives the pairs)."""
    from matplotlib.figure import Figure

    count = max(len(rows), 1)
    columns = min(count, 2)
    figure = Figure(figsize=(6 * columns, 5.6 * ((count + 1) // 2)), layout="constrained")
    for index, row in enumerate(rows):
        ax = figure.add_subplot((count + 1) // 2, columns, index + 1)
        pairs = matches(str(row["exposure"]))
        _draw_residuals(ax, pairs[np.asarray(pairs["rcid"]) == row["rcid"]], bin_pixels)
        ax.set_title(f"{row['exposure']} rcid {row['rcid']}\n{str(row['reason'])[:80]}", fontsize=8)
    return figure
