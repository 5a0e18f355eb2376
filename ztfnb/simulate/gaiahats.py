"""A simulated night's Gaia reference also as a HATS catalogue, as the community serves Gaia.

``ztfnb simulate`` writes ``DIR/gaia_hats/`` beside ``DIR/gaia.fits``, with
the same rows, made by hats-import, so that ``--gaia DIR/gaia_hats`` can be
tried on any simulated night.

Choices, and why
----------------
* hats-import's catalogue pipeline runs in this thread, each task as it is
  submitted, without a Dask client: a distributed scheduler starts an HTTP
  server on a port even without its dashboard, and a night is written in
  well under a second of work.
* Partitions are HEALPix cells of order 0 to `HIGHEST_ORDER` holding at most
  `PIXEL_THRESHOLD` rows; hats-import's default highest order (10) walks
  12 M cells in Python, 15 s for any catalogue.
* The FITS file is read a chunk at a time with plain reads
  (`~ztfnb.simulate.gaiareader`), not hats-import's memory map, whose pages
  all stay resident, and frees each chunk's astropy table as soon as it is
  converted: a night's memory no longer grows with its Gaia file.
* Arrow's thread pools are held at one thread each during the import: every
  pool thread keeps the memory its allocations touched, so the reduce step's
  memory grew with the number of partitions (`_arrow_in_one_thread`).
* Parquet is written with zstd level 1, not hats' level 15: the files are
  about as small and written several times faster.
* hats-import stamps ``hats_creation_date`` (to the minute) in the
  properties; it is taken out so that the same seed gives the same bytes.
"""

import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import astropy.units as u

__all__ = ["HIGHEST_ORDER", "PIXEL_THRESHOLD", "write_gaia_hats"]

#: Finest HEALPix order of a partition (cells of 1.8°).
HIGHEST_ORDER = 5
#: Most rows in one partition.
PIXEL_THRESHOLD = 200_000


def write_gaia_hats(
    gaia_fits,
    out_dir,
    pixel_threshold=PIXEL_THRESHOLD,
    highest_order=HIGHEST_ORDER,
    margin=None,
):
    """Write a Gaia FITS table as a HATS catalogue.

    Parameters
    ----------
    gaia_fits : path-like
        As `ztfnb.io.write_gaia` writes it (archive names and units).
    out_dir : path-like
        The catalogue's folder, created; it must not exist.
    pixel_threshold : int
        Most rows in one partition.
    highest_order : int
        Finest HEALPix order of a partition.
    margin : `~astropy.units.Quantity`, optional
        With it, a HATS collection instead: the catalogue in
        ``out_dir/<name>`` and a margin cache of this width beside it, as
        Gaia DR3 is served.

    Returns
    -------
    `~pathlib.Path`
        ``out_dir``.
    """
    from hats_import import pipeline_resume_plan
    from hats_import.catalog import run_import
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.collection import run_import as run_collection
    from hats_import.collection.arguments import CollectionArguments

    from ztfnb.simulate.gaiareader import ChunkedFitsReader

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix=".gaia_hats.", dir=out_dir.parent) as scratch:
        catalog = {
            "input_file_list": [str(gaia_fits)],
            "file_reader": ChunkedFitsReader(),  # memory: a chunk, not the file
            "ra_column": "ra",
            "dec_column": "dec",
            "pixel_threshold": pixel_threshold,
            "lowest_healpix_order": 0,
            "highest_healpix_order": highest_order,
            "write_table_kwargs": {"compression": "zstd", "compression_level": 1},
        }
        where = {
            "output_path": str(out_dir.parent),
            "output_artifact_name": out_dir.name,
            "tmp_dir": scratch,
            "resume": False,
            "progress_bar": False,
        }
        if margin is None:
            run, arguments = run_import.run, ImportArguments(**catalog, **where)
        else:
            arguments = (
                CollectionArguments(**where)
                .catalog(**catalog)
                .add_margin(margin_threshold=margin.to_value(u.arcsec), is_default=True)
            )
            run = run_collection.run
        # hats-import's pipeline asks its client for two things only: submit
        # a task, and wait for the futures (distributed's as_completed).
        with (
            mock.patch.object(pipeline_resume_plan, "as_completed", iter),
            _arrow_in_one_thread(),
            warnings.catch_warnings(),
        ):
            # the margin step reads its partitions before it writes their list, and says so
            warnings.filterwarnings("ignore", message="Computing partitions from catalog parquet")
            run(arguments, _InProcess())
    for path in out_dir.rglob("*properties"):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(x for x in lines if not x.startswith("hats_creation_date=")))
    return out_dir


@contextmanager
def _arrow_in_one_thread():
    """Arrow's CPU and I/O thread pools at one thread each, for the import; restored after.

    Each reduce task reads its pixel's shards as a dataset, on Arrow's pools;
    every pool thread keeps the memory its allocations touched, so with the
    default pools a night's peak grew with its partitions (≈1.5 MB each,
    measured). The bytes written do not depend on the threads.
    """
    import pyarrow as pa

    cpus, ios = pa.cpu_count(), pa.io_thread_count()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    try:
        yield
    finally:
        pa.set_cpu_count(cpus)
        pa.set_io_thread_count(ios)


class _InProcess:
    """A stand-in for a Dask client that runs each task as it is submitted."""

    def submit(self, function, *args, **kwargs):
        return _Done(function, args, kwargs)


class _Done:
    """A task run to its end: the ``status`` and ``exception()`` of a Dask future."""

    def __init__(self, function, args, kwargs):
        self.status, self._exception = "finished", None
        try:
            function(*args, **kwargs)
        except Exception as error:  # hats-import reports every failed task, then stops
            self.status, self._exception = "error", error

    def exception(self):
        return self._exception
