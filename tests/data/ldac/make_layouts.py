"""Make the FITS_LDAC layout test files in this folder (see README.md).

``python make_layouts.py sextractor`` makes a two-quadrant ZTF-like image and
runs the real ``source-extractor`` on it: ``sextractor.ldac.gz``, the
original every other file is derived from (and ``sextractor_fits_1.0.ldac.gz``,
its ``CATALOG_TYPE FITS_1.0`` catalogue).

``python make_layouts.py`` (no argument) writes the other files from that
original's bytes, each imitating what one writer puts in the file, with
``<name>.hdr`` beside each readable one: the cards the writer stored, one per
line, each chip ending with ``END``. The header tables are assembled byte by
byte (astropy would "fix" what some writers do); where the imitated writer is
itself astropy-based, astropy writes the table as that writer calls it.

Run from anywhere; it writes next to itself. Files are gzip-compressed with
a zero timestamp, so reruns give the same bytes.
"""

import gzip
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

HERE = Path(__file__).resolve().parent
ORIGINAL = HERE / "sextractor.ldac.gz"
BLOCK, CARD = 2880, 80
PARAMS = (
    "NUMBER XWIN_IMAGE YWIN_IMAGE ERRAWIN_IMAGE ERRBWIN_IMAGE ERRTHETAWIN_IMAGE "
    "ALPHAWIN_J2000 DELTAWIN_J2000 FLUX_AUTO FLUXERR_AUTO MAG_AUTO MAGERR_AUTO FLAGS"
).split()


# ---------------------------------------------------------------- the original


def make_image(path):
    """Two 64x64 quadrants (RCID 12, 13) with six stars each and ZTF-like headers.

    The headers also hold a long string (CONTINUE cards), a HIERARCH card and
    the UTF-8 COMMENT line SCAMP writes in its .head files.
    """
    rng = np.random.default_rng(3)
    hdus = [fits.PrimaryHDU()]
    for rcid, (ccdid, qid) in [(12, (4, 1)), (13, (4, 2))]:
        yy, xx = np.mgrid[1:65, 1:65]
        image = rng.normal(100, 3, (64, 64)).astype(np.float32)
        for _ in range(6):
            x0, y0 = rng.uniform(8, 56, 2)
            flux = 2000 * rng.uniform(0.3, 1)
            image += flux * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.5**2))
        hdu = fits.ImageHDU(image, name=f"Q{rcid}")
        filename = (
            f"/ztf/archive/sci/2021/0314/343779/ztf_20210314343779_000700_zr_c{ccdid:02d}"
            f"_o_q{qid}_sciimg.fits"
        )
        for key, value, comment in [
            ("ORIGIN", "ztfnb tests", "made for LDAC layout tests"),
            ("TELESCOP", "P48", ""),
            ("INSTRUME", "ZTF/MOSAIC", ""),
            ("OBJECT", "ZTF field 700", "field"),
            ("FILENAME", filename, "long: CONTINUE cards"),
            ("DATE-OBS", "2021-03-14T08:15:02.500", "UTC shutter open"),
            ("OBSMJD", 59287.343778935, "[day] MJD at shutter open"),
            ("MJD-OBS", 59287.343778935, "[day] MJD at shutter open"),
            ("EXPTIME", 30.0, "[s] exposure time"),
            ("FILTER", "ZTF_r", ""),
            ("CCDID", ccdid, ""),
            ("QID", qid, ""),
            ("RCID", rcid, "readout channel id (0-63)"),
            ("TELRAD", 150.12345, "[deg] telescope RA"),
            ("TELDECD", 33.54321, "[deg] telescope Dec"),
            ("AIRMASS", 1.234, ""),
            ("PRESSURE", 1012.5, "[hPa]"),
            ("TEMPTURE", 11.5, "[deg C]"),
            ("HUMIDITY", 35.0, "[percent]"),
            ("GAIN", 6.2, "[e-/ADU]"),
            ("SATURATE", 50000.0, ""),
            ("HIERARCH ZTF QA SEEING", 2.1, "[arcsec] HIERARCH card"),
            ("RADESYS", "ICRS", ""),
            ("EQUINOX", 2000.0, ""),
            ("CTYPE1", "RA---TAN", ""),
            ("CTYPE2", "DEC--TAN", ""),
            ("CRVAL1", 150.12345, ""),
            ("CRVAL2", 33.54321, ""),
            ("CRPIX1", -1000.5 + 1100 * (qid - 1), ""),
            ("CRPIX2", 2000.25, ""),
            ("CD1_1", -2.8e-4, ""),
            ("CD1_2", 1.0e-6, ""),
            ("CD2_1", -1.2e-6, ""),
            ("CD2_2", 2.8e-4, ""),
        ]:
            hdu.header[key] = (value, comment)
        # astropy writes ASCII only: a placeholder of the same byte length, replaced below
        hdu.header["COMMENT"] = "(c) 2010-2018 Sorbonne Universite_/Universite_ de Bordeaux/CNRS"
        hdus.append(hdu)
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    path.write_bytes(buffer.getvalue().replace(b"Universite_", "Université".encode()))


