"""The focal-plane prior: accuracy against the simulator's truth, other nights, SExtractor's own
catalogues, SCAMP, the command line and its errors."""

import shutil
import subprocess

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS

from tests.conftest import needs_scamp, needs_sextractor
from ztfnb.analyses.prior import ahead_accuracy
from ztfnb.cli import main
from ztfnb.exposure import read_exposure
from ztfnb.io import (
    InputError,
    read_gaia,
    read_header_blocks,
    read_ldac,
    write_gaia,
    write_header_blocks,
    write_ldac,
)
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.prior import PriorFitConfig, ahead_headers, fit_prior, refine_pointing
from ztfnb.prior.file import read_prior, write_prior
from ztfnb.reference import reference_at_epoch, select_cone
from ztfnb.scamp import run_scamp
from ztfnb.simulate import NightParameters, TrueMapping, simulate_night
from ztfnb.simulate.images import SEXTRACTOR_PARAMETERS, render_exposure
from ztfnb.simulate.instrument import true_distortion

GOAL = 0.1  # arcsec: the goal (its target is 0.5)


def _accuracy(night, name, model, gaia=None, catalog=None):
    catalog = catalog or read_exposure(night / f"{name}.ldac")
    terms = refine_pointing(model, catalog, gaia or read_gaia(night / "gaia.fits"))
    headers = ahead_headers(model, catalog, terms)
    return (
        ahead_accuracy(headers, catalog, TrueMapping.read(night / "truth" / f"{name}.fits")),
        headers,
        terms,
    )


def test_the_fit_recovers_the_true_distortion(fitted_prior):
    _, fit = fitted_prior
    k3 = true_distortion().k3  # radial: xi = u (1 + k3 r^2): PV1_7 (xi^3) = PV1_9 (xi eta^2) = k3
    for axis in (fit.model.pv1, fit.model.pv2):
        assert axis[7] == pytest.approx(k3, rel=0.05)
        assert axis[9] == pytest.approx(k3, rel=0.05)
        assert abs(axis[8]) < 0.05 * k3 and abs(axis[10]) < 0.05 * k3
    assert max(fit.stage_rms["per-quadrant CRPIX/CD"]) < 0.1  # arcsec, the centroid noise


def test_ahead_is_right_everywhere_on_held_back_exposures(prior_night, fitted_prior):
    calibration, fit = fitted_prior
    exposures = QTable.read(prior_night / "exposures.ecsv")
    held_back = [row for row in exposures if row["exposure"] not in calibration]
    assert max(row["airmass"] for row in held_back) > 1.9
    for row in held_back:
        quality, headers, _ = _accuracy(prior_night, row["exposure"], fit.model)
        assert quality["worst"].max() < GOAL * u.arcsec, (row["exposure"], row["airmass"])
        assert quality["corner"].max() < GOAL * u.arcsec
        assert len(headers) == len(read_ldac(prior_night / f"{row['exposure']}.ldac"))


def test_the_same_prior_serves_another_night_across_ra_zero_and_near_the_pole(
    other_night, fitted_prior
):
    _, fit = fitted_prior
    exposures = QTable.read(other_night / "exposures.ecsv")
    assert {"ra_wrap", "polar"} <= set(exposures["kind"])
    gaia = read_gaia(other_night / "gaia.fits")
    for row in exposures:
        quality, _, _ = _accuracy(other_night, row["exposure"], fit.model, gaia)
        assert quality["worst"].max() < GOAL * u.arcsec, (row["kind"], row["airmass"])


def test_without_the_refraction_model_high_airmass_fails(prior_night, fitted_prior):
    calibration, _ = fitted_prior
    gaia = read_gaia(prior_night / "gaia.fits")
    plain = fit_prior(
        [read_exposure(prior_night / f"{n}.ldac") for n in calibration],
        gaia,
        PriorFitConfig(refraction=False),
    )
    exposures = QTable.read(prior_night / "exposures.ecsv")
    row = exposures[np.argmax(exposures["airmass"])]
    quality, _, _ = _accuracy(prior_night, row["exposure"], plain.model, gaia)
    assert quality["worst"].max() > 0.5 * u.arcsec  # the non-affine part of differential refraction


