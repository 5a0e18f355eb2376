"""Observing a source with the spectrometer: the line table and the regridded spectrum with noise.

What does not depend on the source — every channel's noise-equivalent flux
for an instrument and background — is computed once and kept, so that
`observe` answers in a few milliseconds and sliders feel instant.
"""

from collections import OrderedDict
from dataclasses import dataclass

import astropy.constants as const
import astropy.units as u
import numpy as np
from astropy.table import QTable
from scipy.special import erf

from ztfnb.ost.background import Background
from ztfnb.ost.resample import resample
from ztfnb.ost.sensitivity import (
    channel_nef,
    continuum_sensitivity,
    line_sensitivity,
    signal_to_noise,
)
from ztfnb.quantity import parse_quantity

__all__ = ["Observation", "observe"]

_CACHE = OrderedDict()
_BACKGROUND_CACHE = OrderedDict()
_CACHE_SIZE = 32
_SUBSAMPLES = 6  # continuum samples per channel
_C_KMS = const.c.to_value(u.km / u.s)


def _key(instrument, background):
    return (
        instrument.aperture.to_value(u.m),
        instrument.resolving_power,
        instrument.efficiency,
        instrument.telescope_temperature.to_value(u.K),
        instrument.emissivity,
        instrument.detector_nep.to_value(u.W / u.Hz**0.5),
        tuple((b.short.to_value(u.um), b.long.to_value(u.um)) for b in instrument.bands),
        instrument.area_per_diameter2,
        background.scale,
        background.cirrus_100um.to_value(u.MJy / u.sr),
    )


def _remembered(cache, key, compute):
    """``compute()`` once per key, the most recent ``_CACHE_SIZE`` kept."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = value = compute()
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _background_intensity(instrument, background):
    """The background on the channels: the same for every aperture, efficiency and detector NEP."""
    key = (
        instrument.resolving_power,
        tuple((b.short.to_value(u.um), b.long.to_value(u.um)) for b in instrument.bands),
        instrument.telescope_temperature.to_value(u.K),
        instrument.emissivity,
        background.scale,
        background.cirrus_100um.to_value(u.MJy / u.sr),
    )
    frequency = instrument.channels["centre"].to(u.Hz, u.spectral())
    return _remembered(_BACKGROUND_CACHE, key, lambda: background.intensity(frequency, instrument))


def _channels(instrument, background):
    """Per-channel noise and grids for an instrument and background, computed once."""
    return _remembered(
        _CACHE, _key(instrument, background), lambda: _compute_channels(instrument, background)
    )


def _compute_channels(instrument, background):
    noise = channel_nef(
        instrument, background, intensity=_background_intensity(instrument, background)
    )
    bands = []
    for band_edges in instrument.channels["edges"]:
        nu_edges = band_edges.to_value(u.Hz, u.spectral())[::-1]  # increasing frequency
        fine = np.exp(
            np.linspace(
                np.log(nu_edges[0]), np.log(nu_edges[-1]), (nu_edges.size - 1) * _SUBSAMPLES + 1
            )
        )
        bands.append((nu_edges, fine))
    return {"noise": noise, "bands": bands}


@dataclass
class Observation:
    """The result of `observe`.

    Attributes
    ----------
    lines : `~astropy.table.QTable`
        ``line, species, rest_wavelength, observed_wavelength, flux,
        sensitivity`` (5σ in the integration time), ``snr``, ``detected``,
        ``in_band`` and ``band``. Lines outside every band stay in the table,
        with ``in_band`` False and no S/N.
    spectrum : `~astropy.table.QTable`
        Per channel: ``wavelength, frequency, flux_density`` (continuum +
        lines, mJy), ``continuum``, ``noise`` (1σ, mJy), ``band``.
    integration_time : `~astropy.units.Quantity`
    """

    lines: QTable
    spectrum: QTable
    integration_time: u.Quantity


def _line_fractions(nu_edges, centre, sigma):
    """Share of each Gaussian line's flux in each channel (lines × channels)."""
    upper = erf((nu_edges[None, 1:] - centre[:, None]) / (np.sqrt(2) * sigma[:, None]))
    lower = erf((nu_edges[None, :-1] - centre[:, None]) / (np.sqrt(2) * sigma[:, None]))
    return 0.5 * (upper - lower)


