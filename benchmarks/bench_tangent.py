"""Tangent-plane projection: unit vectors against astropy's 1-degree-pixel WCS (ZTF's method)."""

import astropy.units as u
import numpy as np

from benchmarks.timing import Comparison, best_time
from ztfnb.tangent import gnomonic, gnomonic_inverse, tangent_plane_wcs


def run():
    rng = np.random.default_rng(0)
    centre = (0.3, 45.0)
    ra, dec = gnomonic_inverse(rng.uniform(-4, 4, 100_000), rng.uniform(-4, 4, 100_000), *centre)
    wcs = tangent_plane_wcs(np.array(centre) * u.deg)
    baseline = best_time(lambda: wcs.wcs_world2pix(ra, dec, 1))
    candidate = best_time(lambda: gnomonic(ra, dec, *centre))
    return [
        Comparison(
            "project 1e5 stars",
            "astropy WCS, 1-deg pixels",
            "ztfnb.tangent.gnomonic",
            baseline,
            candidate,
            "agreement < 1 µas (tests/test_tangent.py)",
        )
    ]
