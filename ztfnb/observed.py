"""The sky as an equatorial telescope sees it: a tangent plane in the refracted frame.

The P48 turns about hour-angle and declination axes, so its camera sees the
sky projected about its pointing in the topocentric, refracted, aberrated
hour-angle/declination frame (astropy's ``HADec`` with pressure, temperature,
humidity and wavelength). In that plane the camera's mapping is the same for
every exposure up to a pointing offset and rotation; refraction, aberration
and precession are all in astropy's transformation, exact and non-linear.

Longitude in this frame is −(hour angle), so that it increases to the East
like right ascension and ``xi`` points East.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, SkyCoord

from ztfnb.site import Weather, observed_frame
from ztfnb.tangent import gnomonic, gnomonic_inverse

__all__ = ["ObservedPlane"]


@dataclass(frozen=True)
class ObservedPlane:
    """Gnomonic plane about an axis in an observed (refracted) ``HADec`` frame.

    Attributes
    ----------
    frame : `~astropy.coordinates.HADec`
    axis : tuple of float
        (−hour angle, declination) of the tangent point, degrees.
    """

    frame: object
    axis: tuple

    @classmethod
    def about(cls, pointing, obstime, weather=None):
        """The plane about where an ICRS ``pointing`` appears at ``obstime``.

        Parameters
        ----------
        pointing : `~astropy.coordinates.SkyCoord`
        obstime : `~astropy.time.Time`
        weather : `~ztfnb.site.Weather`, optional
            Palomar defaults when omitted.
        """
        frame = observed_frame(obstime, weather or Weather())
        observed = pointing.transform_to(frame)
        return cls(frame, (float(-observed.ha.deg), float(observed.dec.deg)))

    def shifted(self, dxi_deg, deta_deg):
        """The plane about a point displaced by (dxi, deta) degrees in this plane."""
        lon, lat = gnomonic_inverse(dxi_deg, deta_deg, *self.axis)
        return ObservedPlane(self.frame, (float(lon), float(lat)))

    def transfer(self, xi_deg, eta_deg, other):
        """Coordinates in this plane re-expressed in ``other`` (same frame, another axis).

        Pure spherical geometry: no call to astropy's frame transformations.
        """
        lon, lat = gnomonic_inverse(xi_deg, eta_deg, *self.axis)
        return gnomonic(lon, lat, *other.axis)

    def project(self, coords):
        """Standard coordinates (xi, eta) in degrees of ICRS positions, as floats."""
        observed = coords.transform_to(self.frame)
        return gnomonic(-observed.ha.deg, observed.dec.deg, *self.axis)

    def deproject(self, xi_deg, eta_deg):
        """ICRS positions of standard coordinates in degrees.

        Returns
        -------
        `~astropy.coordinates.SkyCoord`
        """
        lon, lat = gnomonic_inverse(xi_deg, eta_deg, *self.axis)
        observed = SkyCoord(
            ha=-np.asarray(lon) * u.deg, dec=np.asarray(lat) * u.deg, frame=self.frame
        )
        icrs = observed.transform_to(ICRS())
        return SkyCoord(icrs.ra, icrs.dec, frame="icrs")

    @property
    def boresight(self):
        """ICRS position of the tangent point."""
        return self.deproject(np.array(0.0), np.array(0.0))
