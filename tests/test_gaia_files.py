"""Gaia files as the archive, its mirrors, astroquery and VizieR deliver them (issue 12).

Each file in ``tests/data/gaia`` (README.md there says what it imitates) is read
by `read_gaia` and, independently, by astropy's own reader with the options
astropy documents for it; the two must agree column by column. Unit strings
astropy cannot parse are translated by the table below, typed from the Gaia
DR2 data model, not taken from ztfnb. A few values per file are also typed
from the README.
"""

import bz2
import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable.tree import Resource, TableElement, VOTableFile
from astropy.table import Table

from ztfnb.io import InputError, read_gaia
from ztfnb.io.gaia import NO_SOURCE_ID

DATA = Path(__file__).parent / "data" / "gaia"
NAN = float("nan")

#: The archive's units, from the Gaia data model.
UNITS = {
    "ra": u.deg,
    "dec": u.deg,
    "ra_error": u.mas,
    "dec_error": u.mas,
    "pmra": u.mas / u.yr,
    "pmdec": u.mas / u.yr,
    "ref_epoch": u.yr,
    "phot_g_mean_mag": u.mag,
}
#: The units the DR1/DR2 archive spelled this way (Gaia DR2 data model, gaia_source).
SPELLED = {
    "Angle[deg]": u.deg,
    "Angle[mas]": u.mas,
    "Angular Velocity[mas/year]": u.mas / u.yr,
    "Time[Julian Years]": u.yr,
    "Magnitude[mag]": u.mag,
}
#: VizieR's column names (ReadMe of I/355).
VIZIER = {
    "source_id": "Source",
    "ra": "RA_ICRS",
    "dec": "DE_ICRS",
    "ra_error": "e_RA_ICRS",
    "dec_error": "e_DE_ICRS",
    "pmra": "pmRA",
    "pmdec": "pmDE",
    "ref_epoch": "Epoch",
    "phot_g_mean_mag": "Gmag",
}


def ecsv_with_null(path):
    """astropy's documented recipe for Gaia's bulk files (io.ascii, 'Reading Gaia Data Tables')."""
    return Table.read(path, format="ascii.ecsv", fill_values=[("null", "0")])


def ecsv(path):
    return Table.read(path, format="ascii.ecsv")


def csv(path):
    return Table.read(path, format="ascii.csv")


def votable(path):
    """astropy's VOTable reader, told the archive writes VOUnit even in VOTable 1.3 (not CDS)."""
    return Table.read(path, format="votable", unit_format="vounit")


def fits_hdu1(path):
    return Table.read(path, hdu=1, unit_parse_strict="silent")


@dataclass
class Case:
    path: str
    oracle: object
    pmra: list  # typed from README.md, mas/yr, NaN when missing
    ref_epoch: float
    source_id: int  # of the first row
    names: dict = field(default_factory=lambda: {name: name for name in [*UNITS, "source_id"]})
    source_from: str = "read"


DR3_PMRA = [12.616485005649457, 35.230515038249005, NAN, -2.5038018224290493]
EDR3_PMRA = [12.601798713049423, 35.22108978237245, NAN, -2.302014386318428]
DR2_PMRA = [-1.8960519262751743, 6.412339097787418, NAN, 0.7154196018962393]
DR3_FIRST = 4295806720
DR2_FIRST = 1000225938242805248

