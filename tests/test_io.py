"""Round trips and clear errors for the formats ztfnb reads and writes."""

import gzip
import os
import shutil
from pathlib import Path

import astropy
import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import MaskedColumn, QTable, Table

from ztfnb.io import (
    InputError,
    atomic_directory,
    atomic_path,
    read_gaia,
    read_header_blocks,
    read_ldac,
    write_gaia,
    write_header_blocks,
    write_ldac,
)
from ztfnb.io.gaia import NO_SOURCE_ID
from ztfnb.io.ldac import require_columns
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.reference import reference_at_epoch

TPV_HEADER = Path(astropy.__file__).parent / "wcs" / "tests" / "data" / "tpvonly.hdr"


def _image_header(rcid):
    header = fits.Header()
    for key, value in [
        ("SIMPLE", True),
        ("BITPIX", -32),
        ("NAXIS", 2),
        ("NAXIS1", 3072),
        ("NAXIS2", 3080),
    ]:
        header[key] = value
    header["RCID"] = rcid
    header["TELRAD"] = 359.9
    header["OBJECT"] = "a field with a long name " * 3
    return header


def _objects(n, seed):
    rng = np.random.default_rng(seed)
    table = Table()
    table["XWIN_IMAGE"] = rng.uniform(1, 3072, n) * u.pix
    table["YWIN_IMAGE"] = rng.uniform(1, 3080, n) * u.pix
    table["FLAGS"] = rng.integers(0, 4, n).astype(np.int16)
    return table


def test_ldac_round_trip(tmp_path):
    path = tmp_path / "cat.ldac"
    write_ldac(path, [(_image_header(r), _objects(10 + r, r)) for r in range(3)])
    extensions = read_ldac(path)
    assert [e.index for e in extensions] == [0, 1, 2]
    for rcid, extension in enumerate(extensions):
        assert extension.header["RCID"] == rcid
        assert extension.header["TELRAD"] == 359.9
        assert extension.header["OBJECT"] == ("a field with a long name " * 3).rstrip()
        expected = _objects(10 + rcid, rcid)
        assert np.array_equal(extension.objects["XWIN_IMAGE"], expected["XWIN_IMAGE"])
        assert (
            extension.objects["FLAGS"].dtype.kind == "i"
            and extension.objects["FLAGS"].dtype.itemsize == 2
        )
        assert extension.objects["XWIN_IMAGE"].unit == u.pix


def test_ldac_header_column_is_what_scamp_can_read(tmp_path):
    path = tmp_path / "cat.ldac"
    write_ldac(path, [(_image_header(0), _objects(5, 0))])
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "LDAC_IMHEAD", "LDAC_OBJECTS"]
        imhead = hdul["LDAC_IMHEAD"]
        ncards = imhead.header["TFORM1"]
        assert imhead.header["TDIM1"].replace(" ", "").startswith("(80,")
        location, size = hdul.fileinfo(1)["datLoc"], int(ncards.rstrip("A"))
    raw = path.read_bytes()[location : location + size]
    assert b"\x00" not in raw  # SCAMP 2.10 crashes on NUL padding
    assert raw.startswith(b"SIMPLE  =") and raw[80:89] == b"BITPIX  ="
    assert len(raw) % 2880 == 0


