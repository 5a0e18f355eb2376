"""A large Gaia FITS table read a cone at a time (`ztfnb.io.gaiafits`) against the same file read whole.

The oracle is the file read whole (`read_gaia` below `LAZY_ROWS`), whose
cones the HATS tests check against astropy's ``SkyCoord.separation``; here
astropy's separation checks the cones too. Tables are small and the
thresholds lowered (`LAZY_ROWS`, `BLOCK`, `GATHER` patched), so that a file
of a few thousand rows is opened in several blocks and its cones copied in
several batches.
"""

from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn, QTable, Table
from astropy.time import Time

import ztfnb.io.gaiafits as gaiafits
from ztfnb.io import read_gaia, write_gaia
from ztfnb.io.errors import InputError
from ztfnb.io.gaiafits import GaiaFits
from ztfnb.reference import field_reference, select_cone

#: Cones (deg): across RA = 0, the north pole inside, the south pole, small, empty of stars.
CONES = [
    (0.0, 20.0, 5.6),
    (359.8, 21.0, 5.6),
    (45.0, 89.9, 5.6),
    (10.0, -88.0, 5.6),
    (121.5, -31.0, 0.5),
    (250.0, 40.0, 5.6),
]
ROWS = 12_000


def _gaia(rng, n=ROWS):
    """Stars crowded around RA = 0, the poles and (120, -30), with rows lacking an error or a proper motion."""
    centres = np.array([(0.0, 20.0), (0.0, 88.0), (0.0, -88.0), (120.0, -30.0)])
    pick = rng.integers(0, len(centres), n)
    ra = (centres[pick, 0] + rng.normal(0, 6, n)) % 360
    dec = np.clip(centres[pick, 1] + rng.normal(0, 4, n), -90, 90)
    table = QTable()
    table["source_id"] = rng.permutation(n).astype(np.int64) * 4096 + 1
    table["ra"] = ra * u.deg
    table["dec"] = dec * u.deg
    table["ra_error"] = rng.uniform(0.02, 1.0, n) * u.mas
    table["dec_error"] = rng.uniform(0.02, 1.0, n) * u.mas
    table["ra_error"][rng.random(n) < 0.01] = np.nan  # dropped, as read whole
    pm = rng.normal(0, 5, (2, n))
    pm[:, rng.random(n) < 0.05] = np.nan  # two-parameter solutions
    table["pmra"] = pm[0] * u.mas / u.yr
    table["pmdec"] = pm[1] * u.mas / u.yr
    table["ref_epoch"] = np.full(n, 2016.0) * u.yr
    table["phot_g_mean_mag"] = rng.uniform(12, 20.5, n) * u.mag
    return table


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(gaiafits, "LAZY_ROWS", 1000)
    monkeypatch.setattr(gaiafits, "BLOCK", 2500)  # not a divisor of the rows: a short last block
    monkeypatch.setattr(gaiafits, "GATHER", 300)


@pytest.fixture(scope="module")
def gaia_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gaia-fits") / "gaia.fits"
    write_gaia(path, _gaia(np.random.default_rng(11)))
    return path


def _whole(path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(gaiafits, "LAZY_ROWS", 10**12)
        table = read_gaia(path)
    assert isinstance(table, QTable)
    return table


def _same(a, b):
    assert a.colnames == b.colnames and len(a) == len(b)
    for name in a.colnames:
        assert a[name].unit == b[name].unit, name
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name]), equal_nan=True), name
    assert a.meta == b.meta


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_a_cone_is_the_cone_of_the_file_read_whole(
    gaia_file, small_thresholds, monkeypatch, ra, dec, radius
):
    whole, lazy = _whole(gaia_file, monkeypatch), read_gaia(gaia_file)
    assert isinstance(lazy, GaiaFits) and lazy._plain is not None
    assert lazy.meta == whole.meta | {"rows": ROWS}
    assert whole.meta["dropped"]["ra_error"] > 0
    center, radius = SkyCoord(ra * u.deg, dec * u.deg), radius * u.deg
    cone = select_cone(lazy, center, radius)
    _same(cone, select_cone(whole, center, radius))
    inside = SkyCoord(whole["ra"], whole["dec"]).separation(center) <= radius
    assert list(cone["source_id"]) == list(whole["source_id"][inside])  # astropy's, in file order
    assert len(cone) > 0 or (ra, dec) == (250.0, 40.0)


