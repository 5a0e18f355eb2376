"""Gaia reference tables as the Gaia archive, its mirrors and astroquery deliver them.

Files read
----------
The format is recognised from the file's content, not its name (a bulk file
``GaiaSource_*.csv.gz`` holds ECSV; a download may be renamed), looking
through gzip, bzip2 and xz compression:

* Gaia DR3 and EDR3 bulk files ``GaiaSource_*.csv.gz``: an ECSV header, rows
  separated by commas, and the string ``null`` for a missing value (not ECSV's
  empty field). Read as astropy documents for them (``ascii.ecsv`` with
  ``fill_values`` for ``null``); mirrors' copies with empty fields read alike.
* Gaia DR2 bulk files ``GaiaSource_*.csv.gz``: plain CSV, names in the first
  line, no units, empty fields for missing values.
* Archive query results of DR2, EDR3 and DR3 downloaded as CSV (no units),
  ECSV, VOTable (TABLEDATA, BINARY or BINARY2) or FITS.
* astroquery's ``Gaia.launch_job(...).get_results()`` written with
  ``Table.write`` as ECSV, FITS or VOTable, including the upper-case
  ``SOURCE_ID`` older versions took from the VOTable's FIELD ID.
* VizieR's copies of Gaia DR2 (I/345), EDR3 (I/350) and DR3 (I/355), by
  VizieR's names: ``RA_ICRS, DE_ICRS, e_RA_ICRS, e_DE_ICRS, pmRA, pmDE, Epoch,
  Gmag, Source``. VizieR's ``RAJ2000, DEJ2000`` are positions propagated to
  J2000, not Gaia's, and are never used.

In a FITS file (or a VOTable with several tables) the first table holding the
Gaia columns is used, so a query log or other table before it does no harm.

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
not a multiple of a year. The spellings the archive wrote during DR1 and DR2
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
from astropy.io import fits, votable
from astropy.table import QTable, Table
from astropy.utils.data import get_readable_fileobj

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError

__all__ = [
    "ARCHIVE_UNIT_SPELLINGS",
    "GAIA_COLUMNS",
    "NO_SOURCE_ID",
    "VIZIER_NAMES",
    "read_gaia",
    "write_gaia",
]

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
#: Unit strings the Gaia archive wrote (DR1, DR2) that astropy cannot parse, and the units they name.
ARCHIVE_UNIT_SPELLINGS = {
    "Angle[deg]": u.deg,
    "Angle[mas]": u.mas,
    "Angular Velocity[mas/year]": u.mas / u.yr,
    "Time[Julian Years]": u.yr,
    "Magnitude[mag]": u.mag,
}
#: VizieR's names for the Gaia columns (I/345, I/350, I/355).
VIZIER_NAMES = {
    "source_id": "Source",
    "ra": "RA_ICRS",
    "dec": "DE_ICRS",
    "ra_error": "e_RA_ICRS",
    "dec_error": "e_DE_ICRS",
    "pmra": "pmRA",
    "pmdec": "pmDE",
    "ref_epoch": "Epoch",
    "phot_g_mean_mag": "Gmag",
}
#: ``source_id`` of a row that has none.
NO_SOURCE_ID = -1
_OPTIONAL = ("source_id",)
_REQUIRED = tuple(name for name in GAIA_COLUMNS if name not in _OPTIONAL)
_MUST_BE_FINITE = ("ra", "dec", "ref_epoch")
_DROPPED_WHEN_MISSING = ("ra_error", "dec_error")
#: astropy's documented recipe for Gaia's bulk files (``null``), plus the standard empty field.
_NULLS = [("null", "0"), ("", "0")]
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
_SNIFF_BYTES = 65536


def read_gaia(path):
    """Read and check a Gaia table: bulk file, archive download, astroquery or VizieR output.

    Parameters
    ----------
    path : str or path-like
        FITS, VOTable, ECSV or CSV, recognised by content, optionally
        compressed (gzip, bzip2, xz).

    Returns
    -------
    `~astropy.table.QTable`
        The columns of `GAIA_COLUMNS` in the archive's units, without the rows
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
    if not path.is_file():
        raise InputError("no such file", path=path)
    table_format = _sniff(path)
    if table_format == "fits":
        extension, table = _read_fits_gaia_table(path)
    elif table_format == "votable":
        extension, table = _read_votable_gaia_table(path)
    else:
        extension, table = None, _read_text(path, table_format)
    naming = _naming(table.colnames)
    result = _gaia_columns(table, naming, path, extension)
    _refuse_missing_values(result, path, extension)
    result, dropped = _drop_rows_without_errors(result, path, extension)
    _refuse_impossible_declinations(result, path, extension)
    result["ra"] = result["ra"] % (360 * u.deg)
    result.meta["path"] = str(path)
    result.meta["format"] = table_format
    result.meta["extension"] = extension
    result.meta["names"] = "vizier" if naming is VIZIER_NAMES else "archive"
    result.meta["dropped"] = dropped
    result.meta["source_id"] = _source_id_origin(table, naming)
    return result


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


