"""Figures of light-travel-time corrections."""

import astropy.units as u
import numpy as np
from matplotlib.figure import Figure

from ztfnb.plots.camera import new_axes, robust_limits
from ztfnb.tangent import gnomonic

__all__ = ["plot_corrections", "plot_folded", "plot_grid_error", "plot_timings"]


def plot_corrections(times, correction, label="heliocentric"):
    """The correction through the season for the field's first sources."""
    figure, ax = new_axes(7, 3.5)
    days = times.utc.mjd - times.utc.mjd.min()
    seconds = u.Quantity(correction, u.s).value
    ax.plot(days, seconds[:, :5], ".", ms=3)
    ax.set_xlabel(f"days from MJD {times.utc.mjd.min():.1f}")
    ax.set_ylabel(f"{label} correction (s)")
    return figure


def plot_folded(light_curves, source, period):
    """One variable folded at its period on the recorded times and on BJD (TDB)."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    rows = np.asarray(light_curves["source"]) == source
    p = u.Quantity(period, u.day).value
    for ax, (column, label, offset) in zip(
        axes,
        (("mjd", "recorded time (UTC MJD)", 2400000.5), ("bjd_tdb", "BJD (TDB)", 0.0)),
        strict=True,
    ):
        phase = ((np.asarray(light_curves[column][rows]) + offset - 2460000.0) / p) % 1
        ax.errorbar(
            phase,
            light_curves["mag"][rows].value,
            light_curves["mag_error"][rows].value,
            fmt=".",
            ms=3,
        )
        ax.set_xlabel(f"phase on {label}")
    axes[0].invert_yaxis()
    axes[0].set_ylabel("magnitude")
    figure.suptitle(
        f"source {source}, period {p * 24:.2f} h: ±8 min of light travel is {8 / (p * 1440):.0%} of a cycle",
        fontsize=9,
    )
    return figure


def plot_grid_error(table, title):
    """The grid method's largest error over the season at each source, on the sky."""
    figure, ax = new_axes(6, 5)
    ra, dec = u.Quantity(table["ra"], u.deg).value, u.Quantity(table["dec"], u.deg).value
    centre_vector = np.array(
        [
            np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
            np.cos(np.radians(dec)) * np.sin(np.radians(ra)),
            np.sin(np.radians(dec)),
        ]
    ).mean(axis=1)
    lon0 = np.degrees(np.arctan2(centre_vector[1], centre_vector[0])) % 360
    lat0 = np.degrees(np.arctan2(centre_vector[2], np.hypot(*centre_vector[:2])))
    xi, eta = gnomonic(ra, dec, lon0, lat0)
    error = u.Quantity(table["error"], u.s).to_value(u.ms)
    vmin, vmax, extend = robust_limits(error, zero=True)
    points = ax.scatter(xi, eta, c=error, s=4, cmap="magma", vmin=vmin, vmax=vmax)
    figure.colorbar(points, ax=ax, label="largest error (ms)", extend=extend)
    ax.set_xlim(ax.get_xlim()[::-1])
    ax.set_aspect("equal")
    ax.set_xlabel("ξ (deg, East)")
    ax.set_ylabel("η (deg, North)")
    ax.set_title(f"{title}: worst {error.max():.3g} ms")
    return figure


def plot_timings(timings):
    """Seconds per method for the field (log scale)."""
    figure, ax = new_axes(7, 3.2)
    seconds = u.Quantity(timings["seconds"], u.s).value
    ax.barh(range(len(timings)), seconds, color=["C0", "C1", "C2", "C3"][: len(timings)])
    ax.set_yticks(range(len(timings)))
    ax.set_yticklabels(timings["method"])
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    for i, value in enumerate(seconds):
        ax.text(value, i, f" {value:.3g} s", va="center", fontsize=8)
    return figure
