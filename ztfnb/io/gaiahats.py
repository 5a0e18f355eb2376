"""Gaia as a HATS catalogue: HEALPix-partitioned Parquet, read a cone at a time.

The community serves Gaia DR3 as HATS catalogues (`hats`, read with `lsdb`):
Parquet files, one per HEALPix cell, sized to hold about the same number of
rows. A night's reference is tens to hundreds of millions of rows; a cone
reads only the partitions it overlaps, so neither time nor memory grows with
the catalogue.

Folders read
------------
A HATS catalogue (``hats.properties``, ``partition_info.csv``, ``dataset/``)
or a collection of one with its margin caches and indexes
(``collection.properties``). lsdb opens a collection's main catalogue; a
margin cache holds copies of the stars just outside each partition, for
cross-matching, and a cone never returns them, so no star comes back twice.

Columns and units
-----------------
The columns of `ztfnb.io.gaia.GAIA_COLUMNS` (archive or VizieR names, as in
files). Parquet carries no units: each column gets the archive's (as a CSV
column does: degrees, mas, mas/yr, Julian years, mag). The rows of every cone
are checked and refused as `ztfnb.io.read_gaia` checks a file's
(`ztfnb.io.gaia.checked_gaia`), naming the folder and the cone.
"""

import contextlib
import warnings
from pathlib import Path

import astropy.units as u
import dask
import numpy as np
import pandas as pd
from astropy.table import MaskedColumn, Table
from pandas.errors import PandasDeprecationWarning

from ztfnb.io.errors import InputError
from ztfnb.io.gaia import checked_gaia
from ztfnb.io.gaiafiles import GAIA_COLUMNS, VIZIER_NAMES, column_names


@contextlib.contextmanager
def _quiet():
    """Without the deprecation warnings lsdb 0.11 and nested-pandas cause in pandas ≥ 3.1.

    They are about lsdb's own calls (``inplace=``, an option pandas 3 ignores),
    nothing a user of ztfnb can act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PandasDeprecationWarning)
        yield


with _quiet():
    import lsdb

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
        Naming the folder: no HATS properties, a catalogue lsdb cannot open,
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
            with _quiet():
                catalog = lsdb.open_catalog(self.path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(
                f"not a HATS catalogue lsdb can open ({error})", path=self.path
            ) from error
        names = list(catalog.all_columns)
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
        wanted = [
            by_lower[naming[n].lower()] for n in GAIA_COLUMNS if naming[n].lower() in by_lower
        ]
        # only the columns the reference needs are ever read from the Parquet files
        with _quiet():
            self._catalog = catalog[wanted]
        info = catalog.hc_structure.catalog_info
        self.meta = {
            "path": str(self.path),
            "format": "hats",
            "extension": None,
            "names": "vizier" if naming is VIZIER_NAMES else "archive",
            "source_id": "read" if naming["source_id"].lower() in by_lower else "absent",
            "rows": int(info.total_rows),
            "partitions": len(catalog.get_healpix_pixels()),
            "dropped": None,
        }

    def __repr__(self):
        return f"<GaiaHats {self.path}: {self.meta['rows']} rows, {self.meta['partitions']} partitions>"

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
        # The synchronous scheduler: a cone is a few partitions, and a
        # Dask client the caller may run under must not get our tasks.
        with dask.config.set(scheduler="synchronous"), _quiet():
            found = self._catalog.cone_search(
                center.ra.deg, center.dec.deg, radius.to_value(u.arcsec)
            )
            frame = found.compute(progress_bar=False) if found.get_healpix_pixels() else None
        where = f"cone of {radius:.4g} around ({center.ra.deg:.4f}, {center.dec.deg:.4f})"
        result = checked_gaia(_table(frame, self._catalog.columns), self.path, where)
        result.meta["format"] = "hats"
        return result


def _table(frame, columns):
    """An astropy Table of a pandas frame's columns (None: no rows), nulls masked."""
    table = Table()
    for name in columns:
        if frame is None:
            table[name] = np.empty(0, float)
            continue
        column = frame[name]
        missing = column.isna().to_numpy()
        if pd.api.types.is_float_dtype(column.dtype):
            values = column.to_numpy(float, na_value=np.nan)
        elif pd.api.types.is_integer_dtype(column.dtype):
            values = column.to_numpy(np.int64, na_value=0)
        else:
            values = column.to_numpy(object, na_value=None)
        table[name] = MaskedColumn(values, mask=missing) if missing.any() else values
    return table
