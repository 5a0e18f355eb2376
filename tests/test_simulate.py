"""The simulated night: real formats, determinism, and physics checked against the truth and erfa."""

import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import erfa
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.time import Time

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.cli import main
from ztfnb.io import read_gaia, read_ldac
from ztfnb.reference import reference_at_epoch
from ztfnb.simulate import NightParameters, TrueMapping, ensure_night, simulate_night
from ztfnb.simulate.night import _dates_with_earth_orientation
from ztfnb.simulate.projection import ExposureProjection
from ztfnb.simulate.schedule import plan_night
from ztfnb.simulate.stars import make_star_field

ZTF_KEYS = [
    "CCDID",
    "QID",
    "RCID",
    "TELRAD",
    "TELDECD",
    "OBSMJD",
    "AIRMASS",
    "EXPTIME",
    "FILTER",
    "NAXIS1",
    "NAXIS2",
]
OBJECT_COLUMNS = [
    "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE", "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE", "FLUX_AUTO",
    "FLUXERR_AUTO", "MAG_AUTO", "MAGERR_AUTO", "FLUX_RADIUS", "ELONGATION", "FLAGS",
]  # fmt: skip


def _exposures(night):
    return QTable.read(night / "exposures.ecsv")


def test_night_has_the_promised_files(small_night):
    exposures = _exposures(small_night)
    assert len(exposures) == 4
    for name in ("gaia.fits", "exposures.ecsv", "simulation.json", "truth/failures.ecsv"):
        assert (small_night / name).is_file()
    for name in exposures["exposure"]:
        assert (small_night / f"{name}.ldac").is_file()
        assert (small_night / "truth" / f"{name}.fits").is_file()
    for column in (
        "exposure",
        "obsmjd",
        "telrad",
        "teldecd",
        "airmass",
        "true_ra",
        "true_dec",
        "failures",
    ):
        assert column in exposures.colnames
    assert exposures["telrad"].unit == u.deg


def test_gaia_table_looks_like_the_archive(small_night):
    with fits.open(small_night / "gaia.fits") as hdul:
        header = hdul[1].header
        units = {
            header[f"TTYPE{i}"]: header.get(f"TUNIT{i}") for i in range(1, header["TFIELDS"] + 1)
        }
    assert units["ra"] == "deg" and units["ra_error"] == "mas" and units["ref_epoch"] == "yr"
    assert u.Unit(units["pmra"]) == u.mas / u.yr
    gaia = read_gaia(small_night / "gaia.fits")
    assert np.all(gaia["ref_epoch"] == 2016 * u.yr)
    assert 0 < np.isnan(gaia["pmra"]).mean() < 0.1  # a few two-parameter solutions, as in Gaia


def test_catalogues_are_sextractor_ldac_with_ztf_headers(small_night):
    for name in _exposures(small_night)["exposure"]:
        extensions = read_ldac(small_night / f"{name}.ldac")
        assert 60 <= len(extensions) <= 64
        rcids = [e.header["RCID"] for e in extensions]
        assert rcids == sorted(rcids)
        for extension in extensions:
            for key in ZTF_KEYS:
                assert key in extension.header, key
            assert extension.header["CTYPE1"] == "RA---TAN"
            assert (
                extension.header["RCID"]
                == 4 * (extension.header["CCDID"] - 1) + extension.header["QID"] - 1
            )
            objects = extension.objects
            assert set(OBJECT_COLUMNS) <= set(objects.colnames)
            assert objects["FLAGS"].dtype.itemsize == 2
            assert np.all((objects["XWIN_IMAGE"] > 0) & (objects["XWIN_IMAGE"] < NAXIS1 + 1))
            assert np.all((objects["YWIN_IMAGE"] > 0) & (objects["YWIN_IMAGE"] < NAXIS2 + 1))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def digest(folder):
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    parameters = NightParameters(seed=3, exposures=2, failures=2, density=100.0)
    first = digest(simulate_night(tmp_path / "a", parameters))
    second = digest(simulate_night(tmp_path / "b", parameters))
    other = digest(simulate_night(tmp_path / "c", replace(parameters, seed=4)))
    assert first == second
    assert first["gaia.fits"] != other["gaia.fits"]


