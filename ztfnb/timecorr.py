"""Light-travel-time corrections (heliocentric, barycentric) for many sources and epochs.

astropy's `~astropy.time.Time.light_travel_time` moves the observatory to the
heliocentre (HCRS) or barycentre (ICRS via GCRS) and dots that position with
the unit vector to the source, divided by c. Called source by source it costs
≈7 ms a call. The dot product is the whole of the source dependence, so:

``method="exact"``
    the observatory's position at every epoch computed with erfa as astropy's
    frames compute it (`ztfnb.observatory`: one ``epv00`` an epoch; ≤ 0.1 ns
    from astropy, tested to 1 ns), then one matrix product with the sources'
    unit vectors written straight into the output, on one BLAS thread; for
    large outputs a second thread writes one block of epochs while this one
    computes the next block's positions (`_write_behind`). Positions computed
    once (`observatory_positions`) can be given for many chunks of sources.
    Numbers: README, "Light-travel-time corrections".
``method="grid"``
    the ZTF pipeline's approximation: exact values on a 9 × 9 grid over the
    field's bounding box in a `~astropy.coordinates.SkyOffsetFrame`, a 2-D
    quadratic fitted per epoch and evaluated at every source. Kept to
    reproduce it and measure its error (`grid_error`).

Palomar is a constant (`ztfnb.site.PALOMAR`); nothing downloads anything.
"""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import astropy.constants as const
import astropy.units as u
import numpy as np
from astropy.coordinates import (
    GCRS,
    HCRS,
    ICRS,
    SkyCoord,
    SkyOffsetFrame,
    UnitSphericalRepresentation,
    solar_system_ephemeris,
)
from astropy.time import Time, TimeDelta

from ztfnb.observatory import epoch_inputs, positions_erfa
from ztfnb.site import PALOMAR
from ztfnb.threads import MEMORY_BOUND, blas_threads

__all__ = [
    "KINDS",
    "grid_error",
    "light_travel_time",
    "observatory_positions",
]

KINDS = ("heliocentric", "barycentric")
_C = const.c.to_value(u.m / u.s)
_EPOCH_CHUNK = 5000  # epochs per astropy call
_SOURCE_CHUNK = 20000  # sources per evaluation of the grid method's quadratic
# The product (n_epochs, 3) @ (3, n_sources) does 3 multiply-adds per value written: it is
# bound by writing memory, not by arithmetic. OpenBLAS's own second thread spin-waits for
# the first on a shared machine (at loads 6–10, 1 BLAS thread was faster than 2 at 10⁵
# sources, and ×20–×60 faster at 10⁴), so BLAS keeps one thread (`ztfnb.threads.MEMORY_BOUND`);
# but one core does not write at the memory's full speed here (on a quiet machine 2 BLAS
# threads wrote the same product ×1.6 faster). So each block's product is cut into
# `_WRITERS` runs of rows, each a one-thread BLAS call in its own Python thread: they wait
# on a future, not in a spin, while this thread computes the next block's positions
# (`_write_behind`); benchmarks/bench_timecorr.py measures it against one writer.
_WRITERS = 2
# Below 10⁶ values (8 MB, ≈1 ms to write) there is little writing to hide, and the
# positions (≈80 µs an epoch) set the time: no thread.
_OVERLAP_FROM = 1_000_000
# Blocks of epochs after the first, short one: more blocks start writing sooner, but each
# costs ≈0.3 ms of erfa's per-call overhead on the thread that must keep ahead.
_BLOCKS = 8


def _check_kind(kind):
    if str(kind).lower() not in KINDS:
        raise ValueError(f"kind must be 'heliocentric' or 'barycentric', got {kind!r}")
    return str(kind).lower()


def _location(times, location):
    if location is not None:
        return location
    return times.location if times.location is not None else PALOMAR


def observatory_positions(times, kind="heliocentric", location=None, ephemeris="builtin"):
    """The observatory's position relative to the heliocentre or barycentre, ICRS axes.

    Parameters
    ----------
    times : `~astropy.time.Time`
        Any shape; flattened.
    kind : str
        ``"heliocentric"`` or ``"barycentric"``.
    location : `~astropy.coordinates.EarthLocation`, optional
        Default: ``times.location``, else Palomar. May have the times' shape.
    ephemeris : str
        As astropy's ``solar_system_ephemeris`` (``"builtin"``: erfa, offline).

    Returns
    -------
    `~astropy.units.Quantity`
        Shape (n_times, 3), metres.
    """
    times = _flat(times)
    return _positions_of(times, kind, location, ephemeris)(0, times.size) * u.m


