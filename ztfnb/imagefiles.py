"""Camera images on disk: their names, their image extensions, and the keywords ztfnb needs.

An image file is one exposure: a single quadrant in the primary HDU (as
ZTF's archive delivers ``…_sciimg.fits``), or a multi-extension file with one
quadrant per image extension. What SExtractor and SWarp will see, and in
which order, is every HDU holding a 2-D image (an empty primary is skipped, as
they skip it). Only headers are read here: a full exposure is 2.4 GB of pixels.

`check_image` refuses, before any program runs and anything is written, an
extension without a celestial WCS or without the camera keywords the prior
and ``solve`` read (`ztfnb.exposure.quadrant_identity`: ``RCID`` or
``CCDID``/``QID``, ``TELRAD``/``TELDECD``, ``OBSMJD``/``MJD-OBS``/``DATE-OBS``; ``EXPTIME``
checked when there), in one line naming the file, the extension and the keyword;
missing ones are first completed from the others the archive writes
(``TELRA``/``TELDEC``, ``OBSJD``, the CCD and quadrant in an archive file name),
as catalogue headers are (`ztfnb.io.archive.completed_header`).

Keywords of the exposure often live in the primary header of a multi-extension
file, each extension saying ``INHERIT = T`` (the FITS inheritance convention,
registered with the IAU FITS Working Group): an extension that says so gets
the primary's keywords it lacks (`inherit_primary`), as the convention asks,
for the checks here and in the catalogue ``extract`` writes (SExtractor copies
only the extension's own header into ``LDAC_IMHEAD``). Without ``INHERIT = T``
nothing is inherited, and a keyword found only in the primary is named as such.

A weight map lies beside its image as ``<stem>.weight.fits`` (``ztfnb
simulate --images`` writes them so; SWarp's default ``WEIGHT_SUFFIX``), or
``.weight.fits.fz``/``.weight.fits.gz``: 1 or more where a pixel is good, 0
where it is bad (``MAP_WEIGHT``), with the image's extensions in the image's
order (those that say their quadrant must say the same one). `weight_beside` finds it, `without_weight_maps` drops it
from a list of arguments that also names its image (``images/*.fits``).
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from ztfnb.camera import rcid_of
from ztfnb.exposure import quadrant_identity
from ztfnb.io.archive import completed_header
from ztfnb.io.errors import InputError, no_such_file
from ztfnb.io.headers import check_wcs_keywords

__all__ = [
    "WEIGHT_SUFFIX",
    "ImageExtension",
    "check_image",
    "check_image_names",
    "image_extensions",
    "image_name",
    "inherit_primary",
    "weight_beside",
    "weight_name",
    "without_weight_maps",
]

#: How a weight map's name ends, its image's being ``.fits``.
WEIGHT_SUFFIX = ".weight.fits"

#: Primary-header cards an extension never inherits: the mandatory and data-describing ones,
#: checksums and commentary (the FITS inheritance convention), and the extension's own names.
_NOT_INHERITED = {
    "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "NEXTEND", "BSCALE", "BZERO", "BLANK", "BUNIT",
    "DATAMIN", "DATAMAX", "CHECKSUM", "DATASUM", "COMMENT", "HISTORY", "", "INHERIT",
    "EXTNAME", "EXTVER", "EXTLEVEL", "XTENSION", "PCOUNT", "GCOUNT",
}  # fmt: skip

#: Endings of an image (or weight map) file's name: plain, tile-compressed (fpack), gzip.
_IMAGE_ENDINGS = (".fits", ".fits.fz", ".fits.gz")

#: Endings of an image file's name that are not part of the exposure's name.
_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".gz")


def image_name(path):
    """The exposure's name: the file's name without its FITS endings (``x.fits.fz`` → ``x``).

    The catalogue ``extract`` writes, and so the ``.head`` SCAMP writes, carry it.
    """
    name = Path(path).name
    while name.lower().endswith(_SUFFIXES):
        name = name[: name.rindex(".")]
    return name


@dataclass(frozen=True)
class ImageExtension:
    """One image extension of a file.

    Attributes
    ----------
    hdu : int
        Its HDU number in the file (0 the primary).
    label : str
        How messages name it: its number and its ``EXTNAME``.
    header : `~astropy.io.fits.Header`
        Its header, with the primary's keywords when it says ``INHERIT = T``.
    inherited : tuple of str
        The keywords not in the extension's own header: taken from the primary,
        or completed from others (`ztfnb.io.archive.completed_header`:
        ``TELRAD`` from ``TELRA``...).
    primary : `~astropy.io.fits.Header` or None
        The primary header of a multi-extension file (None for an image in the primary).
    """

    hdu: int
    label: str
    header: fits.Header
    inherited: tuple = ()
    primary: fits.Header | None = None


def inherit_primary(primary, header, force=False):
    """An extension's header with the primary header's keywords it lacks, if it says ``INHERIT = T``.

    Parameters
    ----------
    primary, header : `~astropy.io.fits.Header`
        The file's primary header and the extension's.
    force : bool
        Inherit whatever ``INHERIT`` says (to tell a user that the keyword
        they miss is in the primary).

    Returns
    -------
    header : `~astropy.io.fits.Header`
        A copy; the inherited cards follow the extension's own, with their comments.
    inherited : tuple of str
        The keywords added.

    Notes
    -----
    The FITS inheritance convention (W. Pence, FITS Support Office, registered
    with the IAU FITS Working Group): with ``INHERIT = T`` in an extension, the
    primary's keywords apply to it unless it has its own; the mandatory
    keywords, checksums, ``COMMENT``/``HISTORY`` and blank cards are not
    inherited (`_NOT_INHERITED` adds the data-describing ones).
    """
    header = header.copy()
    if not (force or header.get("INHERIT") is True):
        return header, ()
    added = []
    for card in primary.cards:
        key = card.keyword
        if key in _NOT_INHERITED or key.startswith("NAXIS") or key in header:
            continue
        header.append(card, end=True)
        added.append(key)
    return header, tuple(added)


def image_extensions(path):
    """The HDUs of a FITS file that hold a 2-D image, in file order (headers only).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of `ImageExtension`

    Raises
    ------
    InputError
        No such file, not readable as FITS, or no 2-D image in it.
    """
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path, "image")
    found = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # astropy's fixes of non-standard cards: the tools read them
            with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
                primary = hdul[0].header.copy()
                for index, hdu in enumerate(hdul):
                    header = hdu.header
                    if hdu.is_image and header.get("NAXIS", 0) == 2:
                        name = str(header.get("EXTNAME", "")).strip()
                        label = f"{index} ({name})" if name else str(index)
                        if index == 0:
                            merged, inherited, primary_header = header.copy(), (), None
                        else:
                            merged, inherited = inherit_primary(primary, header)
                            primary_header = primary
                        # TELRAD/TELDECD from TELRA/TELDEC, OBSMJD from OBSJD, CCD and
                        # quadrant from an archive file name: as catalogue headers are read
                        completed = completed_header(merged, path)
                        added = inherited + tuple(k for k in completed if k not in merged)
                        found.append(ImageExtension(index, label, completed, added, primary_header))
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"cannot read as a FITS image ({error})", path=path) from error
    if not found:
        raise InputError("no 2-D image in this FITS file", path=path)
    return found


def check_image(path):
    """Refuse an image whose extensions lack a celestial WCS or the camera keywords.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of `ImageExtension`
        Its image extensions, checked.

    Raises
    ------
    InputError
        Naming the file, the extension and the keyword; also two extensions of
        one quadrant (``RCID``), or extensions that disagree on ``TELRAD``/``TELDECD``
        (one exposure per file).
    """
    extensions = image_extensions(path)
    seen, pointings = {}, set()
    for extension in extensions:
        rcid, pointing = _checked(extension, path)
        if rcid in seen:
            raise InputError(
                f"RCID {rcid} appears twice (also in extension {seen[rcid]})",
                path=path,
                extension=extension.label,
            )
        seen[rcid] = extension.label
        pointings.add((round(pointing[0], 6), round(pointing[1], 6)))
    if len(pointings) > 1:
        raise InputError("extensions disagree on TELRAD/TELDECD: one exposure per file", path=path)
    return extensions


def _checked(extension, path):
    """An extension's rcid and pointing; a keyword missing there but in the primary header
    is named as such (the extension does not say ``INHERIT = T``)."""
    try:
        check_wcs_keywords([extension.header], path, labels=[extension.label])
        rcid, _, pointing, _ = quadrant_identity(extension.header, path, extension.label)
    except InputError as error:
        if extension.primary is None or extension.header.get("INHERIT") is True:
            raise
        forced, _ = inherit_primary(extension.primary, extension.header, force=True)
        try:
            check_wcs_keywords([forced], path, labels=[extension.label])
            quadrant_identity(forced, path, extension.label)
        except InputError:
            raise error from None
        hinted = InputError(
            f"{error}; the primary header has it, but the extension does not say "
            "INHERIT = T (the FITS inheritance convention)"
        )
        hinted.path, hinted.extension, hinted.keyword = error.path, error.extension, error.keyword
        raise hinted from None
    return rcid, pointing


def check_image_names(paths):
    """Refuse two images with one exposure name: their outputs would overwrite each other.

    Raises
    ------
    InputError
        Naming both files.
    """
    seen = {}
    for path in map(Path, paths):
        name = image_name(path)
        if name in seen:
            same = seen[name].resolve() == path.resolve()
            raise InputError(
                "the same image is given twice"
                if same
                else f"two images named {name!r} ({seen[name]} too): rename one",
                path=path,
            )
        seen[name] = path


def weight_name(image):
    """``<stem>.fits`` → ``<stem>.weight.fits``: where an image's weight map lies (SWarp's
    default ``WEIGHT_SUFFIX``), for simulated images and co-adds alike.

    Parameters
    ----------
    image : path-like

    Returns
    -------
    `~pathlib.Path`
    """
    image = Path(image)
    stem = image.name[: -len(".fits")] if image.name.lower().endswith(".fits") else image.name
    return image.with_name(stem + WEIGHT_SUFFIX)


def _stem(image):
    """The image's name without its FITS ending (``.fits``, ``.fits.fz``, ``.fits.gz``), or None."""
    name = Path(image).name
    for ending in _IMAGE_ENDINGS:
        if name.lower().endswith(ending):
            return name[: -len(ending)]
    return None


