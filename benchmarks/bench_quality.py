"""Quality metrics of a solved night: ztfnb quality against astropy SkyCoord matching per quadrant.

The same task for both: each quadrant's residual rms (Gaia − detection, about
the median, after a 5 robust-sigma clip, per axis) through SCAMP's solution
(`.head`), for every quadrant of a solved night. The baseline is what a user
would write with astropy: the detections through `astropy.wcs.WCS`
(``all_pix2world``), `SkyCoord.match_to_catalog_sky` against the field's Gaia
stars at the epoch, pairs within 2″; ztfnb is ``night_metrics`` (matching by
offset search and mutual nearest pairs, and everything else ``ztfnb quality``
measures and judges). Both are handed the same catalogues (read) and the same
detection cuts, run in the same process under one BLAS thread; the two rms
per quadrant are compared, so that the times are of one task.

Also what the zenith-relative scale costs where it is computed: ``ahead_headers``
per exposure with and without its ``ZVACSCL`` keyword (target: at most 20 % slower).
"""

import shutil
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.wcs import WCS

from benchmarks.nights import night
from benchmarks.timing import Comparison, best_time
from ztfnb.analyses.prior import choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.match import usable_detections
from ztfnb.prior import ahead_headers, fit_prior, refine_pointing
from ztfnb.prior.file import write_prior
from ztfnb.quality import night_metrics
from ztfnb.quality.metrics import MetricsConfig, _solution_headers
from ztfnb.reference import field_reference
from ztfnb.solve import solve_night
from ztfnb.threads import blas_threads

#: Pairs farther apart are not the same star (the quality matching's final radius).
_RADIUS = 2 * u.arcsec


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
        paths = [folder / f"{n}.ldac" for n in exposures["exposure"]]
        solve_night(paths, folder / "gaia.fits", work / "prior.fits", work / "solved", workers=1)
        catalogs = [read_exposure(c) for c in paths]
        solved = [c for c in catalogs if (work / "solved" / f"{c.name}.head").is_file()]
        headers = {
            c.name: _solution_headers(c, work / "solved" / f"{c.name}.head", []) for c in solved
        }
        with blas_threads(1):
            baseline, candidate, ratios, agreement = [], [], [], []
            for _ in range(3):  # alternated, so that both see the same load
                start = time.perf_counter()
                theirs = {c.name: _astropy_rms(c, gaia, headers[c.name]) for c in solved}
                baseline.append(time.perf_counter() - start)
                start = time.perf_counter()
                quadrants, _, _ = night_metrics(catalogs, gaia, work / "solved")
                candidate.append(time.perf_counter() - start)
                ratios.append(baseline[-1] / candidate[-1])
            agreement = _agreement(quadrants, theirs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = sum(len(c.extensions) for c in solved)
    notes = (
        f"{n} solved quadrants of {len(solved)} exposures; median of 3 alternated runs, ratios "
        f"{', '.join(f'×{r:.2f}' for r in ratios)}; rms per quadrant of the two agree: "
        f"{agreement}; BLAS 1 thread for both"
    )
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
            "astropy WCS + match_to_catalog_sky",
            "ztfnb quality (night_metrics)",
            float(np.median(baseline)) / n,
            float(np.median(candidate)) / n,
            notes,
        ),
    ]


def _astropy_rms(catalog, gaia, headers, clip=5.0):
    """Each quadrant's residual rms per axis through its solution, the astropy way: {rcid: (ra, dec)}."""
    config = MetricsConfig().match
    reference = field_reference(gaia, catalog, config.reference_mag_limit)
    stars = SkyCoord(reference["ra"], reference["dec"])
    result = {}
    for extension, header in zip(catalog.extensions, headers, strict=True):
        usable = usable_detections(extension.objects, config, columns=extension.columns)
        x, y = extension.columns.centroid(extension.objects)
        ra, dec = WCS(header).all_pix2world(x[usable], y[usable], 1)
        detected = SkyCoord(ra * u.deg, dec * u.deg)
        index, separation, _ = detected.match_to_catalog_sky(stars)
        near = separation < _RADIUS
        dra, ddec = detected[near].spherical_offsets_to(stars[index[near]])
        residual = np.column_stack([dra.to_value(u.arcsec), ddec.to_value(u.arcsec)])
        if len(residual) < 12:
            continue
        distance = np.hypot(*(residual - np.median(residual, axis=0)).T)
        spread = 1.4826 * np.median(np.abs(distance - np.median(distance)))
        kept = residual[distance <= np.median(distance) + clip * spread]
        about = kept - np.median(kept, axis=0)
        result[int(extension.rcid)] = tuple(np.sqrt(np.mean(about**2, axis=0)))
    return result


def _agreement(quadrants, theirs):
    """How closely the two rms per quadrant agree: the median and 95th percentile of |ratio − 1|."""
    ratio = []
    for row in quadrants:
        mine = theirs.get(str(row["exposure"]), {}).get(int(row["rcid"]))
        if mine is None or not np.isfinite(row["rms_ra"].value):
            continue
        ratio += [mine[0] / row["rms_ra"].value, mine[1] / row["rms_dec"].value]
    off = np.abs(np.array(ratio) - 1)
    return f"|ratio − 1| median {100 * np.median(off):.1f} %, 95th percentile {100 * np.percentile(off, 95):.1f} % over {off.size // 2} quadrants"


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
