"""The simulated camera as it really is, which the nominal layout only approximates.

The true camera is one physical object: the same for every night and seed. Its
quadrants sit a few pixels from where the layout table puts them, rotated by a
few arcseconds, and the optics add a focal-plane distortion of a few
arcseconds at the field edge (mostly radial, with a small tilt term and a
fifth-order remainder that a cubic polynomial cannot absorb exactly).
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from ztfnb.camera import FocalPlane

N_CCDS = 16

__all__ = ["CAMERA_SEED", "Distortion", "true_camera", "true_distortion"]

#: Seed of the camera's manufacturing deviations (fixed: one camera for all nights).
CAMERA_SEED = 20171101
_ARCSEC = 1 / 3600


@dataclass(frozen=True)
class Distortion:
    """Optical distortion from focal-plane (u, v) to sky tangent-plane (xi, eta), degrees.

    ``xi = u (1 + k3 r² + k5 r⁴) + a20 u² + a11 u v + a02 v²`` and
    ``eta = v (1 + k3 r² + k5 r⁴) + b20 u² + b11 u v + b02 v²``.
    """

    k3: float
    k5: float
    a20: float
    a11: float
    a02: float
    b20: float
    b11: float
    b02: float

    def forward(self, u_deg, v_deg):
        """Sky tangent-plane (xi, eta) of focal-plane (u, v), all degrees."""
        u_deg = np.asarray(u_deg, float)
        v_deg = np.asarray(v_deg, float)
        r2 = u_deg**2 + v_deg**2
        radial = 1 + self.k3 * r2 + self.k5 * r2**2
        xi = u_deg * radial + self.a20 * u_deg**2 + self.a11 * u_deg * v_deg + self.a02 * v_deg**2
        eta = v_deg * radial + self.b20 * u_deg**2 + self.b11 * u_deg * v_deg + self.b02 * v_deg**2
        return xi, eta

    def inverse(self, xi_deg, eta_deg, iterations=6):
        """Focal-plane (u, v) of sky tangent-plane (xi, eta), by fixed-point iteration.

        The distortion departs from the identity by less than 10⁻³ in slope, so
        each iteration gains three digits; six reach machine precision.
        """
        xi_deg = np.asarray(xi_deg, float)
        eta_deg = np.asarray(eta_deg, float)
        u_deg, v_deg = xi_deg.copy(), eta_deg.copy()
        for _ in range(iterations):
            fx, fy = self.forward(u_deg, v_deg)
            u_deg = u_deg - (fx - xi_deg)
            v_deg = v_deg - (fy - eta_deg)
        return u_deg, v_deg


@cache
def true_distortion():
    """The simulated optics: ≈3″ radial and ≈0.8″ tilt distortion at the field corners."""
    corner = 5.2  # degrees from the boresight to the farthest corner
    return Distortion(
        k3=3.0 * _ARCSEC / corner**3,
        k5=0.08 * _ARCSEC / corner**5,
        a20=0.5 * _ARCSEC / 25,
        a11=-0.3 * _ARCSEC / 25,
        a02=0.2 * _ARCSEC / 25,
        b20=-0.2 * _ARCSEC / 25,
        b11=0.4 * _ARCSEC / 25,
        b02=0.6 * _ARCSEC / 25,
    )


@cache
def true_camera(mirrored=False):
    """The real positions of the 64 quadrants: the layout table plus small deviations.

    Each CCD is shifted by ≈2 px rms, rotated by ≈0.002° rms and rescaled by
    ≈3×10⁻⁵ rms (its height in the focal plane), drawn once from :data:`CAMERA_SEED`.

    Parameters
    ----------
    mirrored : bool
        The same camera with every quadrant's pixel x axis read out the other
        way (`~ztfnb.camera.FocalPlane.mirrored`): the same silicon in the same
        places, the other parity.
    """
    if mirrored:
        return true_camera().mirrored()
    rng = np.random.default_rng(CAMERA_SEED)
    pixel = FocalPlane.nominal()[0].scale
    return FocalPlane.nominal().with_ccd_offsets(
        du=rng.normal(0, 2.0 * pixel, N_CCDS),
        dv=rng.normal(0, 2.0 * pixel, N_CCDS),
        drotation=rng.normal(0, 0.002, N_CCDS),
        dscale=rng.normal(0, 3e-5, N_CCDS),
    )
