"""The simulator's truth, written beside a night for tests and accuracy reports.

``truth/<exposure>.fits`` holds, per exposure:

- ``GRID``: the true sky position (ICRS, at the exposure's epoch) of a 17 × 17
  grid of pixel positions on every quadrant, corners included. Bicubic
  interpolation of the tangent-plane offsets reproduces the exact mapping to
  better than a milliarcsecond (tested).
- ``DETECTIONS``: for every catalogue row, its Gaia ``source_id`` (−1 for
  galaxies and cosmic rays), its kind and its true pixel position.
- ``HEADER_ERRORS`` (only in nights simulated with per-quadrant header errors):
  per quadrant, the fractional scale error and the rotation (degrees) by which
  its rough header's CD was turned about CRPIX.

`TrueMapping` reads the grid and evaluates the true pixel → sky mapping.

``truth/<exposure>.head`` (only for nights simulated with ``--images``): the
true solution of each imaged quadrant as SCAMP writes solutions and SWarp
reads them (one header block per image extension, in its order, `truth_heads`):
a TPV polynomial fitted to the grid, so that a co-add "from the truth" is
``ztfnb coadd DIR/images/*.fits --heads DIR/truth``.
"""

from functools import cached_property
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from scipy.interpolate import RectBivariateSpline

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.tangent import gnomonic, gnomonic_inverse
from ztfnb.tpv import fit_tpv, tpv_header

__all__ = [
    "GRID_POINTS",
    "TRUTH_HEAD_DEGREE",
    "TrueMapping",
    "truth_grid",
    "truth_heads",
    "write_truth",
]

#: Degree of the TPV polynomial of ``truth/<exposure>.head``.
TRUTH_HEAD_DEGREE = 4

GRID_POINTS = 17


def _grid_axes():
    return np.linspace(0.5, NAXIS1 + 0.5, GRID_POINTS), np.linspace(0.5, NAXIS2 + 0.5, GRID_POINTS)


def truth_grid(projection, rcids):
    """Pixel grid and true sky positions of the given quadrants.

    Parameters
    ----------
    projection : `~ztfnb.simulate.projection.ExposureProjection`
    rcids : iterable of int

    Returns
    -------
    `~astropy.table.Table`
        Columns ``rcid, x, y, ra, dec``.
    """
    gx, gy = _grid_axes()
    xx, yy = np.meshgrid(gx, gy, indexing="ij")
    rows = []
    for rcid in rcids:
        u_deg, v_deg = projection.camera[rcid].pixel_to_focal(xx.ravel(), yy.ravel())
        rows.append((np.full(xx.size, rcid), xx.ravel(), yy.ravel(), u_deg, v_deg))
    rcid, x, y, u_deg, v_deg = (np.concatenate(part) for part in zip(*rows, strict=True))
    sky = projection.focal_to_sky(u_deg, v_deg)  # one astropy call for all quadrants
    return Table(
        {
            "rcid": rcid.astype(np.int16),
            "x": x,
            "y": y,
            "ra": sky.ra.deg * u.deg,
            "dec": sky.dec.deg * u.deg,
        }
    )


def write_truth(path, exposure, projection, grid, detections, header_errors=None):
    """Write an exposure's truth file atomically.

    Parameters
    ----------
    path : path-like
    exposure : `~ztfnb.simulate.schedule.PlannedExposure`
    projection : `~ztfnb.simulate.projection.ExposureProjection`
    grid : `~astropy.table.Table`
        From `truth_grid`.
    detections : `~astropy.table.Table`
        Columns ``rcid, NUMBER, source_id, kind, x_true, y_true``.
    header_errors : `~astropy.table.Table`, optional
        Columns ``rcid, scale_error, rotation_error``: written as ``HEADER_ERRORS``.
    """
    boresight = projection.boresight
    weather = exposure.weather
    primary = fits.PrimaryHDU()
    header = primary.header
    header["EXPOSURE"] = (exposure.name, "exposure name")
    header["BORE_RA"] = (float(boresight.ra.deg), "[deg] true boresight (ICRS at the epoch)")
    header["BORE_DEC"] = (float(boresight.dec.deg), "[deg] true boresight (ICRS at the epoch)")
    header["MIDMJD"] = (float(exposure.mid_time.utc.mjd), "[d] UTC MJD of mid-exposure")
    header["ROTATION"] = (exposure.rotation, "[deg] camera rotation")
    header["POINTX"] = (exposure.pointing_error[0], "[arcsec] pointing error, xi")
    header["POINTY"] = (exposure.pointing_error[1], "[arcsec] pointing error, eta")
    header["PRESSURE"] = (weather.pressure.to_value(u.hPa), "[hPa] true pressure")
    header["TEMPERAT"] = (weather.temperature.to_value(u.deg_C), "[deg C] true temperature")
    header["HUMIDITY"] = (weather.relative_humidity, "true relative humidity (0-1)")
    header["WAVELEN"] = (weather.wavelength.to_value(u.um), "[um] effective wavelength")
    grid_hdu = fits.table_to_hdu(grid)
    grid_hdu.name = "GRID"
    detections_hdu = fits.table_to_hdu(detections)
    detections_hdu.name = "DETECTIONS"
    hdus = [primary, grid_hdu, detections_hdu]
    if header_errors is not None:
        errors_hdu = fits.table_to_hdu(header_errors)
        errors_hdu.name = "HEADER_ERRORS"
        hdus.append(errors_hdu)
    with atomic_path(path) as temporary:
        fits.HDUList(hdus).writeto(temporary)


