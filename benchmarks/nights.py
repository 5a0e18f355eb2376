"""Simulated nights for benchmarks, made once under benchmarks/results/nights/ and reused."""

from pathlib import Path

from ztfnb.simulate import NightParameters, ensure_night

HERE = Path(__file__).parent


def night(seed, exposures, failures=0, density=1200.0, **options):
    """The folder of a simulated night with these parameters (and `ztfnb simulate` options)."""
    name = f"seed{seed}-x{exposures}-f{failures}-d{int(density)}"
    name += "".join(f"-{key}={value}" for key, value in sorted(options.items()))
    parameters = NightParameters(
        seed=seed, exposures=exposures, failures=failures, density=density, **options
    )
    return ensure_night(HERE / "results" / "nights" / name, parameters)