def test_truth_grid_reproduces_the_exact_projection(small_night):
    rng = np.random.default_rng(11)  # the night's own seed: the same plan as simulate_night drew
    plan = plan_night(4, rng)
    for exposure in plan:
        truth = TrueMapping.read(small_night / "truth" / f"{exposure.name}.fits")
        projection = ExposureProjection.for_exposure(exposure)
        points = np.random.default_rng(0)
        for rcid in truth.rcids[::7]:
            x, y = points.uniform(0.5, NAXIS1 + 0.5, 200), points.uniform(0.5, NAXIS2 + 0.5, 200)
            error = truth.pixel_to_sky(rcid, x, y).separation(projection.pixel_to_sky(rcid, x, y))
            assert error.max() < 1 * u.mas


def test_detected_stars_sit_where_the_truth_puts_gaia(small_night):
    exposures = _exposures(small_night)
    gaia = read_gaia(small_night / "gaia.fits")
    by_id = {int(s): i for i, s in enumerate(gaia["source_id"])}
    for row in exposures:
        truth = TrueMapping.read(small_night / "truth" / f"{row['exposure']}.fits")
        with fits.open(small_night / "truth" / f"{row['exposure']}.fits") as hdul:
            detections = Table.read(hdul["DETECTIONS"])
        stars = detections[detections["source_id"] >= 0]
        epoch = Time(row["obsmjd"].value, format="mjd") + 15 * u.s
        reference = reference_at_epoch(gaia[[by_id[int(s)] for s in stars["source_id"]]], epoch)
        separations, pulls = [], []
        for rcid in np.unique(stars["rcid"])[::5]:
            on = stars["rcid"] == rcid
            sky = truth.pixel_to_sky(rcid, stars["x_true"][on], stars["y_true"][on])
            offset = sky.separation(SkyCoord(reference["ra"][on], reference["dec"][on])).to_value(
                u.mas
            )
            error = np.hypot(reference["ra_error"][on], reference["dec_error"][on]).to_value(u.mas)
            separations.append(offset)
            pulls.append(offset / error)
        assert np.median(np.concatenate(separations)) < 3  # mas: Gaia's errors moved to the epoch
        assert (
            np.percentile(np.concatenate(pulls), 99) < 4
        )  # stars without a proper motion included


def test_centroids_scatter_as_their_errors_say_plus_image_motion(small_night):
    name = _exposures(small_night)["exposure"][1]  # no injected failure in this exposure
    with fits.open(small_night / "truth" / f"{name}.fits") as hdul:
        detections = Table.read(hdul["DETECTIONS"])
    measured = []
    for extension in read_ldac(small_night / f"{name}.ldac"):
        mine = detections[detections["rcid"] == extension.header["RCID"]]
        objects = extension.objects
        good = (mine["source_id"] >= 0) & (np.asarray(objects["FLAGS"]) == 0)
        dx = np.asarray(objects["XWIN_IMAGE"])[good] - mine["x_true"][good]
        measured.append(dx / np.hypot(np.asarray(objects["ERRAWIN_IMAGE"])[good], 0.035 / 1.012))
    pulls = np.concatenate(measured)
    assert np.std(pulls) == pytest.approx(1.0, abs=0.15)


def test_rough_header_wcs_is_tens_of_arcseconds_wrong(small_night):
    row = _exposures(small_night)[0]
    truth = TrueMapping.read(small_night / "truth" / f"{row['exposure']}.fits")
    errors = []
    for extension in read_ldac(small_night / f"{row['exposure']}.ldac")[::8]:
        objects = extension.objects[:50]
        sky = SkyCoord(objects["ALPHAWIN_J2000"], objects["DELTAWIN_J2000"])
        errors.append(
            sky.separation(
                truth.pixel_to_sky(
                    extension.header["RCID"], objects["XWIN_IMAGE"], objects["YWIN_IMAGE"]
                )
            ).arcsec
        )
    errors = np.concatenate(errors)
    assert 1 < np.median(errors) < 120


