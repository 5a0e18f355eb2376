"""Figures of the OST simulator: the observed spectrum with its noise, detectability over redshift."""

import astropy.units as u
import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm
from matplotlib.ticker import FuncFormatter, NullFormatter

from ztfnb.plots.camera import new_axes

__all__ = ["SpectrumPlot", "draw_spectrum", "plot_detectability", "plot_spectrum"]


def _plain(value, position=None):
    return f"{value:g}"


def _plain_2_3_5(value, position=None):
    """Labels for the minor ticks at 2, 3 and 5 times a power of ten."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (2, 3, 5) else ""


class SpectrumPlot:
    """The observed spectrum with its 1σ and 5σ noise and the lines marked (detected in colour).

    Built on the first `update`; later updates move the existing artists
    rather than clearing the axes, so that redrawing follows a slider
    (clearing re-creates every tick and costs more than the drawing).

    Parameters
    ----------
    ax : `~matplotlib.axes.Axes`
    """

    def __init__(self, ax):
        self.ax = ax
        self._shape = None
        self._curves = []
        self._markers = []

    def _build(self, bands, line_names):
        ax = self.ax
        ax.clear()
        self._curves = []
        for index in range(len(bands)):
            label = index == 0
            self._curves.append(
                (
                    ax.step(
                        [], [], where="mid", color="k", lw=0.8, label="source" if label else None
                    )[0],
                    ax.plot([], [], color="C0", lw=0.8, label="1σ noise" if label else None)[0],
                    ax.plot([], [], color="C0", lw=0.8, ls="--", label="5σ" if label else None)[0],
                )
            )
        self._markers = [
            (
                ax.axvline(1.0, lw=0.7, alpha=0.7, picker=4, gid=name, visible=False),
                ax.text(
                    1.0, 1.0, name, rotation=90, fontsize=7, va="top", ha="right", visible=False
                ),
            )
            for name in line_names
        ]
        ax.set_xscale("log")
        ax.set_yscale("log")
        # plain-text tick labels: mathtext ones cost a parse for each new label,
        # most of a redraw's time when the limits move with a slider
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
        ax.xaxis.set_minor_formatter(FuncFormatter(_plain_2_3_5))
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("observed wavelength (µm)")
        ax.set_ylabel("flux density (mJy)")
        ax.legend(fontsize=8, loc="lower right")
        self._shape = (tuple(bands), tuple(line_names))

    def update(self, observation):
        """Show an observation (`~ztfnb.ost.observe.Observation`); returns the visible line markers."""
        spectrum = observation.spectrum
        wavelength = spectrum["wavelength"].to_value(u.um)
        flux = spectrum["flux_density"].to_value(u.mJy)
        noise = spectrum["noise"].to_value(u.mJy)
        bands = [int(band) for band in np.unique(spectrum["band"])]
        names = [str(name) for name in observation.lines["line"]]
        if self._shape != (tuple(bands), tuple(names)):
            self._build(bands, names)
        for band, (source, sigma, five_sigma) in zip(bands, self._curves, strict=True):
            rows = np.asarray(spectrum["band"]) == band
            source.set_data(wavelength[rows], flux[rows])
            sigma.set_data(wavelength[rows], noise[rows])
            five_sigma.set_data(wavelength[rows], 5 * noise[rows])
        top = np.nanmax(flux)
        self.ax.set_ylim(max(np.nanmin(noise) / 3, top * 1e-5), top * 4)
        self.ax.set_xlim(wavelength.min() * 0.95, wavelength.max() * 1.05)
        shown = []
        for row, (marker, label) in zip(observation.lines, self._markers, strict=True):
            visible = bool(row["in_band"])
            marker.set_visible(visible)
            label.set_visible(visible)
            if not visible:
                continue
            x = row["observed_wavelength"].to_value(u.um)
            colour = "C3" if row["detected"] else "0.6"
            marker.set_xdata([x, x])
            marker.set_color(colour)
            label.set_position((x, top * 2.5))
            label.set_color(colour)
            shown.append(marker)
        return shown


def draw_spectrum(ax, observation, instrument=None):
    """The regridded spectrum, its 1σ and 5σ noise, and the lines marked (detected in colour)."""
    return SpectrumPlot(ax).update(observation)


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
    # per line, not across lines: each row is one line, so a contour between rows would
    # interpolate between different lines; the crossings are marked on each row instead
    levels = {"1 min": 1 / 60, "10 min": 1 / 6, "1 h": 1.0, "10 h": 10.0}
    sizes = {"1 min": 5, "10 min": 8, "1 h": 12, "10 h": 16}
    log_hours = np.log10(masked.filled(np.nan))
    for label, level in levels.items():
        z_cross, rows = [], []
        for row in range(len(table)):
            values = log_hours[row]
            for i in range(len(values) - 1):
                a, b = values[i], values[i + 1]
                if (
                    np.isfinite(a)
                    and np.isfinite(b)
                    and (a - np.log10(level)) * (b - np.log10(level)) < 0
                ):
                    t = (np.log10(level) - a) / (b - a)
                    z_cross.append(redshift[i] + t * (redshift[i + 1] - redshift[i]))
                    rows.append(row)
        ax.plot(
            z_cross,
            rows,
            ls="none",
            marker="|",
            ms=sizes[label],
            mew=1.6,
            color="k",
            # a white rim keeps the tick visible on the yellow (fast) and the dark (slow) cells
            path_effects=[patheffects.withStroke(linewidth=3.2, foreground="w")],
            label=f"reaches {label}",
        )
    ax.set_yticks(np.arange(len(table)))
    ax.set_yticklabels(table["line"], fontsize=7)
    ax.set_xlabel("redshift")
    ax.set_title(
        "Integration time for a 5σ detection, per line (ticks: where it crosses 1 min, 10 min, 1 h, 10 h)",
        fontsize=9,
    )
    if any(line.get_xdata().size for line in ax.lines):
        # below the axes, inside the figure (constrained layout makes room): a key in the
        # axes would cover the lines' rows
        figure.legend(fontsize=7, loc="outside lower center", ncol=4, facecolor="0.85")
    return figure
