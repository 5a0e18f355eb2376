"""FITS_LDAC catalogues: the format SExtractor writes and SCAMP reads, and its variants.

SExtractor writes an empty primary HDU, then per chip a pair of binary
tables: ``LDAC_IMHEAD`` (one row, one column ``Field Header Card`` holding
the image header as 80-character cards, ``TDIM = '(80, N)'``) and
``LDAC_OBJECTS`` (the detections). Other writers lay the header out
differently; :func:`read_ldac` reads every card they store, or refuses the
file in one line naming the file, the HDU and the layout found. It never
reads part of a header.

Read
    * The header cell as one row of ``{80N}A`` with or without ``TDIM``
      (also ``(1, 80, N)``, fitsio, or a ``TDIM`` counting whole blocks past
      ``END``), padded with spaces or NUL bytes, wider than its text, or
      stored as bytes (``B``); cards separated by a comma (astromatic_wrapper's
      ``tostring(",")``) or by newlines.
    * One card per row (SourceXtractor++, an astropy ``Table`` of card
      strings, variable-length ``PA``/``QA`` columns, text lines that kept
      their newline).
    * Headers with or without ``END``, with or without ``SIMPLE``/``BITPIX``
      (``XTENSION`` first, as SExtractor writes for a multi-extension image);
      commentary cards written after ``END`` (SourceXtractor++'s ``HISTORY``)
      are kept; CONTINUE long strings and HIERARCH cards as astropy reads
      them; non-ASCII bytes in a COMMENT/HISTORY card or in a comment after
      ``/`` (SCAMP's UTF-8 ``Université``) read as ``?``.
    * Table names in any case; ``LDAC_IMHEAD_1``/``LDAC_OBJECTS_1``...
      (SourceXtractor++ parts); ``OBJECTS`` (THELI); tables without
      ``EXTNAME``, recognised by the header column (any case, spaces or
      underscores: IDL's ``FIELD_HEADER_CARD``) and by order.
    * Object tables before their header tables, or all headers first: with as
      many header tables as object tables, they are paired by rank, as SCAMP
      does; an object table may be empty.

Refused (`~ztfnb.io.errors.InputError`)
    * A header cut by its writer: ``TDIM`` declaring more cards than the
      column holds and no ``END`` (the ``13200A`` recipes on a long header), or
      text ending inside a card.
    * Several rows wider than a card (one header per row?); a header table
      with no rows, or only blanks.
    * A valued keyword after ``END`` (two headers in one cell): SCAMP and
      astropy stop at ``END``.
    * A card astropy cannot parse (SourceXtractor++ >= 0.16 cuts string values
      at their first ``/``), non-ASCII bytes in a keyword or value, a NUL byte
      inside a card's text, a header column that is not characters or bytes.
    * A damaged file (`ztfnb.io.fitscheck`): cut short, sizes that do not add
      up, a garbled header card, fewer extensions than the primary header's
      ``NEXTEND`` (which `write_ldac` writes) declares.
    * A different number of header and object tables (one ``LDAC_IMHEAD``
      shared by several ``LDAC_OBJECTS``), paired parts with different
      numbers, an ``LDAC_IMHEAD`` without the header column (a renamed
      ldactools ``FIELDS`` table), no header table at all (ldactools
      ``OBJECTS``/``FIELDS``).

The header column is read from the file's bytes, not through astropy's view
of it, which follows ``TDIM`` and silently drops the rest of a cell whose
``TDIM`` is smaller than the column. Each `LdacExtension` says in ``layout``
how its header was stored. ``tests/data/ldac/README.md`` says which writer
does what, and which of these layouts SCAMP itself reads (it reads only the
first row of the header column, and crashes on NUL padding).

SCAMP 2.10 crashes on a header column padded with NUL bytes, which is what
astropy writes; :func:`write_ldac` rewrites those bytes as spaces in place.
"""

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, refuse_rows
from ztfnb.io.fitscheck import CATALOGUE_WARNINGS, open_checked
from ztfnb.io.gaiafiles import is_gaia_table
from ztfnb.io.ldac_cards import LayoutError, cards_from_rows, header_from_cards