def observe(source, instrument, integration_time, background=None):
    """Observe a source: per-line S/N and the spectrum on the instrument's channels.

    Parameters
    ----------
    source : `~ztfnb.ost.source.Source`
    instrument : `~ztfnb.ost.instrument.Spectrometer`
    integration_time : `~astropy.units.Quantity`
    background : `~ztfnb.ost.background.Background`, optional

    Returns
    -------
    `Observation`
    """
    background = background or Background()
    time = parse_quantity(integration_time, u.s, name="integration_time").to(u.s)
    if not time > 0 * u.s:
        raise ValueError(f"integration time must be positive, got {integration_time}")
    grids = _channels(instrument, background)
    noise = grids["noise"]
    lines = source.lines()
    line_nu = lines["observed_wavelength"].to_value(u.Hz, u.spectral())
    line_sigma = line_nu * lines["width"].to_value(u.km / u.s) / _C_KMS / np.sqrt(8 * np.log(2))
    line_flux = lines["flux"].to_value(u.W / u.m**2)

    continuum, total, captured = [], [], []
    for nu_edges, fine in grids["bands"]:
        density = source.flux_density(np.sqrt(fine[:-1] * fine[1:]) * u.Hz).to_value(u.mJy)
        band_continuum = resample(fine, density, nu_edges)
        widths = np.diff(nu_edges)
        fractions = _line_fractions(nu_edges, line_nu, line_sigma)
        captured.append(fractions.sum(axis=1))
        line_density = (
            (line_flux[:, None] * fractions).sum(axis=0) / widths / 1e-29
        )  # W m⁻² Hz⁻¹ → mJy
        continuum.append(band_continuum[::-1])  # back to increasing wavelength
        total.append((band_continuum + line_density)[::-1])
    continuum = np.concatenate(continuum) * u.mJy
    total = np.concatenate(total) * u.mJy
    sigma = continuum_sensitivity(noise["nef"], noise["bandwidth"], time, sigma=1.0)

    band = instrument.band_of(lines["observed_wavelength"])
    in_band = band >= 0
    # a line near a band's edge spills part of its flux beyond the band's last channel
    captured = np.where(in_band, np.array(captured)[np.maximum(band, 0), np.arange(band.size)], 0)
    channel = np.clip(
        np.searchsorted(
            noise["wavelength"].to_value(u.um), lines["observed_wavelength"].to_value(u.um)
        ),
        0,
        len(noise["wavelength"]) - 1,
    )
    nef = noise["nef"][channel]
    # a line broader than a channel spreads its flux over several, and their noise adds
    spread = np.maximum(1.0, 2.3548 * line_sigma / noise["bandwidth"].to_value(u.Hz)[channel])
    sensitivity = line_sensitivity(nef, time, channels=spread)
    snr = signal_to_noise(lines["flux"] * captured, nef, time, channels=spread)
    result = QTable(
        {
            "line": lines["line"],
            "species": lines["species"],
            "rest_wavelength": lines["rest_wavelength"].to(u.um),
            "observed_wavelength": lines["observed_wavelength"].to(u.um),
            "flux": lines["flux"].to(u.W / u.m**2),
            "sensitivity": np.where(in_band, sensitivity.value, np.nan) * sensitivity.unit,
            "snr": np.where(in_band, snr, np.nan),
            "detected": in_band & (snr >= 5),
            "in_band": in_band,
            "band": [instrument.bands[b].name if b >= 0 else "outside" for b in band],
        }
    )
    spectrum = QTable(
        {
            "wavelength": noise["wavelength"],
            "frequency": noise["frequency"],
            "flux_density": total,
            "continuum": continuum,
            "noise": sigma,
            "band": instrument.channels["band"],
        }
    )
    return Observation(result, spectrum, time)
