"""Light-travel time for a simulated field: light curves, exact and grid corrections, errors, speed.

Twin of ``notebooks/04_light_travel_time.ipynb``.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.time import Time

from ztfnb.io.summary import write_summary
from ztfnb.io.tables import write_table
from ztfnb.lightcurve import add_corrected_times
from ztfnb.site import PALOMAR
from ztfnb.tangent import gnomonic_inverse
from ztfnb.timecorr import grid_error, light_travel_time

__all__ = ["TimingReport", "simulate_field", "time_methods", "timing_report"]


@dataclass
class TimingReport:
    """What the light-travel-time notebook shows.

    Attributes
    ----------
    sources : `~astropy.table.QTable`
        ``ra, dec, mag``, and for variables ``period`` and ``amplitude``.
    times : `~astropy.time.Time`
        The epochs (UTC, at Palomar).
    light_curves : `~astropy.table.QTable`
        Long format: ``source, mjd, mag, mag_error, ra, dec`` and the corrected times.
    correction : `~astropy.units.Quantity`
        Exact correction, (n_times, n_sources).
    quadrant_error, field_error : `~astropy.table.QTable`
        Grid method's largest error per source: ``ra, dec, error``.
    timings : `~astropy.table.QTable`
    example : int
        The variable star whose folded light curve is shown.
    outputs : list of `~pathlib.Path`
    """

    sources: QTable
    times: Time
    light_curves: QTable
    correction: u.Quantity
    quadrant_error: QTable
    field_error: QTable
    timings: QTable
    example: int
    outputs: list


def _field(center, size, n, rng):
    offsets = rng.uniform(-size / 2, size / 2, (n, 2))
    ra, dec = gnomonic_inverse(offsets[:, 0], offsets[:, 1], center.ra.deg, center.dec.deg)
    return SkyCoord(ra * u.deg, dec * u.deg)


def _season(center, n_epochs, rng, start="2023-08-01", nights=150):
    """One epoch a night near the field's transit, over a season (UTC)."""
    first = Time(f"{start}T00:00:00", scale="utc")
    days = np.sort(rng.choice(nights, size=min(n_epochs, nights), replace=False)).astype(float)
    if n_epochs > nights:
        days = np.sort(rng.uniform(0, nights, n_epochs))
    lst = first.sidereal_time("mean", longitude=PALOMAR.lon).deg
    transit = ((center.ra.deg - lst) % 360) / 360.9856  # days until the field crosses the meridian
    return first + (days + transit + rng.normal(0, 0.05, days.size)) * u.day


def simulate_field(center, size, n_sources, n_epochs, seed, variables=20):
    """Sources in a square field and their light curves, a few of them short-period variables.

    Returns
    -------
    sources : `~astropy.table.QTable`
    times : `~astropy.time.Time`
    magnitudes : `~numpy.ndarray`
        (n_times, n_sources), in barycentric time: what the stars do.
    errors : `~numpy.ndarray`
    """
    rng = np.random.default_rng(seed)
    coords = _field(center, size.to_value(u.deg), n_sources, rng)
    times = _season(center, n_epochs, rng)
    mag = rng.uniform(14, 20, n_sources)
    period = np.full(n_sources, np.nan)
    amplitude = np.zeros(n_sources)
    chosen = rng.choice(n_sources, size=min(variables, n_sources), replace=False)
    period[chosen] = rng.uniform(0.04, 0.3, chosen.size)  # days: δ Scuti, RR Lyrae-like
    amplitude[chosen] = rng.uniform(0.2, 0.6, chosen.size)
    mag[chosen] = rng.uniform(14, 16, chosen.size)
    # the stars vary in barycentric time; the telescope records UTC at Palomar
    bjd = (times.tdb[:, None] + light_travel_time(times, coords, kind="barycentric")).jd
    phase = (bjd - 2460000.0) / np.where(np.isnan(period), 1.0, period)
    signal = amplitude * np.sin(2 * np.pi * phase)
    errors = 0.01 + 0.02 * 10 ** (0.4 * (mag - 18))
    magnitudes = mag + signal + rng.normal(0, 1, signal.shape) * errors
    sources = QTable(
        {
            "ra": coords.ra.deg * u.deg,
            "dec": coords.dec.deg * u.deg,
            "mag": mag * u.mag,
            "period": period * u.day,
            "amplitude": amplitude * u.mag,
        }
    )
    return sources, times, magnitudes, np.broadcast_to(errors, magnitudes.shape)


