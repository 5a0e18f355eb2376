"""ztfnb: Jupyter-first astrometry, timing and spectrometer-simulation reports.

Importing the package freezes astropy's Earth-orientation (IERS) handling so
that no code path ever downloads anything: see :mod:`ztfnb.offline`.
"""

from ztfnb._version import __version__
from ztfnb.offline import freeze_iers

freeze_iers()

__all__ = ["__version__", "freeze_iers"]
