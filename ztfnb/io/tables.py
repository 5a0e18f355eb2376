"""User tables (light curves...) in ECSV, FITS or CSV, chosen by the file's extension."""

from pathlib import Path

from astropy.table import Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file

__all__ = ["read_table", "write_table"]

_FORMATS = {
    ".ecsv": "ascii.ecsv",
    ".csv": "ascii.csv",
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
}


def _format(path):
    path = Path(path)
    suffix = ".fits.gz" if path.name.lower().endswith(".fits.gz") else path.suffix.lower()
    if suffix not in _FORMATS:
        raise InputError(f"unknown table format {suffix!r}: use .ecsv, .fits or .csv", path=path)
    return _FORMATS[suffix]


def read_table(path):
    """Read a table, the format from the extension.

    Raises
    ------
    InputError
        Missing file, unknown extension, unreadable content.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path)
    table_format = _format(path)
    try:
        return Table.read(path, format=table_format)
    except Exception as error:
        raise InputError(f"cannot read as {table_format} ({error})", path=path) from error


def write_table(path, table):
    """Write a table atomically, the format from the extension."""
    table_format = _format(path)
    with atomic_path(path) as temporary:
        Table(table).write(temporary, format=table_format, overwrite=True)
