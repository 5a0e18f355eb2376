"""Co-adds from images and their solutions: the real SWarp, in a private folder.

``ztfnb coadd IMAGE... --heads DIR --out COADD.fits`` resamples the images
through the solutions SCAMP wrote (``DIR/<exposure>.head``, one header block
per image extension, each ended by ``END``) and co-adds them, writing
``COADD.fits`` and its weight ``COADD.weight.fits``. The proof of a verdict is
in such a picture: a solution that took off in a corner doubles its stars
there, and ``--exclude METRICS.ecsv`` leaves the quadrants the verdict flagged
(``ztfnb quality``'s table: columns ``exposure``, ``rcid``, ``flag``) out.

SWarp reads a solution from ``<image stem>.head`` beside the image, and
writes resampled images, swap files and its XML into its working folder. So
it runs in a private temporary folder where each image is linked (not
copied) beside a copy of its ``.head``; an image with excluded quadrants is
written there again with only the others (its ``.head`` likewise), since
SWarp has no way to skip an extension. A weight map beside an image
(``<stem>.weight.fits``, `ztfnb.imagefiles.weight_beside`) is linked beside it
too and used (``WEIGHT_TYPE MAP_WEIGHT``: SWarp finds it by its default
``WEIGHT_SUFFIX``), so saturated pixels count for nothing; weight maps given
as arguments beside their images are not co-added. Nothing is written into
the user's folders but the two outputs, each under a temporary name renamed when SWarp
has finished (`ztfnb.io.atomic`).
"""

import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from ztfnb.canvas import Canvas, check_canvas, quadrant_corners
from ztfnb.exposure import quadrant_identity
from ztfnb.imagefiles import (
    WEIGHT_SUFFIX,
    check_image,
    check_image_names,
    image_name,
    weight_beside,
    weight_name,
    without_weight_maps,
)
from ztfnb.io.archive import QUADRANT_NAME, exposure_name, field_of, file_stem, filter_of
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file
from ztfnb.io.headers import (
    check_wcs_keywords,
    read_header_blocks,
    write_header_blocks,
)
from ztfnb.plainfits import plain_copy
from ztfnb.tools import find_tool, run_tool

__all__ = ["DEFAULT_OPTIONS", "CoaddRun", "coadd_images", "flagged_quadrants", "weight_path"]

#: SWarp settings ztfnb passes (callers may override or add others; the output
#: names, folders and header suffix are ztfnb's own).
DEFAULT_OPTIONS = {
    # a weighted mean, not a median: a reference image is one, and a bad solution must show
    "COMBINE_TYPE": "WEIGHTED",
    "RESAMPLING_TYPE": "LANCZOS3",
    "SUBTRACT_BACK": "Y",
    "WEIGHT_TYPE": "NONE",
    "CELESTIAL_TYPE": "EQUATORIAL",
    "PROJECTION_TYPE": "TAN",
    "WRITE_XML": "N",
    "VERBOSE_TYPE": "QUIET",
    "NTHREADS": "0",  # SWarp's own choice: the cores
}
_OURS = ("IMAGEOUT_NAME", "WEIGHTOUT_NAME", "RESAMPLE_DIR", "VMEM_DIR", "HEADER_SUFFIX", "XML_NAME")


def weight_path(out):
    """``COADD.fits`` → ``COADD.weight.fits``, the co-add's weight beside it (`weight_name`)."""
    return weight_name(out)


