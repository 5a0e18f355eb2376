"""Light-travel time: exact against astropy everywhere on the sky; the grid method's error; the light-curve helper."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.table import Table
from astropy.time import Time, TimeDelta

from ztfnb.cli import main
from ztfnb.io import InputError
from ztfnb.lightcurve import add_corrected_times
from ztfnb.site import PALOMAR
from ztfnb.tangent import gnomonic_inverse
from ztfnb.timecorr import grid_error, light_travel_time, observatory_positions

NS = 1e-9


def _sky():
    rng = np.random.default_rng(7)
    ra = np.concatenate(
        [rng.uniform(0, 360, 300), [0.0, 1e-9, 359.9999999, 360 - 1e-12, 180.0, 45.0, 90.0]]
    )
    dec = np.concatenate(
        [
            np.degrees(np.arcsin(rng.uniform(-1, 1, 300))),
            [0.0, 10.0, -10.0, 89.9999999, 90.0, -90.0, -89.99],
        ]
    )
    return SkyCoord(ra * u.deg, dec * u.deg)


def _times(location=None):
    return Time(60200 + np.linspace(0, 365, 40), format="mjd", scale="utc", location=location)


@pytest.mark.parametrize("kind", ["heliocentric", "barycentric"])
def test_exact_agrees_with_astropy_to_a_nanosecond_everywhere(kind):
    coords = _sky()
    times = _times(PALOMAR)
    expected = times[:, None].light_travel_time(coords[None, :], kind=kind)
    ours = light_travel_time(times, coords, kind=kind)
    assert ours.unit == u.s and ours.shape == (40, coords.size)
    as_delta = light_travel_time(times, coords, kind=kind, timedelta=True)
    assert isinstance(as_delta, TimeDelta) and as_delta.scale == "tdb"
    assert np.max(np.abs((as_delta - expected).to_value(u.s))) < NS
    assert np.max(np.abs((ours - expected).to_value(u.s))) < NS
    assert np.max(np.abs(ours.to_value(u.s))) > 400  # not trivially zero


def test_location_from_the_times_or_given_or_palomar():
    coords = _sky()[:20]
    elsewhere = EarthLocation.from_geodetic(-70.7 * u.deg, -30.2 * u.deg, 2200 * u.m)
    times = _times(elsewhere)
    expected = times[:, None].light_travel_time(coords[None, :], kind="heliocentric")
    assert np.max(np.abs((light_travel_time(times, coords) - expected).to_value(u.s))) < NS
    plain = _times()
    expected = plain[:, None].light_travel_time(
        coords[None, :], kind="heliocentric", location=PALOMAR
    )
    assert np.max(np.abs((light_travel_time(plain, coords) - expected).to_value(u.s))) < NS
    # Chile and Palomar differ by the Earth's radius: up to ≈20 ms
    assert (
        np.max(
            np.abs(
                (
                    light_travel_time(plain, coords, location=elsewhere)
                    - light_travel_time(plain, coords)
                ).to_value(u.s)
            )
        )
        > 5e-3
    )


@pytest.mark.parametrize("writers", [1, 2, 3])
def test_chunks_and_out_give_the_same_numbers(monkeypatch, writers):
    import ztfnb.timecorr as timecorr

    coords = _sky()
    times = _times(PALOMAR)
    whole = light_travel_time(times, coords).to_value(u.s)
    monkeypatch.setattr(timecorr, "_OVERLAP_FROM", 0)  # blocks written by other threads
    monkeypatch.setattr(timecorr, "_WRITERS", writers)  # each block's rows cut among them
    monkeypatch.setattr(timecorr, "_BLOCKS", 3)
    monkeypatch.setattr(timecorr, "_cores", lambda: 2)  # even where this process has one CPU
    monkeypatch.setattr(timecorr, "_EPOCH_CHUNK", 3)
    out = np.zeros(whole.shape)
    result = light_travel_time(times, coords, out=out)
    assert result.unit == u.s and np.shares_memory(result.value, out)
    assert np.allclose(out, whole, rtol=0, atol=1e-12)  # floating-point order only
    with pytest.raises(ValueError, match="shape"):
        light_travel_time(times, coords, out=np.zeros((3, 3)))


def test_positions_computed_once_serve_every_chunk_of_sources():
    coords, times = _sky(), _times(PALOMAR)
    expected = times[:, None].light_travel_time(coords[None, :], kind="barycentric")
    positions = observatory_positions(times, "barycentric")
    chunks = [
        light_travel_time(times, coords[start : start + 100], positions=positions.to(u.km))
        for start in range(0, coords.size, 100)
    ]
    ours = np.concatenate([chunk.to_value(u.s) for chunk in chunks], axis=1)
    assert np.max(np.abs(ours - expected.to_value(u.s))) < NS
    with pytest.raises(ValueError, match=r"positions has shape \(39, 3\), expected \(40, 3\)"):
        light_travel_time(times, coords, positions=positions[1:])
    with pytest.raises(u.UnitConversionError):
        light_travel_time(times, coords, positions=positions.value * u.s)


def test_unit_vectors_are_astropys_to_a_few_units_in_the_last_place():
    from ztfnb.timecorr import _source_vectors

    coords = SkyCoord(
        np.concatenate([_sky().ra.deg, [180 - 1e-12, 180 + 1e-12, 270.0]]) * u.deg,
        np.concatenate([_sky().dec.deg, [0.0, -45.0, 1e-300]]) * u.deg,
    )
    expected = coords.cartesian.xyz.value.T
    assert np.max(np.abs(_source_vectors(coords) - expected)) < 1e-15


def _field(ra, dec, size, n=1500, seed=0):
    offsets = np.random.default_rng(seed).uniform(-size / 2, size / 2, (n, 2))
    lon, lat = gnomonic_inverse(offsets[:, 0], offsets[:, 1], ra, dec)
    return SkyCoord(lon * u.deg, lat * u.deg)


@pytest.mark.parametrize(("ra", "dec"), [(0.2, 25.0), (210.0, -20.0), (40.0, 88.5)])
def test_grid_method_is_within_a_millisecond_on_a_quadrant(ra, dec):
    times = _times(PALOMAR)[::4]
    error = grid_error(times, _field(ra, dec, 0.9))
    assert error.max() < 1e-3 * u.s
    whole = grid_error(times, _field(ra, dec, 7.0))
    assert 1e-3 * u.s < whole.max() < 0.1 * u.s  # a whole ZTF field: tens of milliseconds


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        light_travel_time(_times(), _sky()[:2], kind="geocentric")
    with pytest.raises(ValueError, match="method"):
        light_travel_time(_times(), _sky()[:2], method="fast")


def _light_curve(n=30):
    rng = np.random.default_rng(2)
    return Table(
        {
            "mjd": 60250 + np.sort(rng.uniform(0, 100, n)),
            "ra": np.full(n, 359.99),
            "dec": np.full(n, 12.0),
            "mag": rng.normal(18, 0.1, n),
        }
    )


def test_light_curve_helper_adds_hjd_and_bjd():
    table = add_corrected_times(_light_curve())
    times = Time(table["mjd"], format="mjd", scale="utc", location=PALOMAR)
    coords = SkyCoord(table["ra"] * u.deg, table["dec"] * u.deg)
    expected = (times.tdb + times.light_travel_time(coords, kind="barycentric")).jd
    assert np.max(np.abs(table["bjd_tdb"] - expected)) * 86400 < 1e-6
    expected = (times.tdb + times.light_travel_time(coords, kind="heliocentric")).jd
    assert np.max(np.abs(table["hjd_tdb"] - expected)) * 86400 < 1e-6
    assert table["ltt_helio"].unit == u.s


@pytest.mark.parametrize("suffix", [".ecsv", ".fits", ".csv"])
def test_ltt_command_line(tmp_path, suffix, capsys):
    _light_curve().write(tmp_path / f"lc{suffix}")
    assert (
        main(["ltt", str(tmp_path / f"lc{suffix}"), "--out", str(tmp_path / f"out{suffix}")]) == 0
    )
    back = Table.read(tmp_path / f"out{suffix}")
    assert {"hjd_tdb", "bjd_tdb", "ltt_helio", "ltt_bary"} <= set(back.colnames)
    assert np.all(np.abs(back["bjd_tdb"] - (back["mjd"] + 2400000.5)) < 0.01)


def test_ltt_with_one_position(tmp_path):
    table = _light_curve()
    table.remove_columns(["ra", "dec"])
    table.write(tmp_path / "lc.ecsv")
    assert (
        main(
            [
                "ltt",
                str(tmp_path / "lc.ecsv"),
                "--out",
                str(tmp_path / "o.ecsv"),
                "--ra",
                "359.99",
                "--dec",
                "12",
            ]
        )
        == 0
    )
    assert "bjd_tdb" in Table.read(tmp_path / "o.ecsv").colnames


@pytest.mark.parametrize(
    ("change", "arguments", "message"),
    [
        (lambda t: t.rename_column("mjd", "epoch"), [], "no time column: none of mjd, jd"),
        (lambda t: None, ["--time-column", "epoch"], "column 'epoch': no time column"),
        (lambda t: t.remove_column("dec"), [], "no Dec column: none of dec"),
        (
            lambda t: t["mjd"].__setitem__(4, np.nan),
            [],
            r"column 'mjd': 1 empty, NaN or infinite value\(s\), first at row 5 \(counting from 1\)",
        ),
        (lambda t: None, ["--time-scale", "gps2"], "unknown time scale"),
        (
            lambda t: None,
            ["--time-format", "jd"],
            r"row 1 \(counting from 1\) falls in the year -4",
        ),
        (lambda t: t.__setitem__("mjd", t["mjd"] * 10), [], "cannot tell JD from MJD"),
        (lambda t: t["dec"].__setitem__(0, 95.0), [], "declination outside"),
    ],
)
def test_ltt_errors_name_file_and_column(tmp_path, capsys, change, arguments, message):
    table = _light_curve()
    change(table)
    table.write(tmp_path / "lc.ecsv")
    assert (
        main(["ltt", str(tmp_path / "lc.ecsv"), "--out", str(tmp_path / "o.ecsv"), *arguments]) == 2
    )
    error = capsys.readouterr().err
    assert "lc.ecsv" in error and __import__("re").search(message, error), error
    assert not (tmp_path / "o.ecsv").exists()


def _expected_dates(mjd_utc, ra, dec, location=PALOMAR):
    """HJD and BJD (TDB) computed by astropy alone, at the observatory."""
    times = Time(mjd_utc, format="mjd", scale="utc", location=location)
    coords = SkyCoord(ra, dec, unit=u.deg)
    return {
        kind: (times.tdb + times.light_travel_time(coords, kind=kind)).jd
        for kind in ("heliocentric", "barycentric")
    }


def test_light_curves_with_the_names_and_formats_users_have(tmp_path):
    table = _light_curve()
    expected = _expected_dates(table["mjd"], table["ra"], table["dec"])
    theirs = Table(
        {
            "JD": table["mjd"] + 2400000.5,
            "RAJ2000": table["ra"],
            "DEJ2000": table["dec"],
        }
    )
    theirs.write(tmp_path / "lc.csv")
    assert main(["ltt", str(tmp_path / "lc.csv"), "--out", str(tmp_path / "o.csv"),
                 "--time-scale", "UTC"]) == 0  # fmt: skip
    back = Table.read(tmp_path / "o.csv")
    # the CSV keeps every digit: only float64's own ≈40 µs resolution of a JD remains
    assert np.max(np.abs(back["bjd_tdb"] - expected["barycentric"])) * 86400 < 1e-4
    assert np.max(np.abs(back["hjd_tdb"] - expected["heliocentric"])) * 86400 < 1e-4
    exact = Time(theirs["JD"], format="jd", scale="utc", location=PALOMAR).light_travel_time(
        SkyCoord(table["ra"], table["dec"], unit=u.deg), kind="barycentric"
    )
    assert np.max(np.abs(back["ltt_bary"] - exact.to_value(u.s))) < NS

    sexagesimal = Table(
        {
            "mjd": table["mjd"][:3],
            "ra": ["23:59:57.6"] * 3,  # 359.99°
            "dec": ["+12:00:00"] * 3,
        }
    )
    dates = add_corrected_times(sexagesimal)
    assert np.max(np.abs(dates["bjd_tdb"] - expected["barycentric"][:3])) * 86400 < 1e-4


def test_light_curve_location_from_the_time_column_or_given():
    keck = EarthLocation.from_geodetic(-155.4747 * u.deg, 19.8260 * u.deg, 4145 * u.m)
    table = _light_curve(8)
    expected = _expected_dates(table["mjd"], table["ra"], table["dec"], location=keck)
    given = add_corrected_times(table, location=keck)
    assert np.max(np.abs(given["bjd_tdb"] - expected["barycentric"])) * 86400 < 1e-4
    own = table.copy()
    own["mjd"] = Time(table["mjd"], format="mjd", scale="utc", location=keck)
    from_column = add_corrected_times(own)
    assert np.max(np.abs(from_column["ltt_bary"] - given["ltt_bary"]).to_value(u.s)) < NS
    palomar = add_corrected_times(table)
    # Keck and Palomar see the barycentre up to ≈21 ms apart (an Earth radius): not equal
    assert np.max(np.abs(palomar["ltt_bary"] - given["ltt_bary"]).to_value(u.s)) > 1e-4


def test_empty_cells_are_refused_not_read_as_zero(tmp_path):
    (tmp_path / "lc.csv").write_text("mjd,ra,dec\n60250.1,10,20\n,10,20\n")
    assert main(["ltt", str(tmp_path / "lc.csv"), "--out", str(tmp_path / "o.ecsv")]) == 2
    (tmp_path / "lc2.csv").write_text("mjd,ra,dec\n60250.1,10,20\n60250.2,,20\n")
    with pytest.raises(
        InputError,
        match=r"lc2.csv: column 'ra': 1 empty, NaN or infinite value\(s\), first at row 2 \(counting from 1\)",
    ):
        add_corrected_times(Table.read(tmp_path / "lc2.csv"), source=str(tmp_path / "lc2.csv"))
    assert not list(tmp_path.glob("o*"))


def test_ltt_writes_compressed_fits_and_makes_the_output_folder(tmp_path):
    _light_curve().write(tmp_path / "lc.ecsv")
    out = tmp_path / "new" / "folder" / "lc.fits.gz"
    assert main(["ltt", str(tmp_path / "lc.ecsv"), "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    assert "bjd_tdb" in Table.read(out).colnames
    assert [p.name for p in out.parent.iterdir()] == ["lc.fits.gz"]


def test_unknown_table_format(tmp_path):
    from ztfnb.io.tables import read_table

    (tmp_path / "lc.txt").write_text("mjd\n1\n")
    with pytest.raises(InputError, match="unknown table format"):
        read_table(tmp_path / "lc.txt")


def test_a_variable_folds_sharply_only_on_corrected_times():
    from astropy.coordinates import SkyCoord as Coord

    from ztfnb.analyses.timing import simulate_field

    sources, times, magnitudes, _ = simulate_field(
        Coord(0.5 * u.deg, 20 * u.deg), 7 * u.deg, 300, 150, seed=3, variables=5
    )
    coords = Coord(sources["ra"], sources["dec"])
    star = int(np.nanargmin(sources["period"].value))
    period = sources["period"][star].to_value(u.day)
    bjd = (times.tdb + light_travel_time(times, coords[star], kind="barycentric")[:, 0]).jd

    def scatter(jd):
        phase = (jd / period) % 1
        model = sources["mag"][star].value + sources["amplitude"][star].value * np.sin(
            2 * np.pi * (jd - 2460000.0) / period
        )
        return np.std(magnitudes[:, star] - model), phase

    assert scatter(bjd)[0] < 0.05
    assert scatter(times.utc.jd)[0] > 2 * scatter(bjd)[0]


def test_positions_in_degrees_and_sexagesimal_are_told_apart_column_by_column():
    mjd = [60250.1, 60251.2]
    expected = (
        Time(mjd, format="mjd", location=PALOMAR)
        .light_travel_time(SkyCoord(150.25 * u.deg, 12.5 * u.deg), kind="barycentric")
        .to_value(u.s)
    )
    for ra, dec in (
        ([150.25, 150.25], ["+12:30:00", "+12:30:00"]),  # degrees beside a sexagesimal Dec
        (["150.25", "150.25"], ["12.5", "12.5"]),  # decimal degrees written as text
        (["10:01:00", "10h01m00s"], ["12 30 00", "+12d30m00s"]),  # hours and degrees
    ):
        table = add_corrected_times(Table({"mjd": mjd, "ra": ra, "dec": dec}))
        assert np.max(np.abs(table["ltt_bary"].to_value(u.s) - expected)) < NS, (ra, dec)
    with pytest.raises(InputError, match="column 'ra': cannot read angles"):
        add_corrected_times(Table({"mjd": mjd, "ra": ["10:01:00", "150.25"], "dec": [12.5, 12.5]}))


def test_the_light_curve_functions_still_import_from_timecorr():
    import ztfnb.lightcurve
    import ztfnb.timecorr

    for name in ztfnb.lightcurve.__all__:
        assert getattr(ztfnb.timecorr, name) is getattr(ztfnb.lightcurve, name)
    with pytest.raises(AttributeError):
        ztfnb.timecorr.no_such_name  # noqa: B018
