"""The far-IR background a cold telescope looks through, as intensities with units.

Components (astropy's `~astropy.modeling.physical_models.BlackBody` throughout):

- zodiacal light: a 265 K greybody, emissivity 10⁻⁷ (≈ the ecliptic-pole level);
- Galactic cirrus: a modified blackbody, 17.5 K, β = 2, 1 MJy/sr at 100 µm
  (a clean, high-latitude field);
- cosmic infrared background: a 30 K greybody, 2.25×10⁻⁶;
- cosmic microwave background: a 2.725 K blackbody;
- the telescope's own emission: a greybody at its temperature and emissivity
  (from the `~ztfnb.ost.instrument.Spectrometer`).

``scale`` multiplies the astrophysical foregrounds (zodiacal light and
cirrus), the part that changes from field to field.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.modeling.physical_models import BlackBody

__all__ = ["Background"]

_UNIT = u.MJy / u.sr


def _greybody(frequency, temperature, emissivity, beta=0.0, reference=None):
    intensity = BlackBody(temperature=temperature, scale=1.0 * _UNIT)(frequency).to(_UNIT)
    factor = emissivity
    if beta:
        factor = factor * (frequency / reference.to(u.Hz, u.spectral())) ** beta
    return intensity * factor


@dataclass(frozen=True)
class Background:
    """Sky and telescope background.

    Parameters
    ----------
    scale : float
        Multiplies zodiacal light and cirrus (1 = a clean high-latitude field).
    cirrus_100um : `~astropy.units.Quantity`
        Cirrus intensity at 100 µm.
    """

    scale: float = 1.0
    cirrus_100um: u.Quantity = 1.0 * _UNIT

    def components(self, frequency, instrument):
        """Each component's intensity at the given frequencies (MJy/sr).

        Returns
        -------
        dict
        """
        frequency = u.Quantity(frequency, u.Hz)
        cirrus_shape = _greybody(frequency, 17.5 * u.K, 1.0, beta=2.0, reference=100 * u.um)
        at_100 = _greybody(
            (100 * u.um).to(u.Hz, u.spectral()), 17.5 * u.K, 1.0, beta=2.0, reference=100 * u.um
        )
        return {
            "zodiacal light": self.scale * _greybody(frequency, 265 * u.K, 1e-7),
            "cirrus": self.scale * cirrus_shape * (self.cirrus_100um / at_100).to(u.one),
            "cosmic infrared background": _greybody(frequency, 30 * u.K, 2.25e-6),
            "CMB": _greybody(frequency, 2.725 * u.K, 1.0),
            "telescope": _greybody(
                frequency, instrument.telescope_temperature, instrument.emissivity
            ),
        }

    def intensity(self, frequency, instrument):
        """Total background intensity (MJy/sr)."""
        parts = self.components(frequency, instrument)
        return np.sum(u.Quantity(list(parts.values())), axis=0)