def test_refraction_follows_erfa_across_the_field():
    """Compression of the field by differential refraction: A·sec²z vertically, A horizontally."""
    for exposure in plan_night(6, np.random.default_rng(3)):
        refracted = ExposureProjection.for_exposure(exposure)
        vacuum = ExposureProjection.for_exposure(
            replace(exposure, weather=replace(exposure.weather, pressure=0 * u.hPa))
        )
        grid_u, grid_v = (
            g.ravel() for g in np.meshgrid(np.linspace(-3, 3, 9), np.linspace(-3, 3, 9))
        )
        u0, v0 = vacuum.sky_to_focal(refracted.focal_to_sky(grid_u, grid_v))
        design = np.column_stack([np.ones_like(grid_u), grid_u, grid_v])
        gradient = np.array(
            [np.linalg.lstsq(design, d, rcond=None)[0][1:] for d in (u0 - grid_u, v0 - grid_v)]
        )
        smaller, larger = np.sort(np.linalg.eigvalsh((gradient + gradient.T) / 2))
        weather = exposure.weather
        a, b = erfa.refco(
            weather.pressure.to_value(u.hPa),
            weather.temperature.to_value(u.deg_C),
            weather.relative_humidity,
            weather.wavelength.to_value(u.um),
        )
        tan2 = exposure.airmass**2 - 1
        assert larger == pytest.approx(a * (1 + tan2) + 3 * b * tan2 * (1 + tan2), rel=0.03)
        assert smaller == pytest.approx(a + b * tan2, rel=0.03)


def test_a_night_spans_airmass_ra_zero_and_the_pole():
    plan = plan_night(6, np.random.default_rng(8))
    airmasses = [e.airmass for e in plan]
    assert min(airmasses) < 1.1 and 2.0 < max(airmasses) < 2.35
    kinds = {e.kind: e for e in plan}
    assert kinds["polar"].target.dec.deg > 75
    assert min(kinds["ra_wrap"].target.ra.deg, 360 - kinds["ra_wrap"].target.ra.deg) < 2


def test_pointing_errors_are_twenty_arcseconds_rms():
    plan = plan_night(80, np.random.default_rng(1))
    radial = np.array([np.hypot(*e.pointing_error) for e in plan])
    assert 15 < np.sqrt(np.mean(radial**2)) < 25


def test_ra_zero_field_straddles_the_wrap(small_night):
    exposures = _exposures(small_night)
    row = exposures[exposures["kind"] == "ra_wrap"][0]
    ra = np.concatenate(
        [
            np.asarray(e.objects["ALPHAWIN_J2000"])
            for e in read_ldac(small_night / f"{row['exposure']}.ldac")
        ]
    )
    assert (ra < 2).any() and (ra > 358).any()


def test_star_density_is_uniform_over_overlapping_fields():
    rng = np.random.default_rng(0)
    field = make_star_field([(10.0, 0.0), (13.0, 0.0)], 200 * u.deg**-2, rng)
    ra = field.true_ra
    overlap = ((ra > 10.8) & (ra < 12.2)).sum() / 1.4
    alone = ((ra > 6.8) & (ra < 8.2)).sum() / 1.4
    assert overlap == pytest.approx(alone, rel=0.1)