def _flat(times):
    """The times as a 1-D Time: the caller's own object when it is one, so that the scales
    astropy caches on it (TT, UT1, TDB: ≈3 ms for 100 epochs) serve every later call."""
    if isinstance(times, Time) and times.ndim == 1:
        return times
    return Time(times).ravel()


def _positions_of(times, kind, location, ephemeris):
    """A function ``(start, stop) -> (stop - start, 3)`` positions (m) of those epochs.

    With erfa (``ephemeris="builtin"``) the time scales and the IERS look-ups
    are done once here for every epoch and the erfa part block by block, so
    that `light_travel_time` can write one block while computing the next.
    """
    kind = _check_kind(kind)
    location = _location(times, location)
    if ephemeris != "builtin":  # a JPL kernel: astropy's own frames do the work
        every = _astropy_positions(times, kind, location, ephemeris).to_value(u.m)
        return lambda start, stop: every[start:stop]
    itrs = np.stack([c.to_value(u.m).ravel() for c in location.geocentric], axis=-1)
    if itrs.shape[0] not in (1, times.size):
        raise ValueError(
            f"{itrs.shape[0]} locations for {times.size} times: give one, or one a time"
        )
    inputs = epoch_inputs(times)
    return lambda start, stop: positions_erfa(
        inputs[start:stop], kind, itrs if len(itrs) == 1 else itrs[start:stop]
    )


def _given(positions, size):
    """Positions given by the caller, as `_positions_of` gives them."""
    metres = u.Quantity(positions).to_value(u.m)  # refuses a unit that is no length
    if metres.shape != (size, 3):
        raise ValueError(f"positions has shape {metres.shape}, expected ({size}, 3)")
    return lambda start, stop: metres[start:stop]


def _astropy_positions(times, kind, location, ephemeris):
    """astropy's frame transformations, in chunks of epochs (any ephemeris it knows)."""
    per_epoch = location.size > 1
    if per_epoch:
        location = location.ravel()
    parts = []
    for start in range(0, times.size, _EPOCH_CHUNK):
        chunk = times[start : start + _EPOCH_CHUNK]
        where = location[start : start + _EPOCH_CHUNK] if per_epoch else location
        itrs = where.get_itrs(obstime=chunk)
        with solar_system_ephemeris.set(ephemeris):
            if kind == "heliocentric":
                reference = itrs.transform_to(HCRS(obstime=chunk))
            else:
                reference = itrs.transform_to(GCRS(obstime=chunk)).transform_to(ICRS())
        parts.append(np.atleast_2d(reference.cartesian.get_xyz(xyz_axis=-1).to_value(u.m)))
    return np.concatenate(parts) * u.m


def _source_vectors(coords):
    """Unit vectors (n, 3) to the sources, as astropy's ``to_cartesian`` gives them to 10⁻¹⁶.

    A transposed view of a C-contiguous (3, n) array, the layout the product wants.
    From the tangents of the half angles, ``cos x = (1 - t²) / (1 + t²)``,
    ``sin x = 2t / (1 + t²)``: two ``tan`` where astropy calls ``sin`` and ``cos``
    of both angles, because numpy's float64 ``tan`` is vectorised and its ``sin`` and
    ``cos`` are not (5–20 ns a value). Every component is then within a few 10⁻¹⁶ of
    astropy's (absolute, also where ``t`` is large, at RA = 180°): ≤ 3×10⁻¹³ s of
    light-travel time.
    """
    icrs = coords.icrs if isinstance(coords, SkyCoord) else SkyCoord(coords).icrs
    spherical = icrs.represent_as(UnitSphericalRepresentation)
    vectors = np.empty((3, spherical.size))
    x, y, z = vectors
    # the half angles in radians, straight from the stored unit (degrees: no copy in between)
    t = np.tan(np.ravel(spherical.lon.value) * (spherical.lon.unit.to(u.rad) / 2))
    s = np.tan(np.ravel(spherical.lat.value) * (spherical.lat.unit.to(u.rad) / 2))
    tt, ss = t * t, s * s
    cos_lat_scaled = (1.0 - ss) / ((1.0 + ss) * (1.0 + tt))  # cos(lat) / (1 + t²)
    np.multiply(cos_lat_scaled, 1.0 - tt, out=x)
    np.multiply(cos_lat_scaled, 2.0 * t, out=y)
    np.divide(2.0 * s, 1.0 + ss, out=z)
    return vectors.T


