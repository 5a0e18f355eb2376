"""Catalogues from images: the real SExtractor, configured for SCAMP and for ztfnb.

``ztfnb extract IMAGE... --out DIR`` runs ``source-extractor`` on each image
(one exposure: one quadrant, or one per image extension) and writes
``DIR/<exposure>.ldac``: a FITS_LDAC catalogue with one ``LDAC_IMHEAD`` /
``LDAC_OBJECTS`` pair per image extension, in the image's order, the
``LDAC_IMHEAD`` holding the extension's header as SExtractor copies it. That is
what ``ztfnb prior``, ``solve`` and ``quality`` read, and what SCAMP reads:
the ``.head`` it writes then has one block per image extension, which is what
SWarp needs beside the image (`ztfnb.coadd`).

The columns are those SCAMP uses (windowed centroids and their error
ellipses, ``FLUX_AUTO``, ``FLAGS``, ``FLUX_RADIUS``, ``ELONGATION``) and ztfnb
chooses (`ztfnb.io.sextractor`). The configuration is explicit, from an
empty file (``-c /dev/null``): SExtractor's defaults otherwise come from
whatever ``default.sex`` lies in the working folder. Every image's headers
are checked before the first run (`ztfnb.imagefiles.check_image`), so a
refusal leaves nothing written; each catalogue is written under a temporary
name and renamed once read back as an exposure (`ztfnb.exposure.read_exposure`).
An extension that inherits the primary header's keywords (``INHERIT = T``)
gets them in its ``LDAC_IMHEAD`` too: SExtractor copies only the extension's
own header, and SCAMP and ztfnb read the exposure's keywords there; so do
keywords completed as the archive's catalogues are (``TELRAD`` from ``TELRA``...).
Tile-compressed (``.fits.fz``) and gzipped images and weight maps, which
SExtractor cannot read, are measured from an uncompressed copy in a private
temporary folder (`ztfnb.plainfits`).
Images are measured in parallel, one SExtractor (one thread) each: the
Python side only waits. A weight map beside an image (``<stem>.weight.fits``,
`ztfnb.imagefiles.weight_beside`) is used (``WEIGHT_TYPE MAP_WEIGHT``: its
zero pixels, such as saturated ones, are bad), and one given as an argument
beside its image is not itself measured.
"""

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from astropy.table import QTable

from ztfnb.exposure import read_exposure
from ztfnb.imagefiles import (
    check_image,
    check_image_names,
    image_name,
    weight_beside,
    without_weight_maps,
)
from ztfnb.io.atomic import atomic_path
from ztfnb.io.ldac import read_ldac, write_ldac
from ztfnb.plainfits import plain_copy
from ztfnb.tools import find_tool, run_tool

__all__ = ["DEFAULT_OPTIONS", "SEXTRACTOR_PARAMETERS", "catalog_path", "extract_images"]

#: The columns asked of SExtractor (its ``PARAMETERS_NAME`` file).
SEXTRACTOR_PARAMETERS = (
    "NUMBER",
    "XWIN_IMAGE",
    "YWIN_IMAGE",
    "ERRAWIN_IMAGE",
    "ERRBWIN_IMAGE",
    "ERRTHETAWIN_IMAGE",
    "FLUX_AUTO",
    "FLUXERR_AUTO",
    "MAG_AUTO",
    "MAGERR_AUTO",
    "FLUX_RADIUS",
    "ELONGATION",
    "FLAGS",
)

#: SExtractor settings ztfnb passes (callers may override or add others).
DEFAULT_OPTIONS = {
    "CATALOG_TYPE": "FITS_LDAC",
    # no convolution mask to ship: detection on the image itself, 3 sigma over 5 pixels
    "FILTER": "N",
    "DETECT_THRESH": "3",
    "ANALYSIS_THRESH": "3",
    "DETECT_MINAREA": "5",
    "BACK_SIZE": "128",
    # ZTF's headers carry the gain and the saturation level under these names
    "GAIN_KEY": "GAIN",
    "SATUR_KEY": "SATURATE",
    "CHECKIMAGE_TYPE": "NONE",
    "WRITE_XML": "N",
    "VERBOSE_TYPE": "QUIET",
    "NTHREADS": "1",  # parallel over images instead
}


def catalog_path(out, image):
    """``DIR/<exposure>.ldac``: where `extract_images` writes an image's catalogue."""
    return Path(out) / f"{image_name(image)}.ldac"


