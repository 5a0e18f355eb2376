"""Refusals of the commands' outputs and values: nothing replaced, nothing made, nothing that is not a value.

Kinds: an output that exists (replaced only with --overwrite); an output folder
made although the command is refused (folders are made only once the inputs are
read); a folder of solutions that is none; numbers that are not numbers (NaN,
±inf) or outside what physics allows, from the command line and the API.
Each case: exit status 2, one line naming the file or parameter, folders unchanged.
"""

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from tests.refusals import refused
from ztfnb.quantity import ParameterError


@pytest.fixture(scope="module")
def night(simulated):
    """A one-exposure night (its files are shared: copy before changing)."""
    folder = simulated(exposures=1, density=200.0)
    (catalog,) = sorted(folder.glob("*.ldac"))
    return folder, catalog, folder / "gaia.fits"


@pytest.fixture
def lightcurve(tmp_path):
    path = tmp_path / "lc.ecsv"
    Table({"mjd": [60000.1, 60000.2], "ra": [10.0, 10.0], "dec": [20.0, 20.0]}).write(path)
    return path


# ---- outputs that exist are not replaced without --overwrite --------------------------------


def test_prior_fit_does_not_replace_a_prior(night, tmp_path, capsys):
    _, catalog, gaia = night
    out = tmp_path / "prior.fits"
    out.write_text("the user's own file")
    refused(
        ["prior", "fit", catalog, "--gaia", gaia, "--out", out, "--quiet"],
        names=[out, "--overwrite"],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_prior_ahead_does_not_replace_an_ahead(night, tmp_path, capsys):
    _, catalog, gaia = night
    out = tmp_path / "one.ahead"
    out.write_text("the user's own file")
    refused(
        ["prior", "ahead", tmp_path / "prior.fits", catalog, "--gaia", gaia, "--out", out],
        names=[out],
        watch=[tmp_path],
        capsys=capsys,
    )


@pytest.mark.parametrize("existing", ["m.ecsv", "m.exposures.ecsv", "m.html"])
def test_quality_does_not_replace_any_of_its_three_files(night, tmp_path, capsys, existing):
    folder, catalog, gaia = night
    (tmp_path / existing).write_text("the user's own file")
    out = tmp_path / "m.ecsv"
    refused(
        ["quality", catalog, "--heads", folder, "--gaia", gaia, "--out", out, "--quiet"],
        names=[tmp_path / existing],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_ltt_does_not_replace_a_table(lightcurve, tmp_path, capsys):
    out = tmp_path / "out.ecsv"
    out.write_text("the user's own file")
    refused(["ltt", lightcurve, "--out", out], names=[out], watch=[tmp_path], capsys=capsys)


def test_ltt_does_not_replace_a_column_without_overwrite(lightcurve, tmp_path, capsys):
    from ztfnb.cli import main

    once = tmp_path / "once.ecsv"
    assert main(["ltt", str(lightcurve), "--out", str(once)]) == 0
    refused(
        ["ltt", once, "--out", tmp_path / "twice.ecsv"],
        names=[once, "ltt_helio", "overwrite"],
        watch=[tmp_path],
        capsys=capsys,
    )
    # asked for, it is replaced: by the same values
    assert main(["ltt", str(once), "--out", str(once), "--overwrite"]) == 0
    again = Table.read(once)
    assert np.allclose(again["ltt_helio"], Table.read(tmp_path / "once.ecsv")["ltt_helio"])


# ---- refused commands make no folder ----------------------------------------------------------


def test_a_refused_prior_fit_makes_no_folder(night, tmp_path, capsys):
    _, catalog, _ = night
    out = tmp_path / "new" / "deeper" / "prior.fits"
    refused(
        ["prior", "fit", catalog, "--gaia", tmp_path / "missing.fits", "--out", out],
        names=[tmp_path / "missing.fits"],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )


def test_a_refused_prior_ahead_makes_no_folder(night, tmp_path, capsys):
    _, catalog, gaia = night
    prior = tmp_path / "prior.fits"
    prior.write_text("not a prior")
    out = tmp_path / "new" / "one.ahead"
    refused(
        ["prior", "ahead", prior, catalog, "--gaia", gaia, "--out", out],
        names=[prior],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )


def test_quality_refuses_a_heads_folder_that_does_not_exist(night, tmp_path, capsys):
    _, catalog, gaia = night
    heads = tmp_path / "solved-typo"
    refused(
        [
            "quality",
            catalog,
            "--heads",
            heads,
            "--gaia",
            gaia,
            "--out",
            tmp_path / "new" / "m.ecsv",
        ],
        names=[heads],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )


def test_quality_refuses_a_folder_without_any_solution(night, tmp_path, capsys):
    _, catalog, gaia = night
    heads = tmp_path / "empty"
    heads.mkdir()
    refused(
        [
            "quality",
            catalog,
            "--heads",
            heads,
            "--gaia",
            gaia,
            "--out",
            tmp_path / "new" / "m.ecsv",
        ],
        names=[heads, f"{catalog.stem}.head"],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )


def test_a_refused_output_under_a_file_makes_nothing(night, tmp_path, capsys):
    _, catalog, gaia = night
    (tmp_path / "afile").write_text("x")
    refused(
        ["prior", "fit", catalog, "--gaia", gaia, "--out", tmp_path / "afile" / "prior.fits"],
        names=[tmp_path / "afile"],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_solve_refuses_a_bad_gaia_file_before_making_its_folder(night, tmp_path, capsys):
    folder, catalog, _ = night
    if shutil.which("scamp") is None:
        pytest.skip("scamp is not installed")
    gaia = tmp_path / "gaia.fits"
    gaia.write_text("SIMPLE  = T  but not FITS")
    prior = tmp_path / "prior.fits"
    shutil.copy(folder / "gaia.fits", prior)  # a FITS file that is no prior: refused first
    refused(
        ["solve", catalog, "--gaia", gaia, "--prior", prior, "--out", tmp_path / "new"],
        names=[prior],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )


@pytest.mark.parametrize("command", ["solve", "quality"])
def test_a_glob_that_catches_the_gaia_table_is_refused_before_any_work(
    night, tmp_path, capsys, command
):
    # `ztfnb solve night/* --gaia night/gaia.fits`: before, SCAMP ran every exposure first
    folder, catalog, gaia = night
    given = [catalog, gaia]  # in the order a shell's glob gives them
    options = {
        "solve": ["--prior", gaia, "--out", tmp_path / "new"],
        "quality": ["--heads", folder, "--out", tmp_path / "new" / "m.ecsv"],
    }[command]
    message = refused(
        [command, *given, "--gaia", gaia, *options],
        names=[gaia, "--gaia"],
        watch=[tmp_path],
        absent=[tmp_path / "new"],
        capsys=capsys,
    )
    assert "Gaia table" in message


# ---- values that are not values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("--ra", "nan"), ("--ra", "inf"), ("--dec", "-inf"), ("--ra", "1e999"), ("--dec", "NaN")],
)
def test_ltt_refuses_positions_that_are_not_numbers(lightcurve, tmp_path, capsys, option, value):
    other = "--dec" if option == "--ra" else "--ra"
    refused(
        ["ltt", lightcurve, "--out", tmp_path / "o.ecsv", f"{option}={value}", other, "10"],
        names=[option, value],
        watch=[tmp_path],
        capsys=capsys,
    )


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_ltt_refuses_a_column_with_infinities(tmp_path, capsys, bad):
    path = tmp_path / "lc.ecsv"
    Table({"mjd": [60000.1, 60000.2], "ra": [10.0, bad], "dec": [20.0, 20.0]}).write(path)
    refused(
        ["ltt", path, "--out", tmp_path / "o.ecsv"],
        names=[path, "'ra'", "row 2 (counting from 1)"],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_ltt_api_refuses_a_position_that_is_not_finite(lightcurve):
    from astropy.coordinates import SkyCoord

    from ztfnb.lightcurve import add_corrected_times

    with pytest.raises(ValueError, match="finite"):
        add_corrected_times(Table.read(lightcurve), position=SkyCoord(np.nan * u.deg, 0 * u.deg))


@pytest.mark.parametrize(
    ("keywords", "name"),
    [
        ({"redshift": np.nan}, "redshift"),
        ({"redshift": np.inf}, "redshift"),
        ({"redshift": -0.1}, "redshift"),
        ({"redshift": 1e6}, "redshift"),
        ({"redshift": 2, "luminosity": -1e12 * u.Lsun}, "luminosity"),
        ({"redshift": 2, "luminosity": 0 * u.Lsun}, "luminosity"),
        ({"redshift": 2, "luminosity": np.nan * u.Lsun}, "luminosity"),
        ({"redshift": 2, "temperatures": (20 * u.K, -44 * u.K)}, "temperature"),
        ({"redshift": 2, "warm_fraction": 1.5}, "warm_fraction"),
        ({"redshift": 2, "line_width": 0 * u.km / u.s}, "line_width"),
        ({"redshift": 2, "distance": -1 * u.Mpc}, "distance"),
        ({"redshift": 2, "beta": np.inf}, "beta"),
    ],
)
def test_a_starburst_refuses_values_physics_does_not_allow(keywords, name):
    from ztfnb.ost.source import StarburstGalaxy

    with pytest.raises(ParameterError, match=name) as caught:
        StarburstGalaxy(**keywords)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("integration_time", "-1 h"),
        ("integration_time", "nan s"),
        ("aperture", "0 m"),
        ("resolving_power", -300.0),
        ("background_scale", np.inf),
    ],
)
def test_the_ost_simulator_refuses_settings_that_are_not_values(setting, value):
    from ztfnb.ost.simulator import OSTSimulator

    with pytest.raises(ParameterError, match=setting):
        OSTSimulator(**{setting: value})


def test_an_echoed_value_is_cut_short():
    from ztfnb.quantity import parse_quantity

    with pytest.raises(ParameterError) as caught:
        parse_quantity("x" * 10_000_000, "time", name="integration_time")
    assert len(str(caught.value)) < 400


def test_ltt_does_not_double_a_column_written_in_another_case(tmp_path, capsys):
    path = tmp_path / "lc.ecsv"
    table = {"mjd": [60000.1, 60000.2], "ra": [10.0, 10.0], "dec": [20.0, 20.0]}
    Table({**table, "BJD_TDB": [0.0, 0.0]}).write(path)
    refused(
        ["ltt", path, "--out", tmp_path / "o.ecsv"],
        names=[path, "BJD_TDB"],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_one_absurd_time_is_named_not_the_column_misread(tmp_path, capsys):
    path = tmp_path / "lc.ecsv"
    Table({"mjd": [60234.1, 60234.2, 1e300], "ra": [10.0] * 3, "dec": [20.0] * 3}).write(path)
    refused(
        ["ltt", path, "--out", tmp_path / "o.ecsv"],
        names=[path, "'mjd'", "row 3 (counting from 1)"],
        watch=[tmp_path],
        capsys=capsys,
    )
