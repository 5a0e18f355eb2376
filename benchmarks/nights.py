"""Simulated nights for benchmarks, made once under benchmarks/results/nights/ and reused."""

from pathlib import Path

from ztfnb.simulate import NightParameters, ensure_night

HERE = Path(__file__).parent


def night(seed, exposures, failures=0, density=1200.0):
    """The folder of a simulated night with these parameters."""
    folder = HERE / "results" / "nights" / f"seed{seed}-x{exposures}-f{failures}-d{int(density)}"
    return ensure_night(
        folder, NightParameters(seed=seed, exposures=exposures, failures=failures, density=density)
    )
