"""OST observe(): with the source-independent noise precomputed, against computing it every time."""

import sys

import astropy.units as u
import numpy as np

from benchmarks.timing import Comparison, best_time
from ztfnb.ost import Spectrometer, StarburstGalaxy, observe
from ztfnb.ost.simulator import OSTSimulator


def run():
    instrument = Spectrometer()
    redshifts = iter(np.linspace(0.5, 7.5, 10_000))

    def cold():
        caches = sys.modules["ztfnb.ost.observe"]
        caches._CACHE.clear()
        caches._BACKGROUND_CACHE.clear()
        observe(StarburstGalaxy(next(redshifts)), instrument, 1 * u.h)

    apertures = iter(np.linspace(4.0, 12.0, 10_000))

    def new_aperture():  # an aperture slider move: the channels' background is kept
        observe(StarburstGalaxy(2.0), Spectrometer(aperture=next(apertures) * u.m), 1 * u.h)

    def warm():
        observe(StarburstGalaxy(next(redshifts)), instrument, 1 * u.h)

    warm()
    model = OSTSimulator()

    def slider():  # what a redshift slider move costs the model
        model.set(redshift=float(next(redshifts)))
        model.result()

    baseline = best_time(cold, repeat=10)
    candidate = best_time(warm, repeat=20)
    moved = best_time(slider, repeat=20)
    aperture = best_time(new_aperture, repeat=20)
    return [
        Comparison(
            "observe() a new starburst (948 channels, 22 lines)",
            "noise recomputed",
            "noise precomputed",
            baseline,
            candidate,
            f"target ≤ 20 ms; a slider move in the model {1000 * moved:.1f} ms",
        ),
        Comparison(
            "observe() at a new aperture",
            "noise recomputed",
            "background kept, noise recomputed",
            baseline,
            aperture,
            "an aperture or integration-time slider move",
        ),
    ]
