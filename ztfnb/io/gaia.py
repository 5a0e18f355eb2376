"""Gaia reference tables as the Gaia archive, its mirrors and astroquery deliver them.

Files read
----------
See `ztfnb.io.gaiafiles`: bulk files, archive results (CSV, ECSV, VOTable, FITS),
astroquery's saved tables and VizieR's copies, recognised by content. A
folder is a HATS catalogue, read a cone at a time (`ztfnb.io.gaiahats`),
its rows checked by `checked_gaia` as a file's are. A large uncompressed
FITS table is read a cone at a time too (`ztfnb.io.gaiafits`), after its rows
are checked, a block at a time, as the whole file's are.

Columns
-------
``ra, dec`` (deg), ``ra_error, dec_error`` (mas), ``pmra, pmdec`` (mas/yr,
``pmra`` including cos δ), ``ref_epoch`` (Julian year: 2015.5 in DR2, 2016.0
in EDR3 and DR3, read per row), ``phot_g_mean_mag`` (mag), and optionally
``source_id``, else the number in ``designation`` (``Gaia DR3 4295806720``).
Names are matched case-insensitively.

Units
-----
A column without a unit (CSV) gets the archive's. A unit astropy reads is
converted to the archive's (``mas.yr**-1`` is mas/yr; ``ra`` in rad is
converted to deg) or refused when it is of another kind (``ra`` in mas/yr).
``ref_epoch`` must be in years: an epoch in days is a date on another scale,
not a multiple of a year. Its values must be Julian years from 1990 to 2100
(`EPOCH_RANGE`): a number outside, such as 2457389.0 (a JD in days) or 57388.0
(an MJD), is refused naming the row, the value and the unit expected, since
taken as years it would carry every star thousands of years away. The spellings the archive wrote during DR1 and DR2
(``Angle[deg]``, ``Angle[mas]``, ``Angular Velocity[mas/year]``,
``Time[Julian Years]``, ``Magnitude[mag]``) are read as the units they name;
any other unit astropy cannot read is refused, naming the column and the unit.

Missing values
--------------
NaN, empty CSV fields, ``null``, VOTable nulls and FITS ``TNULL`` are treated
alike:

* ``pmra, pmdec``: allowed, as for Gaia's two-parameter solutions, which
  have a position and its errors but no proper motion.
* ``ra, dec, ref_epoch``: refused, naming the column and the first row. Every
  Gaia source has them, so their absence means a damaged or misjoined table.
* ±inf is not a missing value but a damaged one: refused in every column.
* ``ra_error, dec_error``: every Gaia solution, two-parameter ones included,
  has them, so a row without one is not a measurement to rely on. It is
  dropped rather than given an invented error, which could let a bad position
  weigh as a good one; Gaia has thousands of stars per field, so dropping the
  rare such rows costs nothing. The counts are in ``meta["dropped"]``. A
  column with no value at all is refused.
* ``source_id``: not needed by the astrometry. Absent, or masked in a row, it
  is -1 (never a Gaia identifier, which is positive); ``meta["source_id"]``
  says ``"absent"`` when the table had neither it nor ``designation``.
"""

import re
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file, refuse_rows, row_name
from ztfnb.io.gaiafiles import GAIA_COLUMNS, VIZIER_NAMES, column_names, read_table

__all__ = [
    "ARCHIVE_UNIT_SPELLINGS",
    "EPOCH_RANGE",
    "GAIA_COLUMNS",
    "NO_SOURCE_ID",
    "VIZIER_NAMES",
    "checked_gaia",
    "checked_positions",
    "checked_rows",
    "read_gaia",
    "write_gaia",
]