def flagged_quadrants(path):
    """The (exposure, rcid) pairs a quality metrics table flags.

    Parameters
    ----------
    path : path-like
        ``ztfnb quality``'s ``METRICS.ecsv`` (columns ``exposure``, ``rcid``, ``flag``).

    Returns
    -------
    set of (str, int)

    Raises
    ------
    InputError
        Not such a table.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path, "metrics table")
    try:
        table = QTable.read(path, format="ascii.ecsv")
    except Exception as error:  # astropy raises several types for a malformed ECSV
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"cannot read as ECSV: {first}", path=path) from error
    for column in ("exposure", "rcid", "flag"):
        if column not in table.colnames:
            raise InputError(
                "missing column (not a 'ztfnb quality' table?)", path=path, column=column
            )
    flagged = table[np.asarray(table["flag"], bool)]
    return {(str(e), int(r)) for e, r in zip(flagged["exposure"], flagged["rcid"], strict=True)}


@dataclass
class CoaddRun:
    """What `coadd_images` wrote.

    Attributes
    ----------
    image, weight : `~pathlib.Path`
    quadrants : int
        Quadrants co-added.
    excluded : list of (str, int)
        The (exposure, rcid) quadrants left out.
    elapsed : float
        SWarp's wall time, seconds.
    canvas : `~ztfnb.canvas.Canvas` or None
        The canvas ztfnb expected SWarp to make (None when the SWarp settings chose it).
    """

    image: Path
    weight: Path
    quadrants: int
    excluded: list
    elapsed: float
    canvas: Canvas | None = None


def _stage(image, heads, work, flagged):
    """Put an image and its solution side by side in ``work``; the (exposure, rcid) left out.

    A compressed image (or weight map), which SWarp cannot read, is written there
    uncompressed (`ztfnb.plainfits`); a plain one is linked.
    """
    name = image_name(image)
    extensions = check_image(image)
    blocks, head, exposure = _solution(image, Path(heads), extensions)
    check_wcs_keywords(blocks, head)
    rcids = [quadrant_identity(e.header, image, e.label)[0] for e in extensions]
    weight = weight_beside(image, extensions)
    kept = [i for i, rcid in enumerate(rcids) if (exposure, rcid) not in flagged]
    footprint = [_footprint(blocks[i], extensions[i].header) for i in kept]
    excluded = [(exposure, rcids[i]) for i in range(len(rcids)) if i not in kept]
    if len(kept) == len(extensions):
        for source, ending in ((image, ".fits"), (weight, WEIGHT_SUFFIX)):
            if source is not None and plain_copy(source, work, f"{name}{ending}") == source:
                (work / f"{name}{ending}").symlink_to(source.resolve())
        write_header_blocks(work / f"{name}.head", blocks)
    elif kept:
        for source, target in ((image, ".fits"), (weight, WEIGHT_SUFFIX)):
            if source is None:
                continue
            with fits.open(source, memmap=True) as hdul:
                # an empty primary's keywords stay: extensions may inherit them (INHERIT = T)
                empty = hdul[0].header.get("NAXIS", 0) == 0
                hdus = [fits.PrimaryHDU(header=hdul[0].header.copy() if empty else None)]
                for i in kept:  # a weight map's extensions are its image's, in order
                    extension = hdul[extensions[i].hdu]
                    hdus.append(fits.ImageHDU(extension.data, header=extension.header))
                fits.HDUList(hdus).writeto(work / f"{name}{target}")
        write_header_blocks(work / f"{name}.head", [blocks[i] for i in kept])
    path = work / f"{name}.fits" if kept else None
    return path, len(kept), excluded, weight is not None, footprint


def _solution(image, heads, extensions):
    """The solution's blocks for an image's extensions, the file holding them, the exposure's name.

    ``<image name>.head``; or, for one quadrant in its own file as ZTF's archive
    delivers it (``…_c<CCD>_o_q<Q>_sciimg.fits``), its block of its exposure's
    solution: ``ztfnb solve`` names an exposure of per-quadrant files after their
    common prefix (or the archive's name from its time, field and filter), and
    the ``.ahead`` beside the ``.head`` says which block is which ``RCID``.
    """
    name = image_name(image)
    own = head = heads / f"{name}.head"
    if head.is_file():
        blocks = read_header_blocks(head)
        if len(blocks) != len(extensions):
            raise InputError(
                f"{len(blocks)} header block(s) for the {len(extensions)} image extension(s) "
                f"of {image}",
                path=head,
            )
        return blocks, head, name
    if len(extensions) == 1:
        header = extensions[0].header
        rcid, start, _, _ = quadrant_identity(header, image, extensions[0].label)
        match = QUADRANT_NAME.match(file_stem(image))  # named as `ztfnb solve` names it
        exposure = exposure_name(
            match["exposure"] if match else None, start.mjd, field_of(header), filter_of(header)
        )
        head, ahead = heads / f"{exposure}.head", heads / f"{exposure}.ahead"
        if head.is_file():
            if not ahead.is_file():
                raise InputError(
                    f"{head} is this quadrant's exposure's solution, but {ahead.name}, which "
                    "says which of its blocks is which RCID, is not beside it",
                    path=image,
                )
            blocks = read_header_blocks(head)
            said = [block.get("RCID") for block in read_header_blocks(ahead)]
            if len(said) != len(blocks) or rcid not in said:
                raise InputError(
                    f"no block for RCID {rcid} in {head} (its .ahead lists RCIDs {said})",
                    path=image,
                )
            return [blocks[said.index(rcid)]], head, exposure
    raise InputError(
        f"no solution for this image: {own} is missing ('ztfnb solve --out {heads}' writes it)",
        path=image,
    )


def _footprint(block, header):
    """A quadrant's corners and pixel scale (″) through its solution, for `check_canvas`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TPV's PV cards, SCAMP's non-standard ones
        wcs = WCS(block, naxis=2)
    return quadrant_corners(wcs, int(header["NAXIS1"]), int(header["NAXIS2"]))


def _weighting(weighted):
    """SWarp's WEIGHT_TYPE: MAP_WEIGHT for images with a weight map, one entry per image."""
    if not any(weighted):
        return {}
    if all(weighted):
        return {"WEIGHT_TYPE": "MAP_WEIGHT"}
    return {"WEIGHT_TYPE": ",".join("MAP_WEIGHT" if w else "NONE" for w in weighted)}


def coadd_images(images, heads, out, exclude=None, options=None, timeout=3600):
    """Resample images through their solutions and co-add them with SWarp.

    Parameters
    ----------
    images : sequence of path-like
        FITS images (an exposure each, one quadrant per image extension); the
        weight maps of images among them are left out, and each image's
        weight map beside it is used.
    heads : path-like
        Folder holding ``<exposure>.head`` for each image (``ztfnb solve --out``).
    out : path-like
        The co-add; its weight goes to `weight_path` (``COADD.weight.fits``).
        Both are replaced if they exist (the command line refuses them
        without ``--overwrite``).
    exclude : path-like, optional
        A quality metrics table: its flagged quadrants are left out.
    options : dict, optional
        SWarp settings over `DEFAULT_OPTIONS`.
    timeout : float
        Seconds allowed to SWarp.

    Returns
    -------
    `CoaddRun`

    Raises
    ------
    ToolNotFoundError
        ``SWarp`` is not installed (before anything else).
    InputError
        A missing ``.head`` (naming the image), one whose blocks do not match
        the image's extensions, an image without a WCS or the camera keywords,
        every quadrant excluded, a canvas that no tangent plane or no disk holds
        (`ztfnb.canvas.check_canvas`): before SWarp runs, nothing written.
    RuntimeError
        SWarp stopped with an error (its last lines quoted), or wrote nothing.
    """
    executable = find_tool("swarp")
    images = without_weight_maps(images)
    check_image_names(images)
    flagged = flagged_quadrants(exclude) if exclude is not None else set()
    mine = sorted(set(options or {}) & set(_OURS))
    if mine:
        raise ValueError(f"SWarp setting(s) {', '.join(mine)} are ztfnb's own (see --out)")
    out = Path(out)
    weight = weight_path(out)
    with tempfile.TemporaryDirectory(prefix="ztfnb-coadd-") as work:
        work = Path(work)
        staged, quadrants, excluded, weighted, footprints = [], 0, [], [], []
        for image in images:
            path, count, left_out, has_weight, footprint = _stage(image, heads, work, flagged)
            staged += [path] if path else []
            weighted += [has_weight] if path else []
            footprints += [(image_name(image), footprint)] if path else []
            quadrants += count
            excluded += left_out
        if not staged:
            raise InputError(
                f"every quadrant of the images is flagged in {exclude}: nothing to co-add"
            )
        canvas = check_canvas(footprints, out.parent, options)
        with atomic_path(out) as image_temporary, atomic_path(weight) as weight_temporary:
            settings = {
                **DEFAULT_OPTIONS,
                **_weighting(weighted),
                **(options or {}),
                "IMAGEOUT_NAME": image_temporary,
                "WEIGHTOUT_NAME": weight_temporary,
                "RESAMPLE_DIR": work,
                "VMEM_DIR": work,
                "HEADER_SUFFIX": ".head",
                "XML_NAME": work / "swarp.xml",
            }
            command = [executable, *[path.name for path in staged], "-c", os.devnull]
            for key, value in settings.items():
                command += [f"-{key}", value]
            try:
                run = run_tool(command, work, timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"SWarp ran longer than {timeout:g} s") from None
            if run.returncode:
                raise RuntimeError(run.failure("SWarp"))
            if image_temporary.stat().st_size == 0:
                raise RuntimeError("SWarp wrote no co-add")
    return CoaddRun(out, weight, quadrants, excluded, run.elapsed, canvas)
