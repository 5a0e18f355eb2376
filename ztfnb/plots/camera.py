"""The focal plane: quadrant outlines, values per quadrant, vector fields."""

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ztfnb.camera import FocalPlane

__all__ = [
    "binned_means",
    "draw_focal_plane",
    "draw_pixel_vectors",
    "draw_vectors",
    "new_axes",
    "robust_limits",
    "vector_key",
]


def robust_limits(values, zero=False, spread=6.0):
    """Colour limits that neither one outlier nor noise decides.

    The limits span the values within ``spread`` robust sigmas (1.4826 × MAD)
    of the median, so a single wild value saturates (the colour bar gets an
    arrow) instead of flattening everything else; with ``zero``, a
    non-negative quantity (an rms, a count) starts at 0, so noise around a
    level reads as small differences rather than as structure.

    Parameters
    ----------
    values : array-like
    zero : bool
    spread : float

    Returns
    -------
    vmin, vmax : float or None
        None where there are no finite values.
    extend : str
        For the colour bar: "neither", "min", "max" or "both".
    """
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None, None, "neither"
    median = float(np.median(finite))
    sigma = 1.4826 * float(np.median(np.abs(finite - median)))
    inside = finite[np.abs(finite - median) <= spread * sigma] if sigma > 0 else finite
    vmin, vmax = float(inside.min()), float(inside.max())
    if zero and vmin >= 0:
        vmin = 0.0
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5 * abs(vmin or 1), vmax + 0.5 * abs(vmax or 1)
    below, above = bool(np.any(finite < vmin)), bool(np.any(finite > vmax))
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )
    return vmin, vmax, extend


def vector_key(ax, arrows, length, label):
    """A scale arrow inside the axes, in a strip added below the data so it covers nothing.

    Matplotlib's quiver key drawn outside the axes is cut off by the figure's
    layout; here the lower y limit is moved down by 12 % of the range (an
    inverted axis too) and the key sits in that strip, on a white box.
    """
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom - 0.12 * (top - bottom), top)
    key = ax.quiverkey(
        arrows,
        0.08,
        0.045,
        length,
        label,
        coordinates="axes",
        labelpos="E",
        fontproperties={"size": 9},
        zorder=6,
    )
    key.text.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 1})
    return key


def new_axes(width=7.0, height=6.5, **subplot):
    """A fresh figure and axes, outside pyplot."""
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot(**subplot)


def draw_focal_plane(
    ax, values=None, focal_plane=None, cmap="viridis", label="", labels=True, vmin=None, vmax=None
):
    """Draw the 64 quadrants on the sky's orientation (North up, East left).

    Parameters
    ----------
    ax : `~matplotlib.axes.Axes`
    values : array-like of 64 floats, optional
        Colour per quadrant (NaN drawn hollow); outlines only when omitted.
    focal_plane : `~ztfnb.camera.FocalPlane`, optional
        Default: the nominal layout.
    cmap : str
    label : str
        Colour-bar label.
    labels : bool
        Write each quadrant's rcid.
    vmin, vmax : float, optional
        Default: `robust_limits` of the values.

    Returns
    -------
    `~matplotlib.collections.PolyCollection`
    """
    focal_plane = focal_plane or FocalPlane.nominal()
    polygons = [q.corners_focal() for q in focal_plane]
    collection = PolyCollection(polygons, edgecolors="0.3", linewidths=0.6)
    if values is None:
        collection.set_facecolor("none")
    else:
        values = np.ma.masked_invalid(np.asarray(values, float))
        collection.set_array(values)
        collection.set_cmap(cmap)
        low, high, _ = robust_limits(values.filled(np.nan))
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
        collection.set_clim(vmin, vmax)
        extend = _extend(values.compressed(), vmin, vmax)
        ax.figure.colorbar(collection, ax=ax, label=label, shrink=0.8, extend=extend)
    ax.add_collection(collection)
    if labels:
        for q in focal_plane:
            ax.text(*q.center, str(q.rcid), ha="center", va="center", fontsize=7, color="0.15")
    limit = np.abs(np.concatenate(polygons)).max() * 1.05
    ax.set_xlim(limit, -limit)  # East to the left
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("u (deg, East)")
    ax.set_ylabel("v (deg, North)")
    return collection


