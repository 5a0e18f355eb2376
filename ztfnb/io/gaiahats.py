"""Gaia as a HATS catalogue: HEALPix-partitioned Parquet, read a cone at a time.

The community serves Gaia DR3 as HATS catalogues (`hats`, usually read with `lsdb`):
Parquet files, one per HEALPix cell, sized to hold about the same number of
rows. A night's reference is tens to hundreds of millions of rows; a cone
reads only the partitions it overlaps, so neither time nor memory grows with
the catalogue.

Folders read
------------
A HATS catalogue (``hats.properties``, ``partition_info.csv``, ``dataset/``)
or a collection of one with its margin caches and indexes
(``collection.properties``): its main catalogue is read. A margin cache holds
copies of the stars just outside each partition, for cross-matching; a cone
never reads it, so no star comes back twice.

How a cone is read
------------------
`hats` reads the catalogue's structure once (properties, partition list,
schema) and says which partitions a cone overlaps (``filter_by_cone``);
pyarrow reads those Parquet files, only the Gaia columns, and the rows are
kept by the test `ztfnb.reference.select_cone` applies to a table. lsdb would
give the same rows through a Dask graph and pandas frames: 0.3–0.5 s a cone
where this takes tens of milliseconds (``benchmarks/bench_gaia_cone.py``).

Columns and units
-----------------
The columns of `ztfnb.io.gaia.GAIA_COLUMNS` (archive or VizieR names, as in
files). Parquet carries no units: each column gets the archive's (as a CSV
column does: degrees, mas, mas/yr, Julian years, mag). The rows of every cone
are checked and refused as `ztfnb.io.read_gaia` checks a file's
(`ztfnb.io.gaia.checked_gaia`), naming the folder and the cone.
"""

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from astropy.table import MaskedColumn, Table

from ztfnb.gaiaindex import inside_cone
from ztfnb.io.errors import InputError
from ztfnb.io.gaia import checked_gaia
from ztfnb.io.gaiafiles import GAIA_COLUMNS, VIZIER_NAMES, column_names

with warnings.catch_warnings():
    # hats' dependencies set, at import, pandas options pandas ≥ 3.1 deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import hats
    from hats.catalog.catalog_collection import CatalogCollection
    from hats.io import paths

__all__ = ["GaiaHats"]

_PROPERTIES = ("hats.properties", "properties", "collection.properties")


