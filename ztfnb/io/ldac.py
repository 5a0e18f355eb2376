"""FITS_LDAC catalogues, the format SExtractor writes and SCAMP reads.

An empty primary HDU, then per chip a pair of binary tables: ``LDAC_IMHEAD``
(one row, one column ``Field Header Card`` holding the image header as
80-character cards) and ``LDAC_OBJECTS`` (the detections).

SCAMP 2.10 crashes on a header column padded with NUL bytes, which is what
astropy writes; :func:`write_ldac` rewrites those bytes as spaces in place.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError

__all__ = [
    "HEADER_COLUMN",
    "LdacExtension",
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
    """

    header: fits.Header
    objects: Table
    index: int = 0


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


def _header_from_cards(cards, path, index):
    if isinstance(cards, bytes | np.bytes_):
        text = bytes(cards).decode("ascii", errors="replace")
    elif isinstance(cards, str):
        text = cards
    else:
        # astropy gives an array of card strings with trailing blanks stripped
        text = "".join(str(card).ljust(_CARD) for card in np.ravel(cards))
    text = text.replace("\x00", " ")
    try:
        return fits.Header.fromstring(text)
    except Exception as error:
        raise InputError(
            f"cannot parse the image header: {error}",
            path=path,
            extension=f"LDAC_IMHEAD #{index + 1}",
        ) from error


def read_ldac(path):
    """Read every chip of a FITS_LDAC catalogue.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of `LdacExtension`
        In file order.

    Raises
    ------
    InputError
        The file is missing or not FITS, holds no ``LDAC_IMHEAD``, or a header
        is not followed by its ``LDAC_OBJECTS``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        hdul = fits.open(path, memmap=False)
    except OSError as error:
        raise InputError(f"not a FITS file ({error})", path=path) from error
    with hdul:
        names = [hdu.name for hdu in hdul]
        if "LDAC_IMHEAD" not in names:
            raise InputError(
                "no LDAC_IMHEAD extension: not a FITS_LDAC catalogue (SExtractor CATALOG_TYPE FITS_LDAC)",
                path=path,
                value=names,
            )
        extensions = []
        for position, name in enumerate(names):
            if name != "LDAC_IMHEAD":
                continue
            index = len(extensions)
            if position + 1 >= len(names) or names[position + 1] != "LDAC_OBJECTS":
                raise InputError(
                    "LDAC_IMHEAD is not followed by LDAC_OBJECTS",
                    path=path,
                    extension=f"HDU {position}",
                )
            imhead = hdul[position]
            if HEADER_COLUMN not in imhead.columns.names:
                raise InputError(
                    "missing the header column",
                    path=path,
                    extension=f"HDU {position}",
                    column=HEADER_COLUMN,
                )
            header = _header_from_cards(imhead.data[HEADER_COLUMN][0], path, index)
            objects = Table.read(hdul[position + 1], format="fits", unit_parse_strict="silent")
            objects.meta.clear()
            extensions.append(LdacExtension(header=header, objects=objects, index=index))
    return extensions


def require_columns(table, names, path=None, extension=None):
    """Raise `InputError` naming the first column of ``names`` that ``table`` lacks.

    Also refuses columns that hold NaN where a value is needed.
    """
    for name in names:
        if name not in table.colnames:
            raise InputError(
                "missing column", path=path, extension=extension, column=name, value=None
            )
    for name in names:
        column = np.asarray(table[name])
        if column.dtype.kind == "f" and np.isnan(column).any():
            raise InputError(
                f"{int(np.isnan(column).sum())} NaN value(s)",
                path=path,
                extension=extension,
                column=name,
            )
