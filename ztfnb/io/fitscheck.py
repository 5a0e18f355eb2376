"""Every FITS file ztfnb reads is opened here: checked whole, or refused in one line.

astropy opens a damaged file as far as it can: a file cut inside an HDU loses
that HDU with a warning ("File may have been truncated"), a data block cut
short surfaces later as a numpy ``reshape`` error, a garbled card as a
``KeyError`` somewhere else. `open_fits` reads the file once, whole
(decompressing gzip, bzip2 or xz), and before astropy sees it checks the
structure the FITS standard fixes:

* the file starts with ``SIMPLE`` and every following HDU with ``XTENSION``;
* every header card is printable ASCII, every header ends with ``END``, and
  every valued card (``KEY = value``) holds a value astropy can read;
* ``BITPIX``, ``NAXIS``, ``NAXISn``, ``PCOUNT`` and ``GCOUNT`` are whole
  numbers, and each HDU's header and data, padded to 2880-byte blocks, add up
  to the file's size exactly: not a byte missing (the file was cut short), none
  left over;
* a primary header's ``NEXTEND`` (the number of extensions the writer
  declared), when there is one, is the number of extensions found: a file cut
  exactly between two HDUs is whole otherwise;
* ``CHECKSUM``/``DATASUM``, when the writer recorded them, match.

Then astropy opens the bytes with every header loaded; any warning it gives
(`~astropy.io.fits.verify.VerifyWarning`, ``AstropyUserWarning``) is a
refusal too, except those the caller says it deals with. Each refusal is an
`~ztfnb.io.errors.InputError` naming the file, the HDU and what is wrong.

A block of data overwritten with zeros or other valid numbers is not found
here: FITS has no redundancy but ``DATASUM``. The readers check values where
physics bounds them.
"""

import bz2
import gzip
import io
import lzma
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from ztfnb.io.errors import InputError, no_such_file

__all__ = [
    "BLOCK",
    "CATALOGUE_WARNINGS",
    "CheckedFits",
    "HduSpan",
    "check_layout",
    "file_bytes",
    "fits_layout",
    "open_checked",
    "open_fits",
    "read_header_only",
]

#: The one warning astropy gives on catalogues that is not damage: a TDIM larger than its
#: column, as other writers' FITS_LDAC layouts have (read_ldac deals with it).
CATALOGUE_WARNINGS = ("TDIM",)