#: Unit strings the Gaia archive wrote (DR1, DR2) that astropy cannot parse, and the units they name.
ARCHIVE_UNIT_SPELLINGS = {
    "Angle[deg]": u.deg,
    "Angle[mas]": u.mas,
    "Angular Velocity[mas/year]": u.mas / u.yr,
    "Time[Julian Years]": u.yr,
    "Magnitude[mag]": u.mag,
}
#: ``source_id`` of a row that has none.
NO_SOURCE_ID = -1
_MUST_BE_FINITE = ("ra", "dec", "ref_epoch")
#: The epochs a Gaia-like reference may have, Julian years: Hipparcos (1991.25) to 2100.
EPOCH_RANGE = (1990.0, 2100.0)
_DROPPED_WHEN_MISSING = ("ra_error", "dec_error")
#: What each column's unit must measure, for refusals.
_KINDS = {
    "ra": "an angle",
    "dec": "an angle",
    "ra_error": "an angle",
    "dec_error": "an angle",
    "pmra": "an angular speed",
    "pmdec": "an angular speed",
    "ref_epoch": "years",
    "phot_g_mean_mag": "a magnitude",
}
_DESIGNATION = re.compile(r"^\s*Gaia\s+E?DR\d+\s+(\d+)\s*$")


def read_gaia(path):
    """Read and check a Gaia table: bulk file, archive download, astroquery or VizieR output.

    Parameters
    ----------
    path : str or path-like
        FITS, VOTable, ECSV or CSV, recognised by content, optionally
        compressed (gzip, bzip2, xz); or a HATS catalogue's folder.

    Returns
    -------
    `~astropy.table.QTable`, `~ztfnb.io.gaiafits.GaiaFits` or `~ztfnb.io.gaiahats.GaiaHats`
        For a folder, the HATS catalogue, and for an uncompressed FITS
        binary table of `ztfnb.io.gaiafits.LAZY_ROWS` rows or more, the file
        checked and indexed: both read a cone at a time
        (`ztfnb.reference.select_cone`). For another file, the columns of
        `GAIA_COLUMNS` in the archive's units, ``ra`` and ``dec`` read-only
        (so that cones can be served from an index), without the rows
        that lack a position error. ``meta`` holds ``path``, ``format``
        (``"fits"``, ``"votable"``, ``"ecsv"`` or ``"csv"``), ``extension``
        (the FITS HDU, or the VOTable table when there are several, else
        None), ``names`` (``"archive"`` or ``"vizier"``), ``dropped`` (rows
        dropped per column) and ``source_id`` (``"read"``, ``"designation"``
        or ``"absent"``).

    Raises
    ------
    InputError
        Unreadable file or format, no table with the Gaia columns, missing
        column, values that are not numbers, unknown or incompatible unit,
        missing position or epoch, no position error at all, or a
        declination outside ±90°.
    """
    path = Path(path)
    if path.is_dir():
        from ztfnb.io.gaiahats import GaiaHats  # lsdb takes seconds to import: only when asked

        return GaiaHats(path)
    if not path.is_file():
        raise no_such_file(path)
    from ztfnb.io.gaiafits import GaiaFits, large_fits_table  # it builds on this module

    large = large_fits_table(path)
    if large is not None:
        return GaiaFits(path, *large)
    table_format, extension, table = read_table(path)
    result = checked_gaia(table, path, extension)
    result.meta["format"] = table_format
    # Frozen positions let `ztfnb.reference.select_cone` index the table once
    # and trust the index: changing them in place would leave it stale.
    for name in ("ra", "dec"):
        result[name].setflags(write=False)
    return result


def checked_gaia(table, path, extension=None, rows=None):
    """A table's Gaia columns in the archive's units, checked as `read_gaia` checks a file.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Archive or VizieR column names; a column without a unit gets the
        archive's (as a CSV's or a HATS catalogue's Parquet columns).
    path : path-like
        Where the rows came from, for refusals and ``meta["path"]``.
    extension : int or str, optional
        The FITS HDU or VOTable table, for refusals.
    rows : `~numpy.ndarray` of int, shape (n,), optional
        Ascending: the number in the file of each of the table's rows, when
        it holds some of a file's (`ztfnb.io.gaiafits`), so that a refusal
        names the file's row. By default the table's own row numbers.

    Returns
    -------
    `~astropy.table.QTable`
        As `read_gaia`'s, without ``meta["format"]``.

    Raises
    ------
    InputError
        As `read_gaia`.
    """
    return checked_rows(table, path, extension, rows)[0]