def run_sextractor(folder, catalog_type, name):
    """Run source-extractor on ``folder/img.fits``; the catalogue's bytes, run date and time fixed."""
    subprocess.run(
        [
            "source-extractor",
            "img.fits",
            "-c",
            "/dev/null",
            "-CATALOG_TYPE",
            catalog_type,
            "-CATALOG_NAME",
            name,
            "-PARAMETERS_NAME",
            "ldac.param",
            "-FILTER",
            "N",
            "-DETECT_THRESH",
            "5",
            "-CHECKIMAGE_TYPE",
            "NONE",
            "-VERBOSE_TYPE",
            "QUIET",
        ],
        cwd=folder,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    raw = (folder / name).read_bytes()
    # SExtractor stamps the run's date and time: fix them so reruns give the same bytes
    raw = re.sub(rb"SEXDATE = '[^']*'", b"SEXDATE = '14/03/2021'", raw)
    return re.sub(rb"SEXTIME = '[^']*'", b"SEXTIME = '12:00:00'", raw)


def make_original():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_image(tmp / "img.fits")
        (tmp / "ldac.param").write_text("\n".join(PARAMS) + "\n")
        write(ORIGINAL, run_sextractor(tmp, "FITS_LDAC", "sex.ldac"))
        # the other FITS catalogue SExtractor writes: OBJECTS tables, no image header
        write(HERE / "sextractor_fits_1.0.ldac.gz", run_sextractor(tmp, "FITS_1.0", "sex.fits"))


# ---------------------------------------------------------------- FITS pieces


def write(path, data):
    with open(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as out:
        out.write(data)


def pad(data, fill=b"\x00"):
    return data + fill * (-len(data) % BLOCK)


def header_bytes(cards):
    """A FITS header from (keyword, value[, comment]) items, END and space padding."""
    header = fits.Header()
    for card in cards:
        header.append(fits.Card(*card), end=True)
    return pad(header.tostring(sep="", endcard=True, padding=False).encode("ascii"), b" ")


def primary():
    return header_bytes([("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0), ("EXTEND", True)])


def table(columns, rows, data, extname="LDAC_IMHEAD", extra=()):
    """A BINTABLE HDU: ``columns`` are (TTYPE, TFORM, TDIM or None); ``data`` raw row bytes."""
    row_length = len(data) // rows if rows else 0
    if rows == 0:
        row_length = sum(_width(form) for _, form, _ in columns)
    cards = [
        ("XTENSION", "BINTABLE"),
        ("BITPIX", 8),
        ("NAXIS", 2),
        ("NAXIS1", row_length),
        ("NAXIS2", rows),
        ("PCOUNT", 0),
        ("GCOUNT", 1),
        ("TFIELDS", len(columns)),
    ]
    for n, (name, form, dim) in enumerate(columns, 1):
        cards += [(f"TTYPE{n}", name), (f"TFORM{n}", form)]
        if dim:
            cards.append((f"TDIM{n}", dim))
    if extname is not None:
        cards.append(("EXTNAME", extname))
    cards += list(extra)
    return header_bytes(cards) + pad(data)


def _width(form):
    repeat, code = re.match(r"(\d*)([A-Z])", form).groups()
    return int(repeat or 1) * {"A": 1, "B": 1, "I": 2, "J": 4, "E": 4, "D": 8}[code]


def imhead(cells, form=None, dim=None, name="Field Header Card", extname="LDAC_IMHEAD"):
    """A header table: one row per item of ``cells`` (bytes, all the same width)."""
    form = form or f"{len(cells[0])}A"
    return table([(name, form, dim)], len(cells), b"".join(cells), extname=extname)


# ---------------------------------------------------------------- the original's pieces


def original():
    """Per chip: the header cards SExtractor stored (bytes, END excluded) and its objects table.

    The objects table is kept as (header, data bytes) exactly as SExtractor wrote them.
    """
    raw = gzip.decompress(ORIGINAL.read_bytes())
    chips = []
    with fits.open(io.BytesIO(raw)) as hdul:
        for position, hdu in enumerate(hdul):
            if hdu.name != "LDAC_IMHEAD":
                continue
            info = hdul.fileinfo(position)
            width = int(hdu.header["NAXIS1"])
            cell = raw[info["datLoc"] : info["datLoc"] + width]
            cards = [cell[k : k + CARD] for k in range(0, width, CARD)]
            cards = cards[: [c[:8] for c in cards].index(b"END     ")]
            objects = hdul.fileinfo(position + 1)
            data = raw[objects["datLoc"] : objects["datLoc"] + objects["datSpan"]]
            chips.append((cards, hdul[position + 1].header.copy(), data))
    return chips


def objects_hdu(chip, extname="LDAC_OBJECTS", empty=False):
    """The chip's objects table as SExtractor wrote it, renamed (None: no EXTNAME) or emptied."""
    _, header, data = chip
    header = header.copy()
    if extname is None:
        del header["EXTNAME"]
    else:
        header["EXTNAME"] = extname
    if empty:
        header["NAXIS2"] = 0
        data = b""
    return pad(header.tostring(sep="", endcard=True, padding=False).encode("ascii"), b" ") + data


END = b"END".ljust(CARD)


def with_end(cards):
    return b"".join(cards) + END


def ascii_cards(cards):
    """What an astropy-based writer can hold: non-ASCII bytes become '?'."""
    return [re.sub(rb"[^\x20-\x7e]", b"?", card) for card in cards]


def card(text):
    return text.encode("latin-1").ljust(CARD)


def astropy_header(cards):
    return fits.Header.fromstring(b"".join(cards).decode("ascii"))


# ---------------------------------------------------------------- writers imitated


def sxpp_value(value):
    """SourceXtractor++ valueAutoCast (FitsFile.cpp): int, double, char or unquoted string."""
    if not value:
        return value
    if re.fullmatch(r"[-+]?\d+", value):
        return int(value)
    if re.fullmatch(r"[-+]?\d*\.?\d+([eE][-+]?\d+)?", value):
        return float(value)
    if len(value) == 1:
        return ("char", value)
    if value.startswith("'"):  # boost::io::quoted with delimiter and escape "'"
        out, k = [], 1
        while k < len(value):
            if value[k] == "'":
                if value[k + 1 : k + 2] == "'":
                    out.append("'")
                    k += 2
                    continue
                break
            out.append(value[k])
            k += 1
        return "".join(out)
    return value.split()[0]


def sxpp_card(keyword, value, comment):
    """SourceXtractor++ LdacOutput generateHeader: 8-char name, '= ', 20-char value, ' / ' comment."""
    if isinstance(value, float):
        text = f"{value:.6e}".rjust(20)
    elif isinstance(value, int):
        text = str(value).rjust(20)
    elif isinstance(value, tuple):
        text = value[1].rjust(20)
    else:
        text = ("'" + value.replace("'", "''") + "'").ljust(20)
    head = f"{keyword:<8}= {text} / "
    return (head + comment)[:CARD].ljust(CARD).encode("latin-1")


def sxpp_metadata_cards(cards):
    """The image header as SourceXtractor++ >= 0.16 rewrites it (FitsFile::loadFitsHeader).

    Records matching ``([^=]{8})=([^/]*)(/(.*))?`` become a keyword-sorted map
    (std::map); CONTINUE, HIERARCH and COMMENT records do not match and are
    not written; a value stops at its first '/'.
    """
    entries = {}
    for raw in cards:
        match = re.fullmatch(r"([^=]{8})=([^/]*)(/(.*))?", raw.decode("latin-1"))
        if match:
            keyword = match.group(1).upper().strip()
            entries.setdefault(keyword, (match.group(2).strip(), (match.group(4) or "").strip()))
    return [sxpp_card(k, sxpp_value(v), c) for k, (v, c) in sorted(entries.items())]


def sxpp_history():
    return [
        card("HISTORY s++: " + "Version 0.19".ljust(67)),
        card("HISTORY s++: " + "Called at 2021-03-14T12:00:00Z".ljust(67)),
    ]


def layouts(chips):
    """name -> (list of HDU bytes after the primary, expected cards per chip or None)."""
    heads = [c[0] for c in chips]
    objs = [objects_hdu(c) for c in chips]
    out = {}

    def sextractor_like(extname="LDAC_IMHEAD", name="Field Header Card", objects=None):
        blobs = []
        for k, cards in enumerate(heads):
            cell = with_end(cards)
            blobs.append(
                imhead([cell], dim=f"(80, {len(cell) // CARD})", name=name, extname=extname)
            )
            blobs.append(objects[k] if objects else objs[k])
        return blobs

    # astropy, columns built as the toolchain note describes: cards in an S80 array, NUL padding
    blobs = []
    for k, cards in enumerate(heads):
        array = np.array([[c.rstrip(b" ") for c in [*cards, END]]], dtype=f"S{CARD}")
        column = fits.Column(
            name="Field Header Card",
            format=f"{array.size * CARD}A",
            dim=f"(80, {array.size})",
            array=array,
        )
        hdu = fits.BinTableHDU.from_columns([column], name="LDAC_IMHEAD")
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
        blobs += [buffer.getvalue()[BLOCK:], objs[k]]
    out["astropy_nul"] = (blobs, heads)

    # astropy Table with a column of card strings: one card per row, trailing blanks stripped
    blobs = []
    for k, cards in enumerate(ascii_cards(c) for c in heads):
        strings = [c.decode("ascii").rstrip() for c in [*cards, END]]
        hdu = fits.table_to_hdu(Table({"Field Header Card": strings}))
        hdu.name = "LDAC_IMHEAD"
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
        blobs += [buffer.getvalue()[BLOCK:], objs[k]]
    out["astropy_table_rows"] = (blobs, [ascii_cards(c) for c in heads])

    # astropy, a variable-length character column (PA) of card strings, one per row
    blobs = []
    for k, cards in enumerate(ascii_cards(c) for c in heads):
        strings = np.array([c.decode("ascii").rstrip() for c in [*cards, END]], dtype=object)
        column = fits.Column(name="Field Header Card", format="PA()", array=strings)
        hdu = fits.BinTableHDU.from_columns([column], name="LDAC_IMHEAD")
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
        blobs += [buffer.getvalue()[BLOCK:], objs[k]]
    out["astropy_varlen_rows"] = (blobs, [ascii_cards(c) for c in heads])

    # the lines of a text header (.head/.hdr) stored as read, newline kept: 81A rows
    blobs = []
    for k, cards in enumerate(heads):
        lines = [c.rstrip(b" ") + b"\n" for c in [*cards, END]]
        blobs += [imhead([line.ljust(CARD + 1, b"\x00") for line in lines]), objs[k]]
    out["text_lines_rows"] = (blobs, heads)

    # TDIM counting whole 2880-byte blocks, column stopping after END (old SCAMP merged catalogues)
    blobs = []
    for k, cards in enumerate(heads):
        cell = with_end(cards)
        blocks = -(-len(cell) // BLOCK) * BLOCK // CARD
        blobs += [imhead([cell], dim=f"(80, {blocks})"), objs[k]]
    out["tdim_whole_blocks"] = (blobs, heads)

    # SourceXtractor++ LdacWriter (older releases): one card per 80A row, END, then HISTORY rows
    blobs, expected = [], []
    for k, cards in enumerate(heads):
        extra = [
            sxpp_card("SPPGAIN", 6.2, "Gain used"),
            sxpp_card("SPPBKDEV", 3.1, "Median background RMS"),
        ]
        rows = [*cards, *extra, END, *sxpp_history()]
        blobs += [imhead(rows), objs[k]]
        expected.append([*cards, *extra, *sxpp_history()])
    out["sxpp_ldacwriter_rows"] = (blobs, expected)

    # SourceXtractor++ LdacOutput (>= 0.16): cards rewritten from parsed values, parts _1, _2...
    def sxpp_output(head_cards):
        blobs, expected = [], []
        for k, cards in enumerate(head_cards):
            rewritten = [
                *sxpp_metadata_cards(cards),
                sxpp_card("SPPGAIN", 6.2, "Gain used"),
                sxpp_card("SPPBKDEV", 3.1, "Median background RMS"),
                *sxpp_history(),
            ]
            suffix = f"_{k}" if k else ""
            blobs += [imhead([*rewritten, END], extname=f"LDAC_IMHEAD{suffix}")]
            blobs += [objects_hdu(chips[k], extname=f"LDAC_OBJECTS{suffix}")]
            expected.append(rewritten)
        return blobs, expected

    out["sxpp_ldacoutput_rows"] = (sxpp_output(heads)[0], None)  # a value cut at its '/'
    plain = [
        [c for c in cards if not re.match(rb"(FILENAME|CONTINUE|INSTRUME|COMMENT|HIERARCH)", c)]
        for cards in heads
    ]
    out["sxpp_ldacoutput_rows_plain"] = sxpp_output(plain)

    # astromatic_wrapper / kids-style convert_hdu_to_ldac: header.tostring(","), 13200A, TDIM (80, n)
    def wrapper(cards, sep):
        header = astropy_header(cards)
        text = np.array([header.tostring(sep)])
        column = fits.Column(name="Field Header Card", array=text, format="13200A")
        hdu = fits.BinTableHDU.from_columns([column])
        # the two recipes spell TDIM differently
        hdu.header["TDIM1"] = f"(80, {len(header)})" if sep else f"(80,   {len(header)})"
        hdu.header["EXTNAME"] = "LDAC_IMHEAD"
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer, output_verify="ignore")
        return buffer.getvalue()[BLOCK:]

    ascii_heads = [ascii_cards(cards) for cards in heads]
    out["astromatic_wrapper_comma"] = (
        [b for k, cards in enumerate(ascii_heads) for b in (wrapper(cards, ","), objs[k])],
        ascii_heads,
    )
    out["vircampype_13200"] = (
        [b for k, cards in enumerate(ascii_heads) for b in (wrapper(cards, ""), objs[k])],
        ascii_heads,
    )

    # legacypipe (fitsio): the whole header block in an S1 array: TDIM (1, 80, N), SIMPLE first
    def primary_like(cards):
        body = [
            c for c in cards if c[:8] not in (b"XTENSION", b"PCOUNT  ", b"GCOUNT  ", b"EXTNAME ")
        ]
        return [card("SIMPLE  =                    T / file does conform to FITS standard"), *body]

    blobs, expected = [], []
    for k, cards in enumerate(heads):
        cards = primary_like(cards)
        cell = pad(with_end(cards), b" ")
        blobs += [imhead([cell], dim=f"(1,80,{len(cell) // CARD})"), objs[k]]
        expected.append(cards)
    out["legacypipe_fitsio"] = (blobs, expected)

    # IDL write_scamp_catalog (mwrfits of a structure): column FIELD_HEADER_CARD
    blobs, expected = [], []
    for k, cards in enumerate(heads):
        cards = primary_like(cards)
        cell = with_end(cards)
        blobs += [
            imhead([cell], dim=f"(80,{len(cell) // CARD})", name="FIELD_HEADER_CARD"),
            objs[k],
        ]
        expected.append(cards)
    out["idl_mwrfits"] = (blobs, expected)

    # small cfitsio writers: a fixed wide column, no TDIM, no END, blank fill
    out["cfitsio_wide_no_end"] = (
        [
            b
            for k, cards in enumerate(heads)
            for b in (imhead([b"".join(cards).ljust(28800)]), objs[k])
        ],
        heads,
    )

    # cards joined by newlines, trailing blanks stripped
    out["newline_cards"] = (
        [
            b
            for k, cards in enumerate(heads)
            for b in (imhead([b"\n".join(c.rstrip(b" ") for c in [*cards, END])]), objs[k])
        ],
        heads,
    )

    out["lowercase_names"] = (
        sextractor_like(
            extname="ldac_imhead",
            name="field header card",
            objects=[objects_hdu(c, extname="ldac_objects") for c in chips],
        ),
        heads,
    )
    out["no_extname"] = (
        sextractor_like(extname=None, objects=[objects_hdu(c, extname=None) for c in chips]),
        heads,
    )
    out["objects_named_OBJECTS"] = (
        sextractor_like(objects=[objects_hdu(c, extname="OBJECTS") for c in chips]),
        heads,
    )
    pairs = sextractor_like()
    out["objects_first"] = ([pairs[1], pairs[0], pairs[3], pairs[2]], heads)
    out["headers_first"] = ([pairs[0], pairs[2], pairs[1], pairs[3]], heads)
    out["empty_objects"] = (
        sextractor_like(objects=[objs[0], objects_hdu(chips[1], empty=True)]),
        heads,
    )
    bare = [[c for c in cards if c[:8] not in (b"XTENSION", b"BITPIX  ")] for cards in heads]
    out["no_simple_bitpix"] = (
        [b for k, cards in enumerate(bare) for b in (imhead([with_end(cards)]), objs[k])],
        bare,
    )

    # the cards as unsigned bytes (B) rather than characters
    out["header_as_bytes"] = (
        [
            b
            for k, cards in enumerate(heads)
            for b in (
                imhead(
                    [with_end(cards)],
                    form=f"{len(with_end(cards))}B",
                    dim=f"(80, {len(with_end(cards)) // CARD})",
                ),
                objs[k],
            )
        ],
        heads,
    )

    # ---- refused
    long = [*ascii_heads[0], *(card(f"QA{n:06d}= {n:20d} / padding keyword") for n in range(90))]
    out["vircampype_13200_truncated"] = ([wrapper(long, ""), objs[0]], None)
    out["astromatic_wrapper_comma_truncated"] = ([wrapper(long, ","), objs[0]], None)
    parts = sxpp_output(plain)[0]
    out["sxpp_parts_mismatch"] = ([parts[0], parts[3], parts[2], parts[1]], None)
    out["shared_imhead"] = ([imhead([with_end(heads[0])]), objs[0], objs[1]], None)

    def fields(extname):  # the per-field table ldacconv writes
        return table(
            [("FITSFILE", "20A", None), ("OBJECT_POS", "J", None), ("OBJECT_COUNT", "J", None)],
            1,
            b"img.fits".ljust(20) + np.array([0, 6], ">i4").tobytes(),
            extname=extname,
        )

    out["theli_ldacconv"] = ([fields("FIELDS"), objects_hdu(chips[0], extname="OBJECTS")], None)
    out["theli_fields_renamed"] = ([fields("LDAC_IMHEAD"), objs[0]], None)
    out["two_headers_one_cell"] = (
        [imhead([with_end(heads[0]) + with_end(heads[1])]), objs[0]],
        None,
    )
    latin = [
        *heads[0][:8],
        card("OBSERVER= 'Ren\xe9 Dupont'     / latin-1 byte in a value"),
        *heads[0][8:],
    ]
    out["nonascii_value"] = ([imhead([with_end(latin)]), objs[0]], None)
    cells = [pad(with_end(cards), b" ")[: 96 * CARD] for cards in heads]
    out["header_per_row"] = ([imhead(cells), objs[0], objs[1]], None)
    out["cut_inside_card"] = ([imhead([with_end(heads[0])[:5000]]), objs[0]], None)
    out["empty_imhead"] = (
        [table([("Field Header Card", "7360A", "(80, 92)")], 0, b""), objs[0]],
        None,
    )
    out["blank_header"] = ([imhead([b" " * 2880]), objs[0]], None)
    broken = list(heads[0])
    broken[10] = broken[10][:40] + b"\x00" + broken[10][41:]
    out["nul_inside_card"] = ([imhead([with_end(broken)]), objs[0]], None)
    return out


def write_hdr(path, chips):
    lines = []
    for cards in chips:
        lines += [c.rstrip(b" ") for c in cards] + [b"END"]
    path.write_bytes(b"\n".join(lines) + b"\n")


def make_layouts():
    chips = original()
    write_hdr(HERE / "sextractor.hdr", [c[0] for c in chips])
    reference = (HERE / "sextractor.hdr").read_bytes()
    for name, (blobs, expected) in layouts(chips).items():
        write(HERE / f"{name}.ldac.gz", primary() + b"".join(blobs))
        hdr = HERE / f"{name}.hdr"
        hdr.unlink(missing_ok=True)
        if expected is not None:
            write_hdr(hdr, expected)
            if hdr.read_bytes() == reference:
                hdr.unlink()  # the same cards as the original: sextractor.hdr says it


if __name__ == "__main__":
    if sys.argv[1:] == ["sextractor"]:
        make_original()
    make_layouts()
