"""SCAMP's text headers: ``.ahead`` (priors it reads) and ``.head`` (solutions it writes).

One 80-character card per line, each extension's block closed by ``END``.
SCAMP writes UTF-8 text in COMMENT lines, so files are read as bytes,
decoded, and COMMENT/HISTORY cards dropped before parsing.
"""

import re
from pathlib import Path

import numpy as np
from astropy.io import fits

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file, shown

__all__ = [
    "check_wcs_keywords",
    "has_wcs_keywords",
    "is_partial",
    "merge_header_blocks",
    "read_header_blocks",
    "tpv_in_cd_form",
    "write_header_blocks",
]

_SKIPPED = ("COMMENT", "HISTORY")


def read_header_blocks(path):
    """Read the header blocks of a ``.head`` or ``.ahead`` file.

    Cards are cut from the file's bytes (80 to a card where a file has no
    line ends), so that a multi-byte UTF-8 character in a comment cannot shift
    them. COMMENT and HISTORY cards are dropped; other text outside plain
    ASCII is kept as ``?`` in comments and string values, and is an error in
    a number. A TPV block written with ``PC``/``CDELT`` (or ``CDELT``/``CROTA2``)
    is returned in ``CD`` form, as SCAMP reads it (`tpv_in_cd_form`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of `~astropy.io.fits.Header`
        One per ``END``-terminated block, in file order (a single block
        without ``END`` is kept: astropy's ``totextfile`` writes none; but
        when its cards are padded to 80 characters, as astropy and SCAMP
        write them, a shorter last line is a card cut short).

    Raises
    ------
    InputError
        A file holding NUL bytes (binary, not text), a last block without
        ``END`` after blocks that have one (the file was cut short), a block
        astropy cannot parse, a card that is not FITS standard (a value
        astropy would "fix" with a warning: damaged bytes), no card at all.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path)
    data = path.read_bytes()
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"a NUL byte at byte {nul:,}: not a text header", path=path)
    blocks, cards, number = [], [], 0
    for number, raw in enumerate(_card_lines(data), start=1):
        keyword = raw[:8].decode("ascii", errors="replace").strip().upper()
        if keyword == "END":
            blocks.append((number, cards))
            cards = []
        elif keyword in _SKIPPED or not raw.strip():
            continue
        else:
            card = raw.decode("utf-8", errors="replace")
            cards.append(card.encode("ascii", errors="replace").decode("ascii")[:80].ljust(80))
    if cards and not blocks and _cut_card(data):
        raise InputError(
            f"the file ends at line {number} inside a card (its other cards are 80 characters, "
            "this one is shorter) and has no END card: the file is cut short",
            path=path,
            extension=1,
        )
    if cards and blocks:
        raise InputError(
            f"the file ends at line {number} inside block {len(blocks) + 1}, before its END card "
            f"(the {len(blocks)} block(s) before it have one): the file is cut short",
            path=path,
            extension=len(blocks) + 1,
        )
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
    for index, header in enumerate(headers):
        _check_cards(header, path, index + 1)
    return [tpv_in_cd_form(header) for header in headers]


def _check_cards(header, path, block):
    """Refuse a card astropy would 'fix' with a warning: its value is damaged, not read."""
    for card in header.cards:
        try:
            card.verify("exception")
        except Exception:  # astropy's VerifyError (and ValueError for what it cannot even show)
            raise InputError(
                "a card that is not FITS standard (its value cannot be read)",
                path=path,
                extension=block,
                keyword=card.keyword,
                value=shown(card._image if card._image is not None else str(card)),
            ) from None


def _cut_card(data):
    """Whether the text ends in a card shorter than the others, which are all padded to 80."""
    lines = [line.rstrip(b"\r") for line in data.rstrip(b"\n").split(b"\n") if line.strip()]
    if len(lines) < 2:
        return False
    return all(len(line) == 80 for line in lines[:-1]) and len(lines[-1]) < 80


def _card_lines(data):
    """Cards as bytes: one a line, or 80 bytes at a time in a FITS-style file without line ends."""
    for line in data.splitlines():
        line = line.rstrip(b"\r\n")
        if len(line) > 80 and len(line) % 80 == 0:
            yield from (line[i : i + 80] for i in range(0, len(line), 80))
        else:
            yield line


_WCS_NUMBERS = ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2")
_WCS_MATRICES = (("CD1_1", "CD1_2", "CD2_1", "CD2_2"), ("CDELT1", "CDELT2"))


def check_wcs_keywords(headers, path, labels=None):
    """Check that each block holds a celestial WCS: its keywords there, and numbers.

    Parameters
    ----------
    headers : list of `~astropy.io.fits.Header`
        As `read_header_blocks` returns them.
    path : str or path-like
        The file, for messages.
    labels : list, optional
        How messages name each header (default: its block number from 1; an
        image's extension instead).

    Raises
    ------
    InputError
        Naming the file, the block and the keyword.
    """
    labels = range(1, len(headers) + 1) if labels is None else labels
    for block, header in zip(labels, headers, strict=True):
        for key in ("CTYPE1", "CTYPE2"):
            if not str(header.get(key, "")).strip():
                raise InputError(
                    "no celestial WCS: keyword missing", path=path, extension=block, keyword=key
                )
        present = [keys for keys in _WCS_MATRICES if all(k in header for k in keys)]
        if not present:
            raise InputError(
                "no CD matrix (CD1_1...CD2_2) nor CDELT1/CDELT2", path=path, extension=block
            )
        for key in (*_WCS_NUMBERS, *present[0]):
            try:
                value = header.get(key)
            except (fits.VerifyError, ValueError) as error:  # a card astropy cannot parse
                raise InputError(
                    "WCS keyword unreadable", path=path, extension=block, keyword=key
                ) from error
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not np.isfinite(value)
            ):
                raise InputError(
                    "WCS keyword missing or not a number",
                    path=path,
                    extension=block,
                    keyword=key,
                    value=value,
                )


# the linear matrix's conventions: CDi_j alone, or PCi_j with CDELTi, or CDELTi with CROTAi
_MATRIX_FAMILIES = {
    "CD": re.compile(r"CD\d_\d$"),
    "PC": re.compile(r"(PC\d_\d|CDELT\d|CROTA\d)$"),
}


def has_wcs_keywords(header):
    """Whether a header block sets any part of a celestial WCS (``CTYPE``, ``CRVAL``, ``CRPIX``,
    a matrix in either convention, ``PV``), as against comments or other keywords only."""
    return any(
        key.startswith(("CTYPE", "PV"))
        or key in _WCS_NUMBERS
        or any(pattern.match(key) for pattern in _MATRIX_FAMILIES.values())
        for key in header
    )


def is_partial(header):
    """Whether a header block lacks part of a celestial WCS (its ``CTYPE``, ``CRVAL``...).

    SCAMP's shipped instrument priors hold only ``CRPIX`` and ``CD`` per
    extension; SCAMP (and SWarp, with ``.head`` files) merges such a block into
    the catalogue's (image's) own header.
    """
    has_matrix = any(all(k in header for k in keys) for keys in _WCS_MATRICES)
    return not (has_matrix and all(k in header for k in ("CTYPE1", "CTYPE2", *_WCS_NUMBERS)))


def tpv_in_cd_form(header):
    """A TPV header with its linear matrix as ``CD``, as SCAMP reads and writes it.

    TPV's polynomial acts on the intermediate world coordinates in degrees,
    ``CD · (p − CRPIX)`` (NOAO's definition; SCAMP converts ``PC``/``CDELT``
    and ``CDELT``/``CROTA`` to ``CD`` on reading). wcslib, through astropy,
    reads the same block written with ``PC`` and ``CDELT`` ≠ 1 as another
    mapping, as if the polynomial came before ``CDELT`` (measured: tens of
    degrees off for a ZTF quadrant; the same block as TAN without PV is read
    right). Headers that are not TPV, or already use ``CD``, are returned
    unchanged.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`

    Returns
    -------
    `~astropy.io.fits.Header`
        A copy with ``CD1_1..CD2_2`` = diag(``CDELT``) · ``PC`` (or the
        ``CROTA2`` rotation), the ``PC``/``CDELT``/``CROTA`` cards removed.
    """
    if not str(header.get("CTYPE1", "")).upper().endswith("-TPV"):
        return header
    if any(key in header for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")):
        return header
    if not any(_MATRIX_FAMILIES["PC"].match(key) for key in header):
        return header
    cdelt = np.array([header.get("CDELT1", 1.0), header.get("CDELT2", 1.0)], float)
    if any(f"PC{i}_{j}" in header for i in (1, 2) for j in (1, 2)):
        pc = np.array(
            [[header.get(f"PC{i}_{j}", float(i == j)) for j in (1, 2)] for i in (1, 2)], float
        )
    else:  # CDELTi with CROTA2, the older convention (Calabretta & Greisen 2002, sect. 6.1)
        rho = np.deg2rad(float(header.get("CROTA2", 0.0)))
        ratio = cdelt[1] / cdelt[0] if cdelt[0] else 0.0
        pc = np.array(
            [[np.cos(rho), -np.sin(rho) * ratio], [np.sin(rho) / ratio, np.cos(rho)]]
            if ratio
            else np.eye(2)
        )
    cd = cdelt[:, None] * pc
    header = header.copy()
    anchor = "CRPIX2" if "CRPIX2" in header else None
    for key in [k for k in header if _MATRIX_FAMILIES["PC"].match(k)]:
        del header[key]
    for (i, j), value in zip([(1, 1), (1, 2), (2, 1), (2, 2)], cd.ravel(), strict=True):
        card = (f"CD{i}_{j}", float(value), "linear projection matrix (from PC and CDELT)")
        if anchor is None:
            header.append(card)
        else:
            header.insert(anchor, card, after=True)
            anchor = f"CD{i}_{j}"
    return header


def merge_header_blocks(blocks, base_headers, path):
    """Merge header blocks into the catalogue's headers, as SCAMP merges an ``.ahead``.

    Each block's cards replace or extend those of the matching catalogue
    header (extension by extension, in file order). A block that sets the
    linear matrix in one convention (``CD``, or ``PC``/``CDELT``/``CROTA``)
    drops the catalogue's cards of the other, which would otherwise leave two
    matrices in one header, read differently by different tools.

    Parameters
    ----------
    blocks : list of `~astropy.io.fits.Header`
        As `read_header_blocks` returns them.
    base_headers : list of `~astropy.io.fits.Header`
        The catalogue's ``LDAC_IMHEAD`` headers, one per extension.
    path : path-like
        The file of ``blocks``, for messages.

    Returns
    -------
    list of `~astropy.io.fits.Header`

    Raises
    ------
    InputError
        The numbers of blocks and extensions differ.
    """
    if len(blocks) != len(base_headers):
        raise InputError(
            f"{len(blocks)} header blocks for {len(base_headers)} catalogue extensions",
            path=path,
        )
    merged = []
    for block, base in zip(blocks, base_headers, strict=True):
        header = base.copy()
        for family, pattern in _MATRIX_FAMILIES.items():
            if any(pattern.match(key) for key in block):
                others = [p for f, p in _MATRIX_FAMILIES.items() if f != family]
                for key in list(header):
                    if any(p.match(key) for p in others):
                        del header[key]
        for card in block.cards:
            header[card.keyword] = (card.value, card.comment)
        merged.append(tpv_in_cd_form(header))  # a PC/CDELT block merged into a TPV header
    return merged


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
