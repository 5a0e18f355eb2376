"""The simulated night: real formats, determinism, and physics checked against the truth and erfa."""

import datetime
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
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
from astropy.wcs import WCS, FITSFixedWarning
from scipy.spatial import cKDTree

from tests.conftest import needs_sextractor
from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.cli import main
from ztfnb.io import read_gaia, read_ldac
from ztfnb.reference import reference_at_epoch
from ztfnb.simulate import NightParameters, TrueMapping, ensure_night, simulate_night
from ztfnb.simulate.instrument import true_camera
from ztfnb.simulate.night import (
    HEADER_CRPIX,
    _dates_with_earth_orientation,
    _star_half_size,
    field_rotation_offsets,
)
from ztfnb.simulate.projection import ExposureProjection
from ztfnb.simulate.schedule import plan_night
from ztfnb.simulate.stars import FIELD_HALF_SIZE, make_star_field
from ztfnb.tangent import gnomonic

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


def test_the_star_field_written_in_chunks_is_the_one_made_whole(tmp_path):
    """write_star_field (bounded memory) against make_star_field (all in memory) and Table.write.

    Fields overlapping, apart, across RA = 0 and near the pole; a chunk that
    splits the stars unevenly; a generator that has drawn 32-bit values before.
    """
    from ztfnb.io.gaia import write_gaia
    from ztfnb.simulate.starstream import write_star_field

    centers = [(10.0, 0.0), (13.0, 0.0), (190.0, 40.0), (359.5, 20.0), (2.0, 22.0), (100.0, 80.0)]
    density = 150 * u.deg**-2

    def generator():
        rng = np.random.default_rng(7)
        rng.integers(245, 880)  # as plan_night does: leaves half of a 64-bit draw buffered
        return rng

    whole_rng, chunked_rng = generator(), generator()
    whole = make_star_field(centers, density, whole_rng, half_size=4.5)
    write_gaia(tmp_path / "whole.fits", whole.catalogue)
    (tmp_path / "store").mkdir()
    store = write_star_field(
        centers,
        density,
        chunked_rng,
        tmp_path / "store",
        tmp_path / "chunked.fits",
        half_size=4.5,
        chunk=7_777,
    )
    assert (tmp_path / "chunked.fits").read_bytes() == (tmp_path / "whole.fits").read_bytes()
    assert np.array_equal(chunked_rng.integers(0, 2**62, 4), whole_rng.integers(0, 2**62, 4))

    epoch = Time("2023-10-17T08:00:00", scale="tdb")
    for index, center in enumerate(centers):
        found = []
        for stars in (whole, store.around(index)):
            ra, dec = stars.true_positions(epoch)
            xi, eta = gnomonic(ra.value, dec.value, *center)
            inside = (np.abs(xi) < 4.5) & (np.abs(eta) < 4.5)
            found.append(
                (
                    stars.catalogue["source_id"][inside],
                    stars.catalogue["phot_g_mean_mag"][inside],
                    ra[inside],
                    dec[inside],
                )
            )
        assert len(found[0][0]) > 1000
        for whole_values, store_values in zip(*found, strict=True):
            assert np.array_equal(whole_values, store_values)
    assert len(store.around(0).true_ra) < len(whole.true_ra) / 2  # not every star, every time


def test_gaia_hats_reads_the_fits_file_in_chunks_as_hats_import_does(tmp_path):
    """The chunked reader hands hats-import the tables its own memory-mapping reader does."""
    from hats_import.catalog.file_readers.fits import FitsReader

    from ztfnb.io.gaia import write_gaia
    from ztfnb.simulate.gaiareader import ChunkedFitsReader

    stars = make_star_field([(30.0, 10.0)], 300 * u.deg**-2, np.random.default_rng(1))
    write_gaia(tmp_path / "gaia.fits", stars.catalogue)
    theirs = list(FitsReader(chunksize=4_000).read(tmp_path / "gaia.fits"))
    ours = list(ChunkedFitsReader(chunksize=4_000).read(tmp_path / "gaia.fits"))
    assert len(ours) == len(theirs) > 2
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.schema == reference.schema
        for name in reference.column_names:  # bytes: NaN proper motions compare equal
            assert mine[name].to_numpy().tobytes() == reference[name].to_numpy().tobytes(), name


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


