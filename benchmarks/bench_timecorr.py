"""Light-travel time for 10⁵ sources: ztfnb exact against astropy returning seconds, and the write limit."""

import astropy.constants as const
import astropy.units as u
import numpy as np
from astropy.coordinates import GCRS, HCRS, ICRS, SkyCoord, UnitSphericalRepresentation
from astropy.time import Time
from threadpoolctl import ThreadpoolController

from benchmarks.timing import Comparison, best_time
from ztfnb.site import PALOMAR
from ztfnb.tangent import gnomonic_inverse
from ztfnb.timecorr import light_travel_time, observatory_positions

_C = const.c.to_value(u.m / u.s)
BLAS = 1  # threads for baselines and candidates alike (ztfnb.timecorr uses 1: see there)


def _field(size, n, seed=0):
    offsets = np.random.default_rng(seed).uniform(-size / 2, size / 2, (n, 2))
    ra, dec = gnomonic_inverse(offsets[:, 0], offsets[:, 1], 0.3, 30.0)
    return SkyCoord(ra * u.deg, dec * u.deg)


def astropy_seconds(times, sources, kind):
    """astropy's own `Time.light_travel_time`, line for line, returning its seconds instead of
    building the TimeDelta: the fair baseline (the TimeDelta alone costs seconds)."""
    times = times[:, None]
    itrs = times.location.get_itrs(obstime=times)
    if kind == "heliocentric":
        where = itrs.transform_to(HCRS(obstime=times))
    else:
        where = itrs.transform_to(GCRS(obstime=times)).transform_to(ICRS())
    spos = sources[None, :].icrs.represent_as(UnitSphericalRepresentation).to_cartesian()
    return (where.cartesian.dot(spos) / const.c).to_value(u.s)


def astropy_frames_and_product(times, sources, kind):
    """A careful astropy user: its frames for the observatory, then one BLAS product."""
    itrs = times.location.get_itrs(obstime=times)
    if kind == "heliocentric":
        where = itrs.transform_to(HCRS(obstime=times))
    else:
        where = itrs.transform_to(GCRS(obstime=times)).transform_to(ICRS())
    positions = where.cartesian.get_xyz(xyz_axis=-1).to_value(u.m) / _C
    return positions @ sources.icrs.cartesian.get_xyz().value


def _rows(sources, times):
    rows = []
    tag = f"BLAS {BLAS} thread"
    t = times[:100]
    astropy_frames = best_time(
        lambda: PALOMAR.get_itrs(obstime=t).transform_to(HCRS(obstime=t)), repeat=9
    )
    erfa_direct = best_time(lambda: observatory_positions(t, "heliocentric"), repeat=9)
    rows.append(
        Comparison(
            "observatory positions, 100 epochs",
            "astropy ITRS->HCRS",
            "ztfnb erfa direct",
            astropy_frames,
            erfa_direct,
            tag,
        )
    )
    for kind, epochs in (("heliocentric", 100), ("barycentric", 100), ("heliocentric", 200)):
        t = times[:epochs]
        candidate = best_time(
            lambda t=t, kind=kind: light_travel_time(Time(t), sources, kind), repeat=9
        )
        ours = light_travel_time(t, sources, kind).value
        for label, baseline, repeat in (
            ("astropy's own, in seconds", astropy_seconds, 5),
            ("astropy frames + product", astropy_frames_and_product, 9),
        ):
            seconds = best_time(
                lambda t=t, kind=kind, f=baseline: f(t, sources, kind), repeat=repeat
            )
            difference = np.max(np.abs(ours - baseline(t, sources, kind)))
            rows.append(
                Comparison(
                    f"{kind}, 1e5 sources x {epochs} epochs",
                    label,
                    "ztfnb exact",
                    seconds,
                    candidate,
                    f"max difference {difference:.1e} s; fresh outputs; {tag}",
                )
            )

    # what a user writes, returning a TimeDelta; and the same with its seconds taken out
    t = times[:100]
    delta = best_time(
        lambda: t[:, None].light_travel_time(sources[None, :], kind="heliocentric"), repeat=2
    )
    to_seconds = best_time(
        lambda: t[:, None].light_travel_time(sources[None, :], kind="heliocentric").to_value(u.s),
        repeat=2,
    )
    exact = best_time(lambda: light_travel_time(Time(t), sources), repeat=9)
    for label, baseline in (("TimeDelta", delta), (".to_value(u.s)", to_seconds)):
        rows.append(
            Comparison(
                "heliocentric, 1e5 x 100, astropy broadcast",
                f"Time.light_travel_time {label}",
                "ztfnb exact",
                baseline,
                exact,
                f"builds a TimeDelta of 10^7 values; {tag}",
            )
        )

    return rows


