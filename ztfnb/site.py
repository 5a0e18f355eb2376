"""The observatory: Palomar's position, its weather and the refracted sky it sees.

Palomar's location is a constant (the geocentric position the ZTF pipeline
hard-codes), never ``EarthLocation.of_site``, which downloads a registry.
The weather defaults are typical of a Palomar night at 1,706 m; refraction
depends on them, most of all on the pressure (using sea-level pressure instead
of Palomar's leaves ≈0.4″ of error across a field at airmass 1.9).
"""

from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, EarthLocation, HADec, SkyCoord

__all__ = [
    "FILTER_WAVELENGTH",
    "PALOMAR",
    "WEATHER_KEYS",
    "Weather",
    "airmass",
    "filter_band",
    "has_weather",
    "observed_frame",
    "weather_from_header",
    "weather_note",
]

#: Palomar 48-inch (P48), geocentric, as the ZTF pipeline writes it.
PALOMAR = EarthLocation.from_geocentric(
    -2410346.78217658, -4758666.82504051, 3487942.97502457, unit=u.m
)

#: Effective wavelengths of the ZTF filters (g, r, i), used for refraction.
FILTER_WAVELENGTH = {
    "g": 0.48 * u.um,
    "r": 0.64 * u.um,
    "i": 0.79 * u.um,
}


def filter_band(name):
    """The band letter of a ZTF filter name: ``zr``, ``ZTF_r`` and ``r`` all give ``r``."""
    key = str(name).strip().lower().removeprefix("ztf_")
    if len(key) == 2 and key[0] == "z":
        key = key[1]
    return key


@dataclass(frozen=True)
class Weather:
    """Conditions that set atmospheric refraction.

    Parameters
    ----------
    pressure : `~astropy.units.Quantity`
        Air pressure at the telescope (default 830 hPa, Palomar's altitude).
    temperature : `~astropy.units.Quantity`
        Air temperature (default 8 °C).
    relative_humidity : float
        Relative humidity, 0–1 (default 0.3).
    wavelength : `~astropy.units.Quantity`
        Effective wavelength of the observation (default 0.64 µm, ZTF r).
    """

    pressure: u.Quantity = 830 * u.hPa
    temperature: u.Quantity = 8 * u.deg_C
    relative_humidity: float = 0.3
    wavelength: u.Quantity = 0.64 * u.um

    def with_filter(self, filter_name):
        """A copy at the effective wavelength of a ZTF filter (``zr``, ``ZTF_r``, ``r``…).

        Unknown filter names leave the wavelength unchanged.
        """
        band = filter_band(filter_name)
        if band not in FILTER_WAVELENGTH:
            return self
        return replace(self, wavelength=FILTER_WAVELENGTH[band])


#: The header keys `weather_from_header` reads the weather from (ZTF's names, then PTF's).
WEATHER_KEYS = ("PRESSURE", "TEMPTURE", "OUTTEMP", "HUMIDITY", "OUTRELHU")


def has_weather(header):
    """Whether a header carries any of the weather keys `weather_from_header` reads."""
    return any(header.get(key) is not None for key in WEATHER_KEYS)


def weather_note(header, default=None):
    """What a log should say when a header carries no weather, or ``""`` when it does.

    Refraction is then computed for ``default`` (Palomar's standard
    atmosphere, `Weather`), which a user should know: 1 % in pressure is
    1 % in the refraction constant (≈ 2 ppm of scale at the zenith).
    """
    if has_weather(header):
        return ""
    weather = default or Weather()
    return (
        "no weather in the header (PRESSURE, TEMPTURE, HUMIDITY): refraction for "
        f"{weather.pressure.to_value(u.hPa):.0f} hPa, "
        f"{weather.temperature.to_value(u.deg_C, equivalencies=u.temperature()):.0f} °C, "
        f"{weather.relative_humidity:.0%} humidity"
    )


def weather_from_header(header, default=None):
    """Read the weather from a ZTF (or PTF) image header, with defaults for missing keys.

    Parameters
    ----------
    header : `~astropy.io.fits.Header` or mapping
        Keys used when present: ``PRESSURE`` (hPa), ``TEMPTURE`` or ``OUTTEMP`` (°C),
        ``HUMIDITY`` or ``OUTRELHU`` (a fraction, or percent when above 1),
        ``FILTER`` (sets the wavelength).
    default : `Weather`, optional
        Values for missing keys (default: Palomar defaults).

    Returns
    -------
    `Weather`
    """
    weather = default or Weather()

    def number(*keys):
        for key in keys:
            value = header.get(key)
            if value is None or isinstance(value, bool):
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(value):
                return value
        return None

    pressure = number("PRESSURE")
    temperature = number("TEMPTURE", "OUTTEMP")
    humidity = number("HUMIDITY", "OUTRELHU")
    if pressure is not None and 500 < pressure < 1100:
        weather = replace(weather, pressure=pressure * u.hPa)
    if temperature is not None and -40 < temperature < 50:
        weather = replace(weather, temperature=temperature * u.deg_C)
    if humidity is not None and humidity >= 0:
        fraction = humidity / 100 if humidity > 1 else humidity
        weather = replace(weather, relative_humidity=min(fraction, 1.0))
    if header.get("FILTER") is not None:
        weather = weather.with_filter(header.get("FILTER"))
    return weather


def observed_frame(obstime, weather=None, location=PALOMAR):
    """The topocentric hour-angle/declination frame of the refracted sky.

    An equatorial mount such as the P48's turns about these axes, so the
    camera sees the sky projected about its pointing in this frame.

    Parameters
    ----------
    obstime : `~astropy.time.Time`
    weather : `Weather`, optional
        ``None`` gives the Palomar defaults.
    location : `~astropy.coordinates.EarthLocation`, optional

    Returns
    -------
    `~astropy.coordinates.HADec`
    """
    weather = weather or Weather()
    return HADec(
        obstime=obstime,
        location=location,
        pressure=weather.pressure,
        temperature=weather.temperature,
        relative_humidity=weather.relative_humidity,
        obswl=weather.wavelength,
    )


def airmass(coord, obstime, location=PALOMAR):
    """Plane-parallel airmass (sec z, unrefracted) of sky positions at a time.

    Parameters
    ----------
    coord : `~astropy.coordinates.SkyCoord`
    obstime : `~astropy.time.Time`
    location : `~astropy.coordinates.EarthLocation`, optional

    Returns
    -------
    `~numpy.ndarray` or float
        ``nan`` below the horizon.
    """
    if not isinstance(coord, SkyCoord):
        coord = SkyCoord(coord)
    altaz = coord.transform_to(AltAz(obstime=obstime, location=location))
    secz = np.asarray(altaz.secz.to_value(u.one))
    return np.where(altaz.alt > 0 * u.deg, secz, np.nan)
