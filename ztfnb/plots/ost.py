"""Figures of the OST simulator: the observed spectrum with its noise, detectability over redshift."""

import astropy.units as u
import numpy as np
from matplotlib.colors import LogNorm

from ztfnb.plots.camera import new_axes

__all__ = ["draw_spectrum", "plot_detectability", "plot_spectrum"]


def draw_spectrum(ax, observation, instrument=None):
    """The regridded spectrum, its 1σ and 5σ noise, and the lines marked (detected in colour)."""
    spectrum = observation.spectrum
    wavelength = spectrum["wavelength"].to_value(u.um)
    ax.clear()
    for band in np.unique(spectrum["band"]):
        rows = spectrum["band"] == band
        ax.step(
            wavelength[rows],
            spectrum["flux_density"][rows].to_value(u.mJy),
            where="mid",
            color="k",
            lw=0.8,
            label="source" if band == 0 else None,
        )
        ax.plot(
            wavelength[rows],
            spectrum["noise"][rows].to_value(u.mJy),
            color="C0",
            lw=0.8,
            label="1σ noise" if band == 0 else None,
        )
        ax.plot(
            wavelength[rows],
            5 * spectrum["noise"][rows].to_value(u.mJy),
            color="C0",
            lw=0.8,
            ls="--",
            label="5σ" if band == 0 else None,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    top = np.nanmax(spectrum["flux_density"].to_value(u.mJy))
    ax.set_ylim(max(np.nanmin(spectrum["noise"].to_value(u.mJy)) / 3, top * 1e-5), top * 4)
    ax.set_xlim(wavelength.min() * 0.95, wavelength.max() * 1.05)
    artists = []
    for row in observation.lines:
        if not row["in_band"]:
            continue
        x = row["observed_wavelength"].to_value(u.um)
        colour = "C3" if row["detected"] else "0.6"
        artists.append(
            ax.axvline(x, color=colour, lw=0.7, alpha=0.7, picker=4, gid=str(row["line"]))
        )
        ax.text(
            x,
            top * 2.5,
            str(row["line"]),
            rotation=90,
            fontsize=7,
            va="top",
            ha="right",
            color=colour,
        )
    ax.set_xlabel("observed wavelength (µm)")
    ax.set_ylabel("flux density (mJy)")
    ax.legend(fontsize=8, loc="lower right")
    return artists


def plot_spectrum(observation, title=""):
    """A figure of `draw_spectrum`."""
    figure, ax = new_axes(9, 4.5)
    draw_spectrum(ax, observation)
    ax.set_title(title, fontsize=9)
    return figure


def plot_detectability(table):
    """Time to reach 5σ for each line over redshift (white: outside the bands or beyond 100 h)."""
    second = 1 / 3600
    figure, ax = new_axes(9, 5)
    redshift = np.asarray(table.meta["redshift"])
    hours = table["time"].to_value(u.h)
    masked = np.ma.masked_where(~np.isfinite(hours) | (hours > 100), hours)
    mesh = ax.pcolormesh(
        redshift,
        np.arange(len(table)),
        masked,
        norm=LogNorm(second, 100),
        cmap="viridis_r",
        shading="nearest",
    )
    figure.colorbar(mesh, ax=ax, label="time to 5σ (h)")
    levels = [1 / 60, 1 / 6, 1, 10]
    if np.isfinite(masked).any():
        ax.contour(
            redshift,
            np.arange(len(table)),
            masked.filled(np.nan),
            levels=levels,
            colors="w",
            linewidths=0.8,
        )
    ax.set_yticks(np.arange(len(table)))
    ax.set_yticklabels(table["line"], fontsize=7)
    ax.set_xlabel("redshift")
    ax.set_title(
        "Integration time for a 5σ line detection (contours: 1 min, 10 min, 1 h, 10 h)", fontsize=9
    )
    return figure
