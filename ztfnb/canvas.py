"""The canvas SWarp will make for a co-add, measured before SWarp runs.

With its defaults (``CENTER_TYPE ALL``, ``IMAGE_SIZE 0``, ``PIXELSCALE_TYPE
MEDIAN``), which ztfnb keeps, SWarp makes one tangent-plane (``TAN``) image
that covers every input, at the median of their pixel scales. Images of fields
far apart make a canvas of tens of gigapixels: SWarp then fails minutes later
("Error while writing …weight.fits") once the disk is full. `check_canvas`
refuses such a co-add first, in one line giving the canvas's size, the free
space, and the two images farthest apart.

The estimate takes each quadrant's corners through its solution (astropy's
``calc_footprint`` of the ``.head`` block), centres a tangent
plane on the mean of the corners' directions and measures their extent there,
at the median of the quadrants' pixel scales.
With SWarp's margin (`SWARP_MARGIN`) it is within 1 % of SWarp's own canvas
(tested against SWarp).
"""

import shutil
from dataclasses import dataclass

import numpy as np
from astropy.wcs.utils import proj_plane_pixel_area

from ztfnb.io.errors import InputError
from ztfnb.tangent import tangent_basis, unit_vectors

__all__ = ["Canvas", "check_canvas", "estimate_canvas", "quadrant_corners"]

#: Settings with which the user, not SWarp's automatic choice, decides the canvas.
USER_CANVAS = ("IMAGE_SIZE", "CENTER_TYPE", "CENTER", "PIXELSCALE_TYPE", "PIXEL_SCALE")
#: Bytes a canvas pixel costs on disk: the float32 co-add and its float32 weight.
BYTES_PER_PIXEL = 8
#: SWarp's automatic canvas is this much larger than its inputs' extent (measured against
#: SWarp 2.41: 1.050–1.052 at three separations, tests/test_coadd.py).
SWARP_MARGIN = 1.05
#: Corners farther than this from the canvas's centre cannot be held by one tangent plane.
_MAX_RADIUS_DEG = 80.0


@dataclass(frozen=True)
class Canvas:
    """The co-add's size, as SWarp would choose it.

    Attributes
    ----------
    nx, ny : int
        Pixels along RA and Dec.
    scale_arcsec : float
        Pixel scale, arcseconds (the median of the inputs').
    span_deg : float
        The largest angle between two images' centres, degrees.
    farthest : tuple of str
        The two images apart by ``span_deg``.
    """

    nx: int
    ny: int
    scale_arcsec: float
    span_deg: float
    farthest: tuple

    @property
    def bytes(self):
        """Disk space of the co-add and its weight (float32 each)."""
        return self.nx * self.ny * BYTES_PER_PIXEL


def quadrant_corners(wcs, naxis1, naxis2):
    """A quadrant's four outer corners on the sky through its solution (astropy's
    `~astropy.wcs.WCS.calc_footprint`, the pixels' outer edges), and its pixel scale.

    Parameters
    ----------
    wcs : `~astropy.wcs.WCS`
        The solution (celestial, two axes).
    naxis1, naxis2 : int
        The image's size, pixels.

    Returns
    -------
    corners : `~numpy.ndarray`
        Shape (4, 3): unit vectors.
    scale : float
        Pixel scale at the reference point, arcseconds.
    """
    ra, dec = wcs.calc_footprint(axes=(naxis1, naxis2), center=False).T
    return unit_vectors(ra, dec), 3600 * float(np.sqrt(proj_plane_pixel_area(wcs)))


def estimate_canvas(images):
    """The canvas SWarp's automatic centre, size and scale give.

    Parameters
    ----------
    images : list of (str, list of (`~numpy.ndarray`, float))
        Per image: its name, and per quadrant its corners and pixel scale in
        arcseconds (`quadrant_corners`).

    Returns
    -------
    `Canvas`
        ``nx``/``ny`` are 0 when no tangent plane holds every corner (images
        more than ≈80° from their common centre).
    """
    corners = np.concatenate([c for _, quadrants in images for c, _ in quadrants])
    scale = float(np.median([s for _, quadrants in images for _, s in quadrants]))
    centres = np.array([np.mean([c for c, _ in quadrants], axis=(0, 1)) for _, quadrants in images])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cosines = np.clip(centres @ centres.T, -1, 1)
    i, j = np.unravel_index(np.argmin(cosines), cosines.shape)
    span = float(np.degrees(np.arccos(cosines[i, j])))
    farthest = (images[i][0], images[j][0])
    mean = corners.mean(axis=0)
    if np.linalg.norm(mean) < 1e-9:
        return Canvas(0, 0, scale, span, farthest)
    mean /= np.linalg.norm(mean)
    lon = np.degrees(np.arctan2(mean[1], mean[0])) % 360
    lat = np.degrees(np.arcsin(np.clip(mean[2], -1, 1)))
    centre, east, north = tangent_basis(lon, lat)
    depth = corners @ centre
    if np.min(depth) < np.cos(np.radians(_MAX_RADIUS_DEG)):
        return Canvas(0, 0, scale, span, farthest)
    xi = np.degrees(corners @ east / depth)
    eta = np.degrees(corners @ north / depth)
    nx = int(np.ceil(SWARP_MARGIN * np.ptp(xi) * 3600 / scale))
    ny = int(np.ceil(SWARP_MARGIN * np.ptp(eta) * 3600 / scale))
    return Canvas(nx, ny, scale, span, farthest)


def check_canvas(images, folder, options=None):
    """Refuse a co-add whose canvas no tangent plane or no disk holds, before SWarp runs.

    Parameters
    ----------
    images : list
        As `estimate_canvas` takes them.
    folder : path-like
        Where the co-add is written (its disk's free space counts).
    options : dict, optional
        SWarp settings: with any of `USER_CANVAS` the user chose the canvas,
        and nothing is checked.

    Returns
    -------
    `Canvas` or None
        None when the user chose the canvas.

    Raises
    ------
    InputError
        Naming the canvas's size, the free space and the two images farthest apart.
    """
    if set(options or {}) & set(USER_CANVAS):
        return None
    canvas = estimate_canvas(images)
    a, b = canvas.farthest
    apart = f"{a} and {b} lie {canvas.span_deg:.1f}° apart"
    if canvas.nx == 0:
        raise InputError(
            f"no tangent-plane co-add holds these images: {apart}; "
            "co-add each field apart (or give SWarp's CENTER and IMAGE_SIZE with --swarp)"
        )
    free = shutil.disk_usage(folder).free
    if canvas.bytes > free:
        raise InputError(
            f"the co-add would be {canvas.nx:,} × {canvas.ny:,} pixels at "
            f"{canvas.scale_arcsec:.3f}″ ({canvas.bytes / 1e9:,.1f} GB with its weight), more "
            f"than the {free / 1e9:,.1f} GB free in {folder}; {apart}: co-add each field "
            "apart (or give SWarp's IMAGE_SIZE with --swarp)"
        )
    return canvas
