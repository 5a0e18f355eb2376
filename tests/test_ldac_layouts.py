"""FITS_LDAC from writers other than SExtractor: every header card read, or the file refused.

The files are in ``tests/data/ldac`` (README.md there says which writer each
imitates and how it was made). Oracles, none of them ztfnb's own reading:

* ``<name>.hdr`` (or ``sextractor.hdr``): the cards the writer stored, parsed
  by astropy's ``Header.fromstring``;
* the objects of the real ``source-extractor`` catalogue, read by astropy;
* the real ``scamp``: what it reports about the header (OBJECT, EXPTIME,
  AIRMASS, epoch, the field centre from the WCS), on the file itself for the
  layouts SCAMP reads, on ``write_ldac``'s rewrite of ztfnb's reading for the
  others.
"""

import gzip
import re
import shutil
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table, vstack
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning

from tests.conftest import needs_scamp
from ztfnb.exposure import read_exposure
from ztfnb.io import InputError, read_ldac, write_ldac
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.scamp import run_scamp

DATA = Path(__file__).parent / "data" / "ldac"
ORIGINAL = DATA / "sextractor.ldac.gz"

#: Layouts read whole; the header of each chip is the one in ``<name>.hdr`` (else ``sextractor.hdr``).
READ = [
    "sextractor",
    "astropy_nul",
    "astropy_table_rows",
    "astropy_varlen_rows",
    "text_lines_rows",
    "sxpp_ldacwriter_rows",
    "sxpp_ldacoutput_rows_plain",
    "astromatic_wrapper_comma",
    "vircampype_13200",
    "tdim_whole_blocks",
    "legacypipe_fitsio",
    "idl_mwrfits",
    "cfitsio_wide_no_end",
    "newline_cards",
    "header_as_bytes",
    "lowercase_names",
    "no_extname",
    "objects_named_OBJECTS",
    "objects_first",
    "headers_first",
    "empty_objects",
    "no_simple_bitpix",
]

#: Layouts refused, with what the one-line message must say.
REFUSED = {
    "vircampype_13200_truncated": r"extension HDU 1 \(LDAC_IMHEAD\): one row of 13200 characters, "
    r"TDIM \(80, 179\): TDIM declares 179 cards but the column holds only 165 and no END \(the "
    r"writer cut the header\)",
    "astromatic_wrapper_comma_truncated": r"HDU 1 \(LDAC_IMHEAD\): one row of 13200 characters, "
    r"cards separated by ',': the text ends inside card 163 \(the writer cut the header\)",
    "cut_inside_card": r"HDU 1 \(LDAC_IMHEAD\): one row of 5000 characters \(not a multiple of 80\): "
    r"the text ends inside card 63",
    "header_per_row": r"HDU 1 \(LDAC_IMHEAD\): 2 rows of 7680 characters, a row holding 7283: "
    r"neither one row of cards nor one card per row",
    "two_headers_one_cell": r"HDU 1 \(LDAC_IMHEAD\): one row of 14720 characters.*keyword "
    r"'XTENSION' in card 93 comes after the END card \(card 92\)",
    "sxpp_ldacoutput_rows": r"HDU 1 \(LDAC_IMHEAD\): 92 rows of 80 characters, one card per row: "
    r"card 18 is not a valid FITS card \(\"FILENAME=  ",
    "nonascii_value": r"HDU 1 \(LDAC_IMHEAD\): one row of 7440 characters: card 9 \(OBSERVER\) "
    r"holds non-ASCII",
    "nul_inside_card": r"HDU 1 \(LDAC_IMHEAD\): card 11 holds a NUL byte inside its text",
    "blank_header": r"HDU 1 \(LDAC_IMHEAD\): one row of 2880 characters: the header holds no card",
    "empty_imhead": r"HDU 1 \(LDAC_IMHEAD\): the header table has no rows",
    "shared_imhead": r"HDU 1 \(LDAC_IMHEAD\): 1 header table\(s\) \(HDU 1\) but 2 object tables "
    r"\(HDU 2, 3\): which detections belong to which header is ambiguous",
    "sxpp_parts_mismatch": r"HDU 1 \(LDAC_IMHEAD\) is paired with object table HDU 2 "
    r"\(LDAC_OBJECTS_1\): their part numbers differ",
    "theli_fields_renamed": r"HDU 1 \(LDAC_IMHEAD\): LDAC_IMHEAD has no 'Field Header Card' column",
    "sextractor_fits_1.0": r"no LDAC_IMHEAD extension .*; its object tables carry no image header "
    r"\(the layout of SExtractor's CATALOG_TYPE FITS_1.0\) \(got \['PRIMARY', 'OBJECTS', 'OBJECTS'\]\)",
    "theli_ldacconv": r"no LDAC_IMHEAD extension .*; its OBJECTS/FIELDS tables \(ldactools layout\) "
    r"carry no image header \(got \['PRIMARY', 'FIELDS', 'OBJECTS'\]\)",
}