@pytest.mark.parametrize("count", [3, 2])
def test_a_shifted_quadrant_in_a_calibration_exposure_is_rejected(
    prior_night, fitted_prior, tmp_path, count
):
    """A readout glitch in one calibration exposure: the quadrant's placement is shared by its
    exposures, so the glitch pulls them all; with two, only the quadrant's CCD-mates (one piece
    of silicon) say which exposure is off."""
    calibration, fit = fitted_prior
    name = calibration[0]
    extensions = read_ldac(prior_night / f"{name}.ldac")
    bad = next(e for e in extensions if e.header["RCID"] == 27)
    bad.objects["XWIN_IMAGE"] += 0.5  # half a pixel: a readout-timing glitch
    write_ldac(tmp_path / f"{name}.ldac", extensions)
    gaia = read_gaia(prior_night / "gaia.fits")
    catalogs = [read_exposure(tmp_path / f"{name}.ldac")] + [
        read_exposure(prior_night / f"{n}.ldac") for n in calibration[1:count]
    ]
    robust = fit_prior(catalogs, gaia)
    mine = (robust.residuals["exposure"] == name) & (robust.residuals["rcid"] == 27)
    assert not np.any(robust.residuals["used"][mine])
    if count != len(calibration):  # the same exposures without the glitch
        fit = fit_prior(
            [read_exposure(prior_night / f"{n}.ldac") for n in calibration[:count]], gaia
        )
    row = list(robust.model.rcid).index(27)
    assert np.allclose(
        robust.model.crpix[row], fit.model.crpix[list(fit.model.rcid).index(27)], atol=0.1
    )


def test_missing_and_reordered_quadrants_get_their_own_blocks_in_order(
    prior_night, fitted_prior, tmp_path
):
    _, fit = fitted_prior
    name = QTable.read(prior_night / "exposures.ecsv")["exposure"][-1]
    extensions = [
        e for e in read_ldac(prior_night / f"{name}.ldac") if e.header["RCID"] not in (5, 40)
    ][::-1]
    write_ldac(tmp_path / f"{name}.ldac", extensions)
    catalog = read_exposure(tmp_path / f"{name}.ldac")
    quality, headers, _ = _accuracy(prior_night, name, fit.model, catalog=catalog)
    assert [h["RCID"] for h in headers] == [e.header["RCID"] for e in extensions]
    assert quality["worst"].max() < GOAL * u.arcsec


