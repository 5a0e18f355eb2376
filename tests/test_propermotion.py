"""Proper-motion propagation against astropy's space motion."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from ztfnb.propermotion import propagate


@pytest.mark.parametrize(
    ("ra", "dec"), [(10.0, 20.0), (359.9999, 5.0), (45.0, 89.99), (200.0, -89.0)]
)
def test_agrees_with_apply_space_motion(ra, dec):
    pmra = np.array([50.0, -300.0, 1000.0]) * u.mas / u.yr
    pmdec = np.array([-20.0, 400.0, -800.0]) * u.mas / u.yr
    start, end = Time(2016.0, format="jyear", scale="tdb"), Time("2023-10-17T08:00:00", scale="utc")
    coords = SkyCoord(
        ra=np.full(3, ra) * u.deg,
        dec=np.full(3, dec) * u.deg,
        pm_ra_cosdec=pmra,
        pm_dec=pmdec,
        distance=100 * u.pc,  # radial velocity 0: straight-line motion, as propagate assumes
        radial_velocity=0 * u.km / u.s,
        obstime=start,
    )
    expected = coords.apply_space_motion(new_obstime=end)
    new_ra, new_dec = propagate(coords.ra, coords.dec, pmra, pmdec, 2016.0 * u.yr, end)
    moved = SkyCoord(new_ra, new_dec)
    assert np.all(moved.separation(SkyCoord(expected.ra, expected.dec)) < 0.01 * u.mas)
    assert np.all(moved.separation(SkyCoord(coords.ra, coords.dec)) > 100 * u.mas)  # it did move


def test_missing_proper_motion_stays_put():
    ra, dec = propagate(
        10 * u.deg,
        20 * u.deg,
        np.nan * u.mas / u.yr,
        np.nan * u.mas / u.yr,
        2016 * u.yr,
        2024 * u.yr,
    )
    assert ra.to_value(u.deg) == pytest.approx(10) and dec.to_value(u.deg) == pytest.approx(20)
