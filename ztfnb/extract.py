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
    counts = [len(check_image(image)) for image in images]
    weights = [weight_beside(image) for image in images]
    settings = {**DEFAULT_OPTIONS, **(options or {})}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, len(images)))
    with tempfile.TemporaryDirectory(prefix="ztfnb-extract-") as work:
        parameters = Path(work) / "ztfnb.param"
        parameters.write_text("\n".join(SEXTRACTOR_PARAMETERS) + "\n")

        def one(image, count, weight):
            target = catalog_path(out, image)
            weighting = {}
            if weight is not None and "WEIGHT_TYPE" not in (options or {}):
                weighting = {"WEIGHT_TYPE": "MAP_WEIGHT", "WEIGHT_IMAGE": weight.resolve()}
            with atomic_path(target) as temporary:
                command = [executable, image.resolve(), "-c", "/dev/null"]
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
                if run.returncode:
                    raise RuntimeError(f"{image}: {run.failure('SExtractor')}")
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
            rows = list(pool.map(one, images, counts, weights))
    return QTable(rows=rows, names=["image", "catalog", "quadrants", "detections", "seconds"])