def _one_line(error):
    return " ".join(str(error).split())


def _sniff(path):
    """``"fits"``, ``"votable"``, ``"ecsv"`` or ``"csv"`` from the first bytes, decompressed."""
    try:
        with get_readable_fileobj(str(path), encoding="binary") as stream:
            head = stream.read(_SNIFF_BYTES)
    except Exception as error:
        raise InputError(f"cannot read the file ({_one_line(error)})", path=path) from error
    head = head.removeprefix(b"\xef\xbb\xbf")
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    start = head.lstrip()[:9].lower()
    if start.startswith((b"<?xml", b"<votable")):
        return "votable"
    if re.match(rb"#\s*%ECSV", head):
        return "ecsv"
    first = next(
        (line for line in head.splitlines() if line.strip() and not line.startswith(b"#")), b""
    )
    if b"\x00" not in head and b"," in first:
        return "csv"
    raise InputError(
        "not a Gaia table: neither FITS, VOTable, ECSV nor comma-separated text",
        path=path,
        value=head[:40].decode("latin-1"),
    )


def _read_text(path, table_format):
    """An ECSV or CSV file with ``null`` or an empty field for a missing value."""
    options = {"format": f"ascii.{table_format}", "fill_values": _NULLS}
    if table_format == "csv":
        options["comment"] = "#"
    try:
        return Table.read(path, **options)
    except Exception as error:
        raise InputError(f"cannot read a table ({_one_line(error)})", path=path) from error


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
            chosen = _choose(tables, missing)
            if chosen is None:
                names = [(index, hdu.name) for index, hdu in tables]
                raise _no_gaia_table(path, "table HDU", names, missing)
            table = Table.read(hdul[chosen], unit_parse_strict="silent")
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"cannot read a table ({_one_line(error)})", path=path) from error
    return chosen, table


def _read_votable_gaia_table(path):
    """The first VOTable TABLE holding the Gaia columns; its index only when there are several."""
    try:
        # 'ignore': the archive's VOTables break rules (INFO without value, UCDs) that do not matter here
        document = votable.parse(str(path), verify="ignore")
        tables = list(enumerate(document.iter_tables()))
        missing = {
            index: _missing_columns([field.name for field in table.fields])
            for index, table in tables
        }
        chosen = _choose(tables, missing)
        if chosen is None:
            names = [(index, table.name) for index, table in tables]
            raise _no_gaia_table(path, "TABLE", names, missing, _query_error(document))
        table = tables[chosen][1].to_table(use_names_over_ids=True)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"cannot read a table ({_one_line(error)})", path=path) from error
    return (chosen if len(tables) > 1 else None), table


