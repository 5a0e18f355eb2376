"""The image header inside an ``LDAC_IMHEAD`` table: from the column's bytes to a FITS header.

Writers of FITS_LDAC store the header's 80-character cards in a character
column in several ways (see :mod:`ztfnb.io.ldac` for which writer does what):

* one row holding all cards end to end (``{80N}A``, with or without
  ``TDIM = '(80, N)'``, padded with spaces or NUL bytes, the column sometimes
  wider than the text);
* one card per row (``80A`` or narrower, N rows, or variable-length rows;
  a row may keep the newline of the text line it was read from);
* one row of cards separated by commas (81 characters apart) or by newlines.

The functions here work on the raw bytes of the column, never on astropy's
view of it (which honours ``TDIM`` and would silently cut a cell whose
``TDIM`` declares fewer cards than the column holds). Whatever cannot be read
whole raises `LayoutError` naming the layout found; the caller adds the file
and the HDU.
"""

import math
import re
import warnings

from astropy.io import fits

__all__ = ["LayoutError", "cards_from_rows", "header_from_cards"]

CARD = 80
_COMMENTARY = ("COMMENT", "HISTORY", "")
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_CARD_START = re.compile(rb"[A-Za-z0-9_ \x00-]")


class LayoutError(ValueError):
    """The header column cannot be read whole; the message names the layout found."""


def _rows(rows):
    return "one row" if len(rows) == 1 else f"{len(rows)} rows"


def _card_text(raw, number):
    """One card's bytes (at most 80) as 80 characters, NUL padding turned to spaces."""
    text = raw.rstrip(b"\x00")
    if b"\x00" in text:
        raise LayoutError(f"card {number} holds a NUL byte inside its text ({raw!r})")
    if len(text) > CARD:
        raise LayoutError(f"card {number} is {len(text)} characters long, not {CARD}")
    # latin-1 keeps one character per byte; other bytes are dealt with per card later
    return text.decode("latin-1").ljust(CARD)


