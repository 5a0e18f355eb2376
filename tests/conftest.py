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
