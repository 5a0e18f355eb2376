"""The focal plane: quadrant outlines, values per quadrant, vector fields."""

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ztfnb.camera import FocalPlane

__all__ = ["draw_focal_plane", "draw_vectors", "new_axes"]


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
        collection.set_clim(vmin, vmax)
        ax.figure.colorbar(collection, ax=ax, label=label, shrink=0.8)
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
    ax.quiverkey(arrows, 0.9, -0.1, key * scale, f'{key:g}"', coordinates="axes", labelpos="E")
    return arrows
