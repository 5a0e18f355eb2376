"""The noise-aware verdict and the zenith-relative pixel scale, against the simulator's truth and erfa."""

import astropy.units as u
import erfa
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.prior import ahead_headers, refine_pointing
from ztfnb.quality.metrics import _wcs, pixel_scale_change
from ztfnb.site import Weather, airmass, observed_frame
from ztfnb.tangent import gnomonic, gnomonic_inverse
from ztfnb.tpv import fit_tpv, tpv_header


def _refraction_constants(weather):
    """erfa's A and B (radians) of ``ΔZ = A tan z + B tan³ z`` at a weather."""
    return erfa.refco(
        weather.pressure.to_value(u.hPa),
        weather.temperature.to_value(u.deg_C),
        weather.relative_humidity,
        weather.wavelength.to_value(u.um),
    )


def test_zvacscl_is_the_pixel_scale_over_the_camera_alone_in_a_vacuum(prior_night, fitted_prior):
    """Against erfa's refraction at each quadrant's own airmass, and against a brute-force measurement."""
    exposures = QTable.read(prior_night / "exposures.ecsv")
    name = str(exposures["exposure"][np.argmax(exposures["airmass"])])
    catalog = read_exposure(prior_night / f"{name}.ldac")
    model = fitted_prior[1].model
    terms = refine_pointing(model, catalog, read_gaia(prior_night / "gaia.fits"))
    headers = ahead_headers(model, catalog, terms)
    ratio = np.array([h["ZVACSCL"] for h in headers])
    # differential refraction compresses the sky by A sec²z vertically and A + B tan²z
    # horizontally (ΔZ = A tan z + B tan³ z): the pixel scale grows by the mean of the two
    a, b = _refraction_constants(catalog.weather)
    centres = np.array([_wcs(h).all_pix2world([[1536.5, 1540.5]], 1)[0] for h in headers])
    x = airmass(SkyCoord(centres[:, 0] * u.deg, centres[:, 1] * u.deg), catalog.mid_time)
    tan2 = x**2 - 1
    expected = (a * (1 + x**2) + b * (tan2 + 3 * tan2 * x**2)) / 2
    assert x.min() > 1.5  # the field is low: the effect is large (≈600 ppm) and varies across it
    # the exposure's own scale term (a few ppm) and the non-isotropic part set the tolerance
    assert np.allclose(ratio - 1, expected, rtol=0.01, atol=3e-6), (ratio - 1) / expected
    assert np.ptp(ratio) > 50e-6  # quadrant by quadrant, not one number for the field

    # brute force: the .ahead's WCS against a TPV of the camera alone, on ZTF's whole grid
    rcid, index = catalog.extensions[0].rcid, 0
    boresight = terms.boresight
    gx, gy = (
        g.ravel()
        for g in np.meshgrid(np.linspace(0.5, NAXIS1 + 0.5, 16), np.linspace(0.5, NAXIS2 + 0.5, 16))
    )
    vacuum = observed_frame(catalog.mid_time, Weather(pressure=0 * u.hPa))
    axis = boresight.transform_to(vacuum)
    xi, eta = model.plane(rcid, gx, gy)
    lon, lat = gnomonic_inverse(xi, eta, -axis.ha.deg, axis.dec.deg)
    sky = SkyCoord(ha=-lon * u.deg, dec=lat * u.deg, frame=vacuum).icrs
    txi, teta = gnomonic(sky.ra.deg, sky.dec.deg, boresight.ra.deg, boresight.dec.deg)
    row = model._row(rcid)
    pv1, pv2, _ = fit_tpv(*model.focal(rcid, gx, gy), txi, teta, 3)
    alone = tpv_header(
        (boresight.ra.deg, boresight.dec.deg), model.crpix[row], model.cd[row], pv1, pv2
    )
    change = pixel_scale_change(_wcs(alone), _wcs(headers[index]))
    assert ratio[index] == pytest.approx(1 + np.mean(change) / 100, abs=1e-6)