def test_ldac_errors_name_the_file_and_extension(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_ldac(tmp_path / "missing.ldac")
    not_fits = tmp_path / "text.ldac"
    not_fits.write_text("hello")
    with pytest.raises(InputError, match=r"text\.ldac.*not a FITS file"):
        read_ldac(not_fits)
    plain = tmp_path / "plain.fits"
    Table({"a": [1, 2]}).write(plain)
    with pytest.raises(InputError, match=r"plain\.fits.*no LDAC_IMHEAD"):
        read_ldac(plain)
    lonely = tmp_path / "lonely.ldac"
    write_ldac(lonely, [(_image_header(0), _objects(3, 0))])
    with fits.open(lonely) as hdul:
        fits.HDUList([fits.PrimaryHDU(), hdul[1].copy()]).writeto(tmp_path / "headonly.ldac")
        # write_ldac's primary header counts its extensions: kept, it names the loss
        fits.HDUList([hdul[0].copy(), hdul[1].copy()]).writeto(tmp_path / "cut.ldac")
    with pytest.raises(InputError, match="not followed by LDAC_OBJECTS"):
        read_ldac(tmp_path / "headonly.ldac")
    with pytest.raises(InputError, match=r"cut\.ldac.*NEXTEND = 2 extensions, the file holds 1"):
        read_ldac(tmp_path / "cut.ldac")


def test_require_columns_names_what_is_missing_or_nan():
    table = Table({"XWIN_IMAGE": [1.0, np.nan]})
    with pytest.raises(InputError, match=r"cat\.ldac: extension 3: column 'YWIN_IMAGE': missing"):
        require_columns(table, ["XWIN_IMAGE", "YWIN_IMAGE"], path="cat.ldac", extension=3)
    with pytest.raises(InputError, match=r"column 'XWIN_IMAGE': 1 NaN"):
        require_columns(table, ["XWIN_IMAGE"], path="cat.ldac", extension=3)


def test_header_blocks_round_trip(tmp_path):
    headers = [
        fits.Header([("CRPIX1", 100.0 * i), ("CTYPE1", "RA---TPV"), ("PV1_5", 1e-3 * i)])
        for i in range(4)
    ]
    path = tmp_path / "x.ahead"
    write_header_blocks(path, headers)
    back = read_header_blocks(path)
    assert len(back) == 4
    for original, copy in zip(headers, back, strict=True):
        assert copy["CRPIX1"] == original["CRPIX1"] and copy["PV1_5"] == original["PV1_5"]
    assert all(len(line) == 80 for line in path.read_text().splitlines())


def test_reads_scamp_heads_with_utf8_comments(tmp_path):
    text = "\n".join(
        [
            "COMMENT   Astrometric solution by SCAMP v2.10.0 — ° ±".ljust(80),
            "HISTORY   Emmanuel Bertin’s SCAMP".ljust(80),
            "CRVAL1  =        359.99 / ° degrees".ljust(80),
            "END".ljust(80),
            "COMMENT   second".ljust(80),
            "CRVAL1  =          0.01".ljust(80),
            "END".ljust(80),
        ]
    )
    path = tmp_path / "x.head"
    path.write_bytes(text.encode("utf-8"))
    blocks = read_header_blocks(path)
    assert [b["CRVAL1"] for b in blocks] == [359.99, 0.01]


def test_reads_a_real_ptf_scamp_header():
    (header,) = read_header_blocks(TPV_HEADER)
    assert header["CTYPE1"] == "RA---TPV"
    assert header["PV1_4"] == pytest.approx(-0.016169561788921)
    assert header["AIRMASS"] == pytest.approx(1.997293)


def _gaia(n=5):
    table = QTable()
    table["source_id"] = np.arange(n, dtype=np.int64)
    table["ra"] = np.linspace(359.5, 360.4, n) % 360 * u.deg
    table["dec"] = np.linspace(-10, 10, n) * u.deg
    table["ra_error"] = np.full(n, 0.1) * u.mas
    table["dec_error"] = np.full(n, 0.1) * u.mas
    table["pmra"] = np.array([1.0, np.nan, 3.0, 4.0, 5.0])[:n] * u.mas / u.yr
    table["pmdec"] = np.array([1.0, np.nan, 3.0, 4.0, 5.0])[:n] * u.mas / u.yr
    table["ref_epoch"] = np.full(n, 2016.0) * u.yr
    table["phot_g_mean_mag"] = np.full(n, 15.0) * u.mag
    return table


def test_gaia_round_trip_with_missing_proper_motions(tmp_path):
    write_gaia(tmp_path / "g.fits", _gaia())
    table = read_gaia(tmp_path / "g.fits")
    assert table["ra"].unit == u.deg and table["pmra"].unit == u.mas / u.yr
    assert np.isnan(table["pmra"][1])


def test_gaia_column_names_are_case_insensitive_and_units_converted(tmp_path):
    table = Table(_gaia())
    table.rename_columns(table.colnames, [c.upper() for c in table.colnames])
    table["RA_ERROR"] = (np.full(5, 0.1) * u.mas).to(u.deg)
    table.write(tmp_path / "upper.ecsv")
    back = read_gaia(tmp_path / "upper.ecsv")
    assert np.allclose(back["ra_error"].to_value(u.mas), 0.1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.remove_column("pmdec"), "column 'pmdec': missing Gaia column"),
        (
            lambda t: t["ra"].__setitem__(2, np.nan * u.deg),
            r"column 'ra': 1 row.*row 3 \(counting from 1\)",
        ),
        (lambda t: t["dec"].__setitem__(0, 95 * u.deg), "column 'dec': declination outside"),
        (lambda t: t["ra_error"].__setitem__(slice(None), np.nan * u.mas), "column 'ra_error'"),
    ],
)
def test_gaia_errors_name_file_extension_and_column(tmp_path, change, message):
    table = _gaia()
    change(table)
    Table(table).write(tmp_path / "bad.fits")
    with pytest.raises(InputError, match=rf"bad\.fits: extension 1: {message}"):
        read_gaia(tmp_path / "bad.fits")


def _archive_like(path, table):
    """Write ``table`` as the Gaia archive does: missing proper motions masked (empty CSV
    cells, VOTable nulls), gzipped when the name ends in ``.gz``."""
    table = Table(table, masked=True)
    for name in ("pmra", "pmdec"):
        values = np.asarray(table[name], float)
        table[name] = MaskedColumn(
            np.nan_to_num(values), mask=np.isnan(values), unit=table[name].unit
        )
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    formats = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}
    table.write(plain, format=formats.get(plain.suffix, "votable"))
    if plain != path:
        with open(plain, "rb") as source, gzip.open(path, "wb") as target:
            shutil.copyfileobj(source, target)
        plain.unlink()


