"""erfa-direct observatory positions against astropy's own frames, and the cached IERS table."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from ztfnb.offline import earth_orientation_table
from ztfnb.site import PALOMAR
from ztfnb.timecorr import _astropy_positions, light_travel_time, observatory_positions

NS = 1e-9
SITES = {
    "Palomar": PALOMAR,
    "Paranal (south)": EarthLocation.from_geodetic(-70.4045 * u.deg, -24.6272 * u.deg, 2635 * u.m),
    "Svalbard (78° N)": EarthLocation.from_geodetic(15.39 * u.deg, 78.23 * u.deg, 520 * u.m),
}


def _sky(n=400, seed=3):
    """Uniform over the sphere, plus the poles and RA = 0."""
    rng = np.random.default_rng(seed)
    ra = np.concatenate([rng.uniform(0, 360, n), [0.0, 0.0, 359.999999, 180.0]])
    dec = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, n))), [90.0, -90.0, 0.0, 0.0]])
    return SkyCoord(ra * u.deg, dec * u.deg)


def _epochs(location=None):
    """2018-01-01 to 2030-01-01, at odd times of day."""
    return Time(np.linspace(58119.0, 62502.0, 37) + 0.137, format="mjd", location=location)


# past astropy-iers-data's predictions (≈ a year after its release) both astropy and ztfnb
# fall back to the 50-year mean pole and UT1 = UTC, with these warnings: the same numbers
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyWarning")
@pytest.mark.filterwarnings("ignore::erfa.ErfaWarning")
@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("kind", ["heliocentric", "barycentric"])
def test_within_a_nanosecond_of_astropy_over_the_sky_sites_and_years(site, kind):
    coords = _sky()
    times = _epochs(SITES[site])
    expected = times[:, None].light_travel_time(coords[None, :], kind=kind).to_value(u.s)
    ours = light_travel_time(times, coords, kind=kind).to_value(u.s)
    assert np.max(np.abs(ours - expected)) < NS
    assert np.max(np.abs(ours)) > 480  # up to ≈500 s: not trivially zero


@pytest.mark.parametrize("kind", ["heliocentric", "barycentric"])
def test_positions_within_30_cm_of_astropy_frames_with_one_location_an_epoch(kind):
    times = Time(60300.0 + np.linspace(0, 300, 12), format="mjd")
    where = EarthLocation.from_geodetic(
        np.linspace(-180, 180, 12) * u.deg, np.linspace(-80, 80, 12) * u.deg, 100 * u.m
    )
    ours = observatory_positions(times, kind, where).to_value(u.m)
    theirs = _astropy_positions(times, kind, where, "builtin").to_value(u.m)
    assert np.max(np.linalg.norm(ours - theirs, axis=1)) < 0.3  # 1 ns of light
    with pytest.raises(ValueError, match="3 locations for 12 times"):
        observatory_positions(times, kind, where[:3])


@pytest.mark.slow
def test_cached_table_is_astropys_table(tmp_path, monkeypatch):
    """Written by the first process that parses it, read back with the same values."""
    monkeypatch.setenv("ZTFNB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    parsed = earth_orientation_table()  # astropy's parse; writes the cache
    assert list(tmp_path.glob("iers-auto-*.npz"))
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    cached = earth_orientation_table()
    assert cached is not parsed and iers.IERS_Auto.open() is cached
    assert cached.colnames == parsed.colnames and cached.meta == parsed.meta
    for name in parsed.colnames:
        assert getattr(cached[name], "unit", None) == getattr(parsed[name], "unit", None), name
        a, b = np.asarray(cached[name]), np.asarray(parsed[name])
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        assert np.array_equal(np.ma.getmaskarray(cached[name]), np.ma.getmaskarray(parsed[name]))
    times = Time(np.linspace(58119.0, 61000.0, 50), format="mjd")
    for table in (parsed, cached):
        with iers.earth_orientation_table.set(table):
            values = (times.ut1.jd2, np.array([c.value for c in table.pm_xy(times)]))
        if table is parsed:
            first = values
    assert np.array_equal(values[0], first[0]) and np.array_equal(values[1], first[1])


def test_a_damaged_cache_is_parsed_afresh(tmp_path, monkeypatch):
    from ztfnb.offline import _cache_file

    table = earth_orientation_table()
    monkeypatch.setenv("ZTFNB_CACHE_DIR", str(tmp_path))

    _cache_file().write_bytes(b"not an npz")
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    monkeypatch.setattr(iers.IERS_Auto, "read", classmethod(lambda cls: table))  # no 2 s parse
    assert earth_orientation_table() is table
    assert _cache_file().stat().st_size > 1_000_000  # rewritten
    monkeypatch.setenv("ZTFNB_CACHE_DIR", "")  # an empty value: no cache
    assert _cache_file() is None


def test_import_installs_the_cache_and_a_parsing_process_writes_it_at_exit(tmp_path, monkeypatch):
    from ztfnb import offline

    table = earth_orientation_table()
    monkeypatch.setenv("ZTFNB_CACHE_DIR", str(tmp_path))
    path = offline._cache_file()
    offline._write_if_parsed(path)  # what the exit hook does in a process that parsed it
    assert path.is_file()
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    offline.freeze_iers()  # as `import ztfnb` does
    installed = iers.IERS_Auto.iers_table
    assert installed is not None and installed is not table
    assert np.array_equal(installed["UT1_UTC"].value, table["UT1_UTC"].value, equal_nan=True)