__all__ = [
    "HEADER_COLUMN",
    "LdacExtension",
    "check_ldac_layout",
    "header_to_ldac_text",
    "read_ldac",
    "require_columns",
    "write_ldac",
]

HEADER_COLUMN = "Field Header Card"
_CARD = 80
_BLOCK = 2880


@dataclass
class LdacExtension:
    """One chip of a FITS_LDAC catalogue.

    Attributes
    ----------
    header : `~astropy.io.fits.Header`
        The image header stored in ``LDAC_IMHEAD``.
    objects : `~astropy.table.Table`
        The ``LDAC_OBJECTS`` table, with units.
    index : int
        Position of the pair in the file, from 0 (SCAMP applies ``.ahead`` blocks by it).
    layout : str
        How the header was stored, as read (empty for extensions built in memory).
    scamp_reads : bool
        Whether SCAMP 2.10 reads this header as the file stores it (SExtractor's
        own layout and the few variants measured to work); otherwise SCAMP must
        be given a catalogue `write_ldac` rewrites.
    """

    header: fits.Header
    objects: Table
    index: int = 0
    layout: str = ""
    scamp_reads: bool = True


def header_to_ldac_text(header):
    """Serialise an image header for ``LDAC_IMHEAD``: cards, ``END``, spaces to 2880 bytes.

    The header must start with ``SIMPLE`` and ``BITPIX``, as SCAMP expects.
    """
    header = header.copy()
    if "SIMPLE" not in header:
        header.insert(0, ("SIMPLE", True, "conforms to FITS standard"))
    if "BITPIX" not in header:
        header.insert(1, ("BITPIX", 0, "array data type"))
    if list(header.keys())[:2] != ["SIMPLE", "BITPIX"]:
        simple, bitpix = header["SIMPLE"], header["BITPIX"]
        del header["SIMPLE"], header["BITPIX"]
        header.insert(0, ("SIMPLE", simple))
        header.insert(1, ("BITPIX", bitpix))
    text = header.tostring(sep="", endcard=True, padding=False)
    padded_length = -(-len(text) // _BLOCK) * _BLOCK
    return text.ljust(padded_length)


def _imhead_hdu(header):
    text = header_to_ldac_text(header)
    ncards = len(text) // _CARD
    cards = np.array([[text[i * _CARD : (i + 1) * _CARD].encode("ascii") for i in range(ncards)]])
    column = fits.Column(
        name=HEADER_COLUMN, format=f"{len(text)}A", dim=f"({_CARD}, {ncards})", array=cards
    )
    return fits.BinTableHDU.from_columns([column], name="LDAC_IMHEAD"), text


def write_ldac(path, extensions):
    """Write a FITS_LDAC catalogue that SCAMP and SExtractor tools read.

    Parameters
    ----------
    path : str or path-like
        Output file, written under a temporary name and renamed when complete.
    extensions : iterable of `LdacExtension` or (header, table) pairs
        Image header and detections of each chip, in order.
    """
    hdus = [fits.PrimaryHDU()]
    texts = []
    for item in extensions:
        header, objects = (item.header, item.objects) if isinstance(item, LdacExtension) else item
        imhead, text = _imhead_hdu(header)
        table_hdu = fits.table_to_hdu(Table(objects))
        table_hdu.name = "LDAC_OBJECTS"
        hdus += [imhead, table_hdu]
        texts.append(text)
    # the count lets a reader tell a file cut between two quadrants from one of fewer quadrants
    hdus[0].header["NEXTEND"] = (len(hdus) - 1, "extensions: LDAC_IMHEAD, LDAC_OBJECTS pairs")
    with atomic_path(path) as temporary:
        fits.HDUList(hdus).writeto(temporary)
        _rewrite_header_bytes(temporary, texts)


def _rewrite_header_bytes(path, texts):
    """Replace astropy's NUL padding of the header column by the space-padded text."""
    with fits.open(path) as hdul:
        locations = [
            hdul.fileinfo(i)["datLoc"] for i, hdu in enumerate(hdul) if hdu.name == "LDAC_IMHEAD"
        ]
    with open(path, "r+b") as handle:
        for location, text in zip(locations, texts, strict=True):
            handle.seek(location)
            handle.write(text.encode("ascii"))


def _normalised(name):
    return " ".join(str(name).replace("_", " ").split()).lower()


def _header_column(hdu):
    """Index of the ``Field Header Card`` column (any case, spaces or underscores), or None."""
    for index, column in enumerate(hdu.columns):
        if _normalised(column.name) == _normalised(HEADER_COLUMN):
            return index
    return None


def _tdim(hdu, index):
    value = hdu.header.get(f"TDIM{index + 1}")
    if value is None:
        return None
    numbers = re.findall(r"\d+", str(value))
    return tuple(int(n) for n in numbers) or None


def _column_rows(checked, position, index, path, variable):
    """The raw bytes of column ``index`` of table HDU ``position``, one item per row.

    Read from the file, not from astropy's view of the column, which follows
    ``TDIM`` and drops the rest of a cell whose ``TDIM`` is smaller than the
    column. ``variable`` is ``"P"`` or ``"Q"`` for a variable-length column
    (the rows' bytes are then in the heap), else None.
    """
    hdu = checked.hdul[position]
    row_length, nrows = int(hdu.header["NAXIS1"]), int(hdu.header["NAXIS2"])
    if isinstance(hdu, fits.TableHDU):  # ASCII table: positions are given
        start = int(hdu.header[f"TBCOL{index + 1}"]) - 1
        width = int(re.match(r"\s*A(\d+)", hdu.header[f"TFORM{index + 1}"]).group(1))
    else:
        widths = [np.dtype(column.format.recformat).itemsize for column in hdu.columns]
        start, width = sum(widths[:index]), widths[index]
        if sum(widths) != row_length:
            raise InputError(
                f"rows are {row_length} bytes but the columns add up to {sum(widths)}",
                path=path,
                extension=f"HDU {position}",
            )
    size = row_length * nrows + (int(hdu.header.get("PCOUNT", 0)) if variable else 0)
    data = checked.raw(position)[:size]
    if len(data) < size:
        raise InputError(
            "the file ends inside the header table", path=path, extension=f"HDU {position}"
        )
    cells = [data[r * row_length + start : r * row_length + start + width] for r in range(nrows)]
    if not variable:
        return cells
    heap = int(hdu.header.get("THEAP", row_length * nrows))
    descriptors = [np.frombuffer(cell, ">i4" if variable == "P" else ">i8") for cell in cells]
    rows = [
        data[heap + int(offset) : heap + int(offset) + int(count)] for count, offset in descriptors
    ]
    if any(len(row) < count for row, (count, _) in zip(rows, descriptors, strict=True)):
        raise InputError(
            "a row of the header column points outside the heap",
            path=path,
            extension=f"HDU {position}",
        )
    return rows


def _read_header(checked, position, index, path, label):
    hdu = checked.hdul[position]
    column = hdu.columns[index]
    form = re.sub(r"^\s*\d*", "", str(hdu.header[f"TFORM{index + 1}"])).upper()
    variable = form[:1] if form[:1] in ("P", "Q") else None
    code = form[1:2] if variable else form[:1]
    if code not in ("A", "B"):
        raise InputError(
            f"column {column.name!r} holds {column.format!r}, not characters: not an image header",
            path=path,
            extension=label,
        )
    rows = _column_rows(checked, position, index, path, variable)
    try:
        cards, layout = cards_from_rows(rows, _tdim(hdu, index))
    except LayoutError as error:
        raise InputError(str(error), path=path, extension=label) from None
    try:
        header, notes = header_from_cards(cards)
    except LayoutError as error:
        raise InputError(f"{layout}: {error}", path=path, extension=label) from None
    if variable:
        layout += f", variable-length rows ({form.split('(')[0]})"
    if code == "B":
        layout += ", stored as bytes (B)"
    direct = (
        not variable
        and len(rows) == 1
        and column.name == HEADER_COLUMN
        and _scamp_reads_cell(rows[0], _tdim(hdu, index))
    )
    return header, "; ".join([layout, *notes]), direct


def _scamp_reads_cell(cell, tdim):
    """Whether SCAMP 2.10 reads a header cell as stored (measured: ``tests/data/ldac/README.md``).

    SCAMP reads only the first row, sizes the header by ``TDIM``, stops at an
    ``END`` card on an 80-byte boundary, wants ``SIMPLE`` first, and crashes on
    NUL bytes.
    """
    cell = bytes(cell)
    # SExtractor copies a quadrant's header as the image file has it: XTENSION first
    if b"\x00" in cell or not cell.startswith((b"SIMPLE  =", b"XTENSION=")):
        return False
    if tdim is None or int(np.prod(tdim)) < len(cell):
        return False
    return any(cell[i : i + 80].rstrip() == b"END" for i in range(0, len(cell), 80))


_HEADER_NAME = re.compile(r"^LDAC_IMHEAD(?:_(\d+))?$")
_OBJECTS_NAME = re.compile(r"^(?:LDAC_)?OBJECTS(?:_(\d+))?$")


def _part(match):
    """SourceXtractor++ numbers its later parts ``LDAC_IMHEAD_1``...; the first has no suffix."""
    return int(match.group(1) or 0) if match else None


def _roles(hdul, path):
    """Header tables and object tables: lists of (position, name, part, column index)."""
    headers, objects, others = [], [], []
    for position, hdu in enumerate(hdul):
        if position == 0 or not isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            continue
        name = str(hdu.name).strip().upper()
        column = _header_column(hdu)
        header_name, objects_name = _HEADER_NAME.match(name), _OBJECTS_NAME.match(name)
        label = f"HDU {position} ({hdu.name or 'no EXTNAME'})"
        if header_name or (column is not None and not objects_name):
            if column is None:
                raise InputError(
                    f"{hdu.name} has no {HEADER_COLUMN!r} column (columns "
                    f"{list(hdu.columns.names)}): not an image header (an ldactools FIELDS "
                    "table renamed?)",
                    path=path,
                    extension=label,
                )
            headers.append((position, label, _part(header_name), column))
        elif objects_name or not name:
            objects.append((position, label, _part(objects_name), None))
        else:
            others.append(hdu.name)
    return headers, objects, others


def _layout(hdul, path):
    """Header and object tables of a FITS_LDAC file, or its refusal naming the layout found."""
    headers, objects, others = _roles(hdul, path)
    if headers:
        return headers, objects
    names = [hdu.name for hdu in hdul]
    upper = {n.upper() for n in others + names}
    # recognised as the --gaia reader recognises it (the archive's names or VizieR's)
    tables = [hdu for hdu in hdul if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)]
    if any(is_gaia_table(hdu.columns.names) for hdu in tables):
        raise InputError("a Gaia table, not a SExtractor catalogue: give it with --gaia", path=path)
    hint = ""
    if "FIELDS" in upper:
        hint = "; its OBJECTS/FIELDS tables (ldactools layout) carry no image header"
    elif objects:
        hint = (
            "; its object tables carry no image header (the layout of SExtractor's "
            "CATALOG_TYPE FITS_1.0)"
        )
    raise InputError(
        f"no LDAC_IMHEAD extension (nor a table with a {HEADER_COLUMN!r} column): not a "
        f"FITS_LDAC catalogue as SExtractor writes it (CATALOG_TYPE FITS_LDAC){hint}",
        path=path,
        value=names,
    )