def checked_rows(table, path, extension=None, rows=None, whole=True):
    """`checked_gaia`, and which of the table's rows it kept.

    Parameters
    ----------
    table, path, extension, rows
        As `checked_gaia`.
    whole : bool
        False for a block of a file's rows: a position-error column with no
        value in the block is then not refused (the file's other blocks may
        have them: `refuse_errorless_columns` judges the whole file).

    Returns
    -------
    result : `~astropy.table.QTable`
        As `checked_gaia`.
    kept : `~numpy.ndarray` of bool, shape (n,)
        The rows of ``table`` in ``result``.
    """
    naming = column_names(table.colnames)
    where = {"path": path, "extension": extension, "rows": rows}
    result = _gaia_columns(table, naming, **where)
    _refuse_missing_values(result, **where)
    _refuse_infinite_values(result, **where)
    _refuse_implausible_epochs(result, **where)
    kept, dropped = _rows_with_errors(result)
    if whole:
        refuse_errorless_columns(dropped, len(result), path, extension)
    result = result if kept.all() else result[kept]
    _refuse_impossible_declinations(result, path, extension)
    result["ra"] = _wrapped(result["ra"])
    result.meta["path"] = str(path)
    result.meta["extension"] = extension
    result.meta["names"] = "vizier" if naming is VIZIER_NAMES else "archive"
    result.meta["dropped"] = dropped
    result.meta["source_id"] = _source_id_origin(table, naming)
    return result, kept


def checked_positions(table, path, extension=None, rows=None):
    """The ``ra, dec`` `checked_gaia` gives a table's rows, without its other checks.

    For rows already checked (`ztfnb.io.gaiafits` checks a file's rows when
    opening it, then picks a cone's rows by their positions).

    Parameters
    ----------
    table, path, extension, rows
        As `checked_gaia`.

    Returns
    -------
    ra, dec : `~numpy.ndarray`, shape (n,)
        Degrees, ``ra`` in [0, 360).
    """
    naming = column_names(table.colnames)
    ra, dec = (
        _quantity(table[_find(table, naming[n])], n, u.deg, path, extension, rows)
        for n in ("ra", "dec")
    )
    return _wrapped(ra).value, dec.value


def _wrapped(ra):
    return ra % (360 * u.deg)


#: What `read_gaia` notes in a table's meta about where it came from: not written back.
_READ_NOTES = ("path", "format", "extension", "names", "dropped", "source_id")


def write_gaia(path, table):
    """Write a Gaia table as FITS with the archive's units, atomically.

    Parameters
    ----------
    path : str or path-like
    table : `~astropy.table.Table` or `~astropy.table.QTable`
        As returned by `read_gaia`; its notes on where it was read from are
        not written.
    """
    table = Table(table)
    table.meta = {k: v for k, v in table.meta.items() if k not in _READ_NOTES}
    with atomic_path(path) as temporary:
        table.write(temporary, format="fits", overwrite=True)


def _find(table, name):
    """The table's column called ``name`` in any case, or None."""
    by_lower = {column.lower(): column for column in table.colnames}
    return by_lower.get(name.lower())


def _row(rows, row):
    """How a message names the table's row ``row``: the file's row (`row_name`), for a block of it too."""
    return row_name(row if rows is None else int(rows[row]))


def _gaia_columns(table, naming, path, extension, rows):
    """The Gaia columns in the archive's units, missing values as NaN."""
    result = QTable()
    for name, unit in GAIA_COLUMNS.items():
        found = _find(table, naming[name])
        if name == "source_id":
            column = _source_ids(table, found, path, extension, rows)
        elif found is None:
            raise InputError(
                f"missing Gaia column{_missing_hint(table, name, naming)}",
                path=path,
                extension=extension,
                column=name,
            )
        else:
            column = _quantity(table[found], name, unit, path, extension, rows)
        result.add_column(column, name=name, copy=False)  # each made here: no copy needed
    return result