class GaiaHats:
    """A Gaia HATS catalogue, opened: its structure read, no rows yet.

    Parameters
    ----------
    path : path-like
        The catalogue's (or collection's) folder.

    Attributes
    ----------
    path : `~pathlib.Path`
    meta : dict
        ``path``, ``format`` (``"hats"``), ``extension`` (None), ``names``
        (``"archive"`` or ``"vizier"``), ``source_id`` (``"read"`` or
        ``"absent"``), ``rows`` (the catalogue's, from its properties),
        ``partitions`` (how many), ``dropped`` (None: each cone's table
        counts its own).

    Raises
    ------
    InputError
        Naming the folder: no HATS properties, a catalogue hats cannot open,
        or a Gaia column missing.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not any((self.path / name).is_file() for name in _PROPERTIES):
            raise InputError(
                f"not a HATS catalogue: none of {', '.join(_PROPERTIES)} in the folder",
                path=self.path,
            )
        try:
            catalog = hats.read_hats(self.path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(
                f"not a HATS catalogue hats can open ({error})", path=self.path
            ) from error
        if isinstance(catalog, CatalogCollection):
            catalog = catalog.main_catalog
        names = list(catalog.schema.names) if catalog.schema is not None else []
        naming = column_names(names)
        by_lower = {name.lower(): name for name in names}
        missing = [
            n for n in GAIA_COLUMNS if n != "source_id" and naming[n].lower() not in by_lower
        ]
        if missing:
            described = [n if naming is not VIZIER_NAMES else f"{n} ({naming[n]})" for n in missing]
            raise InputError(
                f"missing Gaia column(s) {', '.join(described)} in the HATS catalogue",
                path=self.path,
            )
        # only the columns the reference needs are ever read from the Parquet files
        self._columns = [
            by_lower[naming[n].lower()] for n in GAIA_COLUMNS if naming[n].lower() in by_lower
        ]
        self._ra, self._dec = by_lower[naming["ra"].lower()], by_lower[naming["dec"].lower()]
        self._catalog = catalog
        self._loaded = {}
        self.meta = {
            "path": str(self.path),
            "format": "hats",
            "extension": None,
            "names": "vizier" if naming is VIZIER_NAMES else "archive",
            "source_id": "read" if naming["source_id"].lower() in by_lower else "absent",
            "rows": int(catalog.catalog_info.total_rows),
            "partitions": len(catalog.get_healpix_pixels()),
            "dropped": None,
        }

    def __repr__(self):
        return f"<GaiaHats {self.path}: {self.meta['rows']} rows, {self.meta['partitions']} partitions>"

    def partitions(self, center, radius):
        """The Parquet files of the partitions a cone overlaps.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
        radius : `~astropy.units.Quantity`

        Returns
        -------
        list of `~pathlib.Path`
        """
        center = center.icrs
        found = self._catalog.filter_by_cone(
            center.ra.deg, center.dec.deg, radius.to_value(u.arcsec)
        )
        base = self._catalog.catalog_base_dir
        return [Path(paths.pixel_catalog_file(base, p).path) for p in found.get_healpix_pixels()]

    def cone(self, center, radius):
        """The catalogue's rows within ``radius`` of ``center``, checked as a file's.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
        radius : `~astropy.units.Quantity`
            Angle.

        Returns
        -------
        `~astropy.table.QTable`
            As `ztfnb.io.read_gaia` returns for a file (``meta["format"]`` is
            ``"hats"``, ``meta["dropped"]`` counts this cone's rows), rows in
            the catalogue's order (partition, then HEALPix index).

        Raises
        ------
        InputError
            As `ztfnb.io.read_gaia`, naming the folder and the cone.
        """
        center = center.icrs
        files = self.partitions(center, radius)
        # the previous cone's partitions are kept: an exposure's field is asked
        # for by the prior, the solve and the quality, and neighbours share them
        loaded, self._loaded = self._loaded, {}
        for f in files:
            self._loaded[f] = loaded[f] if f in loaded else _read(f, self._columns)
        rows = pa.concat_tables(
            [self._loaded[f] for f in files], promote_options="default"
        ) if files else None  # fmt: skip
        if rows is not None:
            ra = rows.column(self._ra).to_numpy()
            dec = rows.column(self._dec).to_numpy()
            rows = rows.filter(pa.array(inside_cone(ra, dec, center, radius)))
        where = f"cone of {radius:.4g} around ({center.ra.deg:.4f}, {center.dec.deg:.4f})"
        result = checked_gaia(_table(rows, self._columns), self.path, where)
        result.meta["format"] = "hats"
        return result


def _read(path, columns):
    """A partition's columns. `ParquetFile.read`, one thread: half the time of
    ``pq.read_table``'s dataset machinery for these small files."""
    return pq.ParquetFile(path).read(columns=columns, use_threads=False)


def _table(rows, columns):
    """An astropy Table of a pyarrow table's columns (None: no rows), nulls masked."""
    table = Table()
    for name in columns:
        if rows is None:
            table[name] = np.empty(0, float)
            continue
        column = rows.column(name)
        if column.null_count == 0:
            table[name] = column.to_numpy()
            continue
        missing = column.is_null().to_numpy()
        if pa.types.is_floating(column.type):
            values = pc.fill_null(column, np.nan).to_numpy()
        elif pa.types.is_integer(column.type):
            values = pc.fill_null(column, 0).to_numpy()
        else:
            values = column.to_numpy(zero_copy_only=False)
        table[name] = MaskedColumn(values, mask=missing)
    return table
