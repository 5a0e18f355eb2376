"""The true path of light from a star to a pixel during one exposure.

ICRS position at the epoch → the refracted, aberrated hour-angle/declination
frame (astropy's ``HADec`` with pressure, temperature, humidity and
wavelength) → gnomonic projection about the telescope's optical axis in that
frame (an equatorial mount turns about its axes) → camera rotation → optical
distortion → the true quadrant placement → pixel.

Both directions are exact to well below a milliarcsecond, so the pixel → sky
mapping written to ``truth/`` is the one that made the detections.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, SkyCoord

from ztfnb.camera import FocalPlane
from ztfnb.simulate.instrument import Distortion, true_camera, true_distortion
from ztfnb.site import observed_frame
from ztfnb.tangent import gnomonic, gnomonic_inverse

__all__ = ["ExposureProjection"]

_ARCSEC = 1 / 3600


@dataclass(frozen=True)
class ExposureProjection:
    """Sky ↔ pixel for one exposure of the simulated camera.

    Attributes
    ----------
    frame : `~astropy.coordinates.HADec`
        The observed frame (with the true weather).
    axis : tuple of float
        Optical axis in that frame as (−hour angle, declination), degrees.
    rotation : float
        Camera rotation, degrees.
    camera : `~ztfnb.camera.FocalPlane`
    distortion : `~ztfnb.simulate.instrument.Distortion`
    """

    frame: object
    axis: tuple
    rotation: float
    camera: FocalPlane
    distortion: Distortion

    @classmethod
    def for_exposure(cls, exposure, camera=None, distortion=None):
        """The projection of a `~ztfnb.simulate.schedule.PlannedExposure`."""
        frame = observed_frame(exposure.mid_time, exposure.weather)
        target = exposure.target.transform_to(frame)
        # the mount puts the target on the axis up to its pointing error
        axis = gnomonic_inverse(
            exposure.pointing_error[0] * _ARCSEC,
            exposure.pointing_error[1] * _ARCSEC,
            -target.ha.deg,
            target.dec.deg,
        )
        return cls(
            frame=frame,
            axis=(float(axis[0]), float(axis[1])),
            rotation=exposure.rotation,
            camera=camera or true_camera(),
            distortion=distortion or true_distortion(),
        )

    @property
    def boresight(self):
        """The ICRS position that lands on the optical axis."""
        return self._observed_to_icrs(np.array(self.axis[0]), np.array(self.axis[1]))

    def _rotate(self, a, b, sign):
        theta = np.deg2rad(sign * self.rotation)
        return np.cos(theta) * a - np.sin(theta) * b, np.sin(theta) * a + np.cos(theta) * b

    def _observed_to_icrs(self, lon, lat):
        observed = SkyCoord(ha=-lon * u.deg, dec=lat * u.deg, frame=self.frame)
        icrs = observed.transform_to(ICRS())
        return SkyCoord(icrs.ra, icrs.dec, frame="icrs")

    def sky_to_focal(self, coords):
        """Focal-plane (u, v) in degrees of ICRS positions (at the exposure's epoch)."""
        observed = coords.transform_to(self.frame)
        xi, eta = gnomonic(-observed.ha.deg, observed.dec.deg, *self.axis)
        xi, eta = self._rotate(xi, eta, -1)
        return self.distortion.inverse(xi, eta)

    def focal_to_sky(self, u_deg, v_deg):
        """ICRS positions of focal-plane (u, v) in degrees."""
        xi, eta = self.distortion.forward(u_deg, v_deg)
        xi, eta = self._rotate(xi, eta, +1)
        lon, lat = gnomonic_inverse(xi, eta, *self.axis)
        return self._observed_to_icrs(lon, lat)

    def sky_to_pixel(self, coords):
        """Quadrant (rcid, −1 off the detectors) and 1-based pixel position of ICRS positions."""
        u_deg, v_deg = self.sky_to_focal(coords)
        return self.camera.locate(u_deg, v_deg)

    def pixel_to_sky(self, rcid, x, y):
        """ICRS positions of 1-based pixel positions on one quadrant."""
        u_deg, v_deg = self.camera[rcid].pixel_to_focal(x, y)
        return self.focal_to_sky(u_deg, v_deg)