def test_injected_failures_are_recorded_and_real(small_night):
    failures = Table.read(small_night / "truth" / "failures.ecsv")
    assert len(failures) == 4
    assert set(failures["kind"]) == {"corner_distortion", "shift", "few_stars", "missing_quadrant"}
    for failure in failures:
        extensions = {
            e.header["RCID"]: e for e in read_ldac(small_night / f"{failure['exposure']}.ldac")
        }
        if failure["kind"] == "missing_quadrant":
            assert failure["rcid"] not in extensions
            continue
        objects = extensions[failure["rcid"]].objects
        if failure["kind"] == "few_stars":
            assert len(objects) < 30
            continue
        with fits.open(small_night / "truth" / f"{failure['exposure']}.fits") as hdul:
            detections = Table.read(hdul["DETECTIONS"])
        mine = detections[detections["rcid"] == failure["rcid"]]
        stars = mine["source_id"] >= 0
        shift = (
            np.hypot(
                objects["XWIN_IMAGE"] - mine["x_true"], objects["YWIN_IMAGE"] - mine["y_true"]
            )[stars]
            * 1.012
        )
        assert np.max(np.asarray(shift)) > 0.7 * failure["amplitude"]
        assert "rcid" in str(
            _exposures(small_night)[_exposures(small_night)["exposure"] == failure["exposure"]][
                "failures"
            ][0]
        )


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, capsys, small_night):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--out", str(tmp_path / "n"), "--seed", "abc"])
    assert stop.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and "--seed" in message and "'abc'" in message

    assert main(["simulate", "--out", str(small_night), "--seed", "1", "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert "not empty" in message and "--overwrite" in message and message.count("\n") == 0

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["simulate", "--out", str(blocker / "night"), "--seed", "1", "--quiet"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_cli_writes_a_night(tmp_path, capsys):
    out = tmp_path / "night"
    assert (
        main(
            [
                "simulate",
                "--out",
                str(out),
                "--seed",
                "2",
                "--exposures",
                "1",
                "--density",
                "50",
                "--quiet",
            ]
        )
        == 0
    )
    assert Path(capsys.readouterr().out.strip()) == out
    assert len(list(out.glob("*.ldac"))) == 1


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("notadate", "'notadate' is not a UT date YYYY-MM-DD"),
        ("20231017", "'20231017' is not a UT date YYYY-MM-DD"),
        ("2023-02-30", "'2023-02-30' is not a calendar date"),
    ],
)
def test_a_bad_date_is_one_line_naming_it(tmp_path, capsys, date, message):
    with pytest.raises(ValueError, match=f"^date: {message}"):
        NightParameters(seed=1, date=date).check()
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--out", str(tmp_path / "n"), "--seed", "1", "--date", date])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--date" in error and message in error
    assert list(tmp_path.iterdir()) == []


def test_dates_beyond_the_bundled_iers_table_are_refused(tmp_path, capsys):
    first, last = _dates_with_earth_orientation()
    assert first <= datetime.date(2023, 10, 17) <= last
    for outside in (first - datetime.timedelta(days=1), last + datetime.timedelta(days=1)):
        with pytest.raises(ValueError, match=f"date: {outside} is outside {first} to {last}"):
            NightParameters(seed=1, date=str(outside)).check()
    # far in the future astropy would flood stderr with ERFA/IERS warnings (errors in this suite)
    with pytest.raises(SystemExit):
        main(["simulate", "--out", str(tmp_path / "n"), "--seed", "1", "--date", "2100-01-01"])
    assert capsys.readouterr().err.strip().count("\n") == 0
    # the last date allowed needs no extrapolation: no warning
    simulate_night(
        tmp_path / "edge", NightParameters(seed=1, exposures=1, density=10, date=str(last))
    )


def test_overwrite_replaces_a_simulated_night_and_nothing_else(tmp_path, capsys):
    parameters = NightParameters(seed=1, exposures=1, density=10.0)
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    arguments = ["--exposures", "1", "--density", "10", "--overwrite", "--quiet"]
    assert main(["simulate", "--out", str(user), "--seed", "1", *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "holds no ztfnb simulated night" in error
    (user / "simulation.json").write_text(json.dumps({"another": "tool"}))
    with pytest.raises(FileExistsError, match="nothing was deleted"):
        simulate_night(user, parameters, overwrite=True)
    with pytest.raises(FileExistsError, match="holds no ztfnb simulated night"):
        ensure_night(user, parameters)
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt", "simulation.json"]

    night = simulate_night(tmp_path / "night", parameters)
    replaced = simulate_night(night, replace(parameters, seed=2), overwrite=True)
    assert json.loads((replaced / "simulation.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["night", "user"]


def test_sigterm_during_simulate_leaves_no_temporary_folder(tmp_path):
    command = [sys.executable, "-m", "ztfnb", "simulate", "--out", "night", "--seed", "1"]
    process = subprocess.Popen(
        [*command, "--exposures", "40", "--density", "10", "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # wait until it is writing catalogues into its hidden temporary folder
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".night.*.tmp/*.ldac")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the simulation never started writing"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, error = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signal.SIGTERM
    assert "terminated" in error and error.strip().count("\n") == 0
    assert os.listdir(tmp_path) == []


def test_density_is_a_number_or_a_quantity_as_the_notebooks_write_it(tmp_path, capsys):
    from ztfnb.cli import main

    arguments = ["simulate", "--seed", "3", "--exposures", "1", "--failures", "0", "--quiet"]
    assert main([*arguments, "--out", str(tmp_path / "a"), "--density", "300 deg-2"]) == 0
    assert main([*arguments, "--out", str(tmp_path / "b"), "--density", "300"]) == 0
    assert (tmp_path / "a" / "gaia.fits").read_bytes() == (
        tmp_path / "b" / "gaia.fits"
    ).read_bytes()
    with pytest.raises(SystemExit):
        main([*arguments, "--out", str(tmp_path / "c"), "--density", "3 m"])
    assert "--density" in capsys.readouterr().err and not (tmp_path / "c").exists()