@pytest.mark.parametrize(
    "name",
    [
        "gaia.csv.gz",
        "gaia.vot.gz",
        "gaia.xml.gz",
        "gaia.ecsv.gz",
        "gaia.fits.gz",
        "gaia.csv",
        "gaia.vot",
        "gaia.votable",
        "gaia.dr3.ecsv",
    ],
)
def test_gaia_format_comes_from_the_name_before_gz(tmp_path, name):
    _archive_like(tmp_path / name, _gaia())
    table = read_gaia(tmp_path / name)
    expected = _gaia()
    assert np.allclose(table["ra"].to_value(u.deg), expected["ra"].to_value(u.deg))
    assert np.array_equal(table["source_id"], expected["source_id"])
    assert np.isnan(table["pmra"][1]) and np.isnan(table["pmdec"][1])  # masked: missing
    assert table["pmra"][2] == 3 * u.mas / u.yr


def _query_log_hdu():
    return fits.BinTableHDU.from_columns(
        [fits.Column(name="query", format="20A", array=np.array(["SELECT * FROM gaia"]))],
        name="QUERY",
    )


def test_gaia_table_is_found_after_other_fits_tables(tmp_path):
    gaia = fits.table_to_hdu(Table(_gaia()))
    fits.HDUList([fits.PrimaryHDU(), _query_log_hdu(), gaia]).writeto(tmp_path / "two.fits")
    table = read_gaia(tmp_path / "two.fits")  # warnings are errors in this suite
    assert table.meta["extension"] == 2
    assert len(table) == 5 and np.array_equal(table["source_id"], np.arange(5))


def test_fits_without_a_gaia_table_names_every_table_hdu(tmp_path):
    partial = Table(_gaia())
    partial.remove_column("pmdec")
    hdus = [fits.PrimaryHDU(), _query_log_hdu(), fits.table_to_hdu(partial)]
    fits.HDUList(hdus).writeto(tmp_path / "none.fits")
    with pytest.raises(
        InputError,
        match=r"none\.fits: no table HDU has the Gaia columns: "
        r"HDU 1 \(QUERY\) lacks ra, dec, .*phot_g_mean_mag; HDU 2 lacks pmdec$",
    ):
        read_gaia(tmp_path / "none.fits")


def test_gaia_source_id_is_optional_and_scamp_reference_still_written(tmp_path):
    table = Table(_gaia())
    table.remove_column("source_id")
    table.write(tmp_path / "nosid.fits")
    gaia = read_gaia(tmp_path / "nosid.fits")
    assert gaia.meta["source_id"] == "absent"
    assert np.all(gaia["source_id"] == NO_SOURCE_ID) and gaia["source_id"].dtype == np.int64
    write_scamp_reference(tmp_path / "ref.cat", reference_at_epoch(gaia, 2023.8 * u.yr))
    assert len(read_ldac(tmp_path / "ref.cat")[0].objects) == 5


def test_gaia_null_source_id_becomes_minus_one(tmp_path):
    table = Table(_gaia(), masked=True)
    table["source_id"].mask = [False, True, False, False, False]  # a VOTable null
    table.write(tmp_path / "nullid.vot", format="votable")
    gaia = read_gaia(tmp_path / "nullid.vot")
    assert gaia.meta["source_id"] == "read"
    assert gaia["source_id"].tolist() == [0, NO_SOURCE_ID, 2, 3, 4]


def test_gaia_rows_without_a_position_error_are_dropped_and_counted(tmp_path):
    table = Table(_gaia(), masked=True)
    table["ra_error"][3] = np.nan
    table["dec_error"].mask = [False, False, False, False, True]  # an empty CSV cell
    table.write(tmp_path / "errors.csv", format="ascii.csv")
    gaia = read_gaia(tmp_path / "errors.csv")
    assert gaia["source_id"].tolist() == [0, 1, 2]
    assert gaia.meta["dropped"] == {"ra_error": 1, "dec_error": 1}
    reference = reference_at_epoch(gaia, 2023.8 * u.yr)
    assert np.all(np.isfinite(reference["ra_error"])) and np.all(
        np.isfinite(reference["dec_error"])
    )


def test_empty_position_cell_is_refused_naming_column_and_row(tmp_path):
    table = Table(_gaia(), masked=True)
    table["dec"].mask = [False, False, False, True, False]
    table.write(tmp_path / "hole.csv", format="ascii.csv")
    with pytest.raises(
        InputError, match=r"hole\.csv: column 'dec': 1 row.*first at row 4 \(counting from 1\)"
    ):
        read_gaia(tmp_path / "hole.csv")


def test_atomic_path_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_directory_is_all_or_nothing(tmp_path):
    target = tmp_path / "night"
    with pytest.raises(RuntimeError), atomic_directory(target) as folder:
        (folder / "a").write_text("1")
        raise RuntimeError("killed")
    assert os.listdir(tmp_path) == []
    with atomic_directory(target) as folder:
        (folder / "a").write_text("1")
    assert (target / "a").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass
