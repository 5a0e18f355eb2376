"""A night's exposures: when, where, at what airmass and in which weather.

Exposures are spread over the astronomical night (Sun below −18°) at Palomar
and over airmass 1.0–2.2. With four exposures or more one field straddles
RA = 0, with five or more one lies near the celestial pole, because both
break naive code.

`revisit` makes each planned field's visit a run of exposures in a row, as
ZTF revisits its fields (and as a co-add needs).
"""

from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord, get_sun
from astropy.time import Time

from ztfnb.site import PALOMAR, Weather, airmass

__all__ = ["REVISIT_GAP", "PlannedExposure", "astronomical_night", "plan_night", "revisit"]

#: Time between the end of one visit of a field and the start of the next: ZTF's read-out.
REVISIT_GAP = 15 * u.s

_LATITUDE = PALOMAR.lat.rad
_FILTERS = ("zg", "zr", "zr", "zi")  # r is ZTF's most used filter


@dataclass(frozen=True)
class PlannedExposure:
    """Everything the simulator needs to know about one exposure.

    Attributes
    ----------
    name : str
        ZTF-style name, ``ztf_<YYYYMMDD><day fraction>_<field>_<filter>``.
    field_id : int
    filter : str
    start : `~astropy.time.Time`
        Shutter open (UTC).
    exptime : `~astropy.units.Quantity`
    target : `~astropy.coordinates.SkyCoord`
        Commanded pointing (what the header calls TELRAD, TELDECD).
    kind : str
        ``survey``, ``ra_wrap`` or ``polar``.
    weather : `~ztfnb.site.Weather`
        True conditions.
    reported_weather : `~ztfnb.site.Weather`
        What the weather station writes in the header (measured, with its errors).
    pointing_error : tuple of float
        Offset (xi, eta) of the optical axis from the target, arcseconds.
    rotation : float
        Camera rotation about the axis, degrees.
    fwhm : `~astropy.units.Quantity`
        Seeing.
    """

    name: str
    field_id: int
    filter: str
    start: Time
    exptime: u.Quantity
    target: SkyCoord
    kind: str
    weather: Weather
    reported_weather: Weather
    pointing_error: tuple
    rotation: float
    fwhm: u.Quantity

    @property
    def mid_time(self):
        """Middle of the exposure, when positions are measured."""
        return self.start + self.exptime / 2

    @property
    def airmass(self):
        """The telescope's airmass: sec z of the target at shutter open."""
        return float(airmass(self.target, self.start))


def astronomical_night(date, step=5 * u.min):
    """Start and end (UTC) of the night (Sun below −18°) at Palomar beginning on a UT date.

    Parameters
    ----------
    date : str
        UT date, ``YYYY-MM-DD``; the night is the dark interval within it.
    step : `~astropy.units.Quantity`

    Returns
    -------
    start, end : `~astropy.time.Time`
    """
    times = (
        Time(f"{date}T00:00:00", scale="utc") + np.arange(0, 24 * 60, step.to_value(u.min)) * u.min
    )
    sun = get_sun(times).transform_to(AltAz(obstime=times, location=PALOMAR))
    dark = np.flatnonzero(sun.alt < -18 * u.deg)
    if dark.size == 0:
        raise ValueError(f"no astronomical night at Palomar on {date}")
    # the first contiguous dark interval of the UT day
    breaks = np.flatnonzero(np.diff(dark) > 1)
    last = dark[breaks[0]] if breaks.size else dark[-1]
    return times[dark[0]], times[last]


def _local_sidereal_deg(time):
    return time.sidereal_time("mean", longitude=PALOMAR.lon).deg


def _dec_for_airmass(hour_angle_deg, target_airmass):
    """Declination (deg) that reaches an airmass at an hour angle, or the best it can."""
    cos_z = 1.0 / target_airmass
    a = np.sin(_LATITUDE)
    b = np.cos(_LATITUDE) * np.cos(np.deg2rad(hour_angle_deg))
    radius = np.hypot(a, b)
    psi = np.arctan2(b, a)
    ratio = np.clip(cos_z / radius, -1, 1)
    candidates = np.rad2deg([np.arcsin(ratio) - psi, np.pi - np.arcsin(ratio) - psi])
    candidates = (candidates + 180) % 360 - 180
    valid = candidates[(candidates > -28) & (candidates < 89.5)]
    return float(valid.max()) if valid.size else float(np.rad2deg(np.pi / 2 - psi))


def _hour_angle_for_airmass(dec_deg, target_airmass):
    """Hour angle (deg, ≥ 0) at which a declination reaches an airmass, or the nearest possible."""
    dec = np.deg2rad(dec_deg)
    cos_h = (1.0 / target_airmass - np.sin(_LATITUDE) * np.sin(dec)) / (
        np.cos(_LATITUDE) * np.cos(dec)
    )
    return float(np.rad2deg(np.arccos(np.clip(cos_h, -1, 1))))


def _survey_target(time, target_airmass, rng):
    """A random direction at the given airmass, above the survey's southern limit."""
    altitude = np.rad2deg(np.arcsin(min(1.0, 1.0 / target_airmass)))
    for _ in range(200):
        azimuth = rng.uniform(0, 360)
        coord = SkyCoord(
            AltAz(az=azimuth * u.deg, alt=altitude * u.deg, obstime=time, location=PALOMAR)
        ).icrs
        if coord.dec.deg > -25:
            return SkyCoord(coord.ra, coord.dec, frame="icrs")
    raise RuntimeError("could not find a pointing at the requested airmass")


def _ra_wrap_target(time, target_airmass, rng):
    ra = float(rng.choice([rng.uniform(0.2, 1.5), rng.uniform(358.5, 359.8)]))
    hour_angle = (_local_sidereal_deg(time) - ra + 180) % 360 - 180
    return SkyCoord(ra * u.deg, _dec_for_airmass(hour_angle, target_airmass) * u.deg, frame="icrs")


def _polar_target(time, target_airmass, rng):
    dec = rng.uniform(78.0, 82.0)
    hour_angle = _hour_angle_for_airmass(dec, target_airmass) * rng.choice([-1, 1])
    ra = (_local_sidereal_deg(time) - hour_angle) % 360
    return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")


def _exposure_name(start, field_id, filter_name):
    day = start.strftime("%Y%m%d")
    fraction = int((start.mjd % 1) * 1e6)
    return f"ztf_{day}{fraction:06d}_{field_id:06d}_{filter_name}"


def plan_night(n_exposures, rng, date="2023-10-17", exptime=30 * u.s):
    """Plan a night's exposures.

    Parameters
    ----------
    n_exposures : int
    rng : `numpy.random.Generator`
    date : str
        UT date of the night.
    exptime : `~astropy.units.Quantity`

    Returns
    -------
    list of `PlannedExposure`
        In time order.
    """
    if n_exposures < 1:
        raise ValueError(f"need at least one exposure, got {n_exposures}")
    night_start, night_end = astronomical_night(date)
    span = (night_end - night_start).to_value(u.s)
    offsets = np.sort(rng.uniform(0.02, 0.98, n_exposures)) * span
    starts = [night_start + offset * u.s for offset in offsets]
    airmasses = (
        rng.permutation(np.linspace(1.02, 2.2, n_exposures)) if n_exposures > 1 else np.array([1.3])
    )

    kinds = ["survey"] * n_exposures
    if n_exposures >= 4:
        # RA = 0 transits closest to the middle of the night in autumn; choose the best-placed slot
        lst = np.array([_local_sidereal_deg(start) for start in starts])
        kinds[int(np.argmin(np.abs((lst + 180) % 360 - 180)))] = "ra_wrap"
    if n_exposures >= 5:
        free = [i for i, kind in enumerate(kinds) if kind == "survey"]
        polar_slot = free[int(np.argmin(np.abs(airmasses[free] - 1.8)))]
        kinds[polar_slot] = "polar"
        airmasses[polar_slot] = max(
            airmasses[polar_slot], 1.5
        )  # Dec +80° never rises above X ≈ 1.46 here

    chooser = {"survey": _survey_target, "ra_wrap": _ra_wrap_target, "polar": _polar_target}
    exposures = []
    for index, (start, target_airmass, kind) in enumerate(
        zip(starts, airmasses, kinds, strict=True)
    ):
        target = chooser[kind](start, float(target_airmass), rng)
        filter_name = str(rng.choice(_FILTERS))
        field_id = int(rng.integers(245, 880)) if kind == "survey" else (1001 + index)
        weather = Weather(
            pressure=rng.normal(830.0, 3.0) * u.hPa,
            temperature=rng.normal(8.0, 3.0) * u.deg_C,
            relative_humidity=float(rng.uniform(0.1, 0.6)),
        ).with_filter(filter_name)
        reported = Weather(
            pressure=(weather.pressure.to_value(u.hPa) + rng.normal(0, 0.5)) * u.hPa,
            temperature=(weather.temperature.to_value(u.deg_C) + rng.normal(0, 0.3)) * u.deg_C,
            relative_humidity=float(np.clip(weather.relative_humidity + rng.normal(0, 0.03), 0, 1)),
        ).with_filter(filter_name)
        exposures.append(
            PlannedExposure(
                name=_exposure_name(start, field_id, filter_name),
                field_id=field_id,
                filter=filter_name,
                start=start,
                exptime=exptime,
                target=target,
                kind=kind,
                weather=weather,
                reported_weather=reported,
                pointing_error=tuple(rng.normal(0, 20.0 / np.sqrt(2), 2)),
                rotation=float(rng.normal(0, 0.003)),
                fwhm=2.0
                * float(target_airmass) ** 0.6
                * float(np.exp(rng.normal(0, 0.1)))
                * u.arcsec,
            )
        )
    return exposures


def revisit(plan, visits, seed, stream):
    """Each planned exposure followed by ``visits − 1`` more of its field, in a row.

    A revisit starts `REVISIT_GAP` after the previous visit ends and has the
    same field, target, filter and weather, its own name and time (so its own
    airmass), and its own pointing error, camera rotation and seeing, drawn as
    `plan_night` draws them (the seeing at the revisit's airmass) from the
    stream ``np.random.default_rng([seed, index, stream])`` of the planned
    exposure ``index``.

    Parameters
    ----------
    plan : list of `PlannedExposure`
    visits : int
        Exposures per field, ≥ 1 (1 returns the plan).
    seed : int
    stream : int

    Returns
    -------
    exposures : list of `PlannedExposure`
    fields : list of int
        For each exposure, the index in ``plan`` of its field's first visit.
    """
    exposures, fields = [], []
    for index, first in enumerate(plan):
        exposures.append(first)
        fields.append(index)
        rng = np.random.default_rng([seed, index, stream]) if visits > 1 else None
        for visit in range(1, visits):
            start = first.start + visit * (first.exptime + REVISIT_GAP)
            fwhm = (
                2.0
                * float(airmass(first.target, start)) ** 0.6
                * float(np.exp(rng.normal(0, 0.1)))
                * u.arcsec
            )
            exposures.append(
                replace(
                    first,
                    name=_exposure_name(start, first.field_id, first.filter),
                    start=start,
                    pointing_error=tuple(rng.normal(0, 20.0 / np.sqrt(2), 2)),
                    rotation=float(rng.normal(0, 0.003)),
                    fwhm=fwhm,
                )
            )
            fields.append(index)
    return exposures, fields
