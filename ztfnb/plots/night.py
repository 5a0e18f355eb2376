"""Figures of a night: pointings, airmass through the night, detections, distortion."""

import astropy.units as u
import numpy as np
from astropy.time import Time

from ztfnb.plots.camera import draw_focal_plane, draw_vectors, new_axes

__all__ = [
    "plot_airmass_sequence",
    "plot_distortion_field",
    "plot_focal_plane",
    "plot_pointings",
    "plot_quadrant_values",
]


def _thin_to_grid(u_deg, v_deg, spacing):
    """Indices of one point per cell of a square grid, so that vector plots stay legible."""
    cells = np.column_stack([np.floor(u_deg / spacing), np.floor(v_deg / spacing)])
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(first)


def plot_focal_plane(focal_plane=None):
    """The 64 readout quadrants, labelled with their rcid (CCD 1 bottom right... on the sky)."""
    figure, ax = new_axes()
    draw_focal_plane(ax, focal_plane=focal_plane)
    ax.set_title("ZTF focal plane: readout quadrants (rcid)")
    return figure


def plot_pointings(exposures):
    """Where the night's exposures point, on an all-sky map coloured by airmass."""
    figure, ax = new_axes(8, 4.8, projection="mollweide")
    ra = np.asarray(u.Quantity(exposures["telrad"], u.deg).value)
    dec = np.asarray(u.Quantity(exposures["teldecd"], u.deg).value)
    longitude = -np.deg2rad((ra + 180) % 360 - 180)  # East to the left
    points = ax.scatter(
        longitude,
        np.deg2rad(dec),
        c=np.asarray(exposures["airmass"], float),
        cmap="plasma",
        s=60,
        edgecolors="k",
    )
    for lon, lat, kind in zip(longitude, np.deg2rad(dec), exposures["kind"], strict=True):
        if kind != "survey":
            ax.annotate(
                kind, (lon, lat), xytext=(0, 9), textcoords="offset points", fontsize=8, ha="center"
            )
    ax.set_xticks(np.deg2rad([-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150]))
    ax.set_xticklabels(
        ["150°", "120°", "90°", "60°", "30°", "0°", "330°", "300°", "270°", "240°", "210°"],
        fontsize=7,
    )
    ax.grid(True, alpha=0.4)
    figure.colorbar(points, ax=ax, label="airmass", shrink=0.7)
    ax.set_title("Pointings (RA increasing to the left)", pad=16)
    return figure


def plot_airmass_sequence(exposures):
    """Airmass of each exposure through the night, by filter."""
    figure, ax = new_axes(7, 3.5)
    times = Time(np.asarray(u.Quantity(exposures["obsmjd"], u.day).value), format="mjd")
    hours = (times.mjd - np.floor(times.mjd.min())) * 24
    for band, colour in (("zg", "C2"), ("zr", "C3"), ("zi", "C1")):
        rows = np.asarray(exposures["filter"]) == band
        ax.plot(
            hours[rows],
            np.asarray(exposures["airmass"], float)[rows],
            "o",
            color=colour,
            label=band,
        )
    ax.invert_yaxis()
    ax.set_xlabel(f"UT hours from {times.min().iso[:10]}")
    ax.set_ylabel("airmass")
    ax.legend()
    return figure


def plot_quadrant_values(values, title, label):
    """One value per quadrant on the focal plane (NaN: missing quadrant)."""
    figure, ax = new_axes()
    draw_focal_plane(ax, values=values, label=label)
    ax.set_title(title)
    return figure


def plot_distortion_field(field, title="", key=None):
    """Vectors of the non-affine part of the true mapping (`ztfnb.analyses.night.distortion_field`)."""
    figure, ax = new_axes()
    draw_focal_plane(ax, labels=False)
    thinned = _thin_to_grid(
        u.Quantity(field["u"], u.deg).value, u.Quantity(field["v"], u.deg).value, spacing=0.3
    )
    draw_vectors(
        ax,
        u.Quantity(field["u"], u.deg).value[thinned],
        u.Quantity(field["v"], u.deg).value[thinned],
        u.Quantity(field["du"], u.arcsec).value[thinned],
        u.Quantity(field["dv"], u.arcsec).value[thinned],
        key=key,
    )
    peak = np.max(
        np.hypot(u.Quantity(field["du"], u.arcsec).value, u.Quantity(field["dv"], u.arcsec).value)
    )
    ax.set_title(title or f'Distortion beyond an affine map (largest {peak:.2f}")')
    return figure
