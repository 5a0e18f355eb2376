"""A simulated ZTF night in real formats, with its truth.

See :func:`simulate_night` and the command ``ztfnb simulate``.
"""

from ztfnb.simulate.night import NightParameters, ensure_night, simulate_night
from ztfnb.simulate.truth import TrueMapping

__all__ = ["NightParameters", "TrueMapping", "ensure_night", "simulate_night"]