def _epochs(count):
    return Time(60200 + np.linspace(0, 200, count), format="mjd", location=PALOMAR)


def _interleaved(calls, rounds, repeat=3):
    """Median over ``rounds`` of each call's best of ``repeat``, the calls taking turns in each
    round: on a shared machine a limit timed at one moment and ztfnb at another are not
    comparable, since the load moves between them."""
    seconds = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            seconds[name].append(best_time(call, repeat=repeat))
    return {name: float(np.median(values)) for name, values in seconds.items()}


def _limit(sources):
    """ztfnb against writing its output, at three sizes, and where the time goes.

    The limit is `np.copyto` of the output's size: warm, into a buffer already written
    once (a pipeline keeps one); fresh, into a new `np.empty`, whose pages the kernel
    must fault in and zero first. ratio = ztfnb's time / the copy's. ztfnb is called
    cold (``Time(t)``: a new Time object, no scale cached by astropy), warm (the same
    Time object again: astropy caches its TT, UT1 and TDB), and with ``positions=``
    computed once (the same epochs for many chunks of sources).
    """
    rows = []
    tag = f"BLAS {BLAS} thread"
    for n, epochs in ((100_000, 100), (100_000, 1000), (10_000, 100)):
        src, t = sources[:n], _epochs(epochs)
        shape, size = (epochs, n), f"{n:.0e} x {epochs}".replace("+0", "")
        source, buffer = np.ones(shape), np.empty(shape)
        buffer.fill(0.0)
        positions = observatory_positions(t)
        calls = {
            "copy": lambda s=source, b=buffer: np.copyto(b, s),
            "cold": lambda t=t, s=src, b=buffer: light_travel_time(Time(t), s, out=b),
            "warm Time": lambda t=t, s=src, b=buffer: light_travel_time(t, s, out=b),
            "positions=": lambda t=t, s=src, b=buffer, p=positions: light_travel_time(
                t, s, out=b, positions=p
            ),
        }
        seconds = _interleaved(calls, rounds=3 if epochs > 100 else 7)
        for label in ("cold", "warm Time", "positions="):
            rows.append(
                Comparison(
                    f"heliocentric, {size}, out= buffer",
                    f"ztfnb exact, {label}",
                    "np.copyto into it",
                    seconds[label],
                    seconds["copy"],
                    f"ratio = ztfnb / limit (goal <= 1.5); medians of rounds, each timing "
                    f"the copy and ztfnb in turn; {tag}",
                )
            )
        del source, buffer

    # fresh outputs, and where the time of a cold call goes
    import ztfnb.timecorr as timecorr
    from ztfnb.observatory import epoch_inputs, positions_erfa

    t, shape = _epochs(100), (100, sources.size)
    source = np.ones(shape)
    fresh = _interleaved(
        {
            "copy": lambda: np.copyto(np.empty(shape), source),
            "ztfnb": lambda: light_travel_time(Time(t), sources),
        },
        rounds=7,
    )
    rows.append(
        Comparison(
            "heliocentric, 1e5 x 100, fresh output",
            "ztfnb exact, cold",
            "np.copyto into np.empty",
            fresh["ztfnb"],
            fresh["copy"],
            f"ratio = ztfnb / limit (goal <= 1.5); {tag}",
        )
    )
    buffer = np.zeros(shape)
    inputs = epoch_inputs(t)
    itrs = np.array([c.to_value(u.m) for c in PALOMAR.geocentric])
    light = positions_erfa(inputs, "heliocentric", itrs) / _C
    vectors = timecorr._source_vectors(sources).T
    parts = {
        "time scales and IERS (cold)": lambda: epoch_inputs(Time(t)),
        "unit vectors": lambda: timecorr._source_vectors(sources),
        "positions (erfa)": lambda: positions_erfa(inputs, "heliocentric", itrs),
        "product": lambda: np.matmul(light, vectors, out=buffer),
    }
    seconds = _interleaved(
        {
            **parts,
            "call": lambda: light_travel_time(Time(t), sources, out=buffer),
            "np.copyto": lambda: np.copyto(buffer, source),
        },
        rounds=7,
    )
    rows.append(
        Comparison(
            "heliocentric, 1e5 x 100, its parts",
            "sum of the parts, one after another",
            "ztfnb exact, cold, out= buffer",
            sum(seconds[name] for name in parts),
            seconds["call"],
            "; ".join(f"{name} {seconds[name] * 1e3:.1f} ms" for name in (*parts, "np.copyto"))
            + f"; {tag}",
        )
    )
    return rows


