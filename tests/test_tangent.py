"""The tangent plane against astropy's WCS (the ZTF pipeline's method), poles and RA = 0 included."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from ztfnb.tangent import (
    from_tangent_plane,
    gnomonic,
    gnomonic_inverse,
    tangent_plane_wcs,
    to_tangent_plane,
)

CENTRES = [(10.0, 20.0), (0.2, 33.0), (359.9, -28.0), (123.4, 89.95), (250.0, -89.9), (180.0, 0.0)]


@pytest.mark.parametrize("centre", CENTRES)
def test_agrees_with_astropy_wcs_with_one_degree_pixels(centre):
    rng = np.random.default_rng(1)
    xi_true = rng.uniform(-4, 4, 500)
    eta_true = rng.uniform(-4, 4, 500)
    ra, dec = gnomonic_inverse(xi_true, eta_true, *centre)
    xi, eta = gnomonic(ra, dec, *centre)
    assert np.allclose(xi, xi_true, atol=1e-11) and np.allclose(eta, eta_true, atol=1e-11)
    wcs_xi, wcs_eta = tangent_plane_wcs(centre * u.deg).wcs_world2pix(ra, dec, 1)
    assert np.max(np.hypot(wcs_xi - xi, wcs_eta - eta)) * 3600 < 1e-6  # arcsec


def test_across_ra_zero_the_plane_is_continuous():
    xi, _ = gnomonic(np.array([359.9, 0.1]), np.array([0.0, 0.0]), 0.0, 0.0)
    assert xi[0] == pytest.approx(-0.1, abs=1e-6) and xi[1] == pytest.approx(0.1, abs=1e-6)


def test_far_side_is_nan():
    xi, eta = gnomonic(np.array([180.0]), np.array([0.0]), 0.0, 0.0)
    assert np.isnan(xi[0]) and np.isnan(eta[0])


def test_quantity_interface():
    centre = SkyCoord(0.1 * u.deg, 80 * u.deg)
    points = SkyCoord([359.0, 1.0] * u.deg, [79.0, 81.0] * u.deg)
    xi, eta = to_tangent_plane(points, centre)
    assert xi.unit == u.deg
    back = from_tangent_plane(xi, eta, centre)
    assert np.all(back.separation(points) < 1e-9 * u.arcsec)