#: Layouts the real SCAMP 2.10 reads as they are (it crashes on, or rejects, the other readable ones).
SCAMP_READS = [
    "sextractor",
    "tdim_whole_blocks",
    "header_as_bytes",
    "legacypipe_fitsio",
    "objects_named_OBJECTS",
    "objects_first",
    "headers_first",
    "empty_objects",
]

#: SourceXtractor++ >= 0.16 rewrites floats with 7 significant digits: its file says other values.
ROUNDED = {"sxpp_ldacoutput_rows_plain"}


def _expected_headers(name):
    """The headers the writer stored, parsed by astropy from ``<name>.hdr``.

    FITS headers are ASCII and astropy holds nothing else: bytes outside it
    (the UTF-8 COMMENT SCAMP writes) are compared as '?'.
    """
    path = DATA / f"{name}.hdr"
    text = (path if path.is_file() else DATA / "sextractor.hdr").read_bytes().decode("latin-1")
    headers, cards = [], []
    for line in text.splitlines():
        if line == "END":
            headers.append(fits.Header.fromstring("".join(cards)))
            cards = []
        else:
            cards.append(re.sub(r"[^\x20-\x7e]", "?", line).ljust(80))
    return headers


def _cards(header):
    return [(card.keyword, card.value, card.comment) for card in header.cards]


def _original_objects():
    """The real SExtractor objects, read by astropy."""
    with fits.open(ORIGINAL) as hdul:
        return [Table.read(hdu) for hdu in hdul if hdu.name == "LDAC_OBJECTS"]


def test_every_file_has_a_test():
    names = {p.name.removesuffix(".ldac.gz") for p in DATA.glob("*.ldac.gz")}
    assert names == set(READ) | set(REFUSED)
    assert {p.stem for p in DATA.glob("*.hdr")} <= set(READ)
    assert (DATA / "README.md").is_file()
    readme = (DATA / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)


@pytest.mark.parametrize("name", READ)
def test_every_card_is_read(name):
    extensions = read_ldac(DATA / f"{name}.ldac.gz")
    expected = _expected_headers(name)
    assert len(extensions) == len(expected) == 2
    for extension, header, objects in zip(extensions, expected, _original_objects(), strict=True):
        assert _cards(extension.header) == _cards(header)
        assert extension.layout
        extension.header.tostring()  # no warning (they are errors here): it can be written out
        if name == "empty_objects" and extension.index == 1:
            assert len(extension.objects) == 0
            assert extension.objects.colnames == objects.colnames
            continue
        assert extension.objects.colnames == objects.colnames
        for column in objects.colnames:
            assert np.array_equal(extension.objects[column], objects[column])


@pytest.mark.parametrize("name", READ)
def test_exposure_is_the_original_one(name):
    original = read_exposure(ORIGINAL)
    exposure = read_exposure(DATA / f"{name}.ldac.gz")
    assert exposure.rcids == original.rcids == [12, 13]
    centre = [e.wcs.all_pix2world([[32.5, 32.5]], 1)[0] for e in exposure.extensions]
    assert np.allclose(
        centre, [e.wcs.all_pix2world([[32.5, 32.5]], 1)[0] for e in original.extensions], atol=1e-5
    )
    header = _expected_headers(name)[0]
    assert exposure.pointing.ra.deg == header["TELRAD"]
    assert exposure.pointing.dec.deg == header["TELDECD"]
    assert exposure.start.mjd == header["OBSMJD"]
    if name in ROUNDED:
        assert exposure.pointing.separation(original.pointing) < 1 * u.arcsec
        assert abs(exposure.start - original.start) < 10 * u.min
    else:
        assert exposure.pointing.ra.deg == original.pointing.ra.deg
        assert exposure.pointing.dec.deg == original.pointing.dec.deg
        assert exposure.start == original.start
        assert exposure.exptime == original.exptime


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_in_one_line(name):
    path = DATA / f"{name}.ldac.gz"
    with pytest.raises(InputError, match=REFUSED[name]) as caught:
        read_ldac(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))