def _missing_hint(table, name, naming):
    if naming is VIZIER_NAMES:
        return f" (VizieR's {naming[name]})"
    if name in ("ra", "dec") and _find(table, "RAJ2000") is not None:
        return (
            " (VizieR's RAJ2000, DEJ2000 are positions moved to J2000, not Gaia's:"
            " include RA_ICRS, DE_ICRS)"
        )
    if name == "ref_epoch":
        return " (select it: 2015.5 in DR2, 2016.0 in EDR3 and DR3; never assumed)"
    return ""


def _source_ids(table, found, path, extension, rows):
    """Integer identifiers, from ``source_id`` or else ``designation``; missing ones `NO_SOURCE_ID`."""
    if found is not None:
        values = np.ma.asarray(table[found])
        if values.dtype.kind in "iu":
            return np.ma.filled(values.astype(np.int64), NO_SOURCE_ID)
        return np.array(table[found])
    designation = _find(table, "designation")
    if designation is None:
        return np.full(len(table), NO_SOURCE_ID, np.int64)
    values = np.ma.asarray(table[designation])
    ids = np.full(len(table), NO_SOURCE_ID, np.int64)
    masks = np.ma.getmaskarray(values)
    for row, (text, masked) in enumerate(zip(values.data, masks, strict=True)):
        if masked:
            continue
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        match = _DESIGNATION.match(str(text))
        if match is None:
            raise InputError(
                f"{_row(rows, row)}: not a Gaia designation ('Gaia DR3 <source_id>')",
                path=path,
                extension=extension,
                column=designation,
                value=str(text),
            )
        ids[row] = int(match.group(1))
    return ids


def _source_id_origin(table, naming):
    if _find(table, naming["source_id"]) is not None:
        return "read"
    return "designation" if _find(table, "designation") is not None else "absent"


def _quantity(column, name, unit, path, extension, rows):
    """A column as floats in ``unit``; masked values become NaN."""
    values = _floats(column, name, path, extension, rows)
    given = _file_unit(column, name, path, extension)
    if given is None:
        return u.Quantity(values, unit, copy=False)
    if name == "ref_epoch" and not (given.is_equivalent(u.yr) and given.to(u.yr) == 1):
        raise InputError(
            f"unit {given} is not years: ref_epoch is a Julian year such as 2016.0,"
            f" and an epoch in {given} is a date on another scale",
            path=path,
            extension=extension,
            column=name,
        )
    try:
        return u.Quantity(values, given, copy=False).to(unit)
    except u.UnitConversionError as error:
        raise InputError(
            f"unit {given} is not {_KINDS[name]}: not convertible to {unit}",
            path=path,
            extension=extension,
            column=name,
        ) from error


