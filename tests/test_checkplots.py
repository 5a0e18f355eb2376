"""SCAMP's own check plots, with the real SCAMP, and its messages when it stops."""

from pathlib import Path

import pytest

from tests.conftest import needs_scamp
from ztfnb.cli import main
from ztfnb.scamp import ScampRun, decode_output, last_lines
from ztfnb.solve import CHECKPLOTS, SolveConfig

pytestmark = [needs_scamp, pytest.mark.scamp, pytest.mark.slow]


@pytest.fixture(scope="module")
def solvable(simulated, tmp_path_factory):
    """One exposure and a prior fitted on it (enough for SCAMP to solve and plot)."""
    from ztfnb.exposure import read_exposure
    from ztfnb.io import read_gaia
    from ztfnb.prior import fit_prior
    from ztfnb.prior.file import write_prior

    night = simulated(exposures=1, density=300.0)
    (catalog,) = sorted(night.glob("*.ldac"))
    prior = tmp_path_factory.mktemp("checkplots") / "prior.fits"
    write_prior(prior, fit_prior([read_exposure(catalog)], read_gaia(night / "gaia.fits")))
    return catalog, night / "gaia.fits", prior


def _solve(solvable, out, *options):
    catalog, gaia, prior = solvable
    arguments = ["solve", str(catalog), "--gaia", str(gaia), "--prior", str(prior)]
    return main([*arguments, "--out", str(out), "--workers", "1", "--quiet", *options])


def test_checkplots_writes_scamps_plots_per_exposure(solvable, tmp_path, capsys):
    assert _solve(solvable, tmp_path, "--checkplots") == 0, capsys.readouterr().err
    stem = solvable[0].stem
    for name in CHECKPLOTS.values():
        plot = tmp_path / f"{stem}.{name}.pdf"
        data = plot.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), plot
        assert len(data) > 2000, plot  # a page with axes and points, not an empty file
    assert not list(tmp_path.glob("*_1.pdf"))  # SCAMP's group numbers taken off
    assert "check plots" in capsys.readouterr().out


def test_a_device_debians_scamp_lacks_is_one_line_quoting_scamp(solvable, tmp_path, capsys):
    # PLplot without png asks for a device on the closed standard input, echoes bytes that are
    # not UTF-8 and aborts: SCAMP's words are quoted, no UnicodeDecodeError, no traceback
    assert _solve(solvable, tmp_path, "--scamp", "CHECKPLOT_DEV=PNG") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "UnicodeDecodeError" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("ztfnb solve: failed")]
    assert "SCAMP stopped (exit status 1)" in line
    assert "Requested device png not available" in line and "PLPLOT ERROR" in line


def test_scamps_output_is_decoded_whatever_its_bytes():
    stderr = decode_output(
        b"\x1b[1M> \x1b[1A----- SCAMP 2.10.0 started\n"
        b"> WARNING: ATLAS without multithreading\n"
        b"Invalid device: -I\xc9\xff\n"
        b"\x1b[1ARequested device png not available\nRequested device png not available\n\n"
        b"*** PLPLOT ERROR, IMMEDIATE EXIT ***\nplSelectDev: Too many tries.\nProgram aborted\n"
    )
    assert "\ufffd" in stderr
    assert last_lines(stderr) == [
        "Requested device png not available",
        "*** PLPLOT ERROR, IMMEDIATE EXIT ***",
        "plSelectDev: Too many tries.",
        "Program aborted",
    ]
    said = "> WARNING: ATLAS\n\n> *Error*: CHECKPLOT_NAME(s) and CHECKPLOT_TYPE(s) are not in equal number\n"
    run = ScampRun(Path("x.head"), Path("x.xml"), None, returncode=1, stderr=said)
    assert run.failure == (
        "SCAMP stopped (exit status 1): "
        "*Error*: CHECKPLOT_NAME(s) and CHECKPLOT_TYPE(s) are not in equal number"
    )


def test_checkplot_settings():
    assert SolveConfig().checkplot_options("e") == {}
    options = SolveConfig(checkplots="svg").checkplot_options("e")
    assert options["CHECKPLOT_DEV"] == "SVG"
    assert options["CHECKPLOT_TYPE"].split(",") == list(CHECKPLOTS)
    assert options["CHECKPLOT_NAME"].split(",")[1] == "e.distortion.svg"
    mine = SolveConfig(scamp_options={"CHECKPLOT_DEV": "PSC", "CHECKPLOT_TYPE": "DISTORTION"})
    assert mine.checkplot_options("e") == {
        "CHECKPLOT_DEV": "PSC",
        "CHECKPLOT_TYPE": "DISTORTION",
        "CHECKPLOT_NAME": "e.distortion.ps",
    }
    with pytest.raises(ValueError, match="checkplots must be one of pdf, svg, ps"):
        SolveConfig(checkplots="png")
