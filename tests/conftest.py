"""Shared fixtures: small simulated nights, SCAMP availability, a headless plotting backend.

The nights (and the prior and solved night made from them) are made once per test
session, not once per pytest-xdist worker: the first worker to need one makes it
under a lock in the session's common temporary folder, the others wait and read it
(pytest-xdist's documented recipe). Tests must not change their files.
"""

import os
import pickle
import shutil

os.environ.setdefault("MPLBACKEND", "agg")

import pytest

from ztfnb.simulate import NightParameters, simulate_night

SCAMP_MISSING = shutil.which("scamp") is None
needs_scamp = pytest.mark.skipif(
    SCAMP_MISSING,
    reason="scamp is not installed (apt-get install scamp; 'make test' as root does it)",
)


def shared(tmp_path_factory, name, make):
    """A folder made once per session by ``make(folder)``, whichever worker asks first.

    Parameters
    ----------
    tmp_path_factory : pytest's fixture
    name : str
    make : callable
        Fills the (empty) folder it is given.

    Returns
    -------
    `~pathlib.Path`
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # common to the session's workers
    folder = root / f"shared-{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            folder.mkdir()
            make(folder)
            (folder / ".complete").touch()
    return folder


def _night(tmp_path_factory, name, parameters):
    return (
        shared(tmp_path_factory, name, lambda folder: simulate_night(folder / "night", parameters))
        / "night"
    )


def _pickled(tmp_path_factory, name, compute):
    def make(folder):
        (folder / "value.pickle").write_bytes(pickle.dumps(compute(folder)))

    folder = shared(tmp_path_factory, name, make)
    return pickle.loads((folder / "value.pickle").read_bytes())


@pytest.fixture(scope="session")
def small_night(tmp_path_factory):
    """Four exposures (one across RA = 0), sparse stars, four injected failures."""
    return _night(
        tmp_path_factory, "small", NightParameters(seed=11, exposures=4, failures=4, density=400.0)
    )


@pytest.fixture(scope="session")
def dense_exposure(tmp_path_factory):
    """One exposure at ZTF-like star density, for SCAMP."""
    return _night(
        tmp_path_factory, "dense", NightParameters(seed=5, exposures=1, failures=0, density=1200.0)
    )


SEXTRACTOR_MISSING = shutil.which("source-extractor") is None
needs_sextractor = pytest.mark.skipif(
    SEXTRACTOR_MISSING,
    reason="source-extractor is not installed (apt-get install source-extractor; 'make test' as root does it)",
)


SWARP_MISSING = shutil.which("SWarp") is None
needs_swarp = pytest.mark.skipif(
    SWARP_MISSING,
    reason="SWarp is not installed (apt-get install swarp; 'make test' as root does it)",
)


@pytest.fixture(scope="session")
def prior_night(tmp_path_factory):
    """Six exposures at ZTF density (airmass 1.0-2.2, one across RA = 0, one near the pole), three failures."""
    return _night(
        tmp_path_factory, "prior", NightParameters(seed=21, exposures=6, failures=3, density=1200.0)
    )


@pytest.fixture(scope="session")
def other_night(tmp_path_factory):
    """Another night, other fields and seed, the same camera."""
    return _night(
        tmp_path_factory, "other", NightParameters(seed=22, exposures=5, failures=0, density=800.0)
    )


@pytest.fixture(scope="session")
def fitted_prior(tmp_path_factory, prior_night):
    """The prior fitted on the three lowest-airmass exposures of ``prior_night``."""
    from astropy.table import QTable

    from ztfnb.analyses.prior import choose_calibration
    from ztfnb.exposure import read_exposure
    from ztfnb.io import read_gaia
    from ztfnb.prior import fit_prior

    def compute(_):
        exposures = QTable.read(prior_night / "exposures.ecsv")
        calibration = choose_calibration(exposures, 3)
        gaia = read_gaia(prior_night / "gaia.fits")
        return calibration, fit_prior(
            [read_exposure(prior_night / f"{n}.ldac") for n in calibration], gaia
        )

    return _pickled(tmp_path_factory, "fitted-prior", compute)


@pytest.fixture(scope="session")
def solved_night(tmp_path_factory, prior_night, fitted_prior):
    """``prior_night`` solved by SCAMP from the prior, judged, six solutions spoiled: the quality notebook's output.

    Returns the output folder and the `~ztfnb.analyses.quality.QualityReport`.
    """
    if SCAMP_MISSING:
        pytest.skip("scamp is not installed (apt-get install scamp; 'make test' as root does it)")
    from ztfnb.analyses.quality import quality_report
    from ztfnb.prior.file import write_prior

    def compute(shared_folder):
        folder = shared_folder / "quality"
        folder.mkdir()
        write_prior(folder / "prior.fits", fitted_prior[1])
        report = quality_report(
            prior_night, folder, prior_path=folder / "prior.fits", inject=6, seed=3
        )
        return folder, report

    return _pickled(tmp_path_factory, "solved", compute)


@pytest.fixture(scope="session")
def pixel_night(tmp_path_factory, other_night, fitted_prior):
    """Two neighbouring quadrants of an ``other_night`` exposure as an image, extracted and solved.

    ``ztfnb extract`` then ``ztfnb solve`` from the fitted prior (the commands, as a
    user runs them). Returns the folder: ``images/<exposure>.fits``,
    ``catalogs/<exposure>.ldac``, ``solved/<exposure>.head``, ``prior.fits``; and
    the exposure's name and the quadrants in ``info.json``.
    """
    if SEXTRACTOR_MISSING or SCAMP_MISSING:
        pytest.skip("needs source-extractor and scamp (apt-get install source-extractor scamp)")
    import json

    from astropy.table import QTable

    from ztfnb.cli import main
    from ztfnb.prior.file import write_prior
    from ztfnb.simulate.images import render_exposure

    def make(folder):
        exposures = QTable.read(other_night / "exposures.ecsv")
        name = str(exposures["exposure"][0])
        rcids = [1, 0]  # one CCD's neighbours (side by side), not in rcid order
        (folder / "images").mkdir()
        render_exposure(other_night, name, folder / "images" / f"{name}.fits", rcids, seed=4)
        write_prior(folder / "prior.fits", fitted_prior[1])
        image = str(folder / "images" / f"{name}.fits")
        assert main(["extract", image, "--out", str(folder / "catalogs"), "--quiet"]) == 0
        solve = ["solve", str(folder / "catalogs" / f"{name}.ldac"), "--gaia"]
        solve += [str(other_night / "gaia.fits"), "--prior", str(folder / "prior.fits")]
        assert main([*solve, "--out", str(folder / "solved"), "--workers", "1", "--quiet"]) == 0
        (folder / "info.json").write_text(json.dumps({"exposure": name, "rcids": rcids}))

    return shared(tmp_path_factory, "pixels", make)


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
    import hashlib

    def night(**fields):
        parameters = NightParameters(**{"seed": 1, "exposures": 1, "density": 200.0, **fields})
        name = hashlib.sha256(repr(parameters).encode()).hexdigest()[:16]
        return _night(tmp_path_factory, f"simulated-{name}", parameters)

    return night


# The files that take longest start first: pytest-xdist hands out whole files (--dist
# loadfile) in collection order, so a long file collected last would run alone at the end.
_LONGEST_FIRST = (
    "test_browser_apps.py",
    "test_browser_jupyterlab.py",
    "test_notebooks.py",
    "test_night_command.py",
    "test_coadd_report.py",
    "test_verdict.py",
    "test_quality.py",
    "test_reports.py",
    "test_rough_headers.py",
    "test_prior.py",
    "test_webapp.py",
    "test_coadd.py",
    "test_extract.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
