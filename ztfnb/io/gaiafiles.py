"""Finding the Gaia table in a file, whichever way the archive, a mirror or astroquery delivered it.

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

`ztfnb.io.gaia.read_gaia` checks the columns, units and missing values.
"""

import re

import astropy.units as u
import numpy as np
from astropy.io import fits, votable
from astropy.table import MaskedColumn, Table
from astropy.utils.data import get_readable_fileobj

from ztfnb.io.errors import InputError
from ztfnb.io.fitscheck import open_fits

__all__ = [
    "GAIA_COLUMNS",
    "VIZIER_NAMES",
    "column_names",
    "fits_gaia_table",
    "is_gaia_table",
    "read_table",
    "table_of_hdu",
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


_OPTIONAL = ("source_id",)


_REQUIRED = tuple(name for name in GAIA_COLUMNS if name not in _OPTIONAL)


#: astropy's documented recipe for Gaia's bulk files (``null``), plus the standard empty field.
_NULLS = [("null", "0"), ("", "0")]


_SNIFF_BYTES = 65536


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
        "not a Gaia table: neither FITS, VOTable, ECSV nor comma-separated text (the archive "
        "and VizieR both deliver these: choose FITS, VOTable or CSV when downloading)",
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
        # checked whole, in memory: the table must outlive the open file
        with open_fits(path, "Gaia table") as hdul:
            chosen = fits_gaia_table(hdul, path)
            table = table_of_hdu(hdul[chosen])
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"cannot read a table ({_one_line(error)})", path=path) from error
    return chosen, table


def table_of_hdu(hdu):
    """A FITS table HDU as a `~astropy.table.Table`, every ``TNULL`` cell masked.

    astropy masks ``TNULLn`` only in unscaled integer columns; in a scaled one
    (``TSCALn``/``TZEROn``: the archive's proper motions in µas/yr as 32-bit
    integers times 1e-3, say) the null is scaled like a value and read as a
    number (−2147.48 mas/yr). Here the stored integers are compared with
    ``TNULLn`` before scaling (FITS Standard 4.0, §7.3.2).
    """
    table = Table.read(hdu, unit_parse_strict="silent")
    raw = hdu.data.view(np.ndarray) if hdu.data is not None else None
    for k, name in enumerate(hdu.columns.names, 1):
        null = hdu.header.get(f"TNULL{k}")
        if raw is None or null is None or not np.issubdtype(raw.dtype[name], np.integer):
            continue
        nulls = raw[name] == null
        if nulls.any():
            column = table[name]
            table[name] = MaskedColumn(column, mask=np.ma.getmaskarray(column) | nulls)
    return table


def fits_gaia_table(hdul, path):
    """The index of the first table HDU holding every required Gaia column (headers suffice).

    Parameters
    ----------
    hdul : `~astropy.io.fits.HDUList`
    path : path-like
        For the refusal.

    Returns
    -------
    int

    Raises
    ------
    InputError
        No table HDU has the Gaia columns: what each lacks.
    """
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
    return chosen


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


def is_gaia_table(colnames):
    """Whether columns hold every required Gaia column (the archive's names or VizieR's)."""
    return not _missing_columns(colnames)


def column_names(colnames):
    """`VIZIER_NAMES` for VizieR's columns (``RA_ICRS, DE_ICRS``, no ``ra, dec``), else the archive's."""
    present = {name.lower() for name in colnames}
    if {"ra", "dec"}.isdisjoint(present) and {"ra_icrs", "de_icrs"} <= present:
        return VIZIER_NAMES
    return _ARCHIVE_NAMES


_ARCHIVE_NAMES = {name: name for name in GAIA_COLUMNS}


def _missing_columns(colnames):
    """The required Gaia columns absent from ``colnames``, described in the file's naming."""
    naming = column_names(colnames)
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


def read_table(path):
    """The table holding the Gaia columns in a file, as astropy reads it.

    Parameters
    ----------
    path : `~pathlib.Path`
        An existing file.

    Returns
    -------
    table_format : str
        ``"fits"``, ``"votable"``, ``"ecsv"`` or ``"csv"``.
    extension : int or None
        The FITS HDU or VOTable table used (None for text, or a single table).
    table : `~astropy.table.Table`

    Raises
    ------
    InputError
        Not a table format read here, unreadable, or no table with the Gaia columns.
    """
    table_format = _sniff(path)
    if table_format == "fits":
        extension, table = _read_fits_gaia_table(path)
    elif table_format == "votable":
        extension, table = _read_votable_gaia_table(path)
    else:
        extension, table = None, _read_text(path, table_format)
    return table_format, extension, table
