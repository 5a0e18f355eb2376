"""Gaia reference tables with the Gaia archive's column names and units.

Columns used: ``ra, dec`` (deg), ``ra_error, dec_error`` (mas), ``pmra, pmdec``
(mas/yr, ``pmra`` including cos δ), ``ref_epoch`` (yr), ``phot_g_mean_mag``
(mag), and optionally ``source_id``. Names are matched case-insensitively
(archive exports differ); a column without a unit gets the archive's.

Formats are chosen from the file name: ``.fits/.fit/.fts``, ``.csv``,
``.ecsv``, ``.vot/.xml/.votable``, each optionally gzipped (``.csv.gz``, as
the archive's downloads come); other names are left to astropy to identify.
In a FITS file the first table HDU holding the Gaia columns is used, so a
query log or other table before it does no harm.

Missing values (NaN, empty CSV cells, VOTable nulls) are treated alike:

* ``pmra, pmdec``: allowed, as for Gaia's two-parameter solutions, which
  have a position and its errors but no proper motion.
* ``ra, dec, ref_epoch``: refused, naming the column and the first row. Every
  Gaia source has them, so their absence means a damaged or misjoined table.
* ``ra_error, dec_error``: every Gaia solution, two-parameter ones included,
  has them, so a row without one is not a measurement to rely on. It is
  dropped rather than given an invented error, which could let a bad position
  weigh as a good one; Gaia has thousands of stars per field, so dropping the
  rare such rows costs nothing. The counts are in ``meta["dropped"]``. A
  column with no value at all is refused.
* ``source_id``: not needed by the astrometry. Absent, or masked in a row, it
  is -1 (never a Gaia identifier, which is positive); ``meta["source_id"]``
  says ``"absent"`` when the table had none.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError

__all__ = ["GAIA_COLUMNS", "NO_SOURCE_ID", "read_gaia", "write_gaia"]

#: The columns read and the archive's units; all but ``source_id`` are required.
GAIA_COLUMNS = {
    "source_id": None,
    "ra": u.deg,
    "dec": u.deg,
    "ra_error": u.mas,
    "dec_error": u.mas,
    "pmra": u.mas / u.yr,
    "pmdec": u.mas / u.yr,
    "ref_epoch": u.yr,
    "phot_g_mean_mag": u.mag,
}
#: ``source_id`` of a row that has none.
NO_SOURCE_ID = -1
_OPTIONAL = ("source_id",)
_REQUIRED = tuple(name for name in GAIA_COLUMNS if name not in _OPTIONAL)
_MUST_BE_FINITE = ("ra", "dec", "ref_epoch")
_DROPPED_WHEN_MISSING = ("ra_error", "dec_error")
_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
}


def read_gaia(path):
    """Read and check a Gaia table (FITS, ECSV, VOTable or CSV, optionally gzipped).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    `~astropy.table.QTable`
        The columns of `GAIA_COLUMNS`, with units, without the rows that
        lack a position error. ``meta`` holds ``path``, ``extension`` (the
        FITS HDU read, else None), ``dropped`` (rows dropped per column) and
        ``source_id`` (``"absent"`` or ``"read"``).

    Raises
    ------
    InputError
        Unreadable file, no FITS table HDU with the Gaia columns, missing
        column, values that are not numbers, incompatible unit, missing
        position or epoch, no position error at all, or a declination
        outside ±90°.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    table_format = _table_format(path)
    if table_format == "fits":
        extension, table = _read_fits_gaia_table(path)
    else:
        extension, table = None, _read_table(path, table_format)
    result = _gaia_columns(table, path, extension)
    _refuse_missing_values(result, path, extension)
    result, dropped = _drop_rows_without_errors(result, path, extension)
    _refuse_impossible_declinations(result, path, extension)
    result["ra"] = result["ra"] % (360 * u.deg)
    result.meta["path"] = str(path)
    result.meta["extension"] = extension
    result.meta["dropped"] = dropped
    result.meta["source_id"] = "read" if _find(table, "source_id") else "absent"
    return result


#: What `read_gaia` notes in a table's meta about where it came from: not written back.
_READ_NOTES = ("path", "extension", "dropped", "source_id")


def write_gaia(path, table):
    """Write a Gaia table as FITS with the archive's units, atomically."""
    table = Table(table)
    table.meta = {k: v for k, v in table.meta.items() if k not in _READ_NOTES}
    with atomic_path(path) as temporary:
        table.write(temporary, format="fits", overwrite=True)


