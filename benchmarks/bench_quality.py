"""Quality metrics of a solved night: time per quadrant against SCAMP's own time per quadrant.

Also what the zenith-relative scale costs where it is computed: ``ahead_headers``
per exposure with and without its ``ZVACSCL`` keyword (target: at most 20 % slower).
"""

import shutil
import tempfile
import time
from pathlib import Path

from astropy.table import QTable

from benchmarks.nights import night
from benchmarks.timing import Comparison, best_time
from ztfnb.analyses.prior import choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.prior import ahead_headers, fit_prior, refine_pointing
from ztfnb.prior.file import write_prior
from ztfnb.quality import night_metrics
from ztfnb.solve import solve_night


def run():
    if shutil.which("scamp") is None:
        print("scamp not installed: skipped")
        return []
    folder = night(seed=33, exposures=6, failures=4)
    exposures = QTable.read(folder / "exposures.ecsv")
    gaia = read_gaia(folder / "gaia.fits")
    calibration = choose_calibration(exposures, 3)
    work = Path(tempfile.mkdtemp(prefix="ztfnb-bench-"))
    try:
        fit = fit_prior([read_exposure(folder / f"{n}.ldac") for n in calibration], gaia)
        write_prior(work / "prior.fits", fit)
        ahead = _ahead_seconds(
            fit.model, read_exposure(folder / f"{exposures['exposure'][-1]}.ldac"), gaia
        )
        catalogs = [folder / f"{n}.ldac" for n in exposures["exposure"]]
        start = time.perf_counter()
        summary = solve_night(
            catalogs, folder / "gaia.fits", work / "prior.fits", work / "solved", workers=1
        )
        solve_seconds = time.perf_counter() - start
        scamp_seconds = float(summary["scamp_seconds"].value.sum())
        start = time.perf_counter()
        quadrants, _, _ = night_metrics([read_exposure(c) for c in catalogs], gaia, work / "solved")
        quality_seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(quadrants)
    notes = f"{n} quadrants: {1000 * quality_seconds / n:.1f} ms/quadrant (target ≤ 200); ztfnb solve {solve_seconds:.1f} s on 1 worker"
    return [
        Comparison(
            "ahead_headers per exposure",
            "without ZVACSCL",
            "with ZVACSCL",
            ahead[0],
            ahead[1],
            f"{100 * (ahead[1] / ahead[0] - 1):+.0f} % for the zenith-relative scale (target ≤ +20 %)",
        ),
        Comparison(
            "quality metrics per quadrant",
            "SCAMP fast mode (MATCH N)",
            "ztfnb quality",
            scamp_seconds / n,
            quality_seconds / n,
            notes,
        ),
    ]


def _ahead_seconds(model, catalog, gaia):
    """Best time of ``ahead_headers`` for one exposure without and with its ZVACSCL keyword."""
    import numpy as np

    import ztfnb.prior.ahead as ahead

    terms = refine_pointing(model, catalog, gaia)
    real = ahead.vacuum_scale_ratio
    try:
        ahead.vacuum_scale_ratio = lambda model, catalog, *rest: np.ones(len(catalog.extensions))
        without = best_time(lambda: ahead_headers(model, catalog, terms), repeat=5)
    finally:
        ahead.vacuum_scale_ratio = real
    return without, best_time(lambda: ahead_headers(model, catalog, terms), repeat=5)
