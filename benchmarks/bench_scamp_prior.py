"""SCAMP from ztfnb's .ahead with MATCH N against SCAMP from the rough header WCS with MATCH Y."""

import shutil
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from benchmarks.nights import night
from benchmarks.timing import Comparison
from ztfnb.analyses.prior import ahead_accuracy, choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia, read_header_blocks, write_header_blocks
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.prior import ahead_headers, fit_prior, refine_pointing
from ztfnb.reference import FIELD_RADIUS, reference_at_epoch, select_cone
from ztfnb.scamp import run_scamp
from ztfnb.simulate import TrueMapping

CONFIGURATIONS = {
    "MATCH Y from header WCS": ({"MATCH": "Y", "DISTORT_DEGREES": "3"}, False),
    "MATCH Y, CROSSID_RADIUS 6": (
        {"MATCH": "Y", "DISTORT_DEGREES": "3", "CROSSID_RADIUS": "6"},
        False,
    ),
    "MATCH N from .ahead (INSTRUMENT)": ({"MATCH": "N", "DISTORT_DEGREES": "3"}, True),
    "MATCH N from .ahead (PRE-DISTORTED)": (
        {"MATCH": "N", "DISTORT_DEGREES": "3", "STABILITY_TYPE": "PRE-DISTORTED"},
        True,
    ),
}


def run():
    if shutil.which("scamp") is None:
        print("scamp not installed: skipped")
        return []
    folder = night(seed=32, exposures=6)
    exposures = QTable.read(folder / "exposures.ecsv")
    gaia = read_gaia(folder / "gaia.fits")
    calibration = choose_calibration(exposures, 3)
    model = fit_prior([read_exposure(folder / f"{n}.ldac") for n in calibration], gaia).model
    chosen = [r for r in exposures if r["exposure"] not in calibration]
    results = {
        name: {"seconds": 0.0, "over_0.2": 0, "over_1": 0, "worst": 0.0, "unsolved": 0}
        for name in CONFIGURATIONS
    }
    work = Path(tempfile.mkdtemp(prefix="ztfnb-bench-"))
    try:
        for row in chosen:
            name = row["exposure"]
            catalog = read_exposure(folder / f"{name}.ldac")
            reference = reference_at_epoch(
                select_cone(gaia, catalog.pointing, FIELD_RADIUS), catalog.mid_time
            )
            write_scamp_reference(
                work / "gaia.ldac", reference[reference["phot_g_mean_mag"] < 20 * u.mag]
            )
            headers = ahead_headers(model, catalog, refine_pointing(model, catalog, gaia))
            truth = TrueMapping.read(folder / "truth" / f"{name}.fits")
            for label, (options, use_prior) in CONFIGURATIONS.items():
                shutil.copy(folder / f"{name}.ldac", work / f"{name}.ldac")
                (work / f"{name}.ahead").unlink(missing_ok=True)
                if use_prior:
                    write_header_blocks(work / f"{name}.ahead", headers)
                run_ = run_scamp(work / f"{name}.ldac", work / "gaia.ldac", options)
                entry = results[label]
                entry["seconds"] += run_.elapsed
                if not run_.solved or not run_.head.exists():
                    entry["unsolved"] += 1
                    continue
                worst = ahead_accuracy(read_header_blocks(run_.head), catalog, truth, grid=13)[
                    "worst"
                ].value
                entry["over_0.2"] += int(np.sum(worst > 0.2))
                entry["over_1"] += int(np.sum(worst > 1.0))
                entry["worst"] = max(entry["worst"], float(np.nanmax(worst)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    airmasses = ", ".join(f"{a:.2f}" for a in sorted(r["airmass"] for r in chosen))
    baseline = results["MATCH Y from header WCS"]
    rows = []
    for label, entry in results.items():
        print(
            f'   {label:<38} {entry["seconds"] / len(chosen):6.2f} s/exposure  quadrants > 0.2": {entry["over_0.2"]:3d}  > 1": {entry["over_1"]:3d}  '
            f'worst {entry["worst"]:9.3f}"  unsolved {entry["unsolved"]} (of {len(chosen)} exposures x 64, airmass {airmasses})'
        )
        if label != "MATCH Y from header WCS":
            rows.append(
                Comparison(
                    f"SCAMP per exposure: {label}",
                    "MATCH Y from header WCS",
                    label,
                    baseline["seconds"] / len(chosen),
                    entry["seconds"] / len(chosen),
                    f'quadrants >0.2": {baseline["over_0.2"]} vs {entry["over_0.2"]}; >1": {baseline["over_1"]} vs {entry["over_1"]}; worst {entry["worst"]:.3f}"',
                )
            )
    return rows
