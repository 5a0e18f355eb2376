"""A HEALPix index of a Gaia table, so that a cone reads the rows near it, not every row.

A cone through the full table computes a unit vector for every star: 1.3 s
and gigabytes at 20 M rows, three times per exposure. The index sorts the
rows by their HEALPix cell once (depth `DEPTH`, cells of 0.9°) and keeps only
that order (4 bytes a row) and where each cell starts; a cone is then the
cells cdshealpix says it overlaps, and the exact test of `select_cone` on
their rows alone. The rows come back in the table's order, so an indexed cone
is the same table as the scan's.

The order is a counting sort of the cells, built a block of rows at a time
(`CellOrder`): a 20 M-row Gaia file is indexed from its positions read in
blocks (`ztfnb.io.gaiafits`) without ever holding them, and without the
160 MB of an int64 argsort.

Tables `ztfnb.io.read_gaia` read are indexed: their ``ra`` and ``dec``
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

__all__ = ["DEPTH", "N_CELLS", "CellOrder", "ConeIndex", "cells_of", "index_of", "inside_cone"]

#: HEALPix depth of the index: 49,152 cells of 0.92°, about 150 of them under a ZTF field.
DEPTH = 6
#: How many cells: the numbers 0 .. N_CELLS - 1 fit in 16 bits; N_CELLS marks a row left out.
N_CELLS = 12 * 4**DEPTH
#: Added to the radius when asking which cells a cone overlaps: cdshealpix's
#: coverage is conservative, and this keeps a star on the edge of a cell in.
_MARGIN = 1 * u.arcsec
#: Above this radius a cone covers so much of the sky that a scan is as fast.
_LARGEST = 60 * u.deg
#: Rows sorted at a time when ordering the cells (an int64 argsort of this many: 8 MB).
_BLOCK = 1 << 20
_TABLES = {}


def cells_of(ra, dec):
    """The index's HEALPix cell of each position.

    Parameters
    ----------
    ra, dec : `~numpy.ndarray`, shape (n,)
        Degrees (ICRS), finite, ``|dec| <= 90``.

    Returns
    -------
    `~numpy.ndarray` of uint16, shape (n,)
        Nested cell numbers at depth `DEPTH`.
    """
    cells = cdshealpix.nested.lonlat_to_healpix(
        Longitude(ra, u.deg, copy=False), Latitude(dec, u.deg, copy=False), DEPTH
    )
    return cells.astype(np.uint16)


class CellOrder:
    """Row numbers sorted by HEALPix cell (a stable counting sort), and where each cell starts.

    Parameters
    ----------
    cells : `~numpy.ndarray` of uint16, shape (n,)
        Each row's cell (`cells_of`); `N_CELLS` for a row to leave out of
        every cone. Not kept.
    """

    def __init__(self, cells):
        counts = np.bincount(cells, minlength=N_CELLS + 1)
        starts = np.zeros(N_CELLS + 2, np.int64)
        np.cumsum(counts, out=starts[1:])
        rows = np.int32 if len(cells) < 2**31 else np.int64
        order = np.empty(len(cells), rows)
        # where the next row of each cell goes, minus where the block's rows of that cell start
        fill = starts[:-1].copy()
        for first in range(0, len(cells), _BLOCK):
            block = cells[first : first + _BLOCK]
            by_cell = np.argsort(block, kind="stable")  # a radix sort of 16-bit keys
            sorted_cells = block[by_cell]
            in_block = np.bincount(block, minlength=N_CELLS + 1)
            block_starts = np.cumsum(in_block) - in_block
            place = (fill - block_starts)[sorted_cells] + np.arange(len(block))
            order[place] = by_cell + first
            fill += in_block
        self._order = order[: starts[N_CELLS]]  # the rows left out sort last
        self._starts = starts[: N_CELLS + 1]

    def candidates(self, center, radius):
        """The rows of the cells a cone overlaps, ascending: a superset of the cone's.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
        radius : `~astropy.units.Quantity`

        Returns
        -------
        `~numpy.ndarray` of int, shape (m,)
        """
        center = center.icrs
        cells, _, _ = cdshealpix.nested.cone_search(
            Longitude(center.ra), Latitude(center.dec), radius + _MARGIN, DEPTH, flat=True
        )
        starts, ends = self._starts[cells], self._starts[cells + 1]
        chosen = [self._order[a:b] for a, b in zip(starts, ends, strict=True)]
        return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, self._order.dtype)


def inside_cone(ra, dec, center, radius):
    """Which positions are within ``radius`` of ``center``: `select_cone`'s one test.

    Parameters
    ----------
    ra, dec : `~numpy.ndarray`, shape (n,)
        Degrees.
    center : `~astropy.coordinates.SkyCoord`
    radius : `~astropy.units.Quantity`

    Returns
    -------
    `~numpy.ndarray` of bool, shape (n,)
    """
    center = center.icrs
    # a star further in declination than the radius is further in angle: only
    # the band of declinations is tested, the same test row by row
    reach = (radius + _MARGIN).to_value(u.deg)
    band = np.flatnonzero(np.abs(np.asarray(dec) - center.dec.deg) <= reach)
    axis = unit_vectors(center.ra.deg, center.dec.deg)
    inside = np.zeros(len(dec), bool)
    inside[band] = unit_vectors(ra[band], dec[band]) @ axis >= np.cos(radius.to_value(u.rad))
    return inside


class ConeIndex:
    """Rows of a table of positions sorted by HEALPix cell.

    Parameters
    ----------
    ra, dec : `~numpy.ndarray`, shape (n,)
        Degrees (ICRS).
    """

    def __init__(self, ra, dec):
        self._cells = CellOrder(
            np.concatenate(
                [
                    cells_of(ra[k : k + _BLOCK], dec[k : k + _BLOCK])
                    for k in range(0, len(ra), _BLOCK)
                ]
                or [np.empty(0, np.uint16)]
            )
        )
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
        candidates = self._cells.candidates(center, radius)
        return candidates[inside_cone(self._ra[candidates], self._dec[candidates], center, radius)]


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