def _split_cell(cell):
    """Cards of a single cell holding the whole header; returns (cards, description)."""
    body = cell.rstrip(b"\x00 ")
    if 0 <= body.find(b"\n") <= CARD:
        lines = [line.rstrip(b"\r") for line in body.split(b"\n")]
        long = [(n, len(line)) for n, line in enumerate(lines, 1) if len(line.rstrip(b" ")) > CARD]
        if long:
            number, length = long[0]
            raise LayoutError(
                f"one row of cards separated by newlines: line {number} is {length} characters "
                f"long, longer than a card ({CARD})"
            )
        cards = [_card_text(line.rstrip(b" "), n) for n, line in enumerate(lines, 1)]
        return cards, "one row of cards separated by newlines"
    if len(cell) > CARD and not _CARD_START.match(cell[CARD : CARD + 1]):
        # a card cannot begin with this byte: the writer put a separator between cards
        separator = cell[CARD : CARD + 1]
        shown = repr(separator.decode("latin-1"))
        stride = CARD + 1
        count = -(-len(body) // stride)
        for k in range(1, count):
            if cell[k * stride - 1 : k * stride] != separator:
                raise LayoutError(
                    f"one row of cards separated by {shown}, but card {k + 1} "
                    "does not follow a separator"
                )
        cards = [cell[k * stride : k * stride + CARD] for k in range(count)]
        if len(cards[-1].rstrip(b"\x00 ")) and len(cards[-1]) < CARD:
            raise LayoutError(
                f"one row of {len(cell)} characters, cards separated by {shown}: "
                f"the text ends inside card {count} (the writer cut the header)"
            )
        return [_card_text(c, n) for n, c in enumerate(cards, 1)], (
            f"one row of {len(cell)} characters, cards separated by {shown}"
        )
    full, rest = divmod(len(cell), CARD)
    if rest and cell[full * CARD :].strip(b"\x00 "):
        raise LayoutError(
            f"one row of {len(cell)} characters (not a multiple of {CARD}): the text ends inside "
            f"card {full + 1} (the writer cut the header)"
        )
    cards = [_card_text(cell[k * CARD : (k + 1) * CARD], k + 1) for k in range(full)]
    return cards, f"one row of {len(cell)} characters"


def cards_from_rows(rows, tdim=None):
    """The cards stored in a header column, from its raw bytes.

    Parameters
    ----------
    rows : list of bytes
        The column's bytes, one item per table row (the full width of the
        column as stored in the file; variable-length rows as long as they are).
    tdim : tuple of int, optional
        The column's ``TDIMn`` in FITS order (``(80, N)`` for SExtractor).

    Returns
    -------
    cards : list of str
        80-character cards, in order, padding included.
    layout : str
        How they were stored, for messages.

    Raises
    ------
    LayoutError
        The table has no rows, a row (of several) holding more than a card, a
        cell cut inside a card, or a ``TDIM`` declaring more cards than the
        column holds when the column has no ``END``.
    """
    if not rows:
        raise LayoutError("the header table has no rows")
    width = max(len(row) for row in rows)
    if width == 0:
        raise LayoutError("the header column is 0 characters wide")
    declared = ""
    if tdim is not None:
        declared = f", TDIM ({', '.join(map(str, tdim))})"
    if len(rows) == 1 and width > CARD:
        cards, layout = _split_cell(rows[0])
        if tdim is not None and math.prod(tdim) > width and "END" not in map(_keyword, cards):
            # without END the declared rest of the header is missing, not merely miscounted
            # (old SCAMP merged catalogues declare whole blocks and stop the column after END)
            raise LayoutError(
                f"{layout}{declared}: TDIM declares {math.prod(tdim) // CARD} cards but the "
                f"column holds only {width // CARD} and no END (the writer cut the header)"
            )
        return cards, layout + declared
    # one card per row; lines of a text file may keep their newline
    stripped = [row.rstrip(b"\x00 ").removesuffix(b"\n").rstrip(b"\r") for row in rows]
    longest = max(len(row) for row in stripped)
    if longest > CARD:
        raise LayoutError(
            f"{_rows(rows)} of {width} characters{declared}, a row holding {longest}: neither "
            "one row of cards nor one card per row (several headers in one table, or one "
            "header split over rows?)"
        )
    cards = [_card_text(row, number) for number, row in enumerate(stripped, 1)]
    return cards, f"{_rows(rows)} of {width} characters, one card per row{declared}"


def _numbers(numbers):
    return ", ".join(map(str, numbers))


def _keyword(card):
    if card.startswith("HIERARCH "):
        return card.split("=", 1)[0].strip()
    return card[:8].rstrip()


def _value_unchanged(card):
    """Whether the non-ASCII characters of a valued card lie outside its keyword and value."""
    parsed = []
    for substitute in ("?", "!"):
        text = _PRINTABLE.sub(substitute, card)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                one = fits.Card.fromstring(text)
                parsed.append((one.keyword, one.value))
        except Exception:  # any failure: the value is not readable
            return False
    return parsed[0] == parsed[1]


def header_from_cards(cards):
    """Parse cards into a header, refusing what would be lost or changed.

    Parameters
    ----------
    cards : list of str
        80-character cards as returned by `cards_from_rows`.

    Returns
    -------
    header : `~astropy.io.fits.Header`
    notes : list of str
        What was done that a reader might want to know (commentary cards
        found after ``END``, non-ASCII characters replaced by ``?``).

    Raises
    ------
    LayoutError
        A valued keyword after ``END`` (readers that stop at ``END``, SCAMP
        and astropy among them, would not see it), non-ASCII bytes in a
        keyword or value, a card astropy cannot parse, or no card at all.
    """
    keywords = [_keyword(card) for card in cards]
    end = keywords.index("END") if "END" in keywords else None
    kept, notes, after_end, replaced = [], [], [], []
    for number, (card, keyword) in enumerate(zip(cards, keywords, strict=True), 1):
        if end is not None and number - 1 == end:
            continue
        if end is not None and number - 1 > end:
            if not card.strip():
                continue
            if keyword not in _COMMENTARY:
                raise LayoutError(
                    f"keyword {keyword or card[:8]!r} in card {number} comes after the END card "
                    f"(card {end + 1}): readers that stop at END (SCAMP, astropy) would not see it"
                )
            after_end.append(number)
        kept.append((number, keyword, card))
    if after_end:
        notes.append(f"commentary cards after END kept (cards {_numbers(after_end)})")
    if end is None:
        notes.append("no END card")
    while kept and not kept[-1][2].strip():
        kept.pop()  # blank cards at the end are padding
    if not kept:
        raise LayoutError("the header holds no card (the column is blank)")

    text = []
    for number, keyword, card in kept:
        if _PRINTABLE.search(card):
            if keyword not in _COMMENTARY and not _value_unchanged(card):
                raise LayoutError(
                    f"card {number} ({keyword}) holds non-ASCII or control bytes in its keyword "
                    f"or value ({card.rstrip()!r}): FITS values are ASCII"
                )
            card = _PRINTABLE.sub("?", card)
            replaced.append(number)
        if keyword == "CONTINUE" or keyword not in _COMMENTARY:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fits.Card.fromstring(card).value  # noqa: B018 - parsing is the check
            except Exception as error:  # astropy raises several types here
                raise LayoutError(
                    f"card {number} is not a valid FITS card ({card.rstrip()!r}; astropy: "
                    f"{str(error).split(',')[0]})"
                ) from error
        text.append(card)
    if replaced:
        notes.append(
            f"bytes outside printable ASCII read as '?' (cards {_numbers(replaced)}, outside keywords "
            "and values)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = fits.Header.fromstring("".join(text))
        for card in header.cards:
            # parse now, and bring the card's text to the standard (a lower-case exponent, as
            # SourceXtractor++ writes) so that writing the header out later does not warn;
            # astropy only re-spells cards here, which is checked
            before = (card.keyword, card.value, card.comment)
            card.verify("silentfix")
            if (card.keyword, card.value, card.comment) != before:
                raise LayoutError(
                    f"card {before[0]!r} is not standard FITS and astropy would change it "
                    f"(from {before[1:]!r} to {(card.value, card.comment)!r})"
                )
    return header, notes
