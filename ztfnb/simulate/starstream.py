"""The night's star field made a chunk at a time on disk: `make_star_field`'s stars, bounded memory.

`~ztfnb.simulate.stars.make_star_field` holds every star of the night in
memory (≈85,000 per field at ZTF's density, a new field for most
exposures), so a night's memory grew with its exposures. `write_star_field`
makes the very same stars, bit for bit, from the same generator, and leaves
the generator where `make_star_field` leaves it, so that everything drawn
after it (the failures) is unchanged too; but it holds one field's positions,
or one chunk of stars, at a time:

1. positions, field after field (a star inside an earlier field's square is
   dropped: the union is uniform), appended to raw files;
2. the stars' other numbers. `make_star_field` draws each quantity for all
   stars in turn (every magnitude, then every proper motion, …), so the
   draws of one star are far apart in the generator's sequence. A first pass
   walks the sequence in chunks and keeps a copy of the generator at the
   start of each quantity; a second pass draws every quantity chunk by chunk
   from its own copy. NumPy's ``Generator`` draws ``uniform`` and ``normal``
   arrays value by value, so the chunks join into the arrays
   `make_star_field` draws whole (tested);
3. ``gaia.fits`` written as the chunks are made (`~ztfnb.simulate.fitsrows`),
   and each exposure reads back only the fields that overlap its own
   (`StarStore.around`).
"""

import copy
import math
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.simulate.fitsrows import fits_rows
from ztfnb.simulate.stars import (
    FIELD_HALF_SIZE,
    REF_EPOCH,
    StarField,
    _magnitudes_from,
    _position_error_mas,
    _square_area_deg2,
    _uniform_in_square,
)
from ztfnb.tangent import gnomonic, unit_vectors

__all__ = ["CHUNK", "StarStore", "write_star_field"]

#: Stars drawn and written at once (≈60 MB of temporaries).
CHUNK = 250_000
# Raw columns of the store, one file each, in star order.
_STORE = {"true_ra": "<f8", "true_dec": "<f8", "true_pmra": "<f8", "true_pmdec": "<f8", "g": "<f4"}
# gaia.fits's columns, as make_star_field's catalogue and write_gaia give them.
_GAIA = {
    "source_id": (">i8", None),
    "ra": (">f8", u.deg),
    "dec": (">f8", u.deg),
    "ra_error": (">f4", u.mas),
    "dec_error": (">f4", u.mas),
    "pmra": (">f8", u.mas / u.yr),
    "pmdec": (">f8", u.mas / u.yr),
    "ref_epoch": (">f8", u.yr),
    "phot_g_mean_mag": (">f4", u.mag),
}
# Room added to the distance two squares' centres can have and still overlap, degrees (for
# the stars' motion to the epoch, arcseconds, and rounding).
_REACH_MARGIN = 0.1


def _reach(half_size):
    """Largest distance between the centres of two overlapping squares, degrees."""
    corner = math.degrees(math.atan(math.sqrt(2) * math.radians(half_size)))
    return 2 * corner + _REACH_MARGIN


def _near_centres(vectors, vector, reach):
    """Indices, ascending, of the centres (unit vectors) within ``reach`` degrees of ``vector``."""
    return np.flatnonzero(vectors @ vector >= math.cos(math.radians(reach)))


# The draws make_star_field makes after the positions, in its order: (name, draw of k values).
# "fast_pmra" and "fast_pmdec" draw one value per fast star, the others one per star.
_DRAWS = (
    ("g", lambda rng, k: rng.uniform(0, 1, k)),
    ("pmra", lambda rng, k: rng.normal(0, 5.0, k)),
    ("pmdec", lambda rng, k: rng.normal(-3.0, 5.0, k)),
    ("fast", lambda rng, k: rng.uniform(0, 1, k)),
    ("fast_pmra", lambda rng, k: rng.normal(0, 60.0, k)),
    ("fast_pmdec", lambda rng, k: rng.normal(0, 60.0, k)),
    ("two_parameter", lambda rng, k: rng.uniform(0, 1, k)),
    ("ra_error", lambda rng, k: rng.uniform(0.8, 1.2, k)),
    ("dec_error", lambda rng, k: rng.uniform(0.8, 1.2, k)),
    ("ra_noise", lambda rng, k: rng.normal(0, 1, k)),
    ("dec_noise", lambda rng, k: rng.normal(0, 1, k)),
    ("pmra_noise", lambda rng, k: rng.normal(0, 1, k)),
    ("pmdec_noise", lambda rng, k: rng.normal(0, 1, k)),
)
_FAST = 0.02  # fraction of fast stars, make_star_field's


