"""The doubling map of a co-add: its regions coloured by how doubled their stars are."""

import numpy as np
from matplotlib.collections import PolyCollection

from ztfnb.plots.camera import new_axes

__all__ = ["draw_doubling_map", "plot_doubling_map"]

#: What each quantity is called on the colour bar, the least top of its scale (the
#: scale never shrinks below it, so noise — a clean co-add's smear of 0.1–0.4″, its
#: ellipticities of a few per cent — reads as small rather than filling the colours),
#: and the verdict's bar on it (a key of the regions' meta), drawn on the colour bar.
_QUANTITIES = {
    "fraction_doubled": ("fraction of stars doubled", 1.0, "min_fraction"),
    "median_smear": ('median smear: separation of two equal images (")', 1.0, "min_median_smear"),
    "median_ellipticity": ("median ellipticity (a − b)/(a + b)", 0.2, None),
}


def draw_doubling_map(ax, doubling, quantity="fraction_doubled", stars=True):
    """Draw the regions of a co-add coloured by a doubling quantity, with a colour bar.

    Parameters
    ----------
    ax : `~matplotlib.axes.Axes`
    doubling : `~ztfnb.doubling.Doubling`
    quantity : {"fraction_doubled", "median_smear", "median_ellipticity"}
    stars : bool
        Mark the measured stars: doubled ones as red crosses, the others as grey dots.

    Returns
    -------
    `~matplotlib.collections.PolyCollection`

    Raises
    ------
    ValueError
        An unknown quantity, naming the known ones.
    """
    if quantity not in _QUANTITIES:
        raise ValueError(f"quantity: {quantity!r} is none of {sorted(_QUANTITIES)}")
    label, least_top, bar = _QUANTITIES[quantity]
    regions = doubling.regions
    polygons = [regions.meta["polygons"][name] for name in regions["region"]]
    values = np.asarray(getattr(regions[quantity], "value", regions[quantity]), float)
    collection = PolyCollection(polygons, edgecolors="0.4", linewidths=0.6, cmap="magma_r")
    collection.set_array(np.ma.masked_invalid(values))
    top = max(least_top, float(np.nanmax(values, initial=0.0)))
    if quantity == "fraction_doubled":
        top = 1.0
    collection.set_clim(0.0, top)
    ax.add_collection(collection)
    colourbar = ax.figure.colorbar(collection, ax=ax, label=label, shrink=0.8)
    if bar in regions.meta:
        level = float(getattr(regions.meta[bar], "value", regions.meta[bar]))
        colourbar.ax.axhline(level, color="C3", lw=2)
        colourbar.set_label(f"{label}; red: the verdict's bar")
    for polygon, row in zip(polygons, regions, strict=True):
        if row["doubled"]:
            ax.plot(*np.vstack([polygon, polygon[:1]]).T, color="C3", lw=2.5)
        centre = polygon.mean(axis=0)
        text = f"{row['n_stars']} stars" if row["verdict"] != "too few stars" else "too few"
        ax.text(
            *centre,
            text,
            ha="center",
            va="center",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1},
        )
    if stars and len(doubling.stars):
        flagged = np.asarray(doubling.stars["doubled"], bool)
        x, y = np.asarray(doubling.stars["x"]), np.asarray(doubling.stars["y"])
        ax.plot(x[~flagged], y[~flagged], ".", color="0.5", ms=2, label="star")
        ax.plot(x[flagged], y[flagged], "x", color="C3", ms=4, label="doubled star")
        # below the map: a corner is where doubling shows first
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=7)
    ny, nx = doubling.shape
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (co-add pixel)")
    ax.set_ylabel("y (co-add pixel)")
    return collection


def plot_doubling_map(doubling, quantity="fraction_doubled", title=None):
    """A co-add's doubling map: regions coloured by a quantity, doubled regions outlined in red.

    Parameters
    ----------
    doubling : `~ztfnb.doubling.Doubling`
        From `~ztfnb.doubling.measure_doubling`.
    quantity : {"fraction_doubled", "median_smear", "median_ellipticity"}
    title : str, optional
        Default: the regions judged doubled, or "no doubled region".

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    figure, ax = new_axes(6.5, 6)
    draw_doubling_map(ax, doubling, quantity)
    if title is None:
        names = doubling.doubled_regions
        title = f"doubled: {', '.join(names)}" if names else "no doubled region"
    ax.set_title(title, fontsize=9)
    return figure