def _query_error(document):
    """``" (the archive says: ...)"`` for a TAP error VOTable, else ``""``."""
    for resource in document.resources:
        for info in resource.infos:
            if info.name == "QUERY_STATUS" and str(info.value).upper() == "ERROR":
                return f" (the archive says: {_one_line(info.content or 'ERROR')})"
    return ""


def _choose(tables, missing):
    """The first complete table; the only one when just one (its check names what it lacks)."""
    complete = [index for index, _ in tables if not missing[index]]
    return complete[0] if complete else (tables[0][0] if len(tables) == 1 else None)


def _naming(colnames):
    """`VIZIER_NAMES` for VizieR's columns (``RA_ICRS, DE_ICRS``, no ``ra, dec``), else the archive's."""
    present = {name.lower() for name in colnames}
    if {"ra", "dec"}.isdisjoint(present) and {"ra_icrs", "de_icrs"} <= present:
        return VIZIER_NAMES
    return _ARCHIVE_NAMES


_ARCHIVE_NAMES = {name: name for name in GAIA_COLUMNS}


def _missing_columns(colnames):
    """The required Gaia columns absent from ``colnames``, described in the file's naming."""
    naming = _naming(colnames)
    present = {name.lower() for name in colnames}
    return [_described(name, naming) for name in _REQUIRED if naming[name].lower() not in present]


def _described(name, naming):
    return name if naming is _ARCHIVE_NAMES else f"{name} (VizieR's {naming[name]})"


def _no_gaia_table(path, noun, tables, missing, note=""):
    """The refusal of a file none of whose tables (``(index, name)`` pairs) has the Gaia columns."""
    label = noun.split()[-1]
    if not tables:
        return InputError(f"no {noun}: not a Gaia table{note}", path=path)
    lacks = "; ".join(
        f"{label} {index}{f' ({name})' if name else ''} lacks {', '.join(missing[index])}"
        for index, name in tables
    )
    return InputError(f"no {noun} has the Gaia columns: {lacks}", path=path)


def _find(table, name):
    """The table's column called ``name`` in any case, or None."""
    by_lower = {column.lower(): column for column in table.colnames}
    return by_lower.get(name.lower())


def _gaia_columns(table, naming, path, extension):
    """The Gaia columns in the archive's units, missing values as NaN."""
    result = QTable()
    for name, unit in GAIA_COLUMNS.items():
        found = _find(table, naming[name])
        if name == "source_id":
            result[name] = _source_ids(table, found, path, extension)
        elif found is None:
            raise InputError(
                f"missing Gaia column{_missing_hint(table, name, naming)}",
                path=path,
                extension=extension,
                column=name,
            )
        else:
            result[name] = _quantity(table[found], name, unit, path, extension)
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


def _source_ids(table, found, path, extension):
    """Integer identifiers, from ``source_id`` or else ``designation``; missing ones `NO_SOURCE_ID`."""
    if found is not None:
        values = np.ma.asarray(table[found])
        if values.dtype.kind in "iu":
            return np.ma.filled(values.astype(np.int64), NO_SOURCE_ID)
        return np.asarray(table[found])
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
                f"row {row}: not a Gaia designation ('Gaia DR3 <source_id>')",
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


def _quantity(column, name, unit, path, extension):
    """A column as floats in ``unit``; masked values become NaN."""
    values = _floats(column, name, path, extension)
    given = _file_unit(column, name, path, extension)
    if given is None:
        return values * unit
    if name == "ref_epoch" and not (given.is_equivalent(u.yr) and given.to(u.yr) == 1):
        raise InputError(
            f"unit {given} is not years: ref_epoch is a Julian year such as 2016.0,"
            f" and an epoch in {given} is a date on another scale",
            path=path,
            extension=extension,
            column=name,
        )
    try:
        return (values * given).to(unit)
    except u.UnitConversionError as error:
        raise InputError(
            f"unit {given} is not {_KINDS[name]}: not convertible to {unit}",
            path=path,
            extension=extension,
            column=name,
        ) from error


def _floats(column, name, path, extension):
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
            f"row {row}: not a number",
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
