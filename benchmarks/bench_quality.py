"""Quality metrics of a solved night: time per quadrant against SCAMP's own time per quadrant."""

import shutil
import tempfile
import time
from pathlib import Path

from astropy.table import QTable

from benchmarks.nights import night
from benchmarks.timing import Comparison
from ztfnb.analyses.prior import choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.prior import fit_prior
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
        write_prior(
            work / "prior.fits",
            fit_prior([read_exposure(folder / f"{n}.ldac") for n in calibration], gaia),
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
            "quality metrics per quadrant",
            "SCAMP fast mode (MATCH N)",
            "ztfnb quality",
            scamp_seconds / n,
            quality_seconds / n,
            notes,
        )
    ]