CASES = [
    Case(
        "issue-12/GaiaSource_000000-000001.csv.gz",
        ecsv_with_null,
        [12.616485, 35.230515, NAN, -2.5],
        2016.0,
        DR3_FIRST,
    ),
    Case("dr3-bulk/GaiaSource_000000-003111.csv.gz", ecsv_with_null, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("edr3-bulk/GaiaSource_000000-003111.csv.gz", ecsv_with_null, EDR3_PMRA, 2016.0, DR3_FIRST),
    Case(
        "dr2-bulk/GaiaSource_1000172165251650944_1000424567594791808.csv.gz",
        csv,
        DR2_PMRA,
        2015.5,
        DR2_FIRST,
    ),
    Case("flatiron-dr3/GaiaSource_000000-003111.csv.gz", ecsv, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("archive-dr3/1716255000252O-result.csv", csv, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("archive-dr3/1716255000252O-result.ecsv", ecsv, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("archive-dr3/1716255000252O-result.vot", votable, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("archive-dr3/1716255000252O-result.fits", fits_hdu1, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("archive-edr3/1608303600000O-result.vot.gz", votable, EDR3_PMRA, 2016.0, DR3_FIRST),
    Case(
        "archive-edr3/1608303600001O-result.csv",
        csv,
        EDR3_PMRA,
        2016.0,
        DR3_FIRST,
        source_from="designation",
    ),
    Case("archive-dr2-2018/1530187642837O-result.vot", votable, DR2_PMRA, 2015.5, DR2_FIRST),
    Case("archive-dr2-2018/1530187642837O-result.fits.gz", fits_hdu1, DR2_PMRA, 2015.5, DR2_FIRST),
    Case("astroquery/dr3_launch_job.fits", fits_hdu1, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("astroquery/dr3_launch_job.ecsv.gz", ecsv, DR3_PMRA, 2016.0, DR3_FIRST),
    Case("astroquery/dr2_2018_launch_job.ecsv", ecsv, DR2_PMRA, 2015.5, DR2_FIRST),
    Case(
        "vizier-I355/asu.vot",
        votable,
        [12.616, 35.231, NAN, -2.504],
        2016.0,
        DR3_FIRST,
        names=VIZIER,
    ),
]


def _column(table, name):
    by_lower = {column.lower(): column for column in table.colnames}
    return table[by_lower[name.lower()]]


def _oracle_quantity(table, name, file_name):
    """The oracle's column as a Quantity: masked values NaN, the unit as astropy read it or spelled."""
    column = _column(table, file_name)
    values = np.ma.filled(np.ma.asarray(column).astype(float), np.nan)
    unit = column.unit
    if unit is None:
        unit = UNITS[name]  # CSV: no units; the archive's
    elif isinstance(unit, u.UnrecognizedUnit):
        unit = SPELLED[unit.to_string()]
    return (values * unit).to(UNITS[name])


@pytest.mark.parametrize("case", CASES, ids=[case.path for case in CASES])
def test_gaia_file_agrees_with_astropys_documented_reader(case):
    path = DATA / case.path
    gaia = read_gaia(path)
    oracle = case.oracle(path)
    assert len(gaia) == len(oracle) == 4
    for name, unit in UNITS.items():
        expected = _oracle_quantity(oracle, name, case.names[name])
        np.testing.assert_allclose(gaia[name].to_value(unit), expected.value, rtol=1e-13)
    if case.source_from == "read":
        expected_ids = np.ma.filled(_column(oracle, case.names["source_id"]), NO_SOURCE_ID)
    else:
        expected_ids = [int(text.split()[-1]) for text in _column(oracle, "designation")]
    assert gaia["source_id"].tolist() == list(expected_ids)
    assert gaia.meta["source_id"] == case.source_from
    assert gaia.meta["dropped"] == {"ra_error": 0, "dec_error": 0}


@pytest.mark.parametrize("case", CASES, ids=[case.path for case in CASES])
def test_gaia_file_gives_the_values_in_the_readme(case):
    gaia = read_gaia(DATA / case.path)
    np.testing.assert_allclose(gaia["pmra"].to_value(u.mas / u.yr), case.pmra, rtol=1e-12)
    assert np.all(np.isnan(gaia["pmdec"][np.isnan(case.pmra)]))
    assert np.all(gaia["ref_epoch"] == case.ref_epoch * u.yr)
    assert gaia["source_id"][0] == case.source_id
    assert gaia.meta["names"] == ("vizier" if case.names is VIZIER else "archive")


def test_vizier_positions_at_2016_are_used_not_j2000():
    gaia = read_gaia(DATA / "vizier-I355/asu.vot")
    assert gaia["ra"][1].to_value(u.deg) == 45.00432028915  # RA_ICRS; RAJ2000 is 45.00416370916


def _copy(source, target):
    shutil.copyfile(source, target)
    return target


def test_format_is_read_from_content_not_name(tmp_path):
    """A renamed download, and gzip without .gz, are read as what they hold."""
    dr3 = DATA / "archive-dr3"
    votable_as_fits = _copy(dr3 / "1716255000252O-result.vot", tmp_path / "result.fits")
    fits_as_csv = _copy(dr3 / "1716255000252O-result.fits", tmp_path / "result.csv")
    gzip_without_gz = tmp_path / "GaiaSource_000000-003111.csv"
    gzip_without_gz.write_bytes((DATA / "dr3-bulk/GaiaSource_000000-003111.csv.gz").read_bytes())
    for path, table_format in [
        (votable_as_fits, "votable"),
        (fits_as_csv, "fits"),
        (gzip_without_gz, "ecsv"),
    ]:
        gaia = read_gaia(path)
        assert gaia.meta["format"] == table_format
        np.testing.assert_allclose(gaia["pmra"].to_value(u.mas / u.yr), DR3_PMRA)


def test_plain_csv_with_null_and_empty_fields(tmp_path):
    path = tmp_path / "GaiaSource_000000-003111.csv"
    path.write_text(
        "source_id,ra,ra_error,dec,dec_error,pmra,pmdec,ref_epoch,phot_g_mean_mag\n"
        "1,10.0,0.1,20.0,0.1,null,null,2016.0,15.0\n"
        "2,10.1,0.1,20.1,0.1,,,2016.0,15.5\n"
        "3,10.2,0.1,20.2,0.1,1.5,-2.5,2016.0,16.0\n"
    )
    gaia = read_gaia(path)
    oracle = Table.read(path, format="ascii.csv", fill_values=[("null", "0"), ("", "0")])
    assert oracle["pmra"].mask.tolist() == [True, True, False]
    np.testing.assert_allclose(gaia["pmra"].value, [NAN, NAN, 1.5])


def _ecsv(path, unit_of, values=None):
    """A 2-row ECSV file with the archive's columns, ``unit_of`` overriding their units."""
    units = {**{name: str(unit) for name, unit in UNITS.items()}, **unit_of}
    lines = ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
    for name in UNITS:
        lines.append(f"# - {{name: {name}, unit: '{units[name]}', datatype: float64}}")
    lines.append(",".join(UNITS))
    rows = values or [[1.0, 2.0, 0.1, 0.1, 3.0, 4.0, 2016.0, 15.0]] * 2
    lines += [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_units_of_the_right_kind_are_converted(tmp_path):
    path = _ecsv(tmp_path / "rad.ecsv", {"ra": "rad", "ra_error": "deg", "pmra": "deg/yr"})
    gaia = read_gaia(path)
    oracle = Table.read(path, format="ascii.ecsv")
    assert gaia["ra"][0].to_value(u.deg) == pytest.approx(np.degrees(oracle["ra"][0]))
    assert gaia["ra_error"][0].to_value(u.mas) == pytest.approx(0.1 * 3.6e6)
    assert gaia["pmra"][0].to_value(u.mas / u.yr) == pytest.approx(3.0 * 3.6e6)


@pytest.mark.parametrize(
    ("unit_of", "message"),
    [
        (
            {"ra": "mas.yr**-1"},
            r"column 'ra': unit mas / yr is not an angle: not convertible to deg$",
        ),
        (
            {"pmra": "mas"},
            r"column 'pmra': unit mas is not an angular speed: not convertible to mas / yr$",
        ),
        ({"ref_epoch": "d"}, r"column 'ref_epoch': unit d is not years: ref_epoch is a Julian"),
        (
            {"ra": "Angel[deg]"},
            r"column 'ra': unit not understood: astropy cannot parse it, and it is not one of"
            r" the Gaia archive's spellings \(Angle\[deg\], .*\) \(got 'Angel\[deg\]'\)$",
        ),
    ],
)
def test_units_of_another_kind_or_unknown_are_refused(tmp_path, unit_of, message):
    path = _ecsv(tmp_path / "bad.ecsv", unit_of)
    with pytest.raises(InputError, match=rf"bad\.ecsv: {message}"):
        read_gaia(path)


def test_unknown_unit_in_a_votable_is_refused(tmp_path):
    text = (DATA / "archive-dr2-2018/1530187642837O-result.vot").read_text()
    path = tmp_path / "result.vot"
    path.write_text(
        text.replace(
            'name="pmdec" unit="Angular Velocity[mas/year]"',
            'name="pmdec" unit="furlong/fortnight"',
        )
    )
    with pytest.raises(InputError, match=r"column 'pmdec': unit .* \(got 'furlong/fortnight'\)"):
        read_gaia(path)


def test_text_that_is_no_table_is_refused(tmp_path):
    path = tmp_path / "gaia.csv"
    path.write_text("source_id ra dec\n1 10.0 20.0\n")
    with pytest.raises(
        InputError, match=r"gaia\.csv: not a Gaia table: neither FITS, VOTable, ECSV nor comma"
    ):
        read_gaia(path)


def test_archive_error_votable_is_refused_with_the_archives_words(tmp_path):
    path = tmp_path / "1716255000253O-result.vot"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        '<RESOURCE type="results">\n'
        '<INFO name="QUERY_STATUS" value="ERROR">Cannot parse query: unknown column "rra"</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    )
    with pytest.raises(InputError, match=r"no TABLE: not a Gaia table \(the archive says: Cannot"):
        read_gaia(path)


def test_vizier_without_epoch_is_refused_naming_vizier_column(tmp_path):
    text = (DATA / "vizier-I355/asu.vot").read_text()
    path = tmp_path / "asu.vot"
    path.write_text(text.replace('name="Epoch"', 'name="Ep"'))
    with pytest.raises(
        InputError, match=r"column 'ref_epoch': missing Gaia column \(VizieR's Epoch\)$"
    ):
        read_gaia(path)


def test_j2000_positions_are_not_taken_for_gaia_positions(tmp_path):
    path = tmp_path / "vizier.csv"
    path.write_text(
        "RAJ2000,DEJ2000,e_RA_ICRS,e_DE_ICRS,pmRA,pmDE,Epoch,Gmag\n"
        "44.99609929973,0.00561461323,0.1261,0.1166,12.616,0.138,2016.0,17.641426\n"
    )
    with pytest.raises(InputError, match=r"column 'ra': missing Gaia column \(VizieR's RAJ2000"):
        read_gaia(path)


def test_designation_that_is_not_gaias_is_refused(tmp_path):
    path = tmp_path / "result.csv"
    text = (DATA / "archive-edr3/1608303600001O-result.csv").read_text()
    path.write_text(text.replace("Gaia EDR3 34361129088", "2MASS J03000103+0001150"))
    with pytest.raises(
        InputError, match=r"row 2 \(counting from 1\): not a Gaia designation .*'2MASS J03"
    ):
        read_gaia(path)


def test_values_that_are_not_numbers_are_named(tmp_path):
    path = tmp_path / "result.csv"
    text = (DATA / "archive-dr3/1716255000252O-result.csv").read_text()
    path.write_text(text.replace("0.014922398", "n/a"))
    with pytest.raises(
        InputError,
        match=r"column 'ra_error': row 2 \(counting from 1\): not a number \(got 'n/a'\)$",
    ):
        read_gaia(path)


def test_fits_tnull_source_id_is_minus_one_and_nan_proper_motion_allowed(tmp_path):
    source = DATA / "archive-dr3/1716255000252O-result.fits"
    with fits.open(source) as hdul:
        hdul[1].data["source_id"][2] = -(2**63)  # the column's TNULL
        hdul.writeto(tmp_path / "tnull.fits")
    gaia = read_gaia(tmp_path / "tnull.fits")
    assert gaia["source_id"].tolist() == [DR3_FIRST, 34361129088, NO_SOURCE_ID, 124244814720]
    assert np.isnan(gaia["pmra"][2])


def _scaled_integer_gaia(path, n, rng):
    """Proper motions stored as 32-bit integers in µas/yr, scaled to mas/yr, TNULL for none."""
    pm = np.round(rng.normal(0, 5000, (2, n))).astype(np.int32)  # µas/yr
    null = np.iinfo(np.int32).min
    pm[:, ::5] = null  # two-parameter solutions
    columns = [
        fits.Column("source_id", "K", array=np.arange(n, dtype=np.int64) * 4096 + 1),
        fits.Column("ra", "D", unit="deg", array=rng.uniform(10, 12, n)),
        fits.Column("dec", "D", unit="deg", array=rng.uniform(-1, 1, n)),
        fits.Column("ra_error", "E", unit="mas", array=np.full(n, 0.1)),
        fits.Column("dec_error", "E", unit="mas", array=np.full(n, 0.1)),
        fits.Column("pmra", "J", unit="mas.yr**-1", array=pm[0]),
        fits.Column("pmdec", "J", unit="mas.yr**-1", array=pm[1]),
        fits.Column("ref_epoch", "D", unit="yr", array=np.full(n, 2016.0)),
        fits.Column("phot_g_mean_mag", "E", unit="mag", array=rng.uniform(12, 20, n)),
    ]
    hdu = fits.BinTableHDU.from_columns(columns)
    for k in (6, 7):  # the stored integers are read as µas: scale them to mas, null kept raw
        hdu.header[f"TSCAL{k}"], hdu.header[f"TZERO{k}"], hdu.header[f"TNULL{k}"] = 1e-3, 0.0, null
    hdu.writeto(path)
    expected = np.where(pm == null, np.nan, pm * 1e-3)
    return expected


@pytest.mark.parametrize("lazy", [False, True])
def test_tnull_in_a_scaled_integer_column_is_a_missing_value(tmp_path, monkeypatch, lazy):
    # astropy masks TNULL only in unscaled columns: the null was read as −2147.48 mas/yr
    from ztfnb.io import gaiafits
    from ztfnb.reference import select_cone

    expected = _scaled_integer_gaia(tmp_path / "scaled.fits", 3000, np.random.default_rng(5))
    if lazy:  # the block reader of large files, with its thresholds lowered
        monkeypatch.setattr(gaiafits, "LAZY_ROWS", 1000)
        monkeypatch.setattr(gaiafits, "BLOCK", 700)
    gaia = read_gaia(tmp_path / "scaled.fits")
    assert isinstance(gaia, gaiafits.GaiaFits) == lazy
    rows = select_cone(gaia, SkyCoord(11 * u.deg, 0 * u.deg), 3 * u.deg)  # every row
    order = np.argsort(np.asarray(rows["source_id"]))
    assert len(rows) == 3000
    for name, values in zip(("pmra", "pmdec"), expected, strict=True):
        got = rows[name].to_value(u.mas / u.yr)[order]
        assert np.array_equal(np.isnan(got), np.isnan(values)), name
        assert np.allclose(got, values, rtol=1e-12, atol=0, equal_nan=True), name


def test_refusals_are_one_line(tmp_path):
    path = tmp_path / "broken.ecsv"
    path.write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: ra, datatype: float64\nra\n1\n")
    with pytest.raises(InputError) as refused:
        read_gaia(path)
    assert "\n" not in str(refused.value)
    assert "broken.ecsv: cannot read a table" in str(refused.value)


def test_bzip2_compressed_file(tmp_path):
    plain = gzip.decompress((DATA / "dr3-bulk/GaiaSource_000000-003111.csv.gz").read_bytes())
    path = tmp_path / "GaiaSource_000000-003111.csv.bz2"
    path.write_bytes(bz2.compress(plain))
    np.testing.assert_allclose(read_gaia(path)["pmra"].to_value(u.mas / u.yr), DR3_PMRA)


def test_gaia_table_is_found_after_another_votable_table(tmp_path):
    gaia = Table.read(DATA / "archive-dr3/1716255000252O-result.vot", use_names_over_ids=True)
    log = Table({"query": ["SELECT * FROM gaiadr3.gaia_source"]})
    document = VOTableFile()
    resource = Resource()
    document.resources.append(resource)
    for table in (log, gaia[["source_id", *UNITS]]):
        resource.tables.append(TableElement.from_table(document, table))
    document.to_xml(str(tmp_path / "two.vot"))
    result = read_gaia(tmp_path / "two.vot")
    assert result.meta["extension"] == 1
    np.testing.assert_allclose(result["pmra"].to_value(u.mas / u.yr), DR3_PMRA)


def test_missing_ref_epoch_is_refused_not_assumed(tmp_path):
    path = tmp_path / "result.csv"
    table = csv(DATA / "archive-dr3/1716255000252O-result.csv")
    table.remove_column("ref_epoch")
    table.write(path, format="ascii.csv")
    with pytest.raises(InputError, match=r"column 'ref_epoch': missing Gaia column \(select it"):
        read_gaia(path)
