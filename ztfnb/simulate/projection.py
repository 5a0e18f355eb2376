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

import numpy as np

from ztfnb.camera import FocalPlane
from ztfnb.observed import ObservedPlane
from ztfnb.simulate.instrument import Distortion, true_camera, true_distortion

__all__ = ["ExposureProjection"]

_ARCSEC = 1 / 3600


@dataclass(frozen=True)
class ExposureProjection:
    """Sky ↔ pixel for one exposure of the simulated camera.

    Attributes
    ----------
    plane : `~ztfnb.observed.ObservedPlane`
        The refracted tangent plane about the optical axis (true weather).
    rotation : float
        Camera rotation, degrees.
    camera : `~ztfnb.camera.FocalPlane`
    distortion : `~ztfnb.simulate.instrument.Distortion`
    """

    plane: ObservedPlane
    rotation: float
    camera: FocalPlane
    distortion: Distortion

    @classmethod
    def for_exposure(cls, exposure, camera=None, distortion=None):
        """The projection of a `~ztfnb.simulate.schedule.PlannedExposure`."""
        # the mount puts the target on the axis, up to its pointing error
        plane = ObservedPlane.about(exposure.target, exposure.mid_time, exposure.weather).shifted(
            exposure.pointing_error[0] * _ARCSEC, exposure.pointing_error[1] * _ARCSEC
        )
        return cls(
            plane=plane,
            rotation=exposure.rotation,
            camera=camera or true_camera(),
            distortion=distortion or true_distortion(),
        )

    @property
    def boresight(self):
        """The ICRS position that lands on the optical axis."""
        return self.plane.boresight

    def _rotate(self, a, b, sign):
        theta = np.deg2rad(sign * self.rotation)
        return np.cos(theta) * a - np.sin(theta) * b, np.sin(theta) * a + np.cos(theta) * b

    def sky_to_focal(self, coords):
        """Focal-plane (u, v) in degrees of ICRS positions (at the exposure's epoch)."""
        xi, eta = self._rotate(*self.plane.project(coords), -1)
        return self.distortion.inverse(xi, eta)

    def focal_to_sky(self, u_deg, v_deg):
        """ICRS positions of focal-plane (u, v) in degrees."""
        xi, eta = self._rotate(*self.distortion.forward(u_deg, v_deg), +1)
        return self.plane.deproject(xi, eta)

    def sky_to_pixel(self, coords):
        """Quadrant (rcid, −1 off the detectors) and 1-based pixel position of ICRS positions."""
        u_deg, v_deg = self.sky_to_focal(coords)
        return self.camera.locate(u_deg, v_deg)

    def pixel_to_sky(self, rcid, x, y):
        """ICRS positions of 1-based pixel positions on one quadrant."""
        u_deg, v_deg = self.camera[rcid].pixel_to_focal(x, y)
        return self.focal_to_sky(u_deg, v_deg)
