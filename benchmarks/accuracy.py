"""Accuracy of the prior and of SCAMP from it on nights away from the simulator's defaults.

``python -m benchmarks.accuracy`` prints the README's table: for each condition (a
``ztfnb simulate`` option alone, then all at once) a night of four exposures at ZTF's
density; the prior fitted on its two lowest-airmass survey exposures; the two held back
(across RA = 0 among them) solved by ``ztfnb solve`` (the `.ahead` from the prior, the real
SCAMP in its fast mode: ``MATCH N``, ``STABILITY_TYPE PRE-DISTORTED``); the worst error of
the `.ahead` and of SCAMP's `.head` against the truth on a 25 × 25 grid per quadrant.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.table import QTable

from benchmarks.nights import night
from ztfnb.analyses.prior import ahead_accuracy, choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia, read_header_blocks
from ztfnb.prior import fit_prior, write_prior
from ztfnb.simulate import TrueMapping
from ztfnb.solve import solve_night

CONDITIONS = {
    "the simulator's defaults": {},
    "header plate scale +1.5 %": {"header_scale_error": 0.015},
    "header plate scale −5 %, turned 5°": {
        "header_scale_error": -0.05,
        "header_rotation_error": 5.0,
    },
    "camera of the other parity (mirrored x)": {"mirrored": True},
    "camera turned 0.3° on the mount, ±0.2° per exposure": {
        "field_rotation": 0.3,
        "field_rotation_scatter": 0.2,
    },
    "per-quadrant CD 0.1 % (CRPIX at a corner)": {
        "header_quadrant_scale_error": 0.001,
        "header_crpix": "corner",
    },
    "per-quadrant CD 1.5 %, 0.5° rms (CRPIX at the centre)": {
        "header_quadrant_scale_error": 0.015,
        "header_quadrant_rotation_error": 0.5,
        "header_crpix": "centre",
    },
    "centroid noise ×0.5": {"centroid_noise": 0.5},
    "centroid noise ×3": {"centroid_noise": 3.0},
    "no weather keys": {"no_weather": True},
    "all at once (mirrored, +1.5 %, 0.3° ± 0.2°, 0.1 % per quadrant, no weather, noise ×3)": {
        "mirrored": True,
        "header_scale_error": 0.015,
        "field_rotation": 0.3,
        "field_rotation_scatter": 0.2,
        "header_quadrant_scale_error": 0.001,
        "no_weather": True,
        "centroid_noise": 3.0,
    },
}


def measure(options, seed=41, exposures=4):
    folder = night(seed=seed, exposures=exposures, **options)
    table = QTable.read(folder / "exposures.ecsv")
    gaia = read_gaia(folder / "gaia.fits")
    calibration = choose_calibration(table[table["kind"] == "survey"], 2)
    fit = fit_prior([read_exposure(folder / f"{n}.ldac") for n in calibration], gaia)
    held_back = [str(n) for n in table["exposure"] if n not in calibration]
    prior, solved = [], []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_prior(scratch / "prior.fits", fit)
        catalogs = [folder / f"{name}.ldac" for name in held_back]
        solve_night(catalogs, folder / "gaia.fits", scratch / "prior.fits", scratch / "solved")
        for path in catalogs:
            catalog = read_exposure(path)
            truth = TrueMapping.read(folder / "truth" / f"{path.stem}.fits")
            for suffix, errors in ((".ahead", prior), (".head", solved)):
                headers = read_header_blocks(scratch / "solved" / f"{path.stem}{suffix}")
                errors.append(ahead_accuracy(headers, catalog, truth)["worst"].value)
    prior, solved = np.concatenate(prior), np.concatenate(solved)
    return {
        "stars": int(fit.model.meta["n_stars"]),
        "prior_worst": float(prior.max()),
        "scamp_worst": float(solved.max()),
        "scamp_bad": int(np.sum(solved > 0.2)),
        "quadrants": solved.size,
    }


def main():
    print(
        "| condition | stars in the fit | prior worst, held back | SCAMP from it: worst, quadrants > 0.2″ |"
    )
    print("|---|---|---|---|")
    for name, options in CONDITIONS.items():
        result = measure(options)
        print(
            f"| {name} | {result['stars']:,} | {result['prior_worst']:.3f}″ | "
            f"{result['scamp_worst']:.3f}″, {result['scamp_bad']} of {result['quadrants']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