def test_narrow_rows_and_plain_files(tmp_path):
    """One card per row narrower than 80 (astropy Table of short cards), uncompressed."""
    header = fits.Header([("SIMPLE", True), ("RCID", 5), ("TELRAD", 1.5), ("OBJECT", "x")])
    strings = [card.image.rstrip() for card in header.cards] + ["END"]
    imhead = fits.table_to_hdu(Table({"Field Header Card": strings}))
    imhead.name = "LDAC_IMHEAD"
    assert imhead.columns[0].format == "30A"
    objects = fits.table_to_hdu(Table({"XWIN_IMAGE": [1.0, 2.0]}))
    objects.name = "LDAC_OBJECTS"
    path = tmp_path / "narrow.ldac"
    fits.HDUList([fits.PrimaryHDU(), imhead, objects]).writeto(path)
    (extension,) = read_ldac(path)
    assert _cards(extension.header) == _cards(fits.Header.fromstring(header.tostring()))
    assert "5 rows of 30 characters, one card per row" in extension.layout


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The SExtractor objects' own sky positions as SCAMP's reference catalogue."""
    tables = []
    for objects in _original_objects():
        n = len(objects)
        tables.append(
            QTable(
                {
                    "ra": np.asarray(objects["ALPHAWIN_J2000"]) * u.deg,
                    "dec": np.asarray(objects["DELTAWIN_J2000"]) * u.deg,
                    "ra_error": np.full(n, 1e-5) * u.deg,
                    "dec_error": np.full(n, 1e-5) * u.deg,
                    "phot_g_mean_mag": np.full(n, 15.0) * u.mag,
                    "epoch": np.full(n, 2021.2) * u.yr,
                    "pmra": np.zeros(n) * u.mas / u.yr,
                    "pmdec": np.zeros(n) * u.mas / u.yr,
                }
            )
        )
    path = tmp_path_factory.mktemp("reference") / "reference.ldac"
    write_scamp_reference(path, vstack(tables))
    return path


def _field_centre(headers):
    """SCAMP's field centre: the mean direction of the chips' centres through their WCS."""
    ra, dec = [], []
    for header in headers:
        x, y = (header["NAXIS1"] + 1) / 2, (header["NAXIS2"] + 1) / 2
        with warnings.catch_warnings():  # SourceXtractor++'s rounded MJD-OBS vs DATE-OBS
            warnings.simplefilter("ignore", FITSFixedWarning)
            centre = WCS(header).all_pix2world([[x, y]], 1)[0]
        ra.append(np.radians(centre[0]))
        dec.append(np.radians(centre[1]))
    ra, dec = np.array(ra), np.array(dec)
    return (
        np.degrees(np.arctan2(np.sin(ra).mean(), np.cos(ra).mean())) % 360,
        np.degrees(np.arcsin(np.sin(dec).mean())),
    )


@needs_scamp
@pytest.mark.scamp
@pytest.mark.parametrize("name", READ)
def test_scamp_reads_the_same_header(name, reference, tmp_path):
    """SCAMP's reading of the header is ztfnb's, on the file itself where SCAMP reads the layout.

    On the other layouts SCAMP crashes or finds no header (README.md); there it reads the
    catalogue `write_ldac` rewrites from ztfnb's reading, which is what a user would do.
    """
    extensions = read_ldac(DATA / f"{name}.ldac.gz")
    catalogue = tmp_path / f"{name}.ldac"
    if name in SCAMP_READS:
        with gzip.open(DATA / f"{name}.ldac.gz") as packed, open(catalogue, "wb") as out:
            shutil.copyfileobj(packed, out)
        assert _cards(read_ldac(catalogue)[0].header) == _cards(extensions[0].header)
    else:
        write_ldac(catalogue, extensions)
    run = run_scamp(
        catalogue,
        reference,
        {"MATCH": "N", "SOLVE_PHOTOM": "N", "DISTORT_DEGREES": "1"},
        timeout=60,
    )
    assert run.fields is not None and len(run.fields) == 1, run.stderr[-2000:]
    field = run.fields[0]
    first = extensions[0].header
    assert field["NExtensions"] == len(extensions)
    assert field["Image_Ident"] == first["OBJECT"]
    assert field["Exposure_Time"] == first["EXPTIME"]
    assert abs(field["AirMass"] - first["AIRMASS"]) < 0.005  # SCAMP keeps two decimals
    mid = Time(first["MJD-OBS"], format="mjd") + first["EXPTIME"] / 2 * u.s
    assert abs(field["Observation_Date"] - mid.jyear) < 1e-7  # years: 3 s
    centre = np.asarray(field["Field_Coordinates"], float)
    assert np.allclose(centre, _field_centre(e.header for e in extensions), atol=1e-5, rtol=0)


def test_header_column_beside_other_columns(tmp_path):
    """The header column found by name and read at its own offset in the row."""
    header = fits.Header([("SIMPLE", True), ("RCID", 7), ("OBJECT", "beside")])
    text = header.tostring(sep="", endcard=True, padding=False)
    imhead = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="CHIP", format="J", array=np.array([7], np.int32)),
            fits.Column(name="Field Header Card", format=f"{len(text)}A", array=np.array([text])),
            fits.Column(name="SEEING", format="E", array=np.array([2.0], np.float32)),
        ],
        name="LDAC_IMHEAD",
    )
    objects = fits.table_to_hdu(Table({"XWIN_IMAGE": [1.0]}))
    objects.name = "LDAC_OBJECTS"
    path = tmp_path / "beside.ldac"
    fits.HDUList([fits.PrimaryHDU(), imhead, objects]).writeto(path)
    (extension,) = read_ldac(path)
    assert _cards(extension.header) == _cards(header)


@pytest.mark.parametrize("name", READ)
def test_scamp_reads_flag_is_what_scamp_was_measured_to_read(name):
    """`LdacExtension.scamp_reads` against the layouts the real SCAMP read (README.md)."""
    extensions = read_ldac(DATA / f"{name}.ldac.gz")
    assert {e.scamp_reads for e in extensions} == {name in SCAMP_READS}


def _rows_layout(source, target):
    """The catalogue rewritten with one card per row (astropy `Table` of cards, SourceXtractor++'s shape)."""
    hdus = [fits.PrimaryHDU()]
    for extension in read_ldac(source):
        cards = [card.image for card in extension.header.cards] + ["END".ljust(80)]
        column = fits.Column(name="Field Header Card", format="80A", array=np.array(cards))
        hdus.append(fits.BinTableHDU.from_columns([column], name="LDAC_IMHEAD"))
        hdus.append(fits.table_to_hdu(extension.objects))
        hdus[-1].name = "LDAC_OBJECTS"
    fits.HDUList(hdus).writeto(target)


@needs_scamp
@pytest.mark.scamp
def test_solve_gives_scamp_a_catalogue_it_reads(tmp_path):
    """A layout SCAMP crashes on is solved as SExtractor's own layout is (a rewritten copy)."""
    from ztfnb.io.headers import read_header_blocks
    from ztfnb.solve import solve_exposure

    setups = Path(__file__).parent / "data" / "sextractor"
    name = "ztf_20231017212451_000744_zg"
    original = tmp_path / "sextractor" / f"{name}.ldac"
    original.parent.mkdir()
    with gzip.open(setups / "scalar.ldac.gz") as packed, open(original, "wb") as out:
        shutil.copyfileobj(packed, out)
    rows = tmp_path / "rows" / f"{name}.ldac"
    rows.parent.mkdir()
    _rows_layout(original, rows)
    assert not any(e.scamp_reads for e in read_ldac(rows))
    results = {}
    for path in (original, rows):
        out = path.parent / "solved"
        out.mkdir()
        row = solve_exposure(path, setups / "prior.fits", setups / "gaia.fits", out)
        assert row["status"] == "solved", row["reason"]
        results[path] = read_header_blocks(out / f"{name}.head")
    pixels = np.array([[1.0, 1.0], [3072.0, 3080.0], [1536.0, 1540.0]])
    for a, b in zip(results[original], results[rows], strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            sky_a, sky_b = WCS(a).all_pix2world(pixels, 1), WCS(b).all_pix2world(pixels, 1)
        assert np.max(np.abs(sky_a - sky_b)) * 3600 < 1e-3