@needs_sextractor
def test_a_catalogue_made_by_the_real_sextractor(other_night, fitted_prior, tmp_path):
    _, fit = fitted_prior
    exposures = QTable.read(other_night / "exposures.ecsv")
    name = exposures["exposure"][np.argmax(exposures["airmass"])]
    rcids = [63, 26, 0, 50]  # field corners and the centre, in no particular order
    render_exposure(other_night, name, tmp_path / "image.fits", rcids, seed=3)
    (tmp_path / "ztf.param").write_text("\n".join(SEXTRACTOR_PARAMETERS) + "\n")
    subprocess.run(
        ["source-extractor", "image.fits", "-c", "/dev/null", "-CATALOG_TYPE", "FITS_LDAC", "-CATALOG_NAME", f"{name}.ldac",
         "-PARAMETERS_NAME", "ztf.param", "-FILTER", "N", "-DETECT_THRESH", "3", "-ANALYSIS_THRESH", "3",
         "-SATUR_LEVEL", "50000", "-GAIN", "6.2", "-BACK_SIZE", "128", "-VERBOSE_TYPE", "QUIET"],
        cwd=tmp_path, check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    write_prior(tmp_path / "prior.fits", fit)
    assert (
        main(
            [
                "prior",
                "ahead",
                str(tmp_path / "prior.fits"),
                str(tmp_path / f"{name}.ldac"),
                "--gaia",
                str(other_night / "gaia.fits"),
                "--out",
                str(tmp_path / f"{name}.ahead"),
            ]
        )
        == 0
    )
    headers = read_header_blocks(tmp_path / f"{name}.ahead")
    catalog = read_exposure(tmp_path / f"{name}.ldac")
    assert [h["RCID"] for h in headers] == rcids == catalog.rcids
    quality = ahead_accuracy(
        headers, catalog, TrueMapping.read(other_night / "truth" / f"{name}.fits")
    )
    assert quality["worst"].max() < GOAL * u.arcsec


@needs_scamp
@pytest.mark.scamp
def test_scamp_solves_from_the_ahead_without_pattern_matching(prior_night, fitted_prior, tmp_path):
    _, fit = fitted_prior
    exposures = QTable.read(prior_night / "exposures.ecsv")
    failures = Table.read(prior_night / "truth" / "failures.ecsv")
    gaia = read_gaia(prior_night / "gaia.fits")
    for row in exposures[np.argsort(exposures["airmass"])[-2:]]:  # the two highest airmasses
        name = row["exposure"]
        shutil.copy(prior_night / f"{name}.ldac", tmp_path / f"{name}.ldac")
        catalog = read_exposure(tmp_path / f"{name}.ldac")
        terms = refine_pointing(fit.model, catalog, gaia)
        headers = ahead_headers(fit.model, catalog, terms)
        write_header_blocks(tmp_path / f"{name}.ahead", headers)
        for header in read_header_blocks(tmp_path / f"{name}.ahead")[:4]:
            assert header["CTYPE1"] == "RA---TPV"
            linear = header.copy()
            for key in [k for k in linear if k.startswith("PV")]:
                del linear[key]
            corner = np.array([[0.5, 0.5]])
            moved = (
                np.hypot(
                    *(WCS(header).all_pix2world(corner, 1) - WCS(linear).all_pix2world(corner, 1))[
                        0
                    ]
                )
                * 3600
            )
            assert moved > 0.5  # astropy applies the PV terms it read
        reference = reference_at_epoch(
            select_cone(gaia, catalog.pointing, 5.6 * u.deg), catalog.mid_time
        )
        write_scamp_reference(
            tmp_path / "gaia.ldac", reference[reference["phot_g_mean_mag"] < 20 * u.mag]
        )
        run = run_scamp(
            tmp_path / f"{name}.ldac",
            tmp_path / "gaia.ldac",
            {"MATCH": "N", "DISTORT_DEGREES": "3", "STABILITY_TYPE": "PRE-DISTORTED"},
        )
        assert run.solved, run.stderr[-1500:]
        quality = ahead_accuracy(
            read_header_blocks(run.head),
            catalog,
            TrueMapping.read(prior_night / "truth" / f"{name}.fits"),
        )
        bad = set(failures["rcid"][failures["exposure"] == name])
        good = ~np.isin(quality["rcid"], list(bad))
        assert quality["worst"][good].max() < 0.2 * u.arcsec


def test_command_line_fit_then_ahead(prior_night, fitted_prior, tmp_path, capsys):
    calibration, _ = fitted_prior
    gaia = str(prior_night / "gaia.fits")
    catalogues = [str(prior_night / f"{n}.ldac") for n in calibration]
    assert (
        main(
            [
                "prior",
                "fit",
                *catalogues,
                "--gaia",
                gaia,
                "--out",
                str(tmp_path / "prior.fits"),
                "--degree",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    assert "64 quadrants" in capsys.readouterr().out
    model = read_prior(tmp_path / "prior.fits")
    assert len(model.rcid) == 64 and model.degree == 3
    name = QTable.read(prior_night / "exposures.ecsv")["exposure"][-1]
    out = tmp_path / f"{name}.ahead"
    assert (
        main(
            [
                "prior",
                "ahead",
                str(tmp_path / "prior.fits"),
                str(prior_night / f"{name}.ldac"),
                "--gaia",
                gaia,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "pointing offset" in capsys.readouterr().out
    blocks = read_header_blocks(out)
    assert len(blocks) == len(read_ldac(prior_night / f"{name}.ldac"))
    assert all(b["CTYPE1"] == "RA---TPV" and b["CTYPE2"] == "DEC--TPV" for b in blocks)
    assert len({(b["CRVAL1"], b["CRVAL2"]) for b in blocks}) == 1  # CRVAL = the boresight


def test_prior_file_round_trip_is_exact_and_deterministic(fitted_prior, tmp_path):
    _, fit = fitted_prior
    write_prior(tmp_path / "a.fits", fit)
    write_prior(tmp_path / "b.fits", fit)
    assert (tmp_path / "a.fits").read_bytes() == (tmp_path / "b.fits").read_bytes()
    model = read_prior(tmp_path / "a.fits")
    assert np.array_equal(model.crpix, fit.model.crpix) and np.array_equal(model.cd, fit.model.cd)
    for read, fitted in ((model.pv1, fit.model.pv1), (model.pv2, fit.model.pv2)):
        assert read.keys() == fitted.keys()
        assert np.allclose(
            [read[k] for k in read], [fitted[k] for k in read], rtol=1e-13, atol=0
        )  # FITS cards keep 15-16 digits


# ----------------------------------------------------------------- bad input


def _error(argv, capsys):
    assert main(argv) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0
    return message


def test_errors_name_file_extension_and_column(prior_night, fitted_prior, tmp_path, capsys):
    calibration, _ = fitted_prior
    gaia = str(prior_night / "gaia.fits")
    name = calibration[0]

    plain = tmp_path / "plain.fits"
    Table({"XWIN_IMAGE": [1.0]}).write(plain)
    message = _error(
        ["prior", "fit", str(plain), "--gaia", gaia, "--out", str(tmp_path / "p.fits")], capsys
    )
    assert "plain.fits" in message and "LDAC_IMHEAD" in message

    extensions = read_ldac(prior_night / f"{name}.ldac")
    extensions[2].objects.remove_column("ERRAWIN_IMAGE")
    write_ldac(tmp_path / "nocolumn.ldac", extensions)
    message = _error(
        [
            "prior",
            "fit",
            str(tmp_path / "nocolumn.ldac"),
            "--gaia",
            gaia,
            "--out",
            str(tmp_path / "p.fits"),
        ],
        capsys,
    )
    assert "nocolumn.ldac" in message and "extension 3" in message and "ERRAWIN_IMAGE" in message

    extensions = read_ldac(prior_night / f"{name}.ldac")
    extensions[0].objects["XWIN_IMAGE"][4] = np.nan
    write_ldac(tmp_path / "nan.ldac", extensions)
    message = _error(
        [
            "prior",
            "fit",
            str(tmp_path / "nan.ldac"),
            "--gaia",
            gaia,
            "--out",
            str(tmp_path / "p.fits"),
        ],
        capsys,
    )
    assert "nan.ldac" in message and "XWIN_IMAGE" in message and "NaN" in message

    extensions = read_ldac(prior_night / f"{name}.ldac")
    del extensions[0].header["TELRAD"]
    write_ldac(tmp_path / "nopointing.ldac", extensions)
    message = _error(
        [
            "prior",
            "fit",
            str(tmp_path / "nopointing.ldac"),
            "--gaia",
            gaia,
            "--out",
            str(tmp_path / "p.fits"),
        ],
        capsys,
    )
    assert "nopointing.ldac" in message and "TELRAD" in message
    assert not (tmp_path / "p.fits").exists()


def test_no_gaia_stars_in_the_field_is_an_error(prior_night, tmp_path):
    gaia = read_gaia(prior_night / "gaia.fits")
    gaia["ra"] = (gaia["ra"] + 180 * u.deg) % (360 * u.deg)
    gaia["dec"] = -gaia["dec"]
    write_gaia(tmp_path / "elsewhere.fits", gaia)
    name = QTable.read(prior_night / "exposures.ecsv")["exposure"][0]
    with pytest.raises(InputError, match=r"elsewhere\.fits.*Gaia stars within"):
        fit_prior(
            [read_exposure(prior_night / f"{name}.ldac")], read_gaia(tmp_path / "elsewhere.fits")
        )


def test_too_few_matches_says_which_quadrant_and_how_many(prior_night, tmp_path):
    name = QTable.read(prior_night / "exposures.ecsv")["exposure"][0]
    extensions = read_ldac(prior_night / f"{name}.ldac")[:3]
    for extension in extensions:
        flux = np.asarray(extension.objects["FLUX_AUTO"])
        extension.objects = extension.objects[np.argsort(flux)[::-1][:25]]
    write_ldac(tmp_path / "sparse.ldac", extensions)
    with pytest.raises(InputError, match=r"too few matched stars.*rcid \d+ has \d+.*need 30"):
        fit_prior([read_exposure(tmp_path / "sparse.ldac")], read_gaia(prior_night / "gaia.fits"))


def test_a_file_that_is_not_a_prior(tmp_path):
    fits.PrimaryHDU().writeto(tmp_path / "x.fits")
    with pytest.raises(InputError, match="not a ztfnb prior"):
        read_prior(tmp_path / "x.fits")


def test_a_fit_on_two_exposures_with_large_pointing_errors(tmp_path):
    """Moving an exposure's tangent point onto its axis also turns the plane's axes (meridian
    convergence); a fit that rejects outliers before absorbing that turn loses its stars. This
    night (fields at Dec +44° and +49°, pointing errors of 9″) caught such a fit."""
    night = simulate_night(
        tmp_path / "night", NightParameters(seed=6, exposures=3, failures=0, density=700.0)
    )
    exposures = QTable.read(night / "exposures.ecsv")
    calibration = [exposures["exposure"][i] for i in np.argsort(exposures["airmass"])[:2]]
    gaia = read_gaia(night / "gaia.fits")
    fit = fit_prior([read_exposure(night / f"{n}.ldac") for n in calibration], gaia)
    assert fit.residuals["used"].mean() > 0.9
    for row in exposures:
        quality, _, _ = _accuracy(night, row["exposure"], fit.model, gaia)
        assert quality["worst"].max() < GOAL * u.arcsec


def test_a_prior_from_one_exposure_at_high_declination(prior_night):
    """Near the pole the rough header is turned against the sky (precession since J2000 turns the
    field ≈0.7° at Dec +81°): quadrants far from the axis match only once the exposure-wide turn
    found on the others is taken out."""
    exposures = QTable.read(prior_night / "exposures.ecsv")
    polar = exposures[np.argmax(exposures["teldecd"])]
    assert polar["teldecd"] > 75 * u.deg
    gaia = read_gaia(prior_night / "gaia.fits")
    fit = fit_prior([read_exposure(prior_night / f"{polar['exposure']}.ldac")], gaia)
    assert fit.model.rcid.size == 64 and fit.residuals["used"].mean() > 0.95
    # the one calibration exposure has a quadrant with a corner bent by the simulator, which no
    # other exposure outvotes: it is held to the target, the rest to its goal
    spoiled = [int(r) for r in __import__("re").findall(r"rcid(\d+)", str(polar["failures"]))]
    for row in exposures:
        if row["exposure"] != polar["exposure"]:
            quality, _, _ = _accuracy(prior_night, row["exposure"], fit.model, gaia)
            clean = ~np.isin(quality["rcid"], spoiled)
            assert quality["worst"][clean].max() < GOAL * u.arcsec, row["exposure"]
            assert quality["worst"].max() < 0.5 * u.arcsec, row["exposure"]


def test_a_field_at_the_pole_finds_its_pointing_and_turn(fitted_prior, tmp_path, monkeypatch):
    """0.3° from the pole 20″ of pointing error turns the plane about the commanded pointing by
    ≈1° against the true one: the offset search must look for the turn too."""
    from astropy.coordinates import SkyCoord

    from ztfnb.simulate import schedule

    declinations = iter([89.7, 88.8])

    def at_the_pole(time, target_airmass, rng):
        return SkyCoord(rng.uniform(0, 360) * u.deg, next(declinations) * u.deg)

    for name in ("_survey_target", "_ra_wrap_target", "_polar_target"):
        monkeypatch.setattr(schedule, name, at_the_pole)
    night = simulate_night(
        tmp_path / "pole", NightParameters(seed=303, exposures=2, failures=0, density=700.0)
    )
    exposures = QTable.read(night / "exposures.ecsv")
    assert exposures["teldecd"].max() > 89.6 * u.deg
    gaia = read_gaia(night / "gaia.fits")
    for name in exposures["exposure"]:
        quality, _, _ = _accuracy(night, name, fitted_prior[1].model, gaia)
        assert quality["worst"].max() < GOAL * u.arcsec, name


def _mirrored_readout(path, out):
    """A copy of a catalogue read out the other way along x, its header saying so."""
    extensions = []
    for extension in read_ldac(path):
        header, objects = extension.header.copy(), extension.objects.copy()
        objects["XWIN_IMAGE"] = header["NAXIS1"] + 1 - objects["XWIN_IMAGE"]
        header["CRPIX1"] = header["NAXIS1"] + 1 - header["CRPIX1"]
        header["CD1_1"], header["CD2_1"] = -header["CD1_1"], -header["CD2_1"]
        extensions.append(extension.__class__(header, objects, index=len(extensions)))
    write_ldac(out, extensions)
    return out


def test_a_fit_the_model_cannot_describe_is_refused(prior_night, fitted_prior, tmp_path):
    """Calibration catalogues from two cameras (one read out the other way) share no quadrant
    geometry: half the stars cannot be fitted, and the prior is refused, not written."""
    calibration, _ = fitted_prior
    gaia = read_gaia(prior_night / "gaia.fits")
    mirrored = _mirrored_readout(prior_night / f"{calibration[1]}.ldac", tmp_path / "m.ldac")
    catalogs = [read_exposure(prior_night / f"{calibration[0]}.ldac"), read_exposure(mirrored)]
    with pytest.raises(InputError, match=r"% of the \d+ matched stars were rejected"):
        fit_prior(catalogs, gaia)
    # each alone is a camera the model describes, mirrored or not
    fit = fit_prior([catalogs[1]], gaia)
    assert max(fit.stage_rms["per-quadrant CRPIX/CD"]) < 0.1
    assert np.all(np.linalg.det(fit.model.cd) > 0)


def test_a_quadratic_is_held_by_the_quadrants_own_terms_to_a_tenth_of_an_arcsecond(
    prior_night, fitted_prior
):
    """The camera is cubic; with per-quadrant CRPIX and CD a quadratic leaves only the cubic's
    curvature within each quadrant: worse than the cubic, not wrong."""
    calibration, cubic = fitted_prior
    gaia = read_gaia(prior_night / "gaia.fits")
    quadratic = fit_prior(
        [read_exposure(prior_night / f"{n}.ldac") for n in calibration],
        gaia,
        PriorFitConfig(degree=2),
    )
    name = str(QTable.read(prior_night / "exposures.ecsv")["exposure"][0])
    worst = {
        degree: _accuracy(prior_night, name, fit.model, gaia)[0]["worst"].max()
        for degree, fit in ((2, quadratic), (3, cubic))
    }
    assert worst[3] < 0.03 * u.arcsec < worst[2] < 0.2 * u.arcsec


def test_a_quadrant_with_too_few_stars_is_named_not_left_wrong(prior_night, fitted_prior, tmp_path):
    calibration, _ = fitted_prior
    extensions = read_ldac(prior_night / f"{calibration[0]}.ldac")
    for extension in extensions:
        if extension.header["RCID"] == 20:
            clean = np.flatnonzero(np.asarray(extension.objects["FLAGS"]) == 0)
            brightest = clean[np.argsort(np.asarray(extension.objects["FLUX_AUTO"])[clean])[::-1]]
            extension.objects = extension.objects[np.sort(brightest[:8])]
    write_ldac(tmp_path / "sparse.ldac", extensions)
    with pytest.raises(InputError, match=r"sparse\.ldac: rcid 20 \(CCD 6, quadrant 1\): \d stars"):
        fit_prior([read_exposure(tmp_path / "sparse.ldac")], read_gaia(prior_night / "gaia.fits"))
    # a quadrant that no calibration catalogue holds is left out, and said so where it is needed
    write_ldac(tmp_path / "without.ldac", [e for e in extensions if e.header["RCID"] != 20])
    fit = fit_prior(
        [read_exposure(tmp_path / "without.ldac")], read_gaia(prior_night / "gaia.fits")
    )
    assert 20 not in fit.model.rcid and fit.model.rcid.size == 63
    whole = read_exposure(prior_night / f"{calibration[1]}.ldac")
    with pytest.raises(InputError, match="no quadrant rcid 20: no calibration catalogue held it"):
        ahead_headers(
            fit.model,
            whole,
            refine_pointing(fit.model, whole, read_gaia(prior_night / "gaia.fits")),
        )


def test_the_prior_settings_are_checked_and_are_the_one_home_of_the_defaults(capsys):
    """`PriorFitConfig` refuses what cannot work, naming the field; the command line and the
    notebook take its defaults, ranges and words."""
    from ztfnb.cli import build_parser
    from ztfnb.runner import notebook_defaults

    for field, value, words in (
        ("degree", 8, "degree must be 2 to 7"),
        ("degree", 2.5, "degree must be a whole number"),
        ("clip", 0, "clip must be 2 to 50"),
        ("floor", "2 s", "floor: '2 s' has unit s"),
        ("max_rejected", 1.5, "max_rejected must be between 0 and 1"),
        ("refraction", "no", "refraction must be True or False"),
    ):
        with pytest.raises(ValueError, match=words):
            PriorFitConfig(**{field: value})
    assert PriorFitConfig(floor="50 mas").floor == 0.05 * u.arcsec
    from ztfnb.match import MatchConfig

    with pytest.raises(ValueError, match="final_radius"):
        MatchConfig(final_radius=5 * u.arcsec)
    parser = build_parser()
    base = ["prior", "fit", "c.ldac", "--gaia", "g.fits", "--out", "p.fits"]
    assert parser.parse_args(base).degree is None  # the default is the dataclass's
    assert parser.parse_args([*base, "--degree", "4"]).degree == 4
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--degree", "9"])
    assert "degree must be 2 to 7, got '9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["prior", "fit", "--help"])
    assert f"(default {PriorFitConfig().degree})" in capsys.readouterr().out
    notebook = notebook_defaults("notebooks/01_prior_fit.ipynb")
    assert notebook["degree"] == PriorFitConfig().degree
