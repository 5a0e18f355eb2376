"""Gaia positions moved from their reference epoch to an observation's epoch.

Linear motion on the sphere (positions as unit vectors, proper motion as a
tangent vector), without parallax or radial velocity: for the decade between
Gaia's epoch and a ZTF night, the neglected terms are far below a milliarcsecond
for all but a handful of the nearest stars. Exact at the poles and at RA 0/360.
"""

import astropy.units as u
import numpy as np
from astropy.time import Time

from ztfnb.tangent import unit_vectors

__all__ = ["julian_epoch", "propagate"]


def julian_epoch(time):
    """Julian epoch in years (TDB) of a `~astropy.time.Time`, or a number passed through."""
    if isinstance(time, Time):
        return time.tdb.jyear
    return np.asarray(u.Quantity(time, u.yr).to_value(u.yr))


def propagate(ra, dec, pmra, pmdec, ref_epoch, epoch):
    """Positions at ``epoch`` of stars with proper motions given at ``ref_epoch``.

    Parameters
    ----------
    ra, dec : `~astropy.units.Quantity`
        Positions at the reference epoch.
    pmra, pmdec : `~astropy.units.Quantity`
        Proper motions (``pmra`` includes cos δ, as in Gaia); NaN is treated as zero.
    ref_epoch, epoch : `~astropy.time.Time` or `~astropy.units.Quantity`
        Julian epochs (Quantities in years, e.g. Gaia's ``ref_epoch`` 2016.0 yr).

    Returns
    -------
    ra, dec : `~astropy.units.Quantity`
        Degrees, RA in 0–360.
    """
    ra_deg = u.Quantity(ra, u.deg).to_value(u.deg)
    dec_deg = u.Quantity(dec, u.deg).to_value(u.deg)
    years = julian_epoch(epoch) - julian_epoch(ref_epoch)
    mu_east = np.nan_to_num(u.Quantity(pmra, u.mas / u.yr).to_value(u.rad / u.yr)) * years
    mu_north = np.nan_to_num(u.Quantity(pmdec, u.mas / u.yr).to_value(u.rad / u.yr)) * years
    lon = np.deg2rad(ra_deg)
    lat = np.deg2rad(dec_deg)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], axis=-1)
    moved = unit_vectors(ra_deg, dec_deg) + mu_east[..., None] * east + mu_north[..., None] * north
    new_ra = np.rad2deg(np.arctan2(moved[..., 1], moved[..., 0])) % 360.0
    new_dec = np.rad2deg(np.arctan2(moved[..., 2], np.hypot(moved[..., 0], moved[..., 1])))
    return new_ra * u.deg, new_dec * u.deg