def _threads(sources, times):
    """The product alone, 1 BLAS thread against 2, at two sizes: why ztfnb uses 1; the
    overlap of positions and writing; 1 writer thread against 2."""
    rows = []
    controller = ThreadpoolController()
    positions = observatory_positions(times[:100]).to_value(u.m) / _C
    for n in (10_000, 100_000):
        vectors = np.ascontiguousarray(sources.icrs.cartesian.get_xyz().value[:, :n])
        out = np.zeros((100, n))
        seconds = {}
        for threads in (2, 1):
            with controller.limit(limits=threads, user_api="blas"):
                seconds[threads] = best_time(
                    lambda v=vectors, o=out: np.matmul(positions, v, out=o), repeat=9
                )
        rows.append(
            Comparison(
                f"product (100, 3) @ (3, {n:.0e}) into out=",
                "BLAS 2 threads",
                "BLAS 1 thread",
                seconds[2],
                seconds[1],
                "the same product, the thread count alone changed",
            )
        )
    # computing positions while the previous block is written (ztfnb.timecorr._write_behind)
    import ztfnb.timecorr as timecorr

    t, buffer = times[:100], np.zeros((100, sources.size))

    def call(overlap):
        saved = timecorr._OVERLAP_FROM
        timecorr._OVERLAP_FROM = saved if overlap else np.inf
        try:
            light_travel_time(Time(t), sources, out=buffer)
        finally:
            timecorr._OVERLAP_FROM = saved

    with ThreadpoolController().limit(limits=BLAS, user_api="blas"):
        seconds = _interleaved({False: lambda: call(False), True: lambda: call(True)}, rounds=7)
    rows.append(
        Comparison(
            "heliocentric, 1e5 x 100, out= buffer",
            "one block: positions, then product",
            f"{timecorr._BLOCKS + 1} blocks, overlapped",
            seconds[False],
            seconds[True],
            f"BLAS {BLAS} thread in a second Python thread",
        )
    )
    # each block's rows cut among writer threads (ztfnb.timecorr._WRITERS), 1 BLAS thread each
    epochs, large = _epochs(1000), np.zeros((1000, sources.size))

    def written_by(count):
        saved = timecorr._WRITERS
        timecorr._WRITERS = count
        try:
            light_travel_time(Time(epochs), sources, out=large)
        finally:
            timecorr._WRITERS = saved

    with ThreadpoolController().limit(limits=BLAS, user_api="blas"):
        seconds = _interleaved({1: lambda: written_by(1), 2: lambda: written_by(2)}, rounds=3)
    rows.append(
        Comparison(
            "heliocentric, 1e5 x 1000, out= buffer, cold",
            "1 writer thread",
            "2 writer threads",
            seconds[1],
            seconds[2],
            f"each block's rows cut among the writers; BLAS {BLAS} thread in each",
        )
    )
    return rows


def _grid(times):
    rows = []
    t = times[:100]
    for size, label in ((0.9, "quadrant"), (7.0, "whole field")):
        field = _field(size, 100_000, seed=1)
        grid = best_time(lambda field=field: light_travel_time(t, field, method="grid"), repeat=3)
        exact = best_time(lambda field=field: light_travel_time(t, field), repeat=3)
        error = np.max(
            np.abs(
                light_travel_time(t, field, method="grid").value - light_travel_time(t, field).value
            )
        )
        rows.append(
            Comparison(
                f"grid vs exact, {label} ({size} deg), 1e5 x 100",
                "ZTF grid + quadratic",
                "ztfnb exact",
                grid,
                exact,
                f"grid error {error:.2e} s; BLAS {BLAS} thread",
            )
        )
    return rows


def run():
    sources = _field(7.0, 100_000)
    times = Time(60200 + np.linspace(0, 200, 200), format="mjd", location=PALOMAR)
    light_travel_time(times[:2], sources[:10])  # warm astropy's caches (and the IERS table)
    astropy_seconds(times[:2], sources[:10], "heliocentric")
    astropy_frames_and_product(times[:2], sources[:10], "heliocentric")
    threads = _threads(sources, times)
    with ThreadpoolController().limit(limits=BLAS, user_api="blas"):
        return _rows(sources, times) + _limit(sources) + threads + _grid(times)