def _table_format(path):
    """astropy's format for a file name, looking through a final ``.gz``; None to let astropy guess."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def _read_table(path, table_format):
    try:
        return Table.read(path, format=table_format)
    except Exception as error:
        raise InputError(f"cannot read a table ({error})", path=path) from error


def _read_fits_gaia_table(path):
    """The first table HDU holding every required Gaia column, and its index.

    Tools put other tables first (a query log, a selection), so the Gaia
    table is looked for, not assumed to be HDU 1.
    """
    try:
        # not memory-mapped: the table must outlive the open file
        with fits.open(path, memmap=False) as hdul:
            tables = [
                (index, hdu)
                for index, hdu in enumerate(hdul)
                if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)
            ]
            missing = {index: _missing_columns(hdu.columns.names) for index, hdu in tables}
            complete = [index for index, _ in tables if not missing[index]]
            # with a single table, reading it lets the column check name what it lacks
            chosen = complete[0] if complete else (tables[0][0] if len(tables) == 1 else None)
            if chosen is None:
                raise _no_gaia_hdu(path, tables, missing)
            table = Table.read(hdul[chosen], unit_parse_strict="silent")
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"cannot read a table ({error})", path=path) from error
    return chosen, table


def _missing_columns(names):
    present = {name.lower() for name in names}
    return [name for name in _REQUIRED if name not in present]


def _no_gaia_hdu(path, tables, missing):
    if not tables:
        return InputError("no table HDU: not a Gaia table", path=path)
    lacks = "; ".join(
        f"HDU {index}{f' ({hdu.name})' if hdu.name else ''} lacks {', '.join(missing[index])}"
        for index, hdu in tables
    )
    return InputError(f"no table HDU has the Gaia columns: {lacks}", path=path)


def _find(table, name):
    """The table's column called ``name`` in any case, or None."""
    by_lower = {column.lower(): column for column in table.colnames}
    return by_lower.get(name)


def _gaia_columns(table, path, extension):
    """The Gaia columns in the archive's units, missing values as NaN."""
    result = QTable()
    for name, unit in GAIA_COLUMNS.items():
        found = _find(table, name)
        if found is None and name in _OPTIONAL:
            result[name] = np.full(len(table), NO_SOURCE_ID, np.int64)
        elif found is None:
            raise InputError("missing Gaia column", path=path, extension=extension, column=name)
        elif unit is None:
            result[name] = _identifiers(table[found])
        else:
            result[name] = _quantity(table[found], unit, path, extension, name)
    return result


def _identifiers(column):
    """Integer identifiers with masked ones as `NO_SOURCE_ID`; other kinds as they are."""
    values = np.ma.asarray(column)
    if values.dtype.kind in "iu":
        return np.ma.filled(values.astype(np.int64), NO_SOURCE_ID)
    return np.asarray(column)


def _quantity(column, unit, path, extension, name):
    """A column as floats in ``unit``; masked values become NaN."""
    try:
        values = np.ma.filled(np.ma.asarray(column).astype(float), np.nan)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"not numbers ({error})", path=path, extension=extension, column=name
        ) from error
    given = column.unit
    if given is None or str(given) in ("", "dimensionless"):
        return values * unit
    try:
        return (values * u.Unit(given)).to(unit)
    except (u.UnitConversionError, ValueError, TypeError) as error:
        raise InputError(
            f"unit {given} is not convertible to {unit}",
            path=path,
            extension=extension,
            column=name,
        ) from error


def _refuse_missing_values(result, path, extension):
    for name in _MUST_BE_FINITE:
        bad = ~np.isfinite(result[name])
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} row(s) with a missing or non-finite value, "
                f"first at row {int(np.flatnonzero(bad)[0])}",
                path=path,
                extension=extension,
                column=name,
            )


def _drop_rows_without_errors(result, path, extension):
    """Rows with both position errors, and how many lacked each."""
    keep = np.ones(len(result), bool)
    dropped = {}
    for name in _DROPPED_WHEN_MISSING:
        finite = np.isfinite(result[name])
        if len(result) and not finite.any():
            raise InputError(
                "no row has a value: Gaia gives a position error for every source",
                path=path,
                extension=extension,
                column=name,
            )
        dropped[name] = int((~finite).sum())
        keep &= finite
    return (result if keep.all() else result[keep]), dropped


def _refuse_impossible_declinations(result, path, extension):
    outside = np.abs(result["dec"]) > 90 * u.deg
    if outside.any():
        raise InputError(
            "declination outside ±90°",
            path=path,
            extension=extension,
            column="dec",
            value=float(result["dec"][outside][0].value),
        )
