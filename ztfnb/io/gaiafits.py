"""A large Gaia FITS table, read a cone at a time: its rows never all in memory.

Read whole, a 20 M-row Gaia file (1.2 GB) costs 3.5 GB: the file's bytes,
astropy's table and the checked columns. A night needs only the cones of
its fields, so a large uncompressed FITS binary table (`LAZY_ROWS` rows or
more) is opened as `GaiaFits`, which `ztfnb.reference.select_cone` asks for
one cone at a time, as it asks a HATS catalogue (`ztfnb.io.gaiahats`).
Smaller, compressed and text files are read whole (`ztfnb.io.read_gaia`):
they fit in memory, and only a file stored as fixed-width rows can be read
a row at a time.

Opening
-------
The headers are read (`ztfnb.io.fitscheck.read_header_only`, the file's
sizes checked), then the rows in blocks of `BLOCK`, with file reads: a
memory map's pages would count as the process's memory. Each block is
checked by `ztfnb.io.gaia.checked_rows` as `read_gaia` checks a whole file,
so a file is refused, or its rows dropped, exactly as when read whole,
naming the file's row (a count in a refusal counts the rows of the block the
first bad row is in). A ``DATASUM`` is verified. The positions of the rows
kept make a HEALPix index (`ztfnb.gaiaindex.CellOrder`, 4 bytes a row).

A cone
------
The rows of the cells the cone overlaps are copied from a memory map of the
file, `GATHER` rows at a time, each batch's pages unmapped after it
(``MADV_DONTNEED``): the kernel maps 16 pages around each page a row lies in,
and a cone of a file in random order touches most of the file. Rows of a
file in sky order (as Gaia's bulk files are, by ``source_id``) lie together.
The rows make a FITS table with the file's header, read by astropy and
checked by `ztfnb.io.gaia.checked_gaia` as the whole file is, then cut by
`select_cone`'s test: the same rows and values, in the file's order, as a
cone of the table read whole.
"""

import mmap
import os
import re
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.gaiaindex import N_CELLS, CellOrder, cells_of, inside_cone
from ztfnb.io.errors import InputError
from ztfnb.io.fitscheck import check_layout, read_header_only
from ztfnb.io.gaia import checked_gaia, checked_positions, checked_rows, refuse_errorless_columns
from ztfnb.io.gaiafiles import fits_gaia_table, table_of_hdu

__all__ = ["BLOCK", "GATHER", "LAZY_ROWS", "GaiaFits", "large_fits_table"]

#: Rows from which a FITS table is read a cone at a time. Read whole, a table
#: costs about 175 bytes a row at its peak: 175 MB at this size, where reading
#: it whole is as fast and its cones need no file access.
LAZY_ROWS = 1_000_000
#: Rows read and checked at a time when opening (16 MB of a Gaia archive file);
#: a multiple of 4, so that every block but the last is whole 32-bit words (``DATASUM``).
BLOCK = 1 << 18
#: Rows copied from the memory map before its pages are dropped: with rows in
#: random order, at most this many times 64 kB mapped at once.
GATHER = 2048


def large_fits_table(path):
    """Where the Gaia table of a large, uncompressed FITS file lies, or None to read it whole.

    Parameters
    ----------
    path : `~pathlib.Path`
        An existing file.

    Returns
    -------
    tuple or None
        ``(extension, header, data_offset)`` for a binary table of
        `LAZY_ROWS` rows or more, fixed-width (no heap); None for anything
        else, including a file these checks refuse (read whole, it is then
        refused as any file is).
    """
    with open(path, "rb") as handle:
        if handle.read(9) != b"SIMPLE  =":  # compressed, or not FITS
            return None
    try:
        spans = check_layout(path, "Gaia table")
        with read_header_only(path, "Gaia table") as hdul:
            extension = fits_gaia_table(hdul, path)
            header = hdul[extension].header.copy()
            binary = isinstance(hdul[extension], fits.BinTableHDU)
    except InputError:
        return None
    if not binary or header.get("PCOUNT", 0) != 0 or header.get("NAXIS2", 0) < LAZY_ROWS:
        return None
    return extension, header, spans[extension].data