class TrueMapping:
    """The true pixel → sky mapping of one simulated exposure.

    Parameters
    ----------
    grid : `~astropy.table.Table`
        Columns ``rcid, x, y, ra, dec`` on a regular pixel grid per quadrant.
    boresight : `~astropy.coordinates.SkyCoord`
        Tangent point used for interpolation (any point near the field works).
    meta : dict, optional
        The truth file's header values.
    """

    def __init__(self, grid, boresight, meta=None):
        self.grid = grid
        self.boresight = boresight
        self.meta = dict(meta or {})

    @classmethod
    def read(cls, path):
        """Read ``truth/<exposure>.fits``."""
        path = Path(path)
        if not path.is_file():
            raise InputError("no such truth file", path=path)
        with fits.open(path) as hdul:
            header = hdul[0].header
            grid = Table.read(hdul["GRID"])
            boresight = SkyCoord(header["BORE_RA"] * u.deg, header["BORE_DEC"] * u.deg)
            meta = {
                key: header[key]
                for key in header
                if key not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND")
            }
        return cls(grid, boresight, meta)

    @property
    def rcids(self):
        """The quadrants the truth covers."""
        return sorted({int(r) for r in self.grid["rcid"]})

    @cached_property
    def _splines(self):
        gx, gy = _grid_axes()
        splines = {}
        center = (self.boresight.ra.deg, self.boresight.dec.deg)
        for rcid in self.rcids:
            rows = self.grid[self.grid["rcid"] == rcid]
            order = np.lexsort((np.asarray(rows["y"]), np.asarray(rows["x"])))
            xi, eta = gnomonic(
                np.asarray(rows["ra"])[order], np.asarray(rows["dec"])[order], *center
            )
            shape = (gx.size, gy.size)
            splines[rcid] = (
                RectBivariateSpline(gx, gy, xi.reshape(shape), kx=3, ky=3, s=0),
                RectBivariateSpline(gx, gy, eta.reshape(shape), kx=3, ky=3, s=0),
            )
        return splines

    def pixel_to_sky(self, rcid, x, y):
        """True ICRS positions of 1-based pixel positions on a quadrant.

        Parameters
        ----------
        rcid : int
        x, y : array-like
            Within the quadrant (0.5 to NAXIS + 0.5).

        Returns
        -------
        `~astropy.coordinates.SkyCoord`
        """
        if int(rcid) not in self._splines:
            raise KeyError(
                f"quadrant rcid {rcid} is not in the truth (missing from the catalogue?)"
            )
        spline_xi, spline_eta = self._splines[int(rcid)]
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        xi = spline_xi.ev(x, y)
        eta = spline_eta.ev(x, y)
        ra, dec = gnomonic_inverse(xi, eta, self.boresight.ra.deg, self.boresight.dec.deg)
        return SkyCoord(ra * u.deg, dec * u.deg)


def truth_heads(mapping, rcids, degree=TRUTH_HEAD_DEGREE):
    """The true solution of quadrants as TPV header blocks, SCAMP's ``.head`` for SWarp.

    Each block is a TAN about the true sky position of the quadrant's central
    pixel (``CRPIX`` there, so the polynomial's variables stay below half a
    degree), with the CD of a linear fit to the grid and a TPV polynomial of
    ``degree`` fitted by least squares (`ztfnb.tpv.fit_tpv`) to the true
    tangent-plane positions of the 17 × 17 grid.

    Parameters
    ----------
    mapping : `TrueMapping`
    rcids : sequence of int
        Quadrants, in the order of the blocks (the image's extensions).
    degree : int

    Returns
    -------
    list of `~astropy.io.fits.Header`
        Each with ``RCID`` first, then the TPV WCS (`ztfnb.tpv.tpv_header`).
    """
    centre = np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2])
    blocks = []
    for rcid in rcids:
        rows = mapping.grid[mapping.grid["rcid"] == rcid]
        crval = mapping.pixel_to_sky(rcid, centre[0], centre[1])
        crval = (float(crval.ra.deg), float(crval.dec.deg))
        xi, eta = gnomonic(np.asarray(rows["ra"], float), np.asarray(rows["dec"], float), *crval)
        offsets = np.column_stack([np.asarray(rows["x"]), np.asarray(rows["y"])]) - centre
        # the linear part first, so that TPV's terms are small corrections about it
        cd = np.linalg.lstsq(offsets, np.column_stack([xi, eta]), rcond=None)[0].T
        xi_in, eta_in = cd @ offsets.T
        pv1, pv2, _ = fit_tpv(xi_in, eta_in, xi, eta, degree)
        block = tpv_header(
            crval, centre, cd, pv1, pv2, extra=[("RCID", int(rcid), "readout channel id (0-63)")]
        )
        block["CRVAL1"] = (crval[0], "[deg] true position of the central pixel")
        block["CRVAL2"] = (crval[1], "[deg] true position of the central pixel")
        block["CRPIX1"] = (float(centre[0]), "[pix] the quadrant's central pixel")
        blocks.append(block)
    return blocks
