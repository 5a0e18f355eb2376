"""The Gaia reference for one exposure: the stars in its field, moved to its epoch."""

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ztfnb.gaiaindex import index_of, inside_cone
from ztfnb.io.errors import InputError
from ztfnb.propermotion import julian_epoch, propagate

__all__ = [
    "FIELD_RADIUS",
    "TYPICAL_PROPER_MOTION",
    "field_reference",
    "reference_at_epoch",
    "select_cone",
]

#: Proper-motion dispersion assumed for stars without a Gaia proper motion.
TYPICAL_PROPER_MOTION = 5.0 * u.mas / u.yr
#: Radius of Gaia around the pointing used for a ZTF field (its corners are 5.2° out).
FIELD_RADIUS = 5.6 * u.deg


def field_reference(gaia, catalog, mag_limit, minimum=10, radius=FIELD_RADIUS):
    """The Gaia stars of an exposure's field, brighter than a limit, at its epoch.

    Parameters
    ----------
    gaia : `~astropy.table.QTable`, `~ztfnb.io.gaiafits.GaiaFits` or `~ztfnb.io.gaiahats.GaiaHats`
        As `ztfnb.io.read_gaia` returns it.
    catalog : `~ztfnb.exposure.ExposureCatalog`
    mag_limit : `~astropy.units.Quantity`
        Faintest G.
    minimum : int
        Fewer stars than this is an error: the table is not for this field.
    radius : `~astropy.units.Quantity`

    Returns
    -------
    `~astropy.table.QTable`
        As `reference_at_epoch`.

    Raises
    ------
    InputError
        Naming the Gaia file and the pointing.
    """
    nearby = select_cone(gaia, catalog.pointing, radius)
    nearby = nearby[nearby["phot_g_mean_mag"] <= mag_limit]
    if len(nearby) < minimum:
        raise InputError(
            f"only {len(nearby)} Gaia stars within {radius} of {catalog.path.name}'s TELRAD/TELDECD "
            f"({catalog.pointing.ra.deg:.4f}, {catalog.pointing.dec.deg:.4f}): "
            "is the Gaia table for this field?",
            path=gaia.meta.get("path"),
        )
    return reference_at_epoch(nearby, catalog.mid_time)


def select_cone(gaia, center, radius):
    """Rows of a Gaia table or HATS catalogue within ``radius`` of ``center``.

    A table `ztfnb.io.read_gaia` read is served from a HEALPix index from its
    second cone on (`ztfnb.gaiaindex`), any other table by a scan; both keep
    the same rows, in the table's order. A large FITS file reads the rows of
    the cells the cone overlaps (`ztfnb.io.gaiafits.GaiaFits.cone`), the
    same rows as the file read whole; a HATS catalogue reads the partitions
    the cone overlaps (`ztfnb.io.gaiahats.GaiaHats.cone`).

    Parameters
    ----------
    gaia : `~astropy.table.QTable`, `~ztfnb.io.gaiafits.GaiaFits` or `~ztfnb.io.gaiahats.GaiaHats`
        A table with ``ra, dec`` columns, or what `ztfnb.io.read_gaia`
        returns for a large FITS file or a HATS catalogue's folder.
    center : `~astropy.coordinates.SkyCoord`
    radius : `~astropy.units.Quantity`

    Returns
    -------
    `~astropy.table.QTable`
    """
    if not isinstance(gaia, Table):
        return gaia.cone(center, radius)
    index = index_of(gaia, radius)
    if index is not None:
        return gaia[index.rows_within(center, radius)]
    ra, dec = u.Quantity(gaia["ra"], u.deg).value, u.Quantity(gaia["dec"], u.deg).value
    return gaia[inside_cone(ra, dec, center, radius)]


def reference_at_epoch(gaia, epoch):
    """Gaia positions moved to an epoch, with their errors grown accordingly.

    Stars without a proper motion stay where Gaia measured them, with an
    error that grows as :data:`TYPICAL_PROPER_MOTION` times the elapsed time.

    Parameters
    ----------
    gaia : `~astropy.table.QTable`
        Columns of :data:`ztfnb.io.gaia.GAIA_COLUMNS`.
    epoch : `~astropy.time.Time` or `~astropy.units.Quantity`

    Returns
    -------
    `~astropy.table.QTable`
        ``source_id, ra, dec, ra_error, dec_error, pmra, pmdec, phot_g_mean_mag, epoch``.
    """
    ra, dec = propagate(
        gaia["ra"], gaia["dec"], gaia["pmra"], gaia["pmdec"], gaia["ref_epoch"], epoch
    )
    years = np.abs(julian_epoch(epoch) - u.Quantity(gaia["ref_epoch"], u.yr).value) * u.yr
    known = np.isfinite(gaia["pmra"]) & np.isfinite(gaia["pmdec"])
    result = QTable()
    result["source_id"] = gaia["source_id"]
    result["ra"] = ra
    result["dec"] = dec
    for axis in ("ra", "dec"):
        sigma = u.Quantity(gaia[f"{axis}_error"], u.mas)
        rate = np.where(known, 1.1 * sigma.value, TYPICAL_PROPER_MOTION.to_value(u.mas / u.yr))
        drift = rate * (u.mas / u.yr) * years
        result[f"{axis}_error"] = np.hypot(sigma, drift).to(u.mas)
    result["pmra"] = gaia["pmra"]
    result["pmdec"] = gaia["pmdec"]
    result["phot_g_mean_mag"] = gaia["phot_g_mean_mag"]
    result["epoch"] = np.full(len(gaia), julian_epoch(epoch)) * u.yr
    return result