def check_ldac_layout(path, spans=None):
    """Refuse, from its headers alone, a file that is no FITS_LDAC catalogue (see `read_ldac`).

    Cheap (no table data is read), so a command can check every catalogue it
    is given before any work: a Gaia table or an image caught up in a glob is
    named at once, not when its turn comes.

    Parameters
    ----------
    path : path-like
    spans : list of `~ztfnb.io.fitscheck.HduSpan`, optional
        The file's layout when already read (`~ztfnb.io.fitscheck.check_layout`):
        a file with an ``LDAC_IMHEAD`` among its ``EXTNAME`` is not opened again.

    Raises
    ------
    InputError
        As `read_ldac` for a file without an image-header table.
    """
    for span in spans or ():
        name = re.match(r"\s*'([^']*)'", span.cards.get("EXTNAME", ""))
        if name and _HEADER_NAME.match(name[1].strip().upper()):
            return
    # the caller has checked the file's structure (`ztfnb.io.fitscheck.check_layout`): here
    # only the headers are parsed, through a memory map, no table read
    with warnings.catch_warnings(), fits.open(path, memmap=True) as hdul:
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        _layout(hdul, Path(path))


def read_ldac(path):
    """Read every chip of a FITS_LDAC catalogue, whichever writer made it.

    Parameters
    ----------
    path : str or path-like
        The catalogue (gzip-compressed files are read too).

    Returns
    -------
    list of `LdacExtension`
        One per image header, in file order.

    Raises
    ------
    InputError
        The file is missing or not FITS, holds no image-header table, holds
        header and object tables that cannot be paired, or a header that
        cannot be read whole; the message names the file, the HDU and the
        layout found (see the module's documentation).
    """
    path = Path(path)
    # astropy warns about (and ignores) a TDIM larger than its column; the
    # header column is read from the file's bytes and its TDIM checked here
    checked = open_checked(path, "FITS_LDAC catalogue", allow=CATALOGUE_WARNINGS)
    hdul = checked.hdul
    with checked, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TDIM", category=fits.verify.VerifyWarning)
        headers, objects = _layout(hdul, path)
        # every header is decoded first: a layout problem is named before a pairing problem
        decoded = [_read_header(checked, h[0], h[3], path, h[1]) for h in headers]
        heads = ", ".join(str(h[0]) for h in headers)
        if not objects:
            raise InputError(
                f"LDAC_IMHEAD is not followed by LDAC_OBJECTS: header table(s) in HDU {heads} "
                "and no object table",
                path=path,
                extension=headers[0][1],
            )
        if len(objects) != len(headers):
            tables = ", ".join(str(o[0]) for o in objects)
            raise InputError(
                f"{len(headers)} header table(s) (HDU {heads}) but {len(objects)} object tables "
                f"(HDU {tables}): which detections belong to which header is ambiguous",
                path=path,
                extension=headers[0][1],
            )
        adjacent = all(o[0] == h[0] + 1 for h, o in zip(headers, objects, strict=True))
        extensions = []
        for number, (head, table, (header, layout, direct)) in enumerate(
            zip(headers, objects, decoded, strict=True)
        ):
            if None not in (head[2], table[2]) and head[2] != table[2]:
                raise InputError(
                    f"header table {head[1]} is paired with object table {table[1]}: their "
                    "part numbers differ",
                    path=path,
                    extension=head[1],
                )
            if not adjacent:
                layout += f"; object table in HDU {table[0]}, paired by rank as SCAMP does"
            objects_table = Table.read(hdul[table[0]], format="fits", unit_parse_strict="silent")
            objects_table.meta.clear()
            # SCAMP looks the tables up by their exact names
            names = (
                hdul[head[0]].header.get("EXTNAME"),
                hdul[table[0]].header.get("EXTNAME"),
            )
            direct &= names[0] == "LDAC_IMHEAD" and names[1] in ("LDAC_OBJECTS", "OBJECTS")
            extensions.append(
                LdacExtension(
                    header=header,
                    objects=objects_table,
                    index=number,
                    layout=layout,
                    scamp_reads=bool(direct),
                )
            )
    return extensions


def require_columns(table, names, path=None, extension=None):
    """Raise `InputError` naming the first column of ``names`` that ``table`` lacks.

    Also refuses columns that hold NaN or ±inf where a value is needed,
    naming the first row.
    """
    for name in names:
        if name not in table.colnames:
            raise InputError(
                "missing column", path=path, extension=extension, column=name, value=None
            )
    for name in names:
        column = np.asarray(table[name])
        if column.dtype.kind != "f":
            continue
        bad = ~np.isfinite(column.reshape(len(column), -1)).all(axis=1)
        refuse_rows(bad, "NaN or infinite value(s)", path=path, extension=extension, column=name)