def draw_vectors(ax, u_deg, v_deg, du_arcsec, dv_arcsec, key=None, length_deg=0.3, color="C3"):
    """Displacement vectors on the focal plane, with a key arrow in arcseconds.

    Vectors are scaled so that the 95th-percentile one is ``length_deg`` long
    on the plot; ``key`` (arcseconds) defaults to a round number near it.
    """
    du_arcsec = np.asarray(du_arcsec, float)
    dv_arcsec = np.asarray(dv_arcsec, float)
    typical = float(np.nanpercentile(np.hypot(du_arcsec, dv_arcsec), 95)) if du_arcsec.size else 1.0
    typical = typical if typical > 0 else 1.0
    if key is None:
        key = float(f"{typical:.1g}")
    scale = length_deg / typical
    arrows = ax.quiver(
        u_deg,
        v_deg,
        du_arcsec * scale,
        dv_arcsec * scale,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=color,
        width=0.0025,
    )
    vector_key(ax, arrows, key * scale, _arcsec_label(key))
    return arrows


def _extend(values, vmin, vmax):
    values = np.asarray(values, float)
    below = vmin is not None and bool(np.any(values < vmin))
    above = vmax is not None and bool(np.any(values > vmax))
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def binned_means(x, y, dx, dy, edges_x, edges_y, minimum=5):
    """Mean of (dx, dy) in the cells of a grid, for cells with at least ``minimum`` points.

    Returns
    -------
    cx, cy, mx, my : `~numpy.ndarray`
        Cell centres and means.
    """
    sums_x, _, _ = np.histogram2d(x, y, bins=[edges_x, edges_y], weights=dx)
    sums_y, _, _ = np.histogram2d(x, y, bins=[edges_x, edges_y], weights=dy)
    counts, _, _ = np.histogram2d(x, y, bins=[edges_x, edges_y])
    centres = np.meshgrid(
        (edges_x[:-1] + edges_x[1:]) / 2, (edges_y[:-1] + edges_y[1:]) / 2, indexing="ij"
    )
    good = counts >= minimum
    with np.errstate(invalid="ignore"):
        return centres[0][good], centres[1][good], (sums_x / counts)[good], (sums_y / counts)[good]


def draw_pixel_vectors(ax, x, y, dx_arcsec, dy_arcsec, bin_pixels=256, color="C3"):
    """Mean residual vectors of one quadrant in its pixel frame, outline and corners marked."""
    from ztfnb.camera import NAXIS1, NAXIS2

    edges_x = np.arange(0.5, NAXIS1 + bin_pixels, bin_pixels)
    edges_y = np.arange(0.5, NAXIS2 + bin_pixels, bin_pixels)
    cx, cy, mx, my = binned_means(x, y, dx_arcsec, dy_arcsec, edges_x, edges_y)
    typical = float(np.percentile(np.hypot(mx, my), 95)) if mx.size else 1.0
    typical = typical if typical > 0 else 1.0
    scale = 0.3 * bin_pixels / typical
    arrows = ax.quiver(
        cx,
        cy,
        mx * scale,
        my * scale,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=color,
        width=0.004,
    )
    key = float(f"{typical:.1g}")
    outline = np.array(
        [
            [0.5, 0.5],
            [NAXIS1 + 0.5, 0.5],
            [NAXIS1 + 0.5, NAXIS2 + 0.5],
            [0.5, NAXIS2 + 0.5],
            [0.5, 0.5],
        ]
    )
    ax.plot(outline[:, 0], outline[:, 1], color="0.3")
    ax.plot(outline[:4, 0], outline[:4, 1], "ks", ms=6)
    ax.set_xlim(-100, NAXIS1 + 100)
    ax.set_ylim(NAXIS2 + 100, -100)
    ax.set_aspect("equal")
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    vector_key(ax, arrows, key * scale, _arcsec_label(key))
    return arrows


def _arcsec_label(value):
    """A key's label: mas below 1″."""
    return f"{value * 1000:g} mas" if value < 1 else f'{value:g}"'
