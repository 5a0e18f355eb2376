"""SCAMP's text headers: ``.ahead`` (priors it reads) and ``.head`` (solutions it writes).

One 80-character card per line, each extension's block closed by ``END``.
SCAMP writes UTF-8 text in COMMENT lines, so files are read as bytes,
decoded, and COMMENT/HISTORY cards dropped before parsing.
"""

from pathlib import Path

from astropy.io import fits

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError

__all__ = ["read_header_blocks", "write_header_blocks"]

_SKIPPED = ("COMMENT", "HISTORY")


def read_header_blocks(path):
    """Read the header blocks of a ``.head`` or ``.ahead`` file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of `~astropy.io.fits.Header`
        One per ``END``-terminated block, in file order (a trailing block
        without ``END`` is kept).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    blocks, cards, number = [], [], 0
    for number, line in enumerate(_card_lines(text), start=1):
        keyword = line[:8].strip().upper()
        if keyword == "END":
            blocks.append((number, cards))
            cards = []
        elif keyword in _SKIPPED or not line.strip():
            continue
        else:
            cards.append(line[:80].ljust(80))
    if cards:
        blocks.append((number, cards))
    headers = []
    for index, (number, block) in enumerate(blocks):
        try:
            headers.append(fits.Header.fromstring("".join(block)))
        except Exception as error:
            raise InputError(
                f"cannot parse header block ending at line {number}: {error}",
                path=path,
                extension=index + 1,
            ) from error
    if not headers:
        raise InputError("no header cards", path=path)
    return headers


def _card_lines(text):
    """Lines of 80-character cards; a FITS-style file with no newlines is cut every 80 characters."""
    for line in text.splitlines():
        line = line.rstrip("\r\n")
        if len(line) > 80 and not line[80:].strip() == "" and len(line) % 80 == 0:
            yield from (line[i : i + 80] for i in range(0, len(line), 80))
        else:
            yield line


def write_header_blocks(path, headers):
    """Write header blocks in SCAMP's text format, atomically.

    Parameters
    ----------
    path : str or path-like
    headers : iterable of `~astropy.io.fits.Header`
    """
    lines = []
    for header in headers:
        for card in header.cards:
            image = card.image  # long strings continue over several 80-character cards
            lines.extend(image[i : i + 80] for i in range(0, len(image), 80))
        lines.append("END".ljust(80))
    with atomic_path(path) as temporary:
        Path(temporary).write_text("\n".join(lines) + "\n", encoding="ascii")