def extract_images(images, out, workers=None, options=None, timeout=600, log=None):
    """Run SExtractor on images, one FITS_LDAC catalogue per image.

    Parameters
    ----------
    images : sequence of path-like
        FITS images, each one exposure (its quadrants as image extensions);
        the weight maps of images among them are left out, and each image's
        weight map beside it is used.
    out : path-like
        Folder for ``<exposure>.ldac`` (made if missing); existing catalogues
        are replaced (the command line refuses them without ``--overwrite``).
    workers : int, optional
        SExtractor runs at once (default: the cores, at most one per image).
    options : dict, optional
        SExtractor settings over `DEFAULT_OPTIONS`.
    timeout : float
        Seconds allowed to one run.
    log : callable, optional
        Called with one line per catalogue written.

    Returns
    -------
    `~astropy.table.QTable`
        One row per image: ``image``, ``catalog``, ``quadrants``,
        ``detections``, ``seconds`` (SExtractor's wall time).

    Raises
    ------
    ToolNotFoundError
        ``source-extractor`` is not installed (before anything else).
    InputError
        An image without a WCS or the camera keywords, two images of one name:
        before any run, nothing written.
    RuntimeError
        SExtractor stopped with an error (its last lines quoted).
    """
    executable = find_tool("sextractor")
    images = without_weight_maps(images)
    check_image_names(images)
    checked = [check_image(image) for image in images]
    weights = [weight_beside(image, e) for image, e in zip(images, checked, strict=True)]
    settings = {**DEFAULT_OPTIONS, **(options or {})}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, len(images)))
    with tempfile.TemporaryDirectory(prefix="ztfnb-extract-") as work:
        parameters = Path(work) / "ztfnb.param"
        parameters.write_text("\n".join(SEXTRACTOR_PARAMETERS) + "\n")

        def one(image, extensions, weight):
            count = len(extensions)
            target = catalog_path(out, image)
            weighting = _inherited_levels(extensions, settings)
            name = image_name(image)
            copies = []  # uncompressed copies (SExtractor reads no .fz/.gz), each an exposure's size
            if weight is not None and "WEIGHT_TYPE" not in (options or {}):
                plain = plain_copy(weight, work, f"{name}.weight.fits")
                copies += [plain] if plain != weight else []
                weighting |= {"WEIGHT_TYPE": "MAP_WEIGHT", "WEIGHT_IMAGE": plain.resolve()}
            with atomic_path(target) as temporary:
                measured = plain_copy(image, work, f"{name}.fits")
                copies += [measured] if measured != image else []
                command = [executable, measured.resolve(), "-c", "/dev/null"]
                for key, value in {
                    **settings,
                    **weighting,
                    "PARAMETERS_NAME": parameters,
                    "CATALOG_NAME": temporary,
                }.items():
                    command += [f"-{key}", value]
                try:
                    run = run_tool(command, work, timeout)
                except subprocess.TimeoutExpired:
                    raise RuntimeError(
                        f"{image}: SExtractor ran longer than {timeout:g} s"
                    ) from None
                finally:
                    for copy in copies:
                        copy.unlink(missing_ok=True)
                if run.returncode:
                    raise RuntimeError(f"{image}: {run.failure('SExtractor')}")
                if any(e.inherited for e in extensions):
                    _carry_inherited(temporary, extensions)
                catalog = read_exposure(temporary)  # what solve will read, checked now
                if len(catalog.extensions) != count:
                    raise RuntimeError(
                        f"{image}: SExtractor wrote {len(catalog.extensions)} catalogue "
                        f"extension(s) for {count} image extension(s)"
                    )
            detections = sum(len(e.objects) for e in catalog.extensions)
            if log:
                log(f"{target}: {count} quadrant(s), {detections} detections, {run.elapsed:.1f} s")
            return str(image), str(target), count, detections, run.elapsed

        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(one, images, checked, weights))
    return QTable(rows=rows, names=["image", "catalog", "quadrants", "detections", "seconds"])


def _inherited_levels(extensions, settings):
    """SExtractor's ``GAIN`` and ``SATUR_LEVEL`` from the primary header, for extensions that
    inherit them: SExtractor reads ``GAIN_KEY``/``SATUR_KEY`` in the extension's own header
    only, and uses these values where the keyword is not there (an extension's own
    keyword still wins, as inheritance asks)."""
    levels = {}
    for key, level in (("GAIN_KEY", "GAIN"), ("SATUR_KEY", "SATUR_LEVEL")):
        keyword = str(settings.get(key, "")).upper()
        for extension in extensions:
            if keyword in extension.inherited:
                levels[level] = extension.header[keyword]
                break
    return levels


def _carry_inherited(catalog, extensions):
    """Add to each ``LDAC_IMHEAD`` the keywords its image extension inherits from the primary.

    A catalogue of another number of extensions is left for the caller to refuse.
    """
    chips = read_ldac(catalog)
    if len(chips) != len(extensions):
        return
    pairs = []
    for chip, extension in zip(chips, extensions, strict=True):
        header = chip.header.copy()
        for key in ("XTENSION", "PCOUNT", "GCOUNT"):  # an image extension's, not a header's
            header.remove(key, ignore_missing=True)
        for key in extension.inherited:
            if key not in header:
                header.append(extension.header.cards[key], end=True)
        pairs.append((header, chip.objects))
    write_ldac(catalog, pairs)