BLOCK = 2880
_CARD = 80
#: Magic numbers of the compressions astropy reads, and how to undo them.
_COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", gzip.decompress, (EOFError, OSError, zlib.error)),
    (b"BZh", "bzip2", bz2.decompress, (EOFError, OSError, ValueError)),
    (b"\xfd7zXZ\x00", "xz", lzma.decompress, (EOFError, lzma.LZMAError)),
)
_STRUCTURAL = ("BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "GROUPS", "NEXTEND")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[EDed][+-]?\d+)?"
# a FITS value (free or fixed format): string, logical, number, complex, or none at all
_VALUE = re.compile(
    rf"^ *(?:'(?:[^']|'')*'|[TF]|{_NUMBER}|\( *{_NUMBER} *, *{_NUMBER} *\))? *(?:/.*)?$"
)
_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")
_SHOWN = 40


def _shown(raw):
    """Bytes as short text for a message."""
    text = raw.decode("latin-1")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def file_bytes(path, what="FITS file"):
    """The file's bytes, decompressed when gzip, bzip2 or xz, read whole.

    Raises
    ------
    InputError
        No such file, or a compressed stream that is cut short or damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path)
    raw = path.read_bytes()
    for magic, name, decompress, errors in _COMPRESSIONS:
        if raw.startswith(magic):
            try:
                return decompress(raw)
            except errors as error:
                raise InputError(
                    f"the {name} stream is damaged or cut short ({error}): not a readable {what}",
                    path=path,
                ) from None
    return raw


@dataclass(frozen=True)
class HduSpan:
    """Where one HDU lies in the file, in bytes from its start.

    Attributes
    ----------
    start : int
        The header's first byte.
    data : int
        The data's first byte (the header's end, a multiple of 2880 past ``start``).
    size : int
        The data's size as the header declares it, before padding.
    end : int
        The next HDU's first byte (data padded to 2880 bytes).
    cards : dict
        The structural keywords (``BITPIX``, ``NAXIS``, ``NAXISn``, ``PCOUNT``,
        ``GCOUNT``, ``GROUPS``, ``NEXTEND``, ``EXTNAME``) as read.
    """

    start: int
    data: int
    size: int
    end: int
    cards: dict


def _padded(size):
    return -(-size // BLOCK) * BLOCK


def _number_of(cards, key, hdu, path, default=None):
    if key not in cards:
        if default is None:
            raise InputError(
                f"the header has no {key}: the HDU's size cannot be known",
                path=path,
                extension=f"HDU {hdu}",
            )
        return default
    text = cards[key].split("/", 1)[0].strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InputError(
            "not a whole number: the HDU's size cannot be known",
            path=path,
            extension=f"HDU {hdu}",
            keyword=key,
            value=_shown(text.encode("latin-1")),
        )
    value = int(text)
    if value < 0 and key != "BITPIX":
        raise InputError("negative", path=path, extension=f"HDU {hdu}", keyword=key, value=value)
    return value


def _check_card(card, number, hdu, path):
    """Refuse a card that is not printable ASCII or whose value astropy cannot read."""
    bad = _NOT_PRINTABLE.search(card)
    if bad:
        raise InputError(
            f"card {number} holds byte 0x{bad.group()[0]:02x}, not printable ASCII (FITS headers "
            "are): the header is damaged",
            path=path,
            extension=f"HDU {hdu}",
            value=card.rstrip().decode("latin-1"),
        )
    text = card.decode("ascii")
    keyword = text[:8].rstrip()
    if keyword == "HIERARCH" and "=" in text:
        value = text.split("=", 1)[1]
    elif keyword == "CONTINUE":
        value = text[8:]
    elif text[8:10] == "= ":
        value = text[10:]
    else:
        return  # commentary
    if _VALUE.match(value):
        return
    try:  # what the pattern misses and astropy still reads (it is the reader)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fits.Card.fromstring(text).value  # noqa: B018 - parsing is the check
    except Exception:
        raise InputError(
            f"card {number} ({keyword or 'no keyword'}) holds no readable value: the header is "
            "damaged",
            path=path,
            extension=f"HDU {hdu}",
            value=_shown(card.rstrip()),
        ) from None


def _header(read, total, start, hdu, path):
    """Cards of the header starting at ``start``: (structural cards, data start)."""
    cards, number, position = {}, 0, start
    while True:
        block = read(position, BLOCK)
        if len(block) < BLOCK:
            raise InputError(
                f"the file ends {total - start:,} bytes into the header of HDU {hdu}, before its "
                "END card: the file is cut short",
                path=path,
                extension=f"HDU {hdu}",
            )
        position += BLOCK
        for offset in range(0, BLOCK, _CARD):
            card = block[offset : offset + _CARD]
            number += 1
            keyword = card[:8].rstrip()
            if keyword == b"END":
                rest = block[offset + _CARD :]
                if rest.strip(b" "):
                    raise InputError(
                        f"bytes other than blanks after the END card (card {number}): the header "
                        "is damaged",
                        path=path,
                        extension=f"HDU {hdu}",
                    )
                return cards, position
            _check_card(card, number, hdu, path)
            name = keyword.decode("ascii")
            if number == 1:
                cards["first"] = name
            if (name in _STRUCTURAL or name.startswith("NAXIS") or name == "EXTNAME") and (
                card[8:10] == b"= " and name not in cards
            ):
                cards[name] = card[10:].decode("ascii")


def _data_size(cards, hdu, path):
    """The data's size in bytes as the header declares it (FITS standard, 4.4.1)."""
    bitpix = _number_of(cards, "BITPIX", hdu, path)
    if bitpix not in (8, 16, 32, 64, -32, -64):
        raise InputError(
            "not one of 8, 16, 32, 64, -32, -64",
            path=path,
            extension=f"HDU {hdu}",
            keyword="BITPIX",
            value=bitpix,
        )
    naxis = _number_of(cards, "NAXIS", hdu, path)
    if naxis > 999:
        raise InputError(
            "more than 999 axes", path=path, extension=f"HDU {hdu}", keyword="NAXIS", value=naxis
        )
    axes = [_number_of(cards, f"NAXIS{i}", hdu, path) for i in range(1, naxis + 1)]
    pcount = _number_of(cards, "PCOUNT", hdu, path, default=0)
    gcount = _number_of(cards, "GCOUNT", hdu, path, default=1)
    groups = cards.get("GROUPS", "").split("/")[0].strip() == "T"
    if naxis == 0:
        return 0
    elements = 1
    for length in axes[1:] if groups and axes[0] == 0 else axes:
        elements *= length
    return abs(bitpix) // 8 * gcount * (pcount + elements)