def _chunks(n, chunk):
    return ((start, min(start + chunk, n)) for start in range(0, n, chunk))


def _generators(rng, n, chunk):
    """A copy of ``rng`` at the start of each quantity's draws; ``rng`` left after the last.

    Walks the sequence make_star_field draws for ``n`` stars, ``chunk`` values at a time.
    """
    starts = {}
    fast = 0
    for name, draw in _DRAWS:
        starts[name] = copy.deepcopy(rng)
        count = fast if name.startswith("fast_") else n
        for start, stop in _chunks(count, chunk):
            values = draw(rng, stop - start)
            if name == "fast":
                fast += int((values < _FAST).sum())
    return starts


def _write_positions(centers, per_deg2, rng, half_size, folder):
    """Draw every field's stars as make_star_field does; append them to the store; their counts."""
    vectors = unit_vectors(*np.asarray(centers, float).reshape(-1, 2).T)
    reach = _reach(half_size)
    counts = []
    with open(folder / "true_ra", "wb") as ra_file, open(folder / "true_dec", "wb") as dec_file:
        for index, center in enumerate(centers):
            n = rng.poisson(per_deg2 * _square_area_deg2(half_size))
            ra, dec = _uniform_in_square(center, half_size, n, rng)
            keep = np.ones(ra.size, bool)
            # a square too far away holds none of these (gnomonic gives NaN beyond 90°)
            for earlier in _near_centres(vectors[:index], vectors[index], reach):
                xi, eta = gnomonic(ra, dec, *centers[earlier])
                keep &= ~((np.abs(xi) <= half_size) & (np.abs(eta) <= half_size))
            ra[keep].astype(_STORE["true_ra"]).tofile(ra_file)
            dec[keep].astype(_STORE["true_dec"]).tofile(dec_file)
            counts.append(int(keep.sum()))
    return counts


def _stars(start, stop, true_ra, true_dec, draws, first_source_id):
    """make_star_field's quantities of stars ``start:stop`` (``draws`` positioned at ``start``)."""
    n = stop - start
    g = _magnitudes_from(draws["g"].uniform(0, 1, n))
    sigma = _position_error_mas(g)
    true_pmra = draws["pmra"].normal(0, 5.0, n)
    true_pmdec = draws["pmdec"].normal(-3.0, 5.0, n)
    fast = draws["fast"].uniform(0, 1, n) < _FAST
    true_pmra[fast] = draws["fast_pmra"].normal(0, 60.0, fast.sum())
    true_pmdec[fast] = draws["fast_pmdec"].normal(0, 60.0, fast.sum())
    two_parameter = (g > 19.5) & (draws["two_parameter"].uniform(0, 1, n) < 0.1)
    sigma = np.where(two_parameter, 3 * sigma, sigma)
    pm_sigma = 1.1 * sigma

    # the same expressions as make_star_field's, for the same bits
    mas = 1 / 3.6e6
    ra_error = sigma * draws["ra_error"].uniform(0.8, 1.2, n)
    dec_error = sigma * draws["dec_error"].uniform(0.8, 1.2, n)
    cos_dec = np.maximum(np.cos(np.deg2rad(true_dec)), 1e-6)
    catalogue_ra = (true_ra + draws["ra_noise"].normal(0, 1, n) * ra_error * mas / cos_dec) % 360
    catalogue_dec = np.clip(
        true_dec + draws["dec_noise"].normal(0, 1, n) * dec_error * mas, -90, 90
    )
    pmra = np.where(
        two_parameter, np.nan, true_pmra + draws["pmra_noise"].normal(0, 1, n) * pm_sigma
    )
    pmdec = np.where(
        two_parameter, np.nan, true_pmdec + draws["pmdec_noise"].normal(0, 1, n) * pm_sigma
    )
    gaia = {
        "source_id": np.arange(first_source_id + start, first_source_id + stop, dtype=np.int64)
        * 4096
        + 1,
        "ra": catalogue_ra,
        "dec": catalogue_dec,
        "ra_error": ra_error.astype(np.float32),
        "dec_error": dec_error.astype(np.float32),
        "pmra": pmra,
        "pmdec": pmdec,
        "ref_epoch": np.full(n, REF_EPOCH),
        "phot_g_mean_mag": g.astype(np.float32),
    }
    store = {"true_pmra": true_pmra, "true_pmdec": true_pmdec, "g": gaia["phot_g_mean_mag"]}
    return gaia, store


