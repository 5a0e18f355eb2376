"""The Origins Survey Spectrometer (OSS): bands, channels, telescope, detectors.

Figures from the Origins study (Leisawitz et al. 2021; Bradford et al. 2018):
25–588 µm in six logarithmically spaced grating modules at R ≈ 300; a 5.9 m
telescope at 4.5 K with 25 m² of collecting area (Concept 2, the baseline) or
9.1 m at ≈4 K (Concept 1); detectors with NEP ≈ 3×10⁻²⁰ W/√Hz, photon-limited
by zodiacal light and Galactic dust. Efficiency and emissivity are our
assumptions (stated on the class).
"""

from dataclasses import dataclass, replace
from functools import cached_property

import astropy.units as u
import numpy as np

from ztfnb.quantity import parse_quantity

__all__ = ["CONCEPTS", "Band", "Spectrometer"]


@dataclass(frozen=True)
class Band:
    """One grating module."""

    name: str
    short: u.Quantity
    long: u.Quantity

    def contains(self, wavelength):
        wavelength = u.Quantity(wavelength, u.um)
        return (wavelength >= self.short) & (wavelength < self.long)


def _log_bands(short=25 * u.um, long=588 * u.um, count=6):
    edges = np.geomspace(short.to_value(u.um), long.to_value(u.um), count + 1)
    return tuple(Band(f"band {i + 1}", edges[i] * u.um, edges[i + 1] * u.um) for i in range(count))


@dataclass(frozen=True)
class Spectrometer:
    """A far-IR grating spectrometer on a cold telescope.

    Parameters
    ----------
    aperture : `~astropy.units.Quantity`
        Primary mirror diameter (default 5.9 m).
    resolving_power : float
        λ/Δλ of a channel (default 300).
    efficiency : float
        Total optical efficiency times detector quantum efficiency (assumed 0.25).
    telescope_temperature : `~astropy.units.Quantity`
    emissivity : float
        Of the telescope (assumed 0.05).
    detector_nep : `~astropy.units.Quantity`
        W/√Hz (default 3×10⁻²⁰).
    bands : tuple of `Band`
        Default: six logarithmic modules over 25–588 µm.
    area_per_diameter2 : float
        Collecting area over D²: 25 m² / (5.9 m)², the baseline's obscuration.
    """

    aperture: u.Quantity = 5.9 * u.m
    resolving_power: float = 300.0
    efficiency: float = 0.25
    telescope_temperature: u.Quantity = 4.5 * u.K
    emissivity: float = 0.05
    detector_nep: u.Quantity = 3e-20 * u.W / u.Hz**0.5
    bands: tuple = _log_bands()
    area_per_diameter2: float = 25.0 / 5.9**2

    def __post_init__(self):
        object.__setattr__(
            self,
            "aperture",
            parse_quantity(self.aperture, "length", name="aperture", default_unit=u.m),
        )
        object.__setattr__(
            self,
            "telescope_temperature",
            parse_quantity(self.telescope_temperature, u.K, name="telescope_temperature"),
        )
        object.__setattr__(
            self,
            "detector_nep",
            parse_quantity(self.detector_nep, u.W / u.Hz**0.5, name="detector_nep"),
        )
        if not self.resolving_power > 0:
            raise ValueError(f"resolving_power must be positive, got {self.resolving_power}")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if not self.aperture > 0 * u.m:
            raise ValueError(f"aperture must be positive, got {self.aperture}")

    @classmethod
    def concept(cls, name, **changes):
        """Concept 1 (9.1 m, 4 K) or Concept 2 (5.9 m, 4.5 K), with optional changes."""
        key = str(name).lower().replace(" ", "").replace("_", "")
        if key not in CONCEPTS:
            raise ValueError(f"unknown concept {name!r}; one of {', '.join(CONCEPTS)}")
        return replace(CONCEPTS[key], **changes)

    def with_(self, **changes):
        """A copy with some parameters changed."""
        return replace(self, **changes)

    @property
    def area(self):
        """Collecting area."""
        return (self.area_per_diameter2 * self.aperture**2).to(u.m**2)

    def beam(self, wavelength):
        """Diffraction-limited beam FWHM, 1.2 λ/D."""
        return (1.2 * u.Quantity(wavelength, u.um) / self.aperture).to(
            u.arcsec, u.dimensionless_angles()
        )

    def band_of(self, wavelength):
        """Index of the band holding each wavelength, −1 outside all bands."""
        wavelength = u.Quantity(wavelength, u.um)
        index = np.full(np.shape(wavelength), -1)
        for i, band in enumerate(self.bands):
            index = np.where((index < 0) & band.contains(wavelength), i, index)
        return index

    @cached_property
    def channels(self):
        """Channel edges and centres: one resolution element each, log-spaced, covering each band.

        Returns
        -------
        dict
            ``edges`` (list of Quantity arrays per band), ``centre``,
            ``width`` (Δν) and ``band`` (index) for all channels.
        """
        step = np.log1p(1 / self.resolving_power)
        edges, centres, widths, bands = [], [], [], []
        for i, band in enumerate(self.bands):
            # a whole number of channels covers the band from edge to edge (as a detector
            # array does), each within half a channel's share of λ/R
            span = np.log(band.long / band.short).to_value(u.one)
            count = max(1, round(span / step))
            band_edges = np.geomspace(
                band.short.to_value(u.um), band.long.to_value(u.um), count + 1
            )
            edges.append(band_edges * u.um)
            centres.append(np.sqrt(band_edges[:-1] * band_edges[1:]))
            nu = (band_edges * u.um).to_value(u.Hz, u.spectral())
            widths.append(nu[:-1] - nu[1:])
            bands.append(np.full(count, i))
        return {
            "edges": edges,
            "centre": np.concatenate(centres) * u.um,
            "width": np.concatenate(widths) * u.Hz,
            "band": np.concatenate(bands),
        }


CONCEPTS = {
    "concept1": Spectrometer(aperture=9.1 * u.m, telescope_temperature=4.0 * u.K),
    "concept2": Spectrometer(aperture=5.9 * u.m, telescope_temperature=4.5 * u.K),
}
