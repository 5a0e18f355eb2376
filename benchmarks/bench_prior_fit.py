"""Prior fit: ztfnb's joint fit over 3 exposures against astropy's fit_wcs_from_points (SIP 3) per quadrant."""

import time

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.wcs.utils import fit_wcs_from_points

from benchmarks.nights import night
from benchmarks.timing import Comparison, best_time
from ztfnb.analyses.prior import ahead_accuracy, choose_calibration
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.match import match_catalog
from ztfnb.prior import ahead_headers, fit_prior, refine_pointing
from ztfnb.reference import FIELD_RADIUS, reference_at_epoch, select_cone
from ztfnb.simulate import TrueMapping


def _sip_worst(catalog, pairs, reference, truth, grid=13):
    """Fit SIP-3 per quadrant on the matched stars; worst error on a grid against the truth."""
    axes = np.linspace(0.5, 3072.5, grid), np.linspace(0.5, 3080.5, grid)
    gx, gy = (a.ravel() for a in np.meshgrid(*axes))
    worst, seconds = [], 0.0
    for extension in catalog.extensions:
        mine = np.asarray(pairs["rcid"]) == extension.rcid
        ref = np.asarray(pairs["ref_index"])[mine]
        sky = SkyCoord(reference["ra"][ref], reference["dec"][ref])
        start = time.perf_counter()
        wcs = fit_wcs_from_points(
            (pairs["x"][mine].value - 1, pairs["y"][mine].value - 1), sky, sip_degree=3
        )
        seconds += time.perf_counter() - start
        ra, dec = wcs.all_pix2world(gx - 1, gy - 1, 0)
        worst.append(
            SkyCoord(ra * u.deg, dec * u.deg)
            .separation(truth.pixel_to_sky(extension.rcid, gx, gy))
            .arcsec.max()
        )
    return np.array(worst), seconds


def run():
    folder = night(seed=31, exposures=4)
    exposures = QTable.read(folder / "exposures.ecsv")
    calibration = choose_calibration(exposures, 3)
    gaia = read_gaia(folder / "gaia.fits")
    catalogs = [read_exposure(folder / f"{n}.ldac") for n in calibration]
    stars = sum(len(e.objects) for c in catalogs for e in c.extensions)
    fit = None

    def fit_once():
        nonlocal fit
        fit = fit_prior(catalogs, gaia)

    candidate = best_time(fit_once, repeat=2)

    # the baseline on one exposure's matched stars (its 64 fits), times 3 for the same data
    catalog = catalogs[0]
    reference = reference_at_epoch(
        select_cone(gaia, catalog.pointing, FIELD_RADIUS), catalog.mid_time
    )
    pairs = match_catalog(catalog, reference)
    truth = TrueMapping.read(folder / "truth" / f"{catalog.name}.fits")
    sip_worst, sip_seconds = _sip_worst(catalog, pairs, reference, truth)
    baseline = 3 * sip_seconds

    prior_worst = []
    for row in exposures:
        target = read_exposure(folder / f"{row['exposure']}.ldac")
        terms = refine_pointing(fit.model, target, gaia)
        quality = ahead_accuracy(
            ahead_headers(fit.model, target, terms),
            target,
            TrueMapping.read(folder / "truth" / f"{row['exposure']}.fits"),
        )
        prior_worst.append(
            (row["airmass"], quality["worst"].max().value, row["exposure"] in calibration)
        )
    held = [w for _, w, c in prior_worst if not c]
    notes = (
        f'{stars} detections, {len(pairs)} pairs/exposure; SIP-3 in-sample worst {sip_worst.max():.3f}" (median {np.median(sip_worst):.3f}"), '
        f'{sip_seconds / 64:.3f} s/quadrant; prior worst {max(w for _, w, _ in prior_worst):.3f}" on all 4 exposures, '
        f'held-back {max(held):.3f}" at airmass {max(a for a, _, c in prior_worst if not c):.2f}'
    )
    return [
        Comparison(
            "prior fit, 3 exposures x 64 quadrants",
            "fit_wcs_from_points SIP-3 x192",
            "ztfnb fit_prior (+matching)",
            baseline,
            candidate,
            notes,
        )
    ]
