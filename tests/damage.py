"""Damaged copies of a FITS file, for the ``test_bad_*`` files.

Each function reads ``source`` (decompressed if gzip), writes a damaged copy
to ``target`` (uncompressed, unless the damage is to the compression) and
returns ``target``. Where the HDUs lie is taken from astropy's reading of the
intact file (``fileinfo``), not from ztfnb's, so the damage is placed by an
independent reader. Random damage is seeded: the same call gives the same bytes.
"""

import gzip
from pathlib import Path

import numpy as np
from astropy.io import fits

BLOCK = 2880
CARD = 80


def _bytes(source):
    data = Path(source).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _write(target, data):
    target = Path(target)
    target.write_bytes(data)
    return target


def layout(source):
    """Per HDU: (header start, data start, data size padded), by astropy."""
    with fits.open(source, memmap=False) as hdul:
        hdul.readall()
        return [
            (info["hdrLoc"], info["datLoc"], info["datSpan"])
            for info in (hdul.fileinfo(i) for i in range(len(hdul)))
        ]


def half_hdus(source, target):
    """The first HDUs kept whole, the rest dropped: a file cut exactly between two HDUs.

    Keeps the primary and half the extensions (whole pairs of a FITS_LDAC
    catalogue: 1 + 64 of 129), one HDU of two.
    """
    spans = layout(source)
    keep = max(1, min(len(spans) - 1, len(spans) // 2 + 1))
    if len(spans) > 3 and keep % 2 == 0:
        keep -= 1  # primary + whole LDAC pairs
    return _write(target, _bytes(source)[: spans[keep][0]])


def mid_header(source, target, hdu=1):
    """Cut 1000 bytes into HDU ``hdu``'s header."""
    start = layout(source)[hdu][0]
    return _write(target, _bytes(source)[: start + 1000])


def mid_data(source, target, hdu=-1):
    """Cut in the middle of HDU ``hdu``'s data (by default the last HDU, where a download stops)."""
    _, data, span = layout(source)[hdu]
    return _write(target, _bytes(source)[: data + span // 2 + 7])


def last_byte(source, target):
    """The last byte missing."""
    return _write(target, _bytes(source)[:-1])


def zero_block(source, target, hdu=1):
    """HDU ``hdu``'s first header block overwritten with zero bytes."""
    data = bytearray(_bytes(source))
    start = layout(source)[hdu][0]
    data[start : start + BLOCK] = bytes(BLOCK)
    return _write(target, bytes(data))


def garbled_card(source, target, hdu=1, seed=0):
    """Eight random bytes (seeded) written over a card of HDU ``hdu``'s header, not its END."""
    data = bytearray(_bytes(source))
    start, end, _ = layout(source)[hdu]
    cards = [
        start + k * CARD
        for k in range((end - start) // CARD)
        if data[start + k * CARD : start + k * CARD + CARD].strip(b" ")
        and data[start + k * CARD : start + k * CARD + 3] != b"END"
    ]
    rng = np.random.default_rng(seed)
    card = cards[int(rng.integers(len(cards)))]
    offset = card + int(rng.integers(0, CARD - 8))
    data[offset : offset + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
    return _write(target, bytes(data))


def wrong_naxis2(source, target, hdu=-1, rows=1000):
    """HDU ``hdu``'s NAXIS2 made ``rows`` larger than its table, the card's width kept."""
    data = bytearray(_bytes(source))
    start, end, _ = layout(source)[hdu]
    for position in range(start, end, CARD):
        if data[position : position + 8] == b"NAXIS2  ":
            value = int(data[position + 10 : position + 30]) + rows
            data[position + 10 : position + 30] = f"{value:>20d}".encode()
            return _write(target, bytes(data))
    raise ValueError(f"no NAXIS2 in HDU {hdu}")


def text_file(source, target):
    """Not FITS at all: a few lines of text."""
    return _write(target, b"This is not a FITS file.\nNor a table.\n")


def empty_file(source, target):
    """Zero bytes."""
    return _write(target, b"")


def gzip_of_text(source, target):
    """gzip-compressed text: readable compression, no FITS inside."""
    return _write(target, gzip.compress(b"SIMPLE? no: a text file compressed\n" * 10, mtime=0))


def cut_gzip(source, target):
    """The file gzip-compressed, the stream cut in its middle."""
    packed = gzip.compress(_bytes(source), mtime=0)
    return _write(target, packed[: len(packed) // 2])


#: Every damage, by name; each takes (source, target).
DAMAGES = {
    "half_hdus": half_hdus,
    "mid_header": mid_header,
    "mid_data": mid_data,
    "last_byte": last_byte,
    "zero_block": zero_block,
    "garbled_card": garbled_card,
    "wrong_naxis2": wrong_naxis2,
    "text_file": text_file,
    "empty_file": empty_file,
    "gzip_of_text": gzip_of_text,
    "cut_gzip": cut_gzip,
}