def _floats(column, name, path, extension, rows):
    """The column as float64 with masked values NaN; refused naming the first value that is no number."""
    values = np.ma.asarray(column)
    try:
        return np.ma.filled(values.astype(float), np.nan)
    except (TypeError, ValueError) as error:
        masks = np.ma.getmaskarray(values)
        row, bad = next(
            (row, value)
            for row, (value, masked) in enumerate(zip(values.data, masks, strict=True))
            if not masked and not _is_number(value)
        )
        if isinstance(bad, bytes | np.bytes_):
            bad = bad.decode("latin-1")
        raise InputError(
            f"{_row(rows, row)}: not a number",
            path=path,
            extension=extension,
            column=name,
            value=bad.item() if isinstance(bad, np.generic) else bad,
        ) from error


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _file_unit(column, name, path, extension):
    """The column's unit as astropy reads it or as the archive's spelling names it; None if absent.

    A reader parses units in its format's grammar (VOTable 1.3 and earlier:
    CDS, which has no ``**``); a string it leaves unrecognised is tried in
    astropy's other grammars before the archive's spellings.
    """
    given = column.unit
    if given is None or given == u.dimensionless_unscaled:
        return None
    if not isinstance(given, u.UnrecognizedUnit):
        return given
    text = given.to_string()
    for unit_format in ("generic", "vounit", "fits"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", u.UnitsWarning)
                return u.Unit(text, format=unit_format)
        except ValueError:
            continue
    known = _ARCHIVE_SPELLING_KEYS.get(_spelling_key(text))
    if known is None:
        raise InputError(
            "unit not understood: astropy cannot parse it, and it is not one of the Gaia"
            f" archive's spellings ({', '.join(ARCHIVE_UNIT_SPELLINGS)})",
            path=path,
            extension=extension,
            column=name,
            value=text,
        )
    return known


def _spelling_key(text):
    """``text`` in lower case with spaces only between words, not around brackets."""
    text = " ".join(text.split()).lower()
    return re.sub(r"\s*([\[\]/])\s*", r"\1", text)


_ARCHIVE_SPELLING_KEYS = {_spelling_key(k): v for k, v in ARCHIVE_UNIT_SPELLINGS.items()}


def _refuse_missing_values(result, path, extension, rows):
    for name in _MUST_BE_FINITE:
        bad = ~np.isfinite(result[name])
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} row(s) with a missing or non-finite value, "
                f"first at {_row(rows, int(np.flatnonzero(bad)[0]))}",
                path=path,
                extension=extension,
                column=name,
            )


def _refuse_infinite_values(result, path, extension, rows):
    for name in result.colnames:
        if result[name].dtype.kind != "f":
            continue
        values = np.asarray(result[name])
        bad = np.isinf(values)
        if rows is not None and bad.any():
            # refuse_rows names a row by its place: put each row at its number in the file
            bad, values = _spread(bad, rows), _spread(values, rows)
        refuse_rows(
            bad, "infinite value(s)", path=path, extension=extension,
            column=name, values=values, why=": not a measurement",
        )  # fmt: skip


def _spread(values, rows):
    """``values`` placed at ``rows`` in an array of zeros as long as the file's rows up to the last."""
    spread = np.zeros(int(rows[-1]) + 1, values.dtype)
    spread[rows] = values
    return spread


def _refuse_implausible_epochs(result, path, extension, rows):
    epochs = np.asarray(result["ref_epoch"].to_value(u.yr))
    outside = (epochs < EPOCH_RANGE[0]) | (epochs > EPOCH_RANGE[1])
    if not outside.any():
        return
    row = int(np.flatnonzero(outside)[0])
    value = float(epochs[row])
    row = _row(rows, row)
    if 2.4e6 <= value <= 2.5e6:
        hint = ": a Julian date, in days?"
    elif 4e4 <= value <= 1e5:
        hint = ": a modified Julian date, in days?"
    else:
        hint = ""
    raise InputError(
        f"{row}: not a Julian year from {EPOCH_RANGE[0]:.0f} to {EPOCH_RANGE[1]:.0f}{hint} "
        "(ref_epoch is in Julian years: 2015.5 in DR2, 2016.0 in EDR3 and DR3)",
        path=path,
        extension=extension,
        column="ref_epoch",
        value=value,
    )


def _rows_with_errors(result):
    """Which rows have both position errors, and how many lacked each."""
    keep = np.ones(len(result), bool)
    dropped = {}
    for name in _DROPPED_WHEN_MISSING:
        finite = np.isfinite(result[name])
        dropped[name] = int((~finite).sum())
        keep &= finite
    return keep, dropped


def refuse_errorless_columns(dropped, rows, path, extension=None):
    """Refuse a table none of whose ``rows`` rows has a position error in a column.

    Parameters
    ----------
    dropped : dict
        Rows without a value, per column of ``_DROPPED_WHEN_MISSING``
        (``meta["dropped"]``).
    rows : int
        The table's rows.
    path, extension
        For the refusal.
    """
    for name in _DROPPED_WHEN_MISSING:
        if rows and dropped[name] == rows:
            raise InputError(
                "no row has a value: Gaia gives a position error for every source",
                path=path,
                extension=extension,
                column=name,
            )


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
