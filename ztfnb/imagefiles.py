"""Camera images on disk: their names, their image extensions, and the keywords ztfnb needs.

An image file is one exposure: a single quadrant in the primary HDU (as
ZTF's archive delivers ``…_sciimg.fits``), or a multi-extension file with one
quadrant per image extension. What SExtractor and SWarp will see, and in
which order, is every HDU holding a 2-D image (an empty primary is skipped, as
they skip it). Only headers are read here: a full exposure is 2.4 GB of pixels.

`check_image` refuses, before any program runs and anything is written, an
extension without a celestial WCS or without the camera keywords the prior
and ``solve`` read (`ztfnb.exposure.quadrant_identity`: ``RCID`` or
``CCDID``/``QID``, ``TELRAD``/``TELDECD``, ``OBSMJD``/``MJD-OBS``/``DATE-OBS``,
``EXPTIME``), in one line naming the file, the extension and the keyword.

Keywords of the exposure often live in the primary header of a multi-extension
file, each extension saying ``INHERIT = T`` (the FITS inheritance convention,
registered with the IAU FITS Working Group): an extension that says so gets
the primary's keywords it lacks (`inherit_primary`), as the convention asks,
for the checks here and in the catalogue ``extract`` writes (SExtractor copies
only the extension's own header into ``LDAC_IMHEAD``). Without ``INHERIT = T``
nothing is inherited, and a keyword found only in the primary is named as such.

A weight map lies beside its image as ``<stem>.weight.fits`` (``ztfnb
simulate --images`` writes them so; SWarp's default ``WEIGHT_SUFFIX``): 1 or
more where a pixel is good, 0 where it is bad (``MAP_WEIGHT``), with the
image's extensions. `weight_beside` finds it, `without_weight_maps` drops it
from a list of arguments that also names its image (``images/*.fits``).
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from ztfnb.exposure import quadrant_identity
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
        The keywords taken from the primary header.
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
                            found.append(ImageExtension(index, label, header.copy()))
                            continue
                        merged, inherited = inherit_primary(primary, header)
                        found.append(ImageExtension(index, label, merged, inherited, primary))
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


def _weight_name(image):
    """`weight_name` of an image argument; None for what cannot have one (a weight map itself)."""
    name = Path(image).name
    if not name.endswith(".fits") or name.endswith(WEIGHT_SUFFIX):
        return None
    return weight_name(image)


def weight_beside(image):
    """The weight map beside an image (``<stem>.weight.fits``), or None if there is none.

    Parameters
    ----------
    image : path-like

    Returns
    -------
    `~pathlib.Path` or None

    Raises
    ------
    InputError
        The weight map's image extensions differ in number or shape from the image's.
    """
    weight = _weight_name(image)
    if weight is None or not weight.is_file():
        return None
    ours = [e.header for e in image_extensions(image)]
    theirs = [e.header for e in image_extensions(weight)]
    shape = [(h["NAXIS1"], h["NAXIS2"]) for h in ours]
    if [(h["NAXIS1"], h["NAXIS2"]) for h in theirs] != shape:
        raise InputError(
            f"its image extensions (sizes {[(h['NAXIS1'], h['NAXIS2']) for h in theirs]}) "
            f"are not those of {image} ({shape})",
            path=weight,
        )
    return weight


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
    weights = {_weight_name(path).resolve() for path in paths if _weight_name(path) is not None}
    return [path for path in paths if path.resolve() not in weights]
