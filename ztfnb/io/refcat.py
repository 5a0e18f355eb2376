"""SCAMP's reference catalogue format (``ASTREF_CATALOG FILE``).

A FITS_LDAC file whose ``LDAC_OBJECTS`` has ``X_WORLD, Y_WORLD`` (deg),
``ERRA_WORLD, ERRB_WORLD`` (deg), ``MAG, MAGERR``, ``OBSDATE`` (Julian years)
and ``PMALPHA_J2000, PMDELTA_J2000`` (mas/yr): SCAMP's default key names, so
no ``ASTREF*_KEYS`` settings are needed.
"""

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.io.ldac import write_ldac

__all__ = ["write_scamp_reference"]


def write_scamp_reference(path, reference):
    """Write a reference catalogue for SCAMP, atomically.

    Parameters
    ----------
    path : path-like
    reference : `~astropy.table.QTable`
        Columns ``ra, dec`` (at the epoch of use), ``ra_error, dec_error``,
        ``phot_g_mean_mag``, ``epoch`` (yr), ``pmra, pmdec`` (NaN allowed).
    """
    n = len(reference)
    objects = Table()
    objects["X_WORLD"] = u.Quantity(reference["ra"], u.deg).value.astype(np.float64) * u.deg
    objects["Y_WORLD"] = u.Quantity(reference["dec"], u.deg).value.astype(np.float64) * u.deg
    objects["ERRA_WORLD"] = (
        u.Quantity(reference["ra_error"], u.deg).value.astype(np.float32) * u.deg
    )
    objects["ERRB_WORLD"] = (
        u.Quantity(reference["dec_error"], u.deg).value.astype(np.float32) * u.deg
    )
    objects["MAG"] = (
        u.Quantity(reference["phot_g_mean_mag"], u.mag).value.astype(np.float32) * u.mag
    )
    objects["MAGERR"] = np.full(n, 0.01, np.float32) * u.mag
    objects["OBSDATE"] = u.Quantity(reference["epoch"], u.yr).value.astype(np.float64) * u.yr
    objects["PMALPHA_J2000"] = (
        np.nan_to_num(u.Quantity(reference["pmra"], u.mas / u.yr).value).astype(np.float32)
        * u.mas
        / u.yr
    )
    objects["PMDELTA_J2000"] = (
        np.nan_to_num(u.Quantity(reference["pmdec"], u.mas / u.yr).value).astype(np.float32)
        * u.mas
        / u.yr
    )
    header = fits.Header(
        [
            ("SIMPLE", True),
            ("BITPIX", 8),
            ("NAXIS", 0),
            ("ORIGIN", "ztfnb", "Gaia reference for SCAMP"),
        ]
    )
    write_ldac(path, [(header, objects)])