class GaiaFits:
    """A large Gaia FITS table, checked and indexed, its rows read a cone at a time.

    Parameters
    ----------
    path : `~pathlib.Path`
    extension : int
        The Gaia table's HDU.
    header : `~astropy.io.fits.Header`
        Its header.
    data_offset : int
        Where its rows start in the file, bytes.

    Attributes
    ----------
    path : `~pathlib.Path`
    meta : dict
        As a table `ztfnb.io.read_gaia` reads whole (``path``, ``format``,
        ``extension``, ``names``, ``dropped``, ``source_id``), and ``rows``,
        the file's.

    Raises
    ------
    InputError
        As `ztfnb.io.read_gaia` for the file read whole, or a ``DATASUM``
        that does not match the rows.
    """

    def __init__(self, path, extension, header, data_offset):
        self.path = Path(path)
        self._extension = extension
        self._header = header.copy()
        for keyword in ("CHECKSUM", "DATASUM"):
            self._header.remove(keyword, ignore_missing=True)
        self._width, rows = header["NAXIS1"], header["NAXIS2"]
        self._offset = data_offset
        self._plain = None  # see _table
        self._last = None  # the last cone: its key and table
        cells, self.meta = self._check(header.get("DATASUM"))
        self._order = CellOrder(cells)
        self.meta |= {"path": str(self.path), "format": "fits", "rows": rows}
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            self._map = mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(descriptor)
        self._map.madvise(mmap.MADV_RANDOM)  # no read-ahead around a row from disk
        self._rows = np.frombuffer(
            self._map, np.uint8, count=rows * self._width, offset=data_offset
        ).reshape(rows, self._width)

    def __repr__(self):
        return f"<GaiaFits {self.path}: {self.meta['rows']} rows>"

    def __reduce__(self):
        from ztfnb.io.gaia import read_gaia

        return read_gaia, (self.path,)

    def _hdu(self, rows):
        """A FITS table HDU's bytes for ``rows`` rows, zeros, and a view of its rows to fill.

        Returns
        -------
        hdu : bytearray
            The file's table header with ``NAXIS2 = rows``, then the rows, padded.
        raw : `~numpy.ndarray` of uint8, shape (rows, width)
            The rows, in ``hdu``.
        """
        header = self._header.copy()
        header["NAXIS2"] = rows
        text = header.tostring().encode("ascii")
        size = rows * self._width
        hdu = bytearray(text) + bytearray(size + -size % 2880)
        raw = np.frombuffer(hdu, np.uint8, count=size, offset=len(text))
        return hdu, raw.reshape(rows, self._width)

    def _table(self, raw):
        """The table astropy reads from rows of the file, shape (m, width), uint8.

        Parsing a FITS header and its columns costs astropy tens of
        milliseconds, more than a cone's rows: a table of plain numbers
        (`_plain_layout`) is made from the rows directly, with the columns'
        names and units astropy read, once it has been seen to equal astropy's
        table of the first block.
        """
        if self._plain is not None:
            rows = raw.view(self._plain).ravel()
            return Table([rows[n].astype(rows[n].dtype.newbyteorder("=")) for n in rows.dtype.names],
                         names=self._names, units=self._units, copy=False)  # fmt: skip
        hdu, copy = self._hdu(len(raw))
        copy[:] = raw
        return table_of_hdu(fits.BinTableHDU.fromstring(bytes(hdu)))

    def _plain_table_agrees(self, raw):
        """Whether `_table`'s plain table equals astropy's of these rows (then used); else None."""
        layout = _plain_layout(self._header)
        if layout is None:
            return False
        self._plain = None
        read = self._table(raw)
        self._names, self._units = read.colnames, [read[n].unit for n in read.colnames]
        self._plain = layout
        plain = self._table(raw)
        for name in read.colnames:
            a, b = np.ma.asarray(read[name]), np.ma.asarray(plain[name])
            masked = np.ma.getmaskarray(a) | np.ma.getmaskarray(b)  # astropy masks NaN
            same = (
                a.dtype.newbyteorder("=") == b.dtype
                and np.array_equal(a.data[~masked], b.data[~masked])
                and np.array_equal(np.isnan(b.data) if b.dtype.kind == "f" else masked, masked)
            )
            if not same:
                self._plain = None
                return False
        return True

    def _check(self, datasum):
        """Every row checked a block at a time; each row's cell (`N_CELLS`: dropped) and meta."""
        rows, width = self._header["NAXIS2"], self._width
        cells = np.full(rows, N_CELLS, np.uint16)
        dropped, meta, total = None, None, 0
        buffer = np.empty((min(BLOCK, rows), width), np.uint8)
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(self._offset)
            for first in range(0, rows, BLOCK):
                count = min(BLOCK, rows - first)
                raw = buffer[:count]
                if handle.readinto(raw.reshape(-1)) != raw.nbytes:
                    raise InputError("the file is cut short", path=self.path)
                if datasum is not None:
                    total += _word_sum(raw.reshape(-1))
                if first == 0:
                    self._plain_table_agrees(raw)
                block = self._table(raw)
                numbers = np.arange(first, first + count)
                result, kept = checked_rows(block, self.path, self._extension, numbers, whole=False)
                cells[numbers[kept]] = cells_of(result["ra"].value, result["dec"].value)
                meta = result.meta
                dropped = {k: v + (dropped or {}).get(k, 0) for k, v in meta["dropped"].items()}
        refuse_errorless_columns(dropped, rows, self.path, self._extension)
        if datasum is not None and _folded(total) != int(datasum):
            raise InputError(
                "DATASUM does not match the rows: the file is damaged",
                path=self.path,
                extension=self._extension,
            )
        return cells, {**meta, "dropped": dropped}

    def cone(self, center, radius):
        """The file's rows within ``radius`` of ``center``, as from the table read whole.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
        radius : `~astropy.units.Quantity`
            Angle.

        Returns
        -------
        `~astropy.table.QTable`
            The rows `ztfnb.reference.select_cone` keeps of the table
            `ztfnb.io.read_gaia` reads whole, in the file's order, with its
            ``meta``.
        """
        center = center.icrs
        key = (center.ra.deg, center.dec.deg, radius.to_value(u.deg))
        if self._last is not None and self._last[0] == key:
            # an exposure's field is asked for again (the solve, then the quality)
            return self._last[1].copy()
        rows = self._order.candidates(center, radius)
        raw = np.empty((len(rows), self._width), np.uint8)
        for first in range(0, len(rows), GATHER):
            np.take(
                self._rows, rows[first : first + GATHER], axis=0, out=raw[first : first + GATHER]
            )
            self._map.madvise(mmap.MADV_DONTNEED)  # the pages stay in the page cache
        where = (self.path, self._extension)
        ra, dec = checked_positions(self._table(raw), *where, rows)
        inside = inside_cone(ra, dec, center, radius)
        table = checked_gaia(self._table(raw[inside]), *where, rows[inside])
        table.meta = {k: self.meta[k] for k in table.meta} | {"format": "fits"}
        self._last = (key, table.copy())
        return table