def _weight_names(image):
    """Where an image argument's weight map may lie (``<stem>.weight.fits``, compressed or
    not); none for what cannot have one (a weight map itself)."""
    stem = _stem(image)
    if stem is None or stem.lower().endswith(".weight"):
        return []
    return [Path(image).with_name(f"{stem}.weight{ending}") for ending in _IMAGE_ENDINGS]


def weight_beside(image, extensions=None):
    """The weight map beside an image (``<stem>.weight.fits``), or None if there is none.

    Parameters
    ----------
    image : path-like
    extensions : list of `ImageExtension`, optional
        The image's, when already read (`check_image`).

    Returns
    -------
    `~pathlib.Path` or None

    Raises
    ------
    InputError
        The weight map's image extensions differ in number or shape from the image's.
    """
    weight = next((w for w in _weight_names(image) if w.is_file()), None)
    if weight is None:
        return None
    ours = [e.header for e in (extensions or image_extensions(image))]
    theirs = image_extensions(weight)
    shape = [(h["NAXIS1"], h["NAXIS2"]) for h in ours]
    if [(e.header["NAXIS1"], e.header["NAXIS2"]) for e in theirs] != shape:
        raise InputError(
            f"its image extensions (sizes {[(e.header['NAXIS1'], e.header['NAXIS2']) for e in theirs]}) "
            f"are not those of {image} ({shape})",
            path=weight,
        )
    # SExtractor and SWarp pair them by position: a weight map in another order than its
    # image would mask each quadrant with another's bad pixels
    for mine, its in zip(ours, theirs, strict=True):
        a, b = _quadrant_of(mine), _quadrant_of(its.header)
        if a is not None and b is not None and a != b:
            raise InputError(
                f"it holds RCID {b} where {image} holds RCID {a}: write the weight map's "
                "extensions in its image's order",
                path=weight,
                extension=its.label,
            )
    return weight


def _quadrant_of(header):
    """A header's rcid when it says one (``RCID``, or ``CCDID`` and ``QID``), else None."""
    try:
        if "RCID" in header:
            return int(header["RCID"])
        if "CCDID" in header and "QID" in header:
            return rcid_of(int(header["CCDID"]), int(header["QID"]))
    except (TypeError, ValueError, IndexError):
        return None
    return None


def without_weight_maps(paths):
    """The arguments less the weight maps whose images are among them (``images/*.fits``).

    Parameters
    ----------
    paths : sequence of path-like

    Returns
    -------
    list of `~pathlib.Path`
        In the given order.
    """
    paths = [Path(path) for path in paths]
    weights = {w.resolve() for path in paths for w in _weight_names(path)}
    return [path for path in paths if path.resolve() not in weights]