def time_methods(times, coords, kind="heliocentric", loop_sample=10):
    """Time astropy (broadcast, and one call per source) against ztfnb's exact and grid methods.

    Returns
    -------
    `~astropy.table.QTable`
        ``method, seconds, timing, per_value`` (ns) and ``max_error`` against
        exact (s; NaN for exact, the reference). ``timing`` says whether the
        time was measured or extrapolated: one astropy call per source is timed
        on ``loop_sample`` sources and scaled up, and its error measured on those.
    """
    located = Time(times, location=PALOMAR)
    rows = []
    start = time.perf_counter()
    exact = light_travel_time(times, coords, kind=kind)
    rows.append(("ztfnb exact", time.perf_counter() - start, np.nan, "measured"))
    start = time.perf_counter()
    grid = light_travel_time(times, coords, kind=kind, method="grid")
    rows.append(
        (
            "ztfnb grid (ZTF's)",
            time.perf_counter() - start,
            float(np.max(np.abs(grid - exact)).to_value(u.s)),
            "measured",
        )
    )
    start = time.perf_counter()
    broadcast = located[:, None].light_travel_time(coords[None, :], kind=kind)
    rows.append(
        (
            "astropy broadcast",
            time.perf_counter() - start,
            float(np.max(np.abs(broadcast.to_value(u.s) - exact.to_value(u.s)))),
            "measured",
        )
    )
    sample = min(loop_sample, coords.size)
    start = time.perf_counter()
    looped = [located.light_travel_time(coords[i], kind=kind) for i in range(sample)]
    elapsed = time.perf_counter() - start
    loop_error = max(
        float(np.max(np.abs(looped[i].to_value(u.s) - exact[:, i].to_value(u.s))))
        for i in range(sample)
    )
    rows.append(
        (
            "astropy, one call per source",
            elapsed * coords.size / sample,
            loop_error,
            f"extrapolated from {sample} of {coords.size} sources",
        )
    )
    table = QTable(rows=rows, names=["method", "seconds", "max_error", "timing"])
    table["seconds"] = np.asarray(table["seconds"], float) * u.s
    table["per_value"] = (table["seconds"] / exact.size).to(u.ns)
    table["max_error"] = np.asarray(table["max_error"], float) * u.s
    table["speed_vs_astropy_broadcast"] = table["seconds"][2] / table["seconds"]
    table.meta["note"] = (
        f"one call per source timed on {sample} sources and scaled to {coords.size}"
    )
    return table


def timing_report(
    center,
    field_size=7 * u.deg,
    quadrant_size=0.9 * u.deg,
    n_sources=20000,
    n_epochs=200,
    seed=0,
    kind="heliocentric",
    light_curve_sources=200,
    output_dir="",
):
    """Simulate a field, correct its light curves, measure the grid method and the speed.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
    field_size, quadrant_size : `~astropy.units.Quantity`
    n_sources, n_epochs, seed : int
    kind : str
        For the error maps and timings.
    light_curve_sources : int
        Sources (variables first) written as a light-curve table and corrected
        with `ztfnb.lightcurve.add_corrected_times`.
    output_dir : path-like
        ``light_curves.ecsv`` and ``timings.ecsv`` go there when given.

    Returns
    -------
    `TimingReport`
    """
    sources, times, magnitudes, errors = simulate_field(
        center, field_size, n_sources, n_epochs, seed
    )
    coords = SkyCoord(sources["ra"], sources["dec"])
    correction = light_travel_time(times, coords, kind=kind)
    rng = np.random.default_rng(seed + 1)
    quadrant = _field(center, quadrant_size.to_value(u.deg), min(n_sources, 5000), rng)
    whole = _field(center, field_size.to_value(u.deg), min(n_sources, 5000), rng)
    errors_q = grid_error(times, quadrant, kind)
    errors_f = grid_error(times, whole, kind)

    variables = np.flatnonzero(np.isfinite(sources["period"].value))
    order = np.concatenate([variables, np.setdiff1d(np.arange(n_sources), variables)])[
        :light_curve_sources
    ]
    light_curves = QTable(
        {
            "source": np.repeat(order, times.size),
            "mjd": np.tile(times.utc.mjd, order.size),
            "mag": magnitudes[:, order].T.ravel() * u.mag,
            "mag_error": errors[:, order].T.ravel() * u.mag,
            "ra": np.repeat(sources["ra"][order].value, times.size) * u.deg,
            "dec": np.repeat(sources["dec"][order].value, times.size) * u.deg,
        }
    )
    light_curves = add_corrected_times(light_curves)
    example = int(variables[np.argmin(sources["period"][variables].value)]) if variables.size else 0
    timings = time_methods(times, coords, kind)
    outputs = []
    summary = write_summary(
        output_dir,
        {
            "grid_error_quadrant_s": float(errors_q.max().to_value(u.s)),
            "grid_error_field_s": float(errors_f.max().to_value(u.s)),
            "exact_seconds": float(timings["seconds"][0].to_value(u.s)),
            "speed_vs_astropy": float(timings["speed_vs_astropy_broadcast"][0]),
        },
    )
    outputs += [summary] if summary else []
    if output_dir:
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_table(folder / "light_curves.ecsv", light_curves)
        write_table(folder / "timings.ecsv", timings)
        outputs += [folder / "light_curves.ecsv", folder / "timings.ecsv"]

    def table(points, error):
        return QTable(
            {"ra": points.ra.deg * u.deg, "dec": points.dec.deg * u.deg, "error": error.to(u.s)}
        )

    return TimingReport(
        sources,
        times,
        light_curves,
        correction,
        table(quadrant, errors_q),
        table(whole, errors_f),
        timings,
        example,
        outputs,
    )
