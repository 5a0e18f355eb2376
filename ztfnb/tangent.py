"""The gnomonic tangent plane (xi, eta) about a pointing.

Computed with unit vectors, so it is exact at RA = 0/360 and at the poles,
where formulas written in RA differences or with a 1-degree-pixel WCS need
care. ``xi`` points East (increasing RA) and ``eta`` North, in degrees: the
standard coordinates of a TAN projection, as astropy's WCS with 1-degree pixels
and CRPIX 0 returns them with origin 1 (the ZTF pipeline's method, kept as
:func:`tangent_plane_wcs` for comparison).
"""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

__all__ = [
    "from_tangent_plane",
    "gnomonic",
    "gnomonic_inverse",
    "tangent_basis",
    "tangent_plane_wcs",
    "to_tangent_plane",
    "unit_vectors",
]


def unit_vectors(lon_deg, lat_deg):
    """Cartesian unit vectors, shape (..., 3), of longitudes and latitudes in degrees."""
    lon = np.deg2rad(np.asarray(lon_deg, float))
    lat = np.deg2rad(np.asarray(lat_deg, float))
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def tangent_basis(lon0_deg, lat0_deg):
    """Centre, East and North unit vectors of the tangent plane at a point, each shape (3,)."""
    lon0 = np.deg2rad(float(lon0_deg))
    lat0 = np.deg2rad(float(lat0_deg))
    centre = np.array([np.cos(lat0) * np.cos(lon0), np.cos(lat0) * np.sin(lon0), np.sin(lat0)])
    east = np.array([-np.sin(lon0), np.cos(lon0), 0.0])
    north = np.array([-np.sin(lat0) * np.cos(lon0), -np.sin(lat0) * np.sin(lon0), np.cos(lat0)])
    return centre, east, north


def gnomonic(lon_deg, lat_deg, lon0_deg, lat0_deg):
    """Standard coordinates (xi, eta) in degrees; NaN for points 90° or more away.

    Plain-float version of :func:`to_tangent_plane` for inner loops.
    """
    vectors = unit_vectors(lon_deg, lat_deg)
    centre, east, north = tangent_basis(lon0_deg, lat0_deg)
    depth = vectors @ centre
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(depth > 0, depth, np.nan)
        xi = np.rad2deg((vectors @ east) / depth)
        eta = np.rad2deg((vectors @ north) / depth)
    return xi, eta


def gnomonic_inverse(xi_deg, eta_deg, lon0_deg, lat0_deg):
    """Longitude (0–360) and latitude in degrees of standard coordinates in degrees."""
    centre, east, north = tangent_basis(lon0_deg, lat0_deg)
    xi = np.deg2rad(np.asarray(xi_deg, float))[..., None]
    eta = np.deg2rad(np.asarray(eta_deg, float))[..., None]
    vectors = centre + xi * east + eta * north
    lon = np.rad2deg(np.arctan2(vectors[..., 1], vectors[..., 0])) % 360.0
    lat = np.rad2deg(np.arctan2(vectors[..., 2], np.hypot(vectors[..., 0], vectors[..., 1])))
    return lon, lat


def _as_center(center):
    if isinstance(center, SkyCoord):
        icrs = center.icrs
        return icrs.ra.deg, icrs.dec.deg
    lon, lat = center
    return u.Quantity(lon, u.deg).to_value(u.deg), u.Quantity(lat, u.deg).to_value(u.deg)


def to_tangent_plane(coords, center):
    """Project sky positions onto the tangent plane about a centre.

    Parameters
    ----------
    coords : `~astropy.coordinates.SkyCoord`
        Positions to project (any frame; used as ICRS).
    center : `~astropy.coordinates.SkyCoord` or (lon, lat) angles
        Tangent point, for example the telescope boresight.

    Returns
    -------
    xi, eta : `~astropy.units.Quantity`
        Standard coordinates in degrees (xi East, eta North); NaN beyond 90°.
    """
    icrs = coords.icrs
    xi, eta = gnomonic(icrs.ra.deg, icrs.dec.deg, *_as_center(center))
    return xi * u.deg, eta * u.deg


def from_tangent_plane(xi, eta, center):
    """Sky positions of standard coordinates about a centre.

    Parameters
    ----------
    xi, eta : `~astropy.units.Quantity`
        Standard coordinates (angles).
    center : `~astropy.coordinates.SkyCoord` or (lon, lat) angles

    Returns
    -------
    `~astropy.coordinates.SkyCoord`
        ICRS positions.
    """
    lon, lat = gnomonic_inverse(
        u.Quantity(xi, u.deg).to_value(u.deg),
        u.Quantity(eta, u.deg).to_value(u.deg),
        *_as_center(center),
    )
    return SkyCoord(lon * u.deg, lat * u.deg, frame="icrs")


def tangent_plane_wcs(center):
    """The ZTF pipeline's projection: a TAN WCS with 1-degree pixels and CRPIX 0.

    ``wcs_world2pix(ra, dec, 1)`` of this WCS returns (xi, eta) in degrees.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord` or (lon, lat) angles

    Returns
    -------
    `~astropy.wcs.WCS`
    """
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(_as_center(center))
    wcs.wcs.cdelt = [1.0, 1.0]
    wcs.wcs.crpix = [0.0, 0.0]
    return wcs
