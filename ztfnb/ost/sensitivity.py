"""Photon-noise sensitivity of a grating spectrometer, every quantity with its unit.

The recipe of the original OST tool (Shupe et al. 2018):

- photon occupation number of the background per mode,
  ``n̄ = c² I_ν / (2 h ν³)`` (per steradian of I_ν, times one steradian of
  étendue-per-λ²: dimensionless — asserted);
- photon noise per channel, ``NEP = h ν √(Δν n̄ (n̄ + 1)) · √2`` with
  ``Δν = ν / R`` (W Hz^-1/2 — asserted), where n̄ is the occupation the
  detector sees — the sky's and telescope's times the efficiency η, since
  only those photons are detected — combined in quadrature with the
  detector's NEP;
- noise-equivalent flux ``NEF = NEP / (η A)`` (W m⁻² Hz^-1/2);
- 5σ line sensitivity in a time t, ``5 NEF / √(2 t)`` (W m⁻²; an NEP is
  defined for half a second of integration), and continuum sensitivity, that
  divided by the channel width (mJy). S/N grows as √t.
"""

import astropy.constants as const
import astropy.units as u
import numpy as np

__all__ = [
    "channel_nef",
    "continuum_sensitivity",
    "line_sensitivity",
    "occupation_number",
    "photon_nep",
    "signal_to_noise",
]

NEP_UNIT = u.W / u.Hz**0.5
NEF_UNIT = u.W / u.m**2 / u.Hz**0.5


def _require(quantity, unit, what):
    """Refuse a quantity whose unit is not the expected one: the tool's own checks."""
    if not quantity.unit.is_equivalent(unit):
        raise u.UnitsError(f"{what} has unit {quantity.unit}, expected {unit}")
    return quantity.to(unit)


def occupation_number(intensity, frequency):
    """Background photons per mode, n̄ = c² I_ν / (2 h ν³), dimensionless.

    Parameters
    ----------
    intensity : `~astropy.units.Quantity`
        Specific intensity, e.g. MJy/sr.
    frequency : `~astropy.units.Quantity`
    """
    intensity = _require(u.Quantity(intensity), u.W / u.m**2 / u.Hz / u.sr, "intensity")
    frequency = _require(u.Quantity(frequency), u.Hz, "frequency")
    occupation = const.c**2 * intensity / (2 * const.h * frequency**3) * u.sr  # one mode: A Ω = λ²
    return _require(occupation.decompose(), u.dimensionless_unscaled, "occupation number")


def photon_nep(occupation, frequency, resolving_power):
    """Photon-noise NEP of one channel, h ν √(Δν n̄ (n̄+1)) √2 with Δν = ν/R (W/√Hz)."""
    frequency = _require(u.Quantity(frequency), u.Hz, "frequency")
    occupation = _require(u.Quantity(occupation), u.dimensionless_unscaled, "occupation number")
    bandwidth = frequency / resolving_power
    nep = const.h * frequency * np.sqrt(bandwidth * occupation * (occupation + 1)) * np.sqrt(2)
    return _require(nep, NEP_UNIT, "photon NEP")


def channel_nef(instrument, background, wavelength=None, intensity=None):
    """Noise-equivalent flux of every channel (or of given wavelengths).

    Parameters
    ----------
    instrument : `~ztfnb.ost.instrument.Spectrometer`
    background : `~ztfnb.ost.background.Background`
    wavelength : `~astropy.units.Quantity`, optional
        Default: the channels' centres.
    intensity : `~astropy.units.Quantity`, optional
        The background's intensity at those wavelengths, when already known
        (it does not depend on the aperture, the efficiency or the detectors).

    Returns
    -------
    dict
        ``wavelength, frequency, bandwidth, occupation`` (at the detector),
        ``photon_nep, nep, nef``.
    """
    wavelength = (
        instrument.channels["centre"] if wavelength is None else u.Quantity(wavelength, u.um)
    )
    frequency = wavelength.to(u.Hz, u.spectral())
    if intensity is None:
        intensity = background.intensity(frequency, instrument)
    occupation = instrument.efficiency * occupation_number(intensity, frequency)
    photon = photon_nep(occupation, frequency, instrument.resolving_power)
    nep = np.sqrt(photon**2 + instrument.detector_nep**2)
    nef = _require(nep / (instrument.efficiency * instrument.area), NEF_UNIT, "NEF")
    return {
        "wavelength": wavelength,
        "frequency": frequency,
        "bandwidth": frequency / instrument.resolving_power,
        "occupation": occupation,
        "photon_nep": photon,
        "nep": nep,
        "nef": nef,
    }


def line_sensitivity(nef, integration_time, sigma=5.0, channels=1.0):
    """Line flux reaching ``sigma`` in a time (W m⁻²), spread over ``channels`` channels."""
    time = _require(u.Quantity(integration_time), u.s, "integration time")
    flux = sigma * nef * np.sqrt(channels) / np.sqrt(2 * time)
    return _require(flux, u.W / u.m**2, "line sensitivity")


def continuum_sensitivity(nef, bandwidth, integration_time, sigma=5.0):
    """Flux density reaching ``sigma`` in one channel in a time (mJy)."""
    return _require(
        line_sensitivity(nef, integration_time, sigma) / u.Quantity(bandwidth, u.Hz),
        u.mJy,
        "continuum sensitivity",
    )


def signal_to_noise(flux, nef, integration_time, channels=1.0):
    """S/N of a line flux: F √(2t) / (NEF √channels) — proven dimensionless."""
    flux = _require(u.Quantity(flux), u.W / u.m**2, "line flux")
    time = _require(u.Quantity(integration_time), u.s, "integration time")
    ratio = flux * np.sqrt(2 * time) / (nef * np.sqrt(channels))
    return _require(ratio.decompose(), u.dimensionless_unscaled, "S/N").value
