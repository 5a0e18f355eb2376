"""A Gaia-like star catalogue over a night's fields, and the stars' true motions.

The catalogue has the Gaia archive's column names and units. It is a
measurement: each star's true position and proper motion differ from the
catalogue's by draws from its quoted errors, and about a tenth of the faint
stars have only a two-parameter solution (no proper motion, NaN in the
archive) though they do move.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.propermotion import propagate
from ztfnb.tangent import gnomonic, gnomonic_inverse

__all__ = ["REF_EPOCH", "StarField", "make_star_field"]

REF_EPOCH = 2016.0
#: Half-size of the square of sky covered around each pointing: the camera's
#: 3.73° half-extent plus room for pointing error, rotation and refraction.
FIELD_HALF_SIZE = 4.2


@dataclass
class StarField:
    """The catalogue and the truth behind it.

    Attributes
    ----------
    catalogue : `~astropy.table.QTable`
        What ``gaia.fits`` holds.
    true_ra, true_dec : `~numpy.ndarray`
        True positions at the reference epoch, degrees.
    true_pmra, true_pmdec : `~numpy.ndarray`
        True proper motions, mas/yr (``pmra`` including cos δ).
    """

    catalogue: QTable
    true_ra: np.ndarray
    true_dec: np.ndarray
    true_pmra: np.ndarray
    true_pmdec: np.ndarray

    def true_positions(self, epoch):
        """True (ra, dec) Quantities of every star at a Julian epoch (Time or years)."""
        return propagate(
            self.true_ra * u.deg,
            self.true_dec * u.deg,
            self.true_pmra * u.mas / u.yr,
            self.true_pmdec * u.mas / u.yr,
            REF_EPOCH * u.yr,
            epoch,
        )


def _uniform_in_square(center, half_size, n, rng):
    """``n`` points uniform on the sphere inside a tangent-plane square about a centre."""
    radius = np.deg2rad(half_size * np.sqrt(2) * 1.01)
    points_lon, points_lat = [], []
    needed = n
    while needed > 0:
        batch = int(needed * 1.4) + 16
        cos_theta = rng.uniform(np.cos(radius), 1.0, batch)
        phi = rng.uniform(0, 2 * np.pi, batch)
        theta = np.arccos(cos_theta)
        # uniform in the cap about the pole, then moved to the centre via the tangent plane
        xi = np.rad2deg(np.tan(theta) * np.cos(phi))
        eta = np.rad2deg(np.tan(theta) * np.sin(phi))
        inside = (np.abs(xi) <= half_size) & (np.abs(eta) <= half_size)
        lon, lat = gnomonic_inverse(xi[inside], eta[inside], *center)
        points_lon.append(lon[:needed])
        points_lat.append(lat[:needed])
        needed -= min(needed, int(inside.sum()))
    return np.concatenate(points_lon), np.concatenate(points_lat)


def _square_area_deg2(half_size):
    """Solid angle of a gnomonic square of half-size ``a`` (degrees): 4 asin(sin²a / (1 + …))."""
    a = np.tan(np.deg2rad(half_size))
    steradians = 4 * np.arcsin(a * a / (1 + a * a))
    return steradians * (180 / np.pi) ** 2


def _magnitudes(n, rng, bright=8.0, faint=21.0, slope=0.25):
    """G magnitudes with counts rising as 10^(slope·G) to the catalogue's limit."""
    return _magnitudes_from(rng.uniform(0, 1, n), bright, faint, slope)


def _magnitudes_from(uniform, bright=8.0, faint=21.0, slope=0.25):
    """`_magnitudes` of uniform draws on [0, 1)."""
    span = 1 - 10 ** (-slope * (faint - bright))
    return faint + np.log10(1 - uniform * span) / slope


def _position_error_mas(g):
    """Gaia DR3-like position error at the reference epoch, mas."""
    return 0.02 + 0.35 * 10 ** (0.4 * (g - 20.0))


def make_star_field(centers, density, rng, first_source_id=1, half_size=FIELD_HALF_SIZE):
    """Stars covering squares of sky about each centre, uniform over their union.

    Parameters
    ----------
    centers : list of (ra, dec) in degrees
        Field centres.
    density : `~astropy.units.Quantity`
        Catalogue stars per unit solid angle (all magnitudes to G = 21).
    rng : `numpy.random.Generator`
    first_source_id : int
    half_size : float
        Half-size of each square, degrees (larger for a camera turned far from
        its nominal orientation, whose corners reach farther along the axes).

    Returns
    -------
    `StarField`
    """
    per_deg2 = density.to_value(u.deg**-2)
    lon, lat = [], []
    for index, center in enumerate(centers):
        n = rng.poisson(per_deg2 * _square_area_deg2(half_size))
        ra, dec = _uniform_in_square(center, half_size, n, rng)
        keep = np.ones(ra.size, bool)
        for earlier in centers[:index]:
            xi, eta = gnomonic(ra, dec, *earlier)
            keep &= ~((np.abs(xi) <= half_size) & (np.abs(eta) <= half_size))
        lon.append(ra[keep])
        lat.append(dec[keep])
    true_ra = np.concatenate(lon) if lon else np.zeros(0)
    true_dec = np.concatenate(lat) if lat else np.zeros(0)
    n = true_ra.size

    g = _magnitudes(n, rng)
    sigma = _position_error_mas(g)
    true_pmra = rng.normal(0, 5.0, n)
    true_pmdec = rng.normal(-3.0, 5.0, n)
    fast = rng.uniform(0, 1, n) < 0.02
    true_pmra[fast] = rng.normal(0, 60.0, fast.sum())
    true_pmdec[fast] = rng.normal(0, 60.0, fast.sum())
    two_parameter = (g > 19.5) & (rng.uniform(0, 1, n) < 0.1)
    sigma = np.where(two_parameter, 3 * sigma, sigma)
    pm_sigma = 1.1 * sigma

    mas = 1 / 3.6e6
    ra_error = sigma * rng.uniform(0.8, 1.2, n)
    dec_error = sigma * rng.uniform(0.8, 1.2, n)
    cos_dec = np.maximum(np.cos(np.deg2rad(true_dec)), 1e-6)
    catalogue_ra = (true_ra + rng.normal(0, 1, n) * ra_error * mas / cos_dec) % 360
    catalogue_dec = np.clip(true_dec + rng.normal(0, 1, n) * dec_error * mas, -90, 90)
    pmra = np.where(two_parameter, np.nan, true_pmra + rng.normal(0, 1, n) * pm_sigma)
    pmdec = np.where(two_parameter, np.nan, true_pmdec + rng.normal(0, 1, n) * pm_sigma)

    catalogue = QTable()
    catalogue["source_id"] = (
        np.arange(first_source_id, first_source_id + n, dtype=np.int64) * 4096 + 1
    )
    catalogue["ra"] = catalogue_ra * u.deg
    catalogue["dec"] = catalogue_dec * u.deg
    catalogue["ra_error"] = ra_error.astype(np.float32) * u.mas
    catalogue["dec_error"] = dec_error.astype(np.float32) * u.mas
    catalogue["pmra"] = pmra * u.mas / u.yr
    catalogue["pmdec"] = pmdec * u.mas / u.yr
    catalogue["ref_epoch"] = np.full(n, REF_EPOCH) * u.yr
    catalogue["phot_g_mean_mag"] = g.astype(np.float32) * u.mag
    return StarField(catalogue, true_ra, true_dec, true_pmra, true_pmdec)