def fits_layout(read, total, path):
    """Every HDU's place in a file, checked against its size.

    Parameters
    ----------
    read : callable
        ``read(offset, n)`` → at most ``n`` bytes from ``offset``.
    total : int
        The file's size (decompressed).
    path : path-like
        For messages.

    Returns
    -------
    list of `HduSpan`

    Raises
    ------
    InputError
        Not FITS, a damaged header, or sizes that do not add up to ``total``.
    """
    if total == 0:
        raise InputError("the file is empty (0 bytes): not a FITS file", path=path)
    first = read(0, _CARD)
    if not first.startswith(b"SIMPLE  ="):
        raise InputError(
            "not a FITS file (it does not start with SIMPLE)",
            path=path,
            value=_shown(first.split(b"\n")[0].rstrip()),
        )
    spans, position = [], 0
    while position < total:
        hdu = len(spans)
        if hdu and not read(position, 9).startswith(b"XTENSION="):
            rest = read(position, min(total - position, BLOCK))
            found = "zero bytes" if not rest.strip(b"\x00") else repr(_shown(rest[:20]))
            raise InputError(
                f"where HDU {hdu} should begin (byte {position:,}, {total - position:,} bytes "
                f"before the end) there is no XTENSION card but {found}: HDU {hdu - 1} is "
                "longer than its header says (NAXISn?), or the file is damaged",
                path=path,
                extension=f"HDU {hdu}",
            )
        cards, data = _header(read, total, position, hdu, path)
        size = _data_size(cards, hdu, path)
        end = data + _padded(size)
        if end > total:
            raise InputError(
                f"the file ends {total - position:,} bytes into HDU {hdu}, which needs "
                f"{end - position:,} ({data - position:,} of header, {size:,} of data and its "
                "padding): the file is cut short (or the header's NAXISn/PCOUNT are wrong)",
                path=path,
                extension=f"HDU {hdu}",
            )
        spans.append(HduSpan(position, data, size, end, cards))
        position = end
    nextend = spans[0].cards.get("NEXTEND")
    if nextend is not None:
        declared = _number_of(spans[0].cards, "NEXTEND", 0, path)
        if declared != len(spans) - 1:
            raise InputError(
                f"the primary header declares NEXTEND = {declared} extensions, the file holds "
                f"{len(spans) - 1}: the file is cut short (or extensions were added)",
                path=path,
                extension="HDU 0",
            )
    return spans