def light_travel_time(
    times,
    coords,
    kind="heliocentric",
    location=None,
    method="exact",
    out=None,
    grid=9,
    center="mean",
    ephemeris="builtin",
    timedelta=False,
    positions=None,
):
    """Light-travel-time correction for every epoch and source, to be added to the times.

    Parameters
    ----------
    times : `~astropy.time.Time`
        Epochs (flattened), possibly with a location.
    coords : `~astropy.coordinates.SkyCoord`
        Sources (flattened), any frame transformable to ICRS.
    kind : str
        ``"heliocentric"`` or ``"barycentric"``.
    location : `~astropy.coordinates.EarthLocation`, optional
        Default: ``times.location``, else Palomar.
    method : str
        ``"exact"`` (default) or ``"grid"`` (ZTF's approximation).
    out : `~numpy.ndarray`, optional
        Float array of shape (n_times, n_sources) to fill with seconds (a
        `numpy.memmap` for outputs larger than memory); the Quantity returned
        views it.
    grid : int
        Grid points per side (``method="grid"``).
    center : str
        ``"mean"`` (the sources' mean direction) or ``"max"`` (their largest RA
        and Dec, as ZTF did); either way the grid lives in a SkyOffsetFrame,
        which is continuous across RA = 0.
    ephemeris : str
    timedelta : bool
        Return a `~astropy.time.TimeDelta` (TDB), as astropy does, instead of a
        Quantity; it costs as much memory again and ≈40 ns a value to build.
    positions : `~astropy.units.Quantity`, optional
        Shape (n_times, 3), length: `observatory_positions` of these ``times``
        for this ``kind`` and ``location``, computed once when the same epochs
        serve many calls (chunks of sources): then nothing per epoch is
        computed again (≈80 µs an epoch), and ``kind``, ``location`` and
        ``ephemeris`` are not used.

    Returns
    -------
    `~astropy.units.Quantity` or `~astropy.time.TimeDelta`
        Shape (n_times, n_sources): TDB seconds, to be added to ``times.tdb``.
    """
    method = str(method).lower()
    if method not in ("exact", "grid"):
        raise ValueError(f"method must be 'exact' or 'grid', got {method!r}")
    times = _flat(times)
    if positions is None:
        positions = _positions_of(times, kind, location, ephemeris)
    else:
        positions = _given(positions, times.size)
    coords = coords if isinstance(coords, SkyCoord) else SkyCoord(coords)
    shape = (times.size, coords.size)
    if out is None:
        result = np.empty(shape)
    else:
        if out.shape != shape:
            raise ValueError(f"out has shape {out.shape}, expected {shape}")
        result = out
    if method == "exact":
        _exact(positions, coords, result)
    else:
        _grid_method(positions(0, shape[0]) / _C, coords, result, grid, center)
    if timedelta:
        return TimeDelta(result, format="sec", scale="tdb")
    return u.Quantity(result, u.s, copy=False)


def _exact(positions, coords, result):
    """Fill ``result`` (m, n) with ``positions / c @ unit vectors``, a block of epochs at a time.

    The product goes straight into the output (which may be a memmap), so nothing of its
    size is held twice. Large outputs are written by other threads while this one
    computes the next block's positions, so that writing memory and evaluating ``epv00``
    overlap. That overlap holds only if the writers never wait for the GIL
    (`_write_behind`).
    """
    m, n = result.shape
    vectors = _source_vectors(coords).T  # (3, n) C-contiguous
    with blas_threads(MEMORY_BOUND):
        if m * n < _OVERLAP_FROM or m < 2 or _cores() < 2:
            np.matmul(positions(0, m) / _C, vectors, out=result)
            return
        _write_behind(positions, vectors, result, _block_starts(m))