def write_star_field(
    centers,
    density,
    rng,
    folder,
    gaia_path,
    first_source_id=1,
    half_size=FIELD_HALF_SIZE,
    chunk=CHUNK,
):
    """`~ztfnb.simulate.stars.make_star_field`'s stars, written a chunk at a time.

    Parameters
    ----------
    centers : list of (ra, dec) in degrees
        Field centres.
    density : `~astropy.units.Quantity`
        Catalogue stars per unit solid angle.
    rng : `numpy.random.Generator`
        Left in the state `make_star_field` leaves it in.
    folder : path-like
        An empty folder for the store's raw files (the caller removes it).
    gaia_path : path-like
        Where the catalogue goes, byte for byte what `ztfnb.io.write_gaia`
        writes of `make_star_field`'s ``catalogue``.
    first_source_id : int
    half_size : float
        Half-size of each square, degrees.
    chunk : int
        Stars drawn at once.

    Returns
    -------
    `StarStore`
    """
    folder = Path(folder)
    per_deg2 = density.to_value(u.deg**-2)
    counts = _write_positions(centers, per_deg2, rng, half_size, folder)
    n = sum(counts)
    draws = _generators(rng, n, chunk)
    names = ("true_pmra", "true_pmdec", "g")
    with ExitStack() as files:
        ra_file = files.enter_context(open(folder / "true_ra", "rb"))
        dec_file = files.enter_context(open(folder / "true_dec", "rb"))
        outputs = {name: files.enter_context(open(folder / name, "wb")) for name in names}
        write_gaia = files.enter_context(fits_rows(gaia_path, _GAIA, n))
        for start, stop in _chunks(n, chunk):
            true_ra = np.fromfile(ra_file, _STORE["true_ra"], stop - start)
            true_dec = np.fromfile(dec_file, _STORE["true_dec"], stop - start)
            rows, store = _stars(start, stop, true_ra, true_dec, draws, first_source_id)
            write_gaia(rows)
            for name in names:
                store[name].astype(_STORE[name]).tofile(outputs[name])
    return StarStore(folder, centers, counts, half_size, first_source_id)


@dataclass
class StarStore:
    """The stars `write_star_field` wrote, read back a few fields at a time.

    Attributes
    ----------
    folder : `~pathlib.Path`
    centers : list of (ra, dec) in degrees
    counts : list of int
        The stars each field added, in star order.
    half_size : float
    first_source_id : int
    """

    folder: Path
    centers: list
    counts: list
    half_size: float
    first_source_id: int = 1

    def around(self, index):
        """The stars of every field whose square overlaps field ``index``'s, in star order.

        Every star the whole field holds inside field ``index``'s square (at
        any epoch of a night) is among them, in the same order.

        Returns
        -------
        `~ztfnb.simulate.stars.StarField`
            Its ``catalogue`` has ``source_id`` and ``phot_g_mean_mag`` only.
        """
        vectors = unit_vectors(*np.asarray(self.centers, float).reshape(-1, 2).T)
        offsets = np.concatenate([[0], np.cumsum(self.counts)])
        fields = _near_centres(vectors, vectors[index], _reach(self.half_size))
        columns = {name: [] for name in _STORE}
        identifiers = []
        for field in fields:
            start, stop = int(offsets[field]), int(offsets[field + 1])
            for name, dtype in _STORE.items():
                itemsize = np.dtype(dtype).itemsize
                values = np.fromfile(
                    self.folder / name, dtype, stop - start, offset=start * itemsize
                )
                columns[name].append(values.astype(values.dtype.newbyteorder("=")))
            identifiers.append(np.arange(start, stop, dtype=np.int64) + self.first_source_id)
        joined = {name: np.concatenate(parts) for name, parts in columns.items()}
        catalogue = QTable()
        catalogue["source_id"] = np.concatenate(identifiers) * 4096 + 1
        catalogue["phot_g_mean_mag"] = joined["g"] * u.mag
        return StarField(
            catalogue,
            joined["true_ra"],
            joined["true_dec"],
            joined["true_pmra"],
            joined["true_pmdec"],
        )
