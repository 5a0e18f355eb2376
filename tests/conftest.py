"""Shared fixtures: small simulated nights, SCAMP availability, a headless plotting backend."""

import os
import shutil

os.environ.setdefault("MPLBACKEND", "agg")

import pytest

from ztfnb.simulate import NightParameters, simulate_night

SCAMP_MISSING = shutil.which("scamp") is None
needs_scamp = pytest.mark.skipif(
    SCAMP_MISSING,
    reason="scamp is not installed (apt-get install scamp; 'make test' as root does it)",
)


@pytest.fixture(scope="session")
def small_night(tmp_path_factory):
    """Four exposures (one across RA = 0), sparse stars, four injected failures."""
    folder = tmp_path_factory.mktemp("nights") / "small"
    return simulate_night(folder, NightParameters(seed=11, exposures=4, failures=4, density=400.0))


@pytest.fixture(scope="session")
def dense_exposure(tmp_path_factory):
    """One exposure at ZTF-like star density, for SCAMP."""
    folder = tmp_path_factory.mktemp("nights") / "dense"
    return simulate_night(folder, NightParameters(seed=5, exposures=1, failures=0, density=1200.0))


SEXTRACTOR_MISSING = shutil.which("source-extractor") is None
needs_sextractor = pytest.mark.skipif(
    SEXTRACTOR_MISSING,
    reason="source-extractor is not installed (apt-get install source-extractor; 'make test' as root does it)",
)


@pytest.fixture(scope="session")
def prior_night(tmp_path_factory):
    """Six exposures at ZTF density (airmass 1.0-2.2, one across RA = 0, one near the pole), three failures."""
    folder = tmp_path_factory.mktemp("nights") / "prior"
    return simulate_night(folder, NightParameters(seed=21, exposures=6, failures=3, density=1200.0))


@pytest.fixture(scope="session")
def other_night(tmp_path_factory):
    """Another night, other fields and seed, the same camera."""
    folder = tmp_path_factory.mktemp("nights") / "other"
    return simulate_night(folder, NightParameters(seed=22, exposures=5, failures=0, density=800.0))


@pytest.fixture(scope="session")
def fitted_prior(prior_night):
    """The prior fitted on the three lowest-airmass exposures of ``prior_night``."""
    from astropy.table import QTable

    from ztfnb.analyses.prior import choose_calibration
    from ztfnb.exposure import read_exposure
    from ztfnb.io import read_gaia
    from ztfnb.prior import fit_prior

    exposures = QTable.read(prior_night / "exposures.ecsv")
    calibration = choose_calibration(exposures, 3)
    gaia = read_gaia(prior_night / "gaia.fits")
    return calibration, fit_prior(
        [read_exposure(prior_night / f"{n}.ldac") for n in calibration], gaia
    )


@pytest.fixture(scope="session")
def solved_night(tmp_path_factory, prior_night, fitted_prior):
    """``prior_night`` solved by SCAMP from the prior, judged, six solutions spoiled: the quality notebook's output.

    Returns the output folder and the `~ztfnb.analyses.quality.QualityReport`.
    """
    if SCAMP_MISSING:
        pytest.skip("scamp is not installed (apt-get install scamp; 'make test' as root does it)")
    from ztfnb.analyses.quality import quality_report
    from ztfnb.prior.file import write_prior

    folder = tmp_path_factory.mktemp("solved") / "quality"
    folder.mkdir()
    write_prior(folder / "prior.fits", fitted_prior[1])
    report = quality_report(prior_night, folder, prior_path=folder / "prior.fits", inject=6, seed=3)
    return folder, report


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """A factory of small nights shared by the session: ``simulated(**fields)`` → the night's folder.

    The keywords are `~ztfnb.simulate.NightParameters` fields; ``seed`` defaults
    to 1, ``exposures`` to 1 and ``density`` to 200 stars per deg² (a night in a
    few seconds), the rest to `NightParameters`' own defaults. Each distinct
    set of parameters is simulated once per session, so tests (a matrix over
    the options of ``ztfnb simulate``) can share nights; don't change the
    files.
    """
    nights = {}

    def night(**fields):
        parameters = NightParameters(**{"seed": 1, "exposures": 1, "density": 200.0, **fields})
        if parameters not in nights:
            folder = tmp_path_factory.mktemp("simulated") / "night"
            nights[parameters] = simulate_night(folder, parameters)
        return nights[parameters]

    return night
