"""Remake the README's figures that are drawn from ztfnb's own functions alone (no night needed).

    python docs/make_figures.py

The OST figures: the notebook 03 defaults (a 10¹² L☉ starburst at z = 2, one
hour with the 5.9 m telescope, R = 300, the detectability map at 80 redshifts
from 0.1 to 8). The night's figures come from the reports `make reports` writes.
"""

from pathlib import Path

import astropy.units as u
import numpy as np

from ztfnb.analyses.ost import ost_report
from ztfnb.plots import ost as ost_plots

FIGURES = Path(__file__).parent / "figures"


def ost_figures(folder=FIGURES):
    report = ost_report(
        redshift=2.0,
        luminosity=1e12 * u.Lsun,
        aperture=5.9 * u.m,
        integration_time=1 * u.h,
        map_redshifts=np.linspace(0.1, 8, 80),
    )
    title = "L_IR = 1e12 solLum at z = 2.0, 5.9 m, R = 300, 1 h"
    ost_plots.plot_spectrum(report.observation, title).savefig(folder / "ost_spectrum.png", dpi=100)
    ost_plots.plot_detectability(report.detectability).savefig(
        folder / "ost_detectability.png", dpi=100
    )


if __name__ == "__main__":
    ost_figures()
