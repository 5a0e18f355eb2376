"""A FITS binary table written a chunk of rows at a time, the bytes astropy writes of it whole.

``Table.write`` needs the whole table in memory; a night's Gaia reference
grows with its fields. The row count is known before the first row is made
(`~ztfnb.simulate.starstream`), so the headers can be written first: they
are astropy's own for an empty table of the same columns, with ``NAXIS2`` set
to the count; the rows follow as big-endian records, then the zeros that fill
the last 2880-byte block (FITS standard 4.0, §3.3.2 and §7.3). A test
compares the bytes with ``Table.write``'s.
"""

import io
from contextlib import contextmanager

import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from ztfnb.io.atomic import atomic_path

__all__ = ["fits_rows"]

_BLOCK = 2880


@contextmanager
def fits_rows(path, columns, count):
    """Write ``count`` rows of a binary table to ``path`` (atomically), chunk after chunk.

    Parameters
    ----------
    path : path-like
    columns : dict
        Column name → (big-endian dtype string such as ``">f8"``, unit or None),
        in the file's order.
    count : int
        Rows the table will hold.

    Yields
    ------
    callable
        Takes a dict of equal-length arrays, one per column, and appends them
        as rows.

    Raises
    ------
    ValueError
        Other than ``count`` rows were written (and the file is not made).
    """
    record = np.dtype([(name, dtype) for name, (dtype, _) in columns.items()])
    written = 0

    def write(values):
        nonlocal written
        rows = np.empty(len(next(iter(values.values()))), record)
        for name in record.names:
            rows[name] = values[name]
        file.write(rows.tobytes())
        written += len(rows)

    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        file.write(_headers(columns, count))
        yield write
        if written != count:
            raise ValueError(f"{path}: {written} rows written, {count} announced")
        file.write(b"\0" * (-written * record.itemsize % _BLOCK))


def _headers(columns, count):
    """The primary and table headers astropy writes for such a table of ``count`` rows."""
    empty = QTable()
    for name, (dtype, unit) in columns.items():
        values = np.zeros(0, np.dtype(dtype).newbyteorder("="))
        empty[name] = values if unit is None else values * unit
    buffer = io.BytesIO()
    Table(empty).write(buffer, format="fits")  # as ztfnb.io.write_gaia writes a table
    buffer.seek(0)
    with fits.open(buffer) as hdus:
        primary, table = hdus[0].header, hdus[1].header.copy()
    table["NAXIS2"] = count
    return (primary.tostring() + table.tostring()).encode("ascii")