# ---------------------------------------------------------------------------------------------
# Options that make other nights (NightParameters' fields after ``date``), each checked against
# the truth on one-exposure nights of the session's ``simulated`` factory (seed 1, 200 stars per
# deg²); ``simulated()`` is the same night with every option at its default.

_GRID_X, _GRID_Y = (
    g.ravel()
    for g in np.meshgrid(np.linspace(0.5, NAXIS1 + 0.5, 5), np.linspace(0.5, NAXIS2 + 0.5, 5))
)
_CENTRE_PIXEL = ((NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2)


def _only(night):
    """The night's one exposure: its exposures.ecsv row, catalogue and truth."""
    row = _exposures(night)[0]
    name = row["exposure"]
    return (
        row,
        read_ldac(night / f"{name}.ldac"),
        TrueMapping.read(night / "truth" / f"{name}.fits"),
    )


def _wcs(header):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


def _header_sky(header, x, y):
    """Sky position (RA, Dec in degrees) of pixels by astropy's reading of a header's WCS."""
    return _wcs(header).all_pix2world(np.asarray(x, float), np.asarray(y, float), 1)


def _plane(ra, dec, centre):
    return np.column_stack(gnomonic(np.asarray(ra), np.asarray(dec), *centre))


def _header_and_truth(night, x=_GRID_X, y=_GRID_Y):
    """Per rcid: header and true tangent-plane positions (about TELRAD, TELDECD) of pixels, degrees."""
    row, extensions, truth = _only(night)
    centre = (row["telrad"].to_value(u.deg), row["teldecd"].to_value(u.deg))
    pairs = {}
    for extension in extensions:
        rcid = extension.header["RCID"]
        sky = truth.pixel_to_sky(rcid, x, y)
        pairs[rcid] = (
            _plane(*_header_sky(extension.header, x, y), centre),
            _plane(sky.ra.deg, sky.dec.deg, centre),
        )
    return pairs


def _affine(source, target):
    """The affine map best taking points (N × 2) to others: scale, angle (degrees, East to North), shift."""
    design = np.column_stack([source, np.ones(len(source))])
    coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
    matrix, shift = coefficients[:2].T, coefficients[2]
    scale = np.sqrt(abs(np.linalg.det(matrix)))
    angle = np.rad2deg(np.arctan2(matrix[1, 0] - matrix[0, 1], matrix[0, 0] + matrix[1, 1]))
    return scale, angle, shift


def _field_affine(pairs):
    """Scale and angle of the header relative to the truth over the whole field."""
    header = np.concatenate([h for h, _ in pairs.values()])
    truth = np.concatenate([t for _, t in pairs.values()])
    scale, angle, _ = _affine(truth, header)
    return scale, angle


def _local_cd(mapping, centre, rcid, x=_CENTRE_PIXEL[0], y=_CENTRE_PIXEL[1]):
    """d(xi, eta)/d(x, y) of a pixel → sky mapping at a pixel, by central differences."""
    sky = mapping(rcid, np.array([x + 1, x - 1, x, x]), np.array([y, y, y + 1, y - 1]))
    xi, eta = gnomonic(*sky, *centre)
    return np.array([[xi[0] - xi[1], xi[2] - xi[3]], [eta[0] - eta[1], eta[2] - eta[3]]]) / 2


def _true_sky(truth):
    def mapping(rcid, x, y):
        sky = truth.pixel_to_sky(rcid, x, y)
        return sky.ra.deg, sky.dec.deg

    return mapping


def _sky_columns_follow_the_header(extensions):
    """ALPHAWIN/DELTAWIN_J2000 are what the written header says of XWIN/YWIN (as SExtractor)."""
    for extension in extensions[::9]:
        objects = extension.objects
        ra, dec = _header_sky(extension.header, objects["XWIN_IMAGE"], objects["YWIN_IMAGE"])
        written = SkyCoord(objects["ALPHAWIN_J2000"], objects["DELTAWIN_J2000"])
        assert written.separation(SkyCoord(ra * u.deg, dec * u.deg)).max() < 1 * u.mas


def _cards(header, leave_out=()):
    return [(c.keyword, c.value) for c in header.cards if c.keyword not in leave_out]


def test_default_options_leave_the_night_as_it_was():
    parameters = NightParameters(seed=1)
    assert parameters.options() == {}
    assert set(json.loads(parameters.to_json())) == {
        "seed", "exposures", "failures", "density", "date", "ztfnb"
    }  # fmt: skip
    explicit = NightParameters(seed=1, header_crpix="boresight", centroid_noise=1.0, mirrored=False)
    assert explicit.to_json() == parameters.to_json()
    other = NightParameters(seed=1, mirrored=np.True_, centroid_noise=np.float64(2))
    assert other.options() == {"mirrored": True, "centroid_noise": 2.0}
    assert json.loads(other.to_json())["mirrored"] is True  # numpy scalars written as plain values


def test_ensure_night_tells_nights_with_other_options_apart(tmp_path, monkeypatch):
    import ztfnb.simulate.night as night_module

    simulated = []
    monkeypatch.setattr(
        night_module, "simulate_night", lambda path, parameters, **_: simulated.append(parameters)
    )
    plain = NightParameters(seed=1, exposures=1, density=200.0)
    (tmp_path / "simulation.json").write_text(plain.to_json())
    assert ensure_night(tmp_path, plain) == tmp_path and simulated == []
    for options in ({"mirrored": True}, {"header_crpix": "corner"}, {"centroid_noise": 2.0}):
        ensure_night(tmp_path, replace(plain, **options))
        assert simulated.pop() == replace(plain, **options)
    (tmp_path / "simulation.json").write_text(replace(plain, no_weather=True).to_json())
    assert ensure_night(tmp_path, replace(plain, no_weather=True)) == tmp_path
    ensure_night(tmp_path, plain)
    assert simulated == [plain]


def test_header_scale_and_rotation_errors_turn_the_whole_header_about_the_boresight(simulated):
    base, night = simulated(), simulated(header_scale_error=0.015, header_rotation_error=0.5)
    base_scale, base_angle = _field_affine(_header_and_truth(base))
    scale, angle = _field_affine(_header_and_truth(night))
    # against the truth: the requested error on top of ZTF's own header (refraction, distortion,
    # precession make it ≈ 4×10⁻⁴ small and turned ≈ 0.1°)
    assert scale == pytest.approx(1.015, abs=1e-3) and angle == pytest.approx(0.5, abs=0.2)
    assert scale / base_scale == pytest.approx(1.015, rel=1e-9)
    assert angle - base_angle == pytest.approx(0.5, abs=1e-7)
    row, extensions, _ = _only(night)
    turn = np.deg2rad(0.5)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    for extension, plain in zip(extensions, _only(base)[1], strict=True):
        header, plain = extension.header, plain.header
        assert (header["CRPIX1"], header["CRPIX2"]) == (plain["CRPIX1"], plain["CRPIX2"])
        assert (header["CRVAL1"], header["CRVAL2"]) == (row["telrad"].value, row["teldecd"].value)
        cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
        plain_cd = np.array([[plain["CD1_1"], plain["CD1_2"]], [plain["CD2_1"], plain["CD2_2"]]])
        assert np.allclose(cd, 1.015 * rotation @ plain_cd, rtol=0, atol=1e-15)
    _sky_columns_follow_the_header(extensions)
    # the header alone changed: truth, Gaia and the measured positions are the plain night's
    for name in ("gaia.fits", f"truth/{row['exposure']}.fits"):
        assert (night / name).read_bytes() == (base / name).read_bytes()
    assert np.array_equal(
        extensions[5].objects["XWIN_IMAGE"], _only(base)[1][5].objects["XWIN_IMAGE"]
    )


def _header_plane(extensions, x=_GRID_X, y=_GRID_Y):
    """Per rcid: header positions of pixels on the tangent plane about the header's own CRVAL."""
    return {
        e.header["RCID"]: _plane(
            *_header_sky(e.header, x, y), (e.header["CRVAL1"], e.header["CRVAL2"])
        )
        for e in extensions
    }


@pytest.mark.parametrize("crpix", ["boresight", "centre"])
def test_quadrant_header_errors_turn_each_quadrant_about_its_crpix(simulated, crpix):
    errors = {"header_quadrant_scale_error": 0.001, "header_quadrant_rotation_error": 0.05}
    plain, night = simulated(header_crpix=crpix), simulated(header_crpix=crpix, **errors)
    _, extensions, _ = _only(night)
    with fits.open(night / "truth" / f"{_only(night)[0]['exposure']}.fits") as hdul:
        drawn = Table.read(hdul["HEADER_ERRORS"])
    assert list(drawn["rcid"]) == [e.header["RCID"] for e in extensions]
    # the draws: per quadrant, of the requested rms, the same whatever the reference pixel
    assert np.std(drawn["scale_error"]) == pytest.approx(0.001, rel=0.3)
    assert np.std(drawn["rotation_error"]) == pytest.approx(0.05, rel=0.3)
    before = _header_plane(_only(plain)[1])
    after = _header_plane(extensions)
    middle = 12  # the grid point at the quadrant's central pixel
    assert (_GRID_X[middle], _GRID_Y[middle]) == _CENTRE_PIXEL
    moved = []
    for rcid, scale_error, rotation_error in drawn:
        scale, angle, shift = _affine(before[rcid], after[rcid])
        assert scale - 1 == pytest.approx(scale_error, abs=1e-9)
        assert angle == pytest.approx(rotation_error, abs=1e-7)
        assert np.hypot(*shift) * 3600 < 1e-6  # about CRPIX: its sky position stays
        moved.append(3600 * np.hypot(*(after[rcid][middle] - before[rcid][middle])))
    if crpix == "centre":
        assert max(moved) < 1e-3  # arcsec: the quadrant turned about its centre, which stays
    else:
        assert np.median(moved) > 3  # turned about the boresight, degrees away
    _sky_columns_follow_the_header(extensions)


def test_header_crpix_conventions_write_the_same_geometry(simulated):
    plain = _only(simulated())[1]
    for crpix, reference, curvature in (
        ("centre", _CENTRE_PIXEL, 2.0),
        ("corner", (1.0, 1.0), 9.0),
    ):
        _, extensions, _ = _only(simulated(header_crpix=crpix))
        worst = 0.0
        for extension, boresight in zip(extensions, plain, strict=True):
            header = extension.header
            assert (header["CRPIX1"], header["CRPIX2"]) == reference
            # at and around CRPIX the same mapping as the boresight header: CRVAL is where that
            # header puts CRPIX, and the CD its scale and orientation there
            x = reference[0] + np.array([0, 10, -10, 0, 0, 7])
            y = reference[1] + np.array([0, 0, 0, 10, -10, -7])
            here = SkyCoord(*_header_sky(header, x, y), unit="deg")
            there = SkyCoord(*_header_sky(boresight.header, x, y), unit="deg")
            assert here.separation(there).max() < 1 * u.mas
            assert here[0].separation(SkyCoord(header["CRVAL1"], header["CRVAL2"], unit="deg")) < (
                1 * u.mas
            )
            # away from CRPIX a linear TAN header about another tangent point parts from the
            # boresight's by the gnomonic projection's curvature: ≲ 1.9″ (centre), ≲ 8.5″ (corner)
            here = SkyCoord(*_header_sky(header, _GRID_X, _GRID_Y), unit="deg")
            there = SkyCoord(*_header_sky(boresight.header, _GRID_X, _GRID_Y), unit="deg")
            worst = max(worst, here.separation(there).max().to_value(u.arcsec))
        assert worst < curvature
        _sky_columns_follow_the_header(extensions)


def test_a_mirrored_camera_has_the_other_parity():
    from ztfnb.camera import FocalPlane

    nominal = FocalPlane.nominal()
    mirrored = nominal.mirrored()
    assert mirrored.mirrored() == nominal
    x, y = np.random.default_rng(0).uniform(0.5, NAXIS1 + 0.5, (2, 50))
    for plain, other in zip(nominal, mirrored, strict=True):
        assert other.center == plain.center and other.rotation == plain.rotation
        assert np.linalg.det(plain.cd) < 0 < np.linalg.det(other.cd)
        assert np.allclose(other.pixel_to_focal(x, y), plain.pixel_to_focal(NAXIS1 + 1 - x, y))
        assert np.allclose(other.focal_to_pixel(*other.pixel_to_focal(x, y)), (x, y))


def test_mirrored_night_truth_and_header_have_the_other_parity(simulated):
    base, night = simulated(), simulated(mirrored=True)
    row, extensions, truth = _only(night)
    _, plain_extensions, plain_truth = _only(base)
    centre = (row["telrad"].value, row["teldecd"].value)
    for extension in extensions[::7]:
        rcid = extension.header["RCID"]
        header = extension.header
        assert np.linalg.det(_local_cd(_true_sky(truth), centre, rcid)) > 0
        assert np.linalg.det(_local_cd(_true_sky(plain_truth), centre, rcid)) < 0
        assert header["CD1_1"] * header["CD2_2"] - header["CD1_2"] * header["CD2_1"] > 0
        # the same camera in the same place: pixel (x, y) now sees what (NAXIS1 + 1 − x, y) saw
        x, y = _GRID_X, _GRID_Y
        assert (
            truth.pixel_to_sky(rcid, x, y)
            .separation(plain_truth.pixel_to_sky(rcid, NAXIS1 + 1 - x, y))
            .max()
            < 1 * u.mas
        )
    # the header knows: it is as far from the truth as ZTF's own, neither mirrored nor turned
    assert _field_affine(_header_and_truth(night)) == pytest.approx(
        _field_affine(_header_and_truth(base)), abs=1e-9
    )
    assert sum(len(e.objects) for e in extensions) == pytest.approx(
        sum(len(e.objects) for e in plain_extensions), rel=0.02
    )
    _sky_columns_follow_the_header(extensions)


def test_field_rotation_turns_the_truth_and_not_the_header(simulated):
    base = simulated()
    parameters = {"field_rotation": 0.3, "field_rotation_scatter": 0.1}
    night = simulated(**parameters)
    row, extensions, truth = _only(night)
    _, plain_extensions, plain_truth = _only(base)
    offset = field_rotation_offsets(NightParameters(seed=1, **parameters), 1)[0]
    assert offset != 0.3  # the scatter drew something
    assert row["rotation"].to_value(u.deg) == pytest.approx(truth.meta["ROTATION"], abs=1e-12)
    assert truth.meta["ROTATION"] == pytest.approx(plain_truth.meta["ROTATION"] + offset, abs=1e-12)
    # the truth turned by the offset about the boresight (the refracted frame turned, to 10⁻⁴°)
    centre = (row["true_ra"].value, row["true_dec"].value)
    turned, plain = [], []
    for rcid in truth.rcids:
        for mapping, points in ((truth, turned), (plain_truth, plain)):
            sky = mapping.pixel_to_sky(rcid, _GRID_X, _GRID_Y)
            points.append(_plane(sky.ra.deg, sky.dec.deg, centre))
    scale, angle, _ = _affine(np.concatenate(plain), np.concatenate(turned))
    assert angle == pytest.approx(offset, abs=1e-4) and scale == pytest.approx(1, abs=1e-6)
    # the header does not know: written as for the plain night, so it is off by −offset
    for extension, plain_extension in zip(extensions, plain_extensions, strict=True):
        assert _cards(extension.header) == _cards(plain_extension.header)
    _, base_angle = _field_affine(_header_and_truth(base))
    _, night_angle = _field_affine(_header_and_truth(night))
    assert night_angle - base_angle == pytest.approx(-offset, abs=1e-4)
    assert "rotation" not in _exposures(base).colnames


def test_field_rotation_scatter_is_its_rms_from_its_own_stream():
    offsets = field_rotation_offsets(
        NightParameters(seed=5, field_rotation=-1.0, field_rotation_scatter=0.2), 4000
    )
    assert np.mean(offsets) == pytest.approx(-1.0, abs=0.02)
    assert np.std(offsets) == pytest.approx(0.2, rel=0.05)
    assert np.array_equal(
        field_rotation_offsets(NightParameters(seed=5, field_rotation=-1.0), 3), [-1.0] * 3
    )
    # a camera turned far reaches beyond the stars' usual square: the square grows to hold it
    camera = true_camera()
    assert _star_half_size(camera, [0.003, -0.3]) == FIELD_HALF_SIZE
    half = _star_half_size(camera, [10.0])
    corners = np.concatenate([q.corners_focal() for q in camera])
    turn = np.deg2rad(10.0)
    rotated = corners @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T
    assert np.abs(rotated).max() + 0.15 < half


@pytest.mark.parametrize("noise", [1.0, 3.0])
def test_centroids_scatter_as_their_errors_say_plus_image_motion_at_any_noise(
    small_night, simulated, noise
):
    # at F = 1 the test above on a four-exposure night; here with the option's own night
    night = simulated(centroid_noise=noise) if noise != 1 else small_night
    name = _exposures(night)["exposure"][0 if noise != 1 else 1]
    with fits.open(night / "truth" / f"{name}.fits") as hdul:
        detections = Table.read(hdul["DETECTIONS"])
    measured = []
    for extension in read_ldac(night / f"{name}.ldac"):
        mine = detections[detections["rcid"] == extension.header["RCID"]]
        objects = extension.objects
        good = (mine["source_id"] >= 0) & (np.asarray(objects["FLAGS"]) == 0)
        dx = np.asarray(objects["XWIN_IMAGE"])[good] - mine["x_true"][good]
        unreported = noise * 0.035 / 1.012  # image motion, pixels
        measured.append(dx / np.hypot(np.asarray(objects["ERRAWIN_IMAGE"])[good], unreported))
    assert np.std(np.concatenate(measured)) == pytest.approx(1.0, abs=0.15)


def _clean_offsets(night):
    """Per rcid: true position, kind, XWIN − x_true and ERRAWIN of the unflagged detections."""
    row, extensions, _ = _only(night)
    with fits.open(night / "truth" / f"{row['exposure']}.fits") as hdul:
        detections = Table.read(hdul["DETECTIONS"])
    offsets = {}
    for extension in extensions:
        mine = detections[detections["rcid"] == extension.header["RCID"]]
        clean = np.asarray(extension.objects["FLAGS"]) == 0
        offsets[extension.header["RCID"]] = (
            np.column_stack([mine["x_true"], mine["y_true"]])[clean],
            np.asarray(mine["kind"])[clean],
            (np.asarray(extension.objects["XWIN_IMAGE"]) - mine["x_true"])[clean],
            np.asarray(extension.objects["ERRAWIN_IMAGE"], float)[clean],
        )
    return offsets


def test_centroid_noise_multiplies_every_centroid_error(simulated):
    plain, noisy = _clean_offsets(simulated()), _clean_offsets(simulated(centroid_noise=3.0))
    # the first quadrant draws the same numbers (later ones may not: a star scattered over the
    # edge changes how many are drawn), so each detection is the plain night's, its error ×3
    (where, kinds, dx, error), (plain_where, _, plain_dx, plain_error) = noisy[0], plain[0]
    index = {tuple(p): i for i, p in enumerate(plain_where)}
    both = np.array([tuple(p) in index for p in where])
    matched = np.array([index[tuple(p)] for p in where[both]])
    assert both.mean() > 0.95
    for kind, factor in (("star", 3.0), ("galaxy", 3.0), ("cosmic", 1.0)):
        chosen = kinds[both] == kind
        assert chosen.sum() > 3
        assert np.allclose(dx[both][chosen], factor * plain_dx[matched][chosen], atol=1e-9)
        if kind == "star":  # the reported errors too
            assert np.allclose(error[both][chosen], 3 * plain_error[matched][chosen], rtol=1e-6)

    # over the field: the stars' errors and scatter three times ZTF's
    def stars(offsets):
        chosen = [(dx[k == "star"], error[k == "star"]) for _, k, dx, error in offsets.values()]
        return (np.concatenate(part) for part in zip(*chosen, strict=True))

    (dx, error), (plain_dx, plain_error) = stars(noisy), stars(plain)
    assert np.median(error) / np.median(plain_error) == pytest.approx(3.0, rel=0.05)
    assert np.std(dx) / np.std(plain_dx) == pytest.approx(3.0, rel=0.1)


def test_no_weather_headers_are_read_with_the_standard_atmosphere(simulated):
    from ztfnb.exposure import read_exposure
    from ztfnb.site import Weather, weather_note

    base, night = simulated(), simulated(no_weather=True)
    row, extensions, _ = _only(night)
    weather = ("PRESSURE", "TEMPTURE", "HUMIDITY")
    for extension, plain in zip(extensions, _only(base)[1], strict=True):
        assert not set(weather) & set(extension.header)
        assert _cards(extension.header) == _cards(plain.header, leave_out=weather)
    catalog = read_exposure(night / f"{row['exposure']}.ldac")
    assert len(catalog.extensions) == 64
    standard = Weather()
    assert catalog.weather.pressure == standard.pressure
    assert catalog.weather.temperature == standard.temperature
    assert catalog.weather.relative_humidity == standard.relative_humidity
    assert read_exposure(base / f"{row['exposure']}.ldac").weather.pressure != standard.pressure
    # and the commands say so: the refraction is then a standard atmosphere's, not the night's
    note = weather_note(catalog.header)
    assert "PRESSURE" in note and f"{standard.pressure.to_value('hPa'):.0f} hPa" in note
    assert weather_note(read_exposure(base / f"{row['exposure']}.ldac").header) == ""


COMBINATION = {
    "mirrored": True,
    "header_scale_error": 0.015,
    "field_rotation": 0.3,
    "header_quadrant_scale_error": 0.001,
    "no_weather": True,
    "centroid_noise": 3.0,
}


def test_a_night_of_every_kind_at_once_is_read_and_true(simulated):
    from ztfnb.exposure import read_exposure

    night = simulated(**COMBINATION)
    row, extensions, truth = _only(night)
    recorded = json.loads((night / "simulation.json").read_text())
    assert {key: recorded[key] for key in COMBINATION} == COMBINATION
    assert {key: _exposures(night).meta[key] for key in COMBINATION} == COMBINATION
    catalog = read_exposure(night / f"{row['exposure']}.ldac")
    assert catalog.rcids == list(range(64))
    assert all(np.linalg.det(e.wcs.wcs.cd) > 0 for e in catalog.extensions)
    assert "PRESSURE" not in catalog.header
    # the header: 1.5 % large and not turned with the camera (per-quadrant errors average out)
    base_scale, base_angle = _field_affine(_header_and_truth(simulated()))
    scale, angle = _field_affine(_header_and_truth(night))
    assert scale / base_scale == pytest.approx(1.015, abs=3e-4)
    assert angle - base_angle == pytest.approx(-0.3, abs=0.01)
    _sky_columns_follow_the_header(extensions)
    # the truth is the exact mapping of the mirrored, turned camera
    exposure = plan_night(1, np.random.default_rng(1))[0]
    exposure = replace(exposure, rotation=exposure.rotation + 0.3)
    assert exposure.name == row["exposure"]
    projection = ExposureProjection.for_exposure(exposure, camera=true_camera(mirrored=True))
    for rcid in truth.rcids[::9]:
        error = truth.pixel_to_sky(rcid, _GRID_X, _GRID_Y).separation(
            projection.pixel_to_sky(rcid, _GRID_X, _GRID_Y)
        )
        assert error.max() < 1 * u.mas


@needs_sextractor
def test_sextractor_measures_the_rendered_other_night_as_the_catalogue_says(simulated, tmp_path):
    """Images of the combined night follow its true mapping, and SExtractor reads its header as we do."""
    from ztfnb.simulate.images import SEXTRACTOR_PARAMETERS, render_exposure

    night = simulated(**COMBINATION)
    row, extensions, _ = _only(night)
    rcids = [0, 45]
    render_exposure(night, row["exposure"], tmp_path / "image.fits", rcids, seed=3)
    parameters = [*SEXTRACTOR_PARAMETERS, "ALPHAWIN_J2000", "DELTAWIN_J2000"]
    (tmp_path / "ztf.param").write_text("\n".join(parameters) + "\n")
    subprocess.run(
        ["source-extractor", "image.fits", "-c", "/dev/null", "-CATALOG_TYPE", "FITS_LDAC", "-CATALOG_NAME", "image.ldac",
         "-PARAMETERS_NAME", "ztf.param", "-FILTER", "N", "-DETECT_THRESH", "5", "-ANALYSIS_THRESH", "5",
         "-SATUR_LEVEL", "50000", "-GAIN", "6.2", "-BACK_SIZE", "128", "-VERBOSE_TYPE", "QUIET"],
        cwd=tmp_path, check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    headers = {e.header["RCID"]: e.header for e in extensions}
    with fits.open(night / "truth" / f"{row['exposure']}.fits") as hdul:
        detections = Table.read(hdul["DETECTIONS"])
    for rcid, theirs in zip(rcids, read_ldac(tmp_path / "image.ldac"), strict=True):
        found = theirs.objects[(theirs.objects["FLAGS"] == 0) & (theirs.objects["FLUX_AUTO"] > 3e3)]
        # SExtractor's sky positions are what our header says of its centroids
        ra, dec = _header_sky(headers[rcid], found["XWIN_IMAGE"], found["YWIN_IMAGE"])
        assert (
            SkyCoord(found["ALPHAWIN_J2000"], found["DELTAWIN_J2000"])
            .separation(SkyCoord(ra * u.deg, dec * u.deg))
            .max()
            < 5 * u.mas
        )
        # and its centroids sit on the truth of the mirrored, turned camera, where it was drawn
        mine = detections[(detections["rcid"] == rcid) & (detections["kind"] == "star")]
        distance, _ = cKDTree(np.column_stack([mine["x_true"], mine["y_true"]])).query(
            np.column_stack([found["XWIN_IMAGE"], found["YWIN_IMAGE"]])
        )
        assert len(found) > 20 and np.median(distance) < 0.1


def test_cli_options_reach_the_night_parameters(tmp_path, monkeypatch, capsys):
    import ztfnb.simulate

    made = []
    monkeypatch.setattr(
        ztfnb.simulate, "simulate_night", lambda out, parameters, **_: made.append(parameters)
    )
    command = ["simulate", "--out", str(tmp_path / "n"), "--seed", "2", "--quiet"]
    assert main(command) == 0
    assert made.pop() == NightParameters(seed=2)
    options = [
        "--header-scale-error", "-0.0119", "--header-rotation-error", "-0.4",
        "--header-quadrant-scale-error", "1e-3", "--header-quadrant-rotation-error", "0.05",
        "--header-crpix", "corner", "--mirrored", "--field-rotation", "0.3",
        "--field-rotation-scatter", "0.02", "--centroid-noise", "2.5", "--no-weather",
    ]  # fmt: skip
    assert main([*command, *options]) == 0
    assert made.pop() == NightParameters(
        seed=2,
        header_scale_error=-0.0119,
        header_rotation_error=-0.4,
        header_quadrant_scale_error=0.001,
        header_quadrant_rotation_error=0.05,
        header_crpix="corner",
        mirrored=True,
        field_rotation=0.3,
        field_rotation_scatter=0.02,
        centroid_noise=2.5,
        no_weather=True,
    )
    for crpix in HEADER_CRPIX:  # the CLI's choices are the simulator's
        assert main([*command, "--header-crpix", crpix]) == 0
        assert made.pop().header_crpix == crpix
    capsys.readouterr()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--header-scale-error", "0.2", "'0.2': must be a fraction within ±0.1"),
        (
            "--header-scale-error",
            "1.5 deg",
            "expected a plain number or a fraction such as '1.5 %'",
        ),
        ("--header-rotation-error", "-11", "'-11': must be within ±10 degrees"),
        ("--header-quadrant-scale-error", "-0.001", "must be an rms fraction from 0 to 0.1"),
        ("--header-quadrant-rotation-error", "nan", "must be an rms from 0 to 10 degrees"),
        ("--header-crpix", "center", "invalid choice: 'center'"),
        ("--field-rotation", "12", "'12': must be within ±10 degrees"),
        ("--field-rotation-scatter", "-0.1", "must be an rms from 0 to 10 degrees"),
        ("--centroid-noise", "0", "'0': must be a factor from 0.1 to 10"),
        ("--centroid-noise", "inf", "must be a factor from 0.1 to 10"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--out", str(tmp_path / "n"), "--seed", "1", option, value])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"argument {option}: " in error and message in error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("header_scale_error", -0.11),
        ("header_rotation_error", 10.5),
        ("header_quadrant_scale_error", -1e-4),
        ("header_quadrant_rotation_error", float("inf")),
        ("header_crpix", "center"),
        ("mirrored", "yes"),
        ("field_rotation", -10.01),
        ("field_rotation_scatter", float("nan")),
        ("centroid_noise", 11),
        ("centroid_noise", True),
        ("no_weather", 1),
    ],
)
def test_night_parameters_refuse_a_bad_option_naming_it(tmp_path, field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be .+, got {re.escape(repr(value))}$"):
        NightParameters(seed=1, **{field: value}).check()
    with pytest.raises(ValueError, match=f"^{field} must be"):
        simulate_night(tmp_path / "n", NightParameters(seed=1, **{field: value}))
    assert list(tmp_path.iterdir()) == []


def test_every_option_is_a_field_with_help_and_a_readme_row():
    from ztfnb.cli import build_parser
    from ztfnb.simulate.night import _LAYOUT_OPTIONS, _OPTIONS

    subcommands = next(
        a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"
    )
    group = next(
        g for g in subcommands.choices["simulate"]._action_groups
        if g.title == "options that make other nights"
    )  # fmt: skip
    options = {a.option_strings[0]: a for a in group._group_actions}
    # how the night is written (--per-quadrant) is not an option that makes another night
    assert {o[2:].replace("-", "_") for o in options} == set(_OPTIONS) - set(_LAYOUT_OPTIONS)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme.split("### Options that make other nights")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    assert [row.split("`")[1].split()[0] for row in rows] == list(options)
    assert all(len(action.help) > 40 for action in options.values())
