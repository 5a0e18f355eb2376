"""A HEALPix index of a Gaia table, so that a cone reads the rows near it, not every row.

A cone through the full table computes a unit vector for every star: 1.3 s
and gigabytes at 20 M rows, three times per exposure. The index sorts the
rows by their HEALPix cell once (depth `DEPTH`, cells of 0.9°) and keeps only
that order (4 bytes a row) and where each cell starts; a cone is then the
cells cdshealpix says it overlaps, and the exact test of `select_cone` on
their rows alone. The rows come back in the table's order, so an indexed cone
is the same table as the scan's.

Only tables `ztfnb.io.read_gaia` read are indexed: their ``ra`` and ``dec``
are read-only, so an index cannot go stale under them. The index is built at
a table's second cone (one cone is cheaper to scan than to index) and kept
while the table lives, once per process.
"""

import weakref

import astropy.units as u
import cdshealpix
import numpy as np
from astropy.coordinates import Latitude, Longitude

from ztfnb.tangent import unit_vectors

__all__ = ["DEPTH", "ConeIndex", "index_of"]

#: HEALPix depth of the index: 49,152 cells of 0.92°, about 150 of them under a ZTF field.
DEPTH = 6
#: Added to the radius when asking which cells a cone overlaps: cdshealpix's
#: coverage is conservative, and this keeps a star on the edge of a cell in.
_MARGIN = 1 * u.arcsec
#: Above this radius a cone covers so much of the sky that a scan is as fast.
_LARGEST = 60 * u.deg
_TABLES = {}


class ConeIndex:
    """Rows of a table of positions sorted by HEALPix cell.

    Parameters
    ----------
    ra, dec : `~numpy.ndarray`, shape (n,)
        Degrees (ICRS).
    """

    def __init__(self, ra, dec):
        cells = cdshealpix.nested.lonlat_to_healpix(
            Longitude(ra, u.deg), Latitude(dec, u.deg), DEPTH
        )
        order = np.argsort(cells, kind="stable")
        self._order = order.astype(np.int32) if len(order) < 2**31 else order
        self._starts = np.searchsorted(cells[order], np.arange(12 * 4**DEPTH + 1))
        self._ra, self._dec = ra, dec

    def rows_within(self, center, radius):
        """Row numbers within ``radius`` of ``center``, ascending.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
        radius : `~astropy.units.Quantity`

        Returns
        -------
        `~numpy.ndarray` of int, shape (m,)
            The rows ``select_cone``'s scan keeps: the same test, on the rows
            of the cells the cone overlaps.
        """
        center = center.icrs
        cells, _, _ = cdshealpix.nested.cone_search(
            Longitude(center.ra), Latitude(center.dec), radius + _MARGIN, DEPTH, flat=True
        )
        starts, ends = self._starts[cells], self._starts[cells + 1]
        candidates = np.concatenate(
            [self._order[a:b] for a, b in zip(starts, ends, strict=True)] or [np.empty(0, int)]
        )
        vectors = unit_vectors(self._ra[candidates], self._dec[candidates])
        axis = unit_vectors(center.ra.deg, center.dec.deg)
        inside = vectors @ axis >= np.cos(radius.to_value(u.rad))
        return np.sort(candidates[inside])


def index_of(table, radius):
    """The index of a `read_gaia` table, or None when a scan is the better way.

    Parameters
    ----------
    table : `~astropy.table.QTable`
    radius : `~astropy.units.Quantity`

    Returns
    -------
    `ConeIndex` or None
        None for a table whose positions can change (not read by
        `ztfnb.io.read_gaia`), at its first cone, and for cones wider than
        60°.
    """
    ra, dec = table["ra"], table["dec"]
    if ra.flags.writeable or dec.flags.writeable or radius > _LARGEST:
        return None
    key = id(table)
    entry = _TABLES.get(key)
    if entry is None or entry[0]() is not table:
        # the first cone: remember the table (forgotten when it is), scan it
        _TABLES[key] = [weakref.ref(table, lambda _, key=key: _TABLES.pop(key, None)), None]
        return None
    if entry[1] is None:
        entry[1] = ConeIndex(
            u.Quantity(ra, u.deg, copy=False).value, u.Quantity(dec, u.deg, copy=False).value
        )
    return entry[1]
