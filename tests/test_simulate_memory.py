"""What keeps ``ztfnb simulate``'s HATS import from growing with the night's Gaia file.

The measurements (peak memory against the number of exposures) are in the
README; these tests check the two mechanisms behind them, and that neither
changes a byte of the catalogue.
"""

import functools
import gc
import hashlib
from contextlib import nullcontext
from unittest import mock

import astropy.units as u
import numpy as np
import pyarrow as pa
from astropy.table import Column, Table

from ztfnb.io.gaia import write_gaia
from ztfnb.simulate import gaiahats, gaiareader
from ztfnb.simulate.stars import make_star_field


def _gaia_file(path):
    """A small gaia.fits over a few fields, with NaN proper motions (≈30,000 rows)."""
    centers = [(30.0, 10.0), (36.0, 12.0), (200.0, -20.0)]
    stars = make_star_field(centers, 150 * u.deg**-2, np.random.default_rng(4))
    write_gaia(path, stars.catalogue)
    return len(stars.catalogue)


def test_the_chunked_reader_leaves_no_chunk_to_the_cycle_collector(tmp_path):
    """With automatic collection off, no chunk's astropy table is left in reference cycles.

    astropy's Table and its columns point at each other; left to the
    collector, every chunk's table would wait for a full collection.
    """
    rows = _gaia_file(tmp_path / "gaia.fits")
    reader = gaiareader.ChunkedFitsReader(chunksize=4_000)
    gc.collect()
    gc.disable()
    try:
        chunks = list(reader.read(tmp_path / "gaia.fits"))
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable, kept to be looked at
        gc.collect()
        left = [x for x in gc.garbage if isinstance(x, Table | Column)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert len(chunks) > 5
    assert sum(len(x) for x in chunks) == rows
    assert left == []


def _digests(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_hats_catalogue_is_the_same_bytes_with_arrow_in_one_thread(tmp_path):
    """The import in one Arrow thread writes the bytes Arrow's default pools write.

    Small chunks, so that each partition is reduced from several shards (the
    read that runs on Arrow's pools).
    """
    _gaia_file(tmp_path / "gaia.fits")
    (tmp_path / "one").mkdir()
    (tmp_path / "pools").mkdir()
    small_chunks = functools.partial(gaiareader.ChunkedFitsReader, chunksize=5_000)
    threads = pa.cpu_count(), pa.io_thread_count()
    with mock.patch.object(gaiareader, "ChunkedFitsReader", small_chunks):
        gaiahats.write_gaia_hats(
            tmp_path / "gaia.fits",
            tmp_path / "one" / "hats",
            pixel_threshold=3_000,
            highest_order=6,
        )
        assert (pa.cpu_count(), pa.io_thread_count()) == threads  # restored
        with mock.patch.object(gaiahats, "_arrow_in_one_thread", nullcontext):
            gaiahats.write_gaia_hats(
                tmp_path / "gaia.fits",
                tmp_path / "pools" / "hats",  # the same name: the properties hold it
                pixel_threshold=3_000,
                highest_order=6,
            )
    ours, default = _digests(tmp_path / "one"), _digests(tmp_path / "pools")
    assert len([name for name in ours if name.endswith(".parquet")]) > 5
    assert ours == default