def _cores():
    """CPUs this process may run on: with one, a writer thread could only take turns."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _block_starts(m):
    """Where the blocks of epochs start: a first one half as long, so that writing starts
    early, then `_BLOCKS` equal ones."""
    first = max(1, m // (2 * _BLOCKS))
    rest = -(-(m - first) // _BLOCKS)
    return [0, *range(first, m, rest)]


def _write_behind(positions, vectors, result, starts, writers=None):
    """The products in other threads, the positions in this one, with no wait for the GIL.

    BLAS and numpy's ufuncs over more than 500 values release the GIL; erfa's ufuncs over
    the ≤ 500 epochs of a block and astropy's Python do not. A thread coming back from
    BLAS, or woken to start the next product, while this one computes positions would
    wait up to the interpreter's switch interval (5 ms; a block's product at 10⁵ sources
    takes ≈1 ms) for the GIL. So the writers need the GIL only while this thread waits:
    this one waits for the previous block's products to end before handing over the
    next, and for every writer to be at its product's door (`started`) before going on.
    It keeps ahead when a block's positions take less time than the previous block's
    product (≈80 µs an epoch against ≈1 ns a value written: from ≈10⁵ sources). Each
    block is cut into ``writers`` runs of rows (default `_WRITERS`), one per writer.
    """
    writers = writers or _WRITERS
    started = threading.Semaphore(0)

    def product(block, out):
        started.release()
        np.matmul(block, vectors, out=out)

    ends = [*starts[1:], result.shape[0]]
    with ThreadPoolExecutor(writers) as pool:
        pending = []
        for start, stop in zip(starts, ends, strict=True):
            block = positions(start, stop) / _C  # light seconds
            for future in pending:
                future.result()
            cuts = np.unique(np.linspace(0, stop - start, writers + 1).astype(int))
            pending = [
                pool.submit(product, block[a:b], result[start + a : start + b])
                for a, b in itertools.pairwise(cuts)
            ]
            for _ in pending:
                started.acquire()
        for future in pending:
            future.result()


def _field_center(coords, center):
    if center == "max":
        return SkyCoord(np.max(coords.icrs.ra), np.max(coords.icrs.dec))
    if center == "mean":
        return _direction(_source_vectors(coords).mean(axis=0))
    raise ValueError(f"center must be 'mean' or 'max', got {center!r}")


def _direction(vector):
    lon = np.rad2deg(np.arctan2(vector[1], vector[0])) % 360
    lat = np.rad2deg(np.arctan2(vector[2], np.hypot(vector[0], vector[1])))
    return SkyCoord(lon * u.deg, lat * u.deg)


def _quadratic_design(x, y):
    return np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])


def _grid_method(positions, coords, result, grid, center):
    """ZTF's approximation: exact on a grid in a sky-offset frame, quadratic in between."""
    origin = _field_center(coords, center)
    frame = SkyOffsetFrame(origin=origin)
    offset = coords.icrs.transform_to(frame)
    lon = np.ravel(offset.lon.wrap_at(180 * u.deg).deg)
    lat = np.ravel(offset.lat.deg)
    gx, gy = np.meshgrid(
        np.linspace(lon.min(), lon.max(), grid), np.linspace(lat.min(), lat.max(), grid)
    )
    nodes = SkyCoord(gx.ravel() * u.deg, gy.ravel() * u.deg, frame=frame).icrs
    exact_on_grid = positions @ _source_vectors(nodes).T  # (n_times, grid²)
    design = _quadratic_design(gx.ravel(), gy.ravel())
    coefficients = exact_on_grid @ np.linalg.pinv(design).T  # (n_times, 6)
    for start in range(0, lon.size, _SOURCE_CHUNK):
        chunk = slice(start, start + _SOURCE_CHUNK)
        result[:, chunk] = coefficients @ _quadratic_design(lon[chunk], lat[chunk]).T


def grid_error(times, coords, kind="heliocentric", location=None, grid=9, center="mean"):
    """The grid method's error against the exact correction, per source (largest over epochs).

    Returns
    -------
    `~astropy.units.Quantity`
        Shape (n_sources,), seconds.
    """
    exact = light_travel_time(
        times,
        coords,
        kind,
        location,
        method="exact",
        out=np.empty((Time(times).size, SkyCoord(coords).size)),
    )
    approximate = light_travel_time(
        times,
        coords,
        kind,
        location,
        method="grid",
        grid=grid,
        center=center,
        out=np.empty(exact.shape),
    )
    return np.max(np.abs(approximate - exact), axis=0)


# The light-curve table's functions live in `ztfnb.lightcurve`; these names, once here,
# still import from this module.
_MOVED = ("add_corrected_times", "TIME_COLUMNS", "RA_COLUMNS", "DEC_COLUMNS", "OUTPUT_COLUMNS")


def __getattr__(name):
    if name in _MOVED:
        from ztfnb import lightcurve

        return getattr(lightcurve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