#: numpy's types of FITS's number formats (big-endian, as stored).
_NUMBER_FORMATS = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}


def _plain_layout(header):
    """The rows' numpy type when every column is one plain number, else None.

    Plain: one value of a format in `_NUMBER_FORMATS`, no scaling, null or
    shape keyword (``TSCALn, TZEROn, TNULLn, TDIMn``), which astropy applies.
    """
    names, formats, offsets, offset = [], [], [], 0
    for k in range(1, header.get("TFIELDS", 0) + 1):
        form = re.fullmatch(r"\s*1?([BIJKED])\s*", str(header.get(f"TFORM{k}", "")))
        special = any(f"{key}{k}" in header for key in ("TSCAL", "TZERO", "TNULL", "TDIM"))
        if form is None or special or f"TTYPE{k}" not in header:
            return None
        names.append(f"c{k}")
        formats.append(np.dtype(_NUMBER_FORMATS[form[1]]))
        offsets.append(offset)
        offset += formats[-1].itemsize
    if offset != header["NAXIS1"]:
        return None
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})


def _word_sum(raw):
    """The sum of a block's big-endian 32-bit words (a trailing partial word zero-padded)."""
    whole = len(raw) // 4 * 4
    total = int(raw[:whole].view(">u4").sum(dtype=np.uint64))
    if whole < len(raw):
        total += int.from_bytes(bytes(raw[whole:]) + b"\0" * (4 - len(raw) + whole), "big")
    return total


def _folded(total):
    """A sum of 32-bit words folded into FITS's ones' complement 32-bit sum."""
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total
