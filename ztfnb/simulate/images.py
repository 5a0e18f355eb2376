"""Quadrant images of a simulated exposure, for the real SExtractor to measure.

The catalogues ``ztfnb simulate`` writes imitate SExtractor; these images let
SExtractor itself make them (``source-extractor img.fits -CATALOG_TYPE
FITS_LDAC``), with its own centroids, errors, flags and header handling, so
that code can be tested on catalogues built another way.

Objects are drawn at their true pixel positions (from ``truth/``) with
Gaussian profiles (stars at the exposure's seeing, galaxies wider), on a flat
sky with Gaussian noise. Cosmic rays are left out.

``ztfnb simulate --images RCIDS`` draws them inside its loop, from the
exposure's detections still in memory (`ImageWriter`): ``images/<exposure>.fits``
(an empty primary, one float32 extension per quadrant in rcid order, with the
catalogue's header) and ``images/<exposure>.weight.fits`` (the same extensions,
1 where a pixel is good and 0 where it is saturated: SExtractor's and SWarp's
``MAP_WEIGHT``). Pixels above the header's ``SATURATE`` (the full well) are
clipped to it. One quadrant is in memory at a time (38 MB of float32, plus
its weight), each appended to the files as it is drawn; its noise comes from
its own stream ``[seed, exposure index, 4, rcid]``, so every quadrant is the
same whichever others are asked for.
"""

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2
from ztfnb.extract import SEXTRACTOR_PARAMETERS  # re-exported: the columns extract asks for
from ztfnb.imagefiles import weight_name  # re-exported: the weight map beside an image
from ztfnb.io.atomic import atomic_path
from ztfnb.io.ldac import read_ldac

__all__ = [
    "IMAGE_STREAM",
    "SEXTRACTOR_PARAMETERS",
    "ImageWriter",
    "image_rcids",
    "images_rule",
    "render_exposure",
    "render_quadrant",
    "weight_name",
]

#: The image noise's random stream: ``np.random.default_rng([seed, index, IMAGE_STREAM, rcid])``.
IMAGE_STREAM = 4
_GAIN = 6.2  # e-/ADU, the header's GAIN

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


def images_rule(text):
    """Why ``text`` is not a list of quadrants for ``--images``, or None when it is one.

    Parameters
    ----------
    text : str
        ``""`` (no images), ``"all"``, or rcids separated by commas (``"0,1,45"``).

    Returns
    -------
    str or None
        One line naming the bad item, e.g. ``"'x' is not a readout quadrant (0-63)"``.
    """
    try:
        image_rcids(text)
    except ValueError as error:
        return str(error)
    return None


def image_rcids(text):
    """The quadrants ``--images`` asks for, in rcid order.

    Parameters
    ----------
    text : str
        ``""`` (none), ``"all"`` (the 64), or rcids (0-63) separated by commas.

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        Naming the item that is not an rcid (an empty one included).
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not text (rcids separated by commas, or 'all')")
    if text.strip() == "":
        return []
    if text.strip().lower() == "all":
        return list(range(N_QUADRANTS))
    rcids = set()
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or not 0 <= int(item) < N_QUADRANTS:
            raise ValueError(
                f"{item!r} in {text!r} is not a readout quadrant (rcid 0-{N_QUADRANTS - 1}, "
                "separated by commas, or 'all')"
            )
        rcids.add(int(item))
    return sorted(rcids)


def render_quadrant(x, y, flux, sigma, rng, sky=600.0, saturation=None):
    """One quadrant's pixels and weight: Gaussians on a flat sky with noise, saturated at the full well.

    Parameters
    ----------
    x, y : `~numpy.ndarray`, shape (n,)
        1-based true pixel positions of the objects.
    flux : `~numpy.ndarray`, shape (n,)
        Total fluxes, ADU.
    sigma : `~numpy.ndarray`, shape (n,)
        Gaussian widths, pixels.
    rng : `numpy.random.Generator`
    sky : float
        Sky level, ADU; the noise is its Poisson noise at the header's gain.
    saturation : float, optional
        Full well, ADU: pixels above are clipped to it and weigh 0.

    Returns
    -------
    image : `~numpy.ndarray`, shape (NAXIS2, NAXIS1), float32
    weight : `~numpy.ndarray`, shape (NAXIS2, NAXIS1), uint8
        1 where good, 0 where saturated.
    """
    image = rng.standard_normal((NAXIS2, NAXIS1), dtype=np.float32)
    image *= np.float32(np.sqrt(sky * _GAIN) / _GAIN)  # the sky's Poisson noise, in ADU
    image += np.float32(sky)
    _draw(image, x, y, flux, sigma)
    weight = np.ones(image.shape, np.uint8)
    if saturation is not None:
        full = image >= saturation
        image[full] = saturation
        weight[full] = 0
    return image, weight


class ImageWriter:
    """Appends an exposure's quadrant images and weights to their files, one quadrant at a time.

    Parameters
    ----------
    folder : path-like
        ``DIR/images``, made if missing.
    exposure : str
    """

    def __init__(self, folder, exposure):
        folder = Path(folder)
        folder.mkdir(exist_ok=True)
        self.image = folder / f"{exposure}.fits"
        self.weight = weight_name(self.image)
        for path in (self.image, self.weight):
            fits.PrimaryHDU().writeto(path)

    def add(self, header, objects, truth, rng, sky=600.0, flux=None):
        """Draw one quadrant from its catalogue rows and truth, and append it to both files.

        Parameters
        ----------
        header : `~astropy.io.fits.Header`
            The quadrant's catalogue header (``RCID``, ``SEEING``, ``SATURATE``, the rough WCS).
        objects : `~astropy.table.Table`
            Its catalogue rows (``FLUX_AUTO``).
        truth : `~astropy.table.Table`
            The same rows' truth (``kind``, ``x_true``, ``y_true``).
        rng : `numpy.random.Generator`
        sky : float
            Sky level, ADU.
        flux : `~numpy.ndarray`, optional
            Each row's flux to draw, ADU (default its ``FLUX_AUTO``).
        """
        flux = np.asarray(objects["FLUX_AUTO"] if flux is None else flux, float)
        kind = np.asarray(truth["kind"])
        real = kind != "cosmic"  # cosmic rays are left out of the pixels
        fwhm = float(header.get("SEEING", 2.0)) / 1.012
        sigma = np.where(kind == "galaxy", 2.0, 1.0) * fwhm / 2.3548
        image, weight = render_quadrant(
            np.asarray(truth["x_true"], float)[real],
            np.asarray(truth["y_true"], float)[real],
            flux[real],
            sigma[real],
            rng,
            sky=sky,
            saturation=float(header["SATURATE"]),
        )
        header = header.copy()
        for key in ("SIMPLE", "EXTEND"):
            header.remove(key, ignore_missing=True)
        name = f"RC{int(header['RCID']):02d}"
        fits.append(self.image, image, header=_image_header(header, -32, name))
        weight_header = _image_header(header, 8, name)
        weight_header["WEIGHTS"] = ("MAP_WEIGHT", "1 good, 0 saturated")
        fits.append(self.weight, weight, header=weight_header)


def _image_header(header, bitpix, name):
    header = header.copy()
    header["BITPIX"] = bitpix
    header["EXTNAME"] = name
    return header