def _refuse_warnings(caught, path, allow):
    for warning in caught:
        if not issubclass(warning.category, AstropyUserWarning | fits.verify.VerifyWarning):
            continue
        text = " ".join(str(warning.message).split())
        if any(re.search(pattern, text) for pattern in allow):
            continue
        if len(text) > 160:
            text = text[:159] + "…"
        raise InputError(f"astropy reads it with a warning: {text}", path=path)


@dataclass
class CheckedFits:
    """A FITS file checked whole: astropy's view of it, its bytes and where each HDU lies.

    Use it as a context manager (it closes ``hdul``).

    Attributes
    ----------
    hdul : `~astropy.io.fits.HDUList`
    data : bytes
        The file's bytes, decompressed.
    spans : list of `HduSpan`
        One per HDU: raw bytes of HDU ``i``'s data are
        ``data[spans[i].data : spans[i].data + spans[i].size]``.
    """

    hdul: fits.HDUList
    data: bytes
    spans: list

    def raw(self, index):
        """HDU ``index``'s data as stored, without padding."""
        span = self.spans[index]
        return self.data[span.data : span.data + span.size]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.hdul.close()


def open_checked(path, what="FITS file", allow=()):
    """Open a FITS file checked whole (see the module's description).

    Parameters
    ----------
    path : str or path-like
        Plain, or compressed with gzip, bzip2 or xz.
    what : str
        What the file should be, for messages ("FITS_LDAC catalogue", ...).
    allow : sequence of str
        Regular expressions of astropy warnings the caller deals with itself.

    Returns
    -------
    `CheckedFits`
        Every header loaded, the data in memory.

    Raises
    ------
    InputError
        Naming the file and the HDU.
    """
    path = Path(path)
    data = file_bytes(path, what)
    spans = fits_layout(lambda start, n: data[start : start + n], len(data), path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(io.BytesIO(data), memmap=False, lazy_load_hdus=False, checksum=True)
        except Exception as error:  # the layout was checked: anything else is astropy's limit
            raise InputError(f"astropy cannot open it as a {what} ({error})", path=path) from None
    try:
        _refuse_warnings(caught, path, allow)
        if len(hdul) != len(spans):
            raise InputError(
                f"astropy finds {len(hdul)} HDUs where the file holds {len(spans)}", path=path
            )
    except InputError:
        hdul.close()
        raise
    return CheckedFits(hdul, data, spans)


def open_fits(path, what="FITS file", allow=()):
    """`open_checked`'s `~astropy.io.fits.HDUList` alone (close it, or use ``with``)."""
    return open_checked(path, what, allow).hdul


def check_layout(path, what="FITS file"):
    """Check a FITS file's structure (headers whole, sizes adding up) reading only its headers.

    Cheap enough to check every file of a night before any work starts
    (the data are skipped, not read).

    Returns
    -------
    list of `HduSpan`, or None
        None for a compressed file, whose structure is checked only when it is read whole.

    Raises
    ------
    InputError
        No such file, not FITS, a damaged header, or a file cut short or too long.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path, what)
    with open(path, "rb") as handle:
        magic = handle.read(6)
        if any(magic.startswith(m) for m, *_ in _COMPRESSIONS):
            return None

        def read(start, n):
            handle.seek(start)
            return handle.read(n)

        return fits_layout(read, path.stat().st_size, path)


def read_header_only(path, what="FITS file"):
    """Open a FITS file for its headers only, its sizes checked (a large image: its data unread).

    The headers are read from the file (the whole file when compressed); the
    data's sizes are checked against the file's size without reading it.

    Returns
    -------
    `~astropy.io.fits.HDUList`
        Headers loaded; reading the data is not intended.
    """
    path = Path(path)
    if check_layout(path, what) is None:  # compressed: read whole
        return open_fits(path, what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
        except Exception as error:
            raise InputError(f"astropy cannot open it as a {what} ({error})", path=path) from None
    try:
        _refuse_warnings(caught, path, ())
    except InputError:
        hdul.close()
        raise
    return hdul