def test_a_table_astropy_reads_with_nulls_is_read_as_whole(tmp_path, small_thresholds, monkeypatch):
    table = Table(_gaia(np.random.default_rng(3), 3000))
    ids = np.asarray(table["source_id"])
    table["source_id"] = MaskedColumn(ids, mask=np.arange(len(ids)) % 7 == 0)  # TNULL: not plain
    path = tmp_path / "tnull.fits"
    table.write(path)
    assert "TNULL1" in fits.getheader(path, 1)
    lazy = read_gaia(path)
    assert lazy._plain is None
    center = SkyCoord(0 * u.deg, 20 * u.deg)
    cone = select_cone(lazy, center, 5.6 * u.deg)
    _same(cone, select_cone(_whole(path, monkeypatch), center, 5.6 * u.deg))
    assert (cone["source_id"] == -1).any()


def _damaged(path, target, row, column, value):
    table = Table.read(path)
    table[column][row] = value
    table.write(target)
    return target


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("pmra", np.inf),
        ("ra", np.nan),
        ("ref_epoch", 2457389.0),
        ("dec", 95.0),
        ("phot_g_mean_mag", -np.inf),
    ],
)
def test_a_bad_row_is_refused_as_when_read_whole(
    gaia_file, tmp_path, small_thresholds, monkeypatch, column, value
):
    # a row in the third block, near (0, 20): in the cones' area
    row = 5 * 1000 + int(np.argmin(np.abs(Table.read(gaia_file)["dec"][5000:6000] - 20)))
    path = _damaged(gaia_file, tmp_path / "bad.fits", row, column, value)
    with pytest.raises(InputError) as whole:
        _whole(path, monkeypatch)
    with pytest.raises(InputError) as lazy:
        read_gaia(path)
    assert str(lazy.value) == str(whole.value)
    assert lazy.value.column == column and (
        f"row {row + 1} (counting from 1)" in str(lazy.value) or column == "dec"
    )


def test_a_block_without_position_errors_is_dropped_not_refused(
    tmp_path, small_thresholds, monkeypatch
):
    table = Table(_gaia(np.random.default_rng(5), 6000))
    table["ra_error"][:3000] = np.nan  # the first blocks have none
    path = tmp_path / "errorless.fits"
    table.write(path)
    whole, lazy = _whole(path, monkeypatch), read_gaia(path)
    assert lazy.meta["dropped"] == whole.meta["dropped"]
    center = SkyCoord(0 * u.deg, 20 * u.deg)
    _same(select_cone(lazy, center, 5.6 * u.deg), select_cone(whole, center, 5.6 * u.deg))
    table["ra_error"] = np.nan
    table.write(path, overwrite=True)
    with pytest.raises(InputError, match="column 'ra_error': no row has a value"):
        read_gaia(path)


def test_a_damaged_datasum_is_refused(gaia_file, tmp_path, small_thresholds):
    path = tmp_path / "summed.fits"
    with fits.open(gaia_file) as hdul:
        hdul.writeto(path, checksum=True)
    assert isinstance(read_gaia(path), GaiaFits)
    with fits.open(path) as hdul:
        start = hdul[1]._data_offset
    data = bytearray(path.read_bytes())
    data[start + 60 * 7000 + 47] ^= 1  # pmdec's lowest bit: still a valid number
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="DATASUM does not match"):
        read_gaia(path)


def test_field_reference_of_the_file_is_that_of_the_file_read_whole(
    gaia_file, small_thresholds, monkeypatch
):
    catalog = SimpleNamespace(
        pointing=SkyCoord(359.5 * u.deg, 19.0 * u.deg),
        path=gaia_file.with_name("exposure.ldac"),
        mid_time=Time("2021-03-01T04:00:00", scale="tai"),
    )
    lazy = field_reference(read_gaia(gaia_file), catalog, 19 * u.mag)
    _same(lazy, field_reference(_whole(gaia_file, monkeypatch), catalog, 19 * u.mag))
    assert len(lazy) > 100


def test_the_same_cone_again_is_the_same_table_and_its_own(gaia_file, small_thresholds):
    lazy, center = read_gaia(gaia_file), SkyCoord(0 * u.deg, 20 * u.deg)
    first = select_cone(lazy, center, 5.6 * u.deg)
    kept = first.copy()
    first["ra"][:] = 0 * u.deg  # a caller's change stays in its copy
    _same(select_cone(lazy, center, 5.6 * u.deg), kept)


def test_a_pickled_file_is_opened_again(gaia_file, small_thresholds):
    import pickle

    lazy, center = read_gaia(gaia_file), SkyCoord(120 * u.deg, -30 * u.deg)
    again = pickle.loads(pickle.dumps(lazy))
    assert isinstance(again, GaiaFits) and again is not lazy
    _same(select_cone(again, center, 2 * u.deg), select_cone(lazy, center, 2 * u.deg))
