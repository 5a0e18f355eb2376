"""Quadrant images of a simulated exposure, for the real SExtractor to measure.

The catalogues ``ztfnb simulate`` writes imitate SExtractor; these images let
SExtractor itself make them (``source-extractor img.fits -CATALOG_TYPE
FITS_LDAC``), with its own centroids, errors, flags and header handling, so
that code can be tested on catalogues built another way.

Objects are drawn at their true pixel positions (from ``truth/``) with
Gaussian profiles (stars at the exposure's seeing, galaxies wider), on a flat
sky with Gaussian noise. Cosmic rays are left out.
"""

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.extract import SEXTRACTOR_PARAMETERS  # re-exported: the columns extract asks for
from ztfnb.io.atomic import atomic_path
from ztfnb.io.ldac import read_ldac

__all__ = ["SEXTRACTOR_PARAMETERS", "render_exposure"]

_STAMP = 12  # half-size of a drawn object, pixels


def _draw(image, x, y, flux, sigma):
    """Add Gaussians (1-based centres) to an image, stamp by stamp in vectorised batches."""
    offsets = np.arange(-_STAMP, _STAMP + 1)
    for start in range(0, x.size, 2000):
        cx = x[start : start + 2000] - 1.0
        cy = y[start : start + 2000] - 1.0
        ix = np.rint(cx).astype(int)[:, None] + offsets[None, :]
        iy = np.rint(cy).astype(int)[:, None] + offsets[None, :]
        s = sigma[start : start + 2000, None]
        gx = np.exp(-0.5 * ((ix - cx[:, None]) / s) ** 2)
        gy = np.exp(-0.5 * ((iy - cy[:, None]) / s) ** 2)
        norm = flux[start : start + 2000, None, None] / (2 * np.pi * s[:, :, None] ** 2)
        stamps = norm * gy[:, :, None] * gx[:, None, :]
        rows = np.broadcast_to(iy[:, :, None], stamps.shape)
        cols = np.broadcast_to(ix[:, None, :], stamps.shape)
        inside = (rows >= 0) & (rows < image.shape[0]) & (cols >= 0) & (cols < image.shape[1])
        np.add.at(image, (rows[inside], cols[inside]), stamps[inside])


def render_exposure(night_dir, exposure, out, rcids, seed=0, sky=600.0, noise=None):
    """Write a multi-extension image of some quadrants of a simulated exposure.

    Parameters
    ----------
    night_dir : path-like
    exposure : str
    out : path-like
        The FITS file (one image extension per quadrant, with the catalogue's header).
    rcids : sequence of int
        Quadrants to draw, in the order of the extensions.
    seed : int
    sky : float
        Sky level, ADU.
    noise : float, optional
        Per-pixel noise, ADU (default: the sky's Poisson noise at gain 6.2).

    Returns
    -------
    `~pathlib.Path`
    """
    night_dir = Path(night_dir)
    rng = np.random.default_rng(seed)
    pairs = {int(p.header["RCID"]): p for p in read_ldac(night_dir / f"{exposure}.ldac")}
    with fits.open(night_dir / "truth" / f"{exposure}.fits") as hdul:
        truth = Table.read(hdul["DETECTIONS"])
    noise = (
        noise if noise is not None else np.sqrt(sky * 6.2) / 6.2
    )  # Poisson noise of the sky in electrons, in ADU
    hdus = [fits.PrimaryHDU()]
    for rcid in rcids:
        pair = pairs[int(rcid)]
        mine = truth[truth["rcid"] == rcid]
        objects = pair.objects
        real = np.asarray(mine["kind"]) != "cosmic"
        fwhm = float(pair.header.get("SEEING", 2.0)) / 1.012
        sigma = np.where(np.asarray(mine["kind"]) == "galaxy", 2.0, 1.0) * fwhm / 2.3548
        image = np.full((NAXIS2, NAXIS1), sky, dtype=np.float64)
        flux = np.asarray(objects["FLUX_AUTO"], float)
        _draw(
            image,
            np.asarray(mine["x_true"])[real],
            np.asarray(mine["y_true"])[real],
            flux[real],
            sigma[real],
        )
        image += rng.normal(0.0, noise, image.shape)
        header = pair.header.copy()
        for key in ("SIMPLE", "EXTEND"):
            header.remove(key, ignore_missing=True)
        header["BITPIX"] = -32
        hdus.append(fits.ImageHDU(image.astype(np.float32), header=header, name=f"RC{rcid:02d}"))
    with atomic_path(out) as temporary:
        fits.HDUList(hdus).writeto(temporary)
    return Path(out)
