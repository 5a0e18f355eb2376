"""ZTF's archive layout: one SExtractor catalogue per readout quadrant, its header beside it.

The archive delivers per quadrant ``<exposure>_c<CCD>_o_q<Q>_sexcat.fits``
(``<exposure>`` is ``ztf_<filefracday>_<field>_<filter>``), beside
``…_sciimg.fits`` and ``…_psfcat.fits``. By the public code that reads them, a
sexcat is a plain SExtractor binary table in HDU 1 (``CATALOG_TYPE
FITS_1.0``), not FITS_LDAC; its image header (WCS, ``CCDID``, ``QID``,
``OBSMJD``, pointing...) is the science image's. This module reads and writes
those files; `ztfnb.catalogs` groups them into exposures.

Read
    * The header from ``<prefix>_sciimg.fits`` (its primary header, or the
      first image extension's of a tile-compressed ``.fits.fz``), else from
      ``<prefix>_sciimg.hdr``: the header as text, one card a line as
      `astropy.io.fits.Header.totextfile` writes it, or a SCAMP-style block
      ending in ``END``, or 80-character cards without line ends
      (`ztfnb.io.headers.read_header_blocks`; COMMENT and HISTORY dropped).
      The FITS image wins when both are there.
    * The detections from HDU 1 of the sexcat, any columns
      (`ztfnb.io.sextractor` chooses); a sexcat that is FITS_LDAC after all
      is read with its own header.
    * Keywords are completed only where missing (a header with ZTF's keywords
      is used unchanged): ``TELRAD``/``TELDECD`` from ``TELRA``/``TELDEC``
      (degrees, or sexagesimal hours and degrees as ``'12:34:56.7'``),
      ``OBSMJD`` from ``OBSJD``, ``CCDID``/``QID`` from the file name when the
      header has neither them nor ``RCID``.

Refused (`~ztfnb.io.errors.InputError`, naming the file)
    A sexcat without its header (the names looked for are given), a file
    name's CCD and quadrant that disagree with its header, a header file of
    several blocks, a sexcat without a table in HDU 1, a damaged FITS file (cut
    short, sizes that do not add up, a garbled header: `ztfnb.io.fitscheck`).

Written (`write_quadrant_files`, ``ztfnb simulate --per-quadrant``)
    ``…_sexcat.fits`` (an empty primary HDU, the detections in HDU 1) and
    ``…_sciimg.hdr`` (one card a line, ``END`` last), atomically; the same
    input gives the same bytes.
"""

import re
from pathlib import Path

from astropy.coordinates import Angle
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from ztfnb.camera import ccdid_qid
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file
from ztfnb.io.fitscheck import CATALOGUE_WARNINGS, open_fits, read_header_only
from ztfnb.io.headers import read_header_blocks
from ztfnb.io.ldac import HEADER_COLUMN, LdacExtension, read_ldac
from ztfnb.site import filter_band

__all__ = [
    "IMAGE_HEADER",
    "PSFCAT",
    "QUADRANT_NAME",
    "SEXCAT",
    "archive_exposure_name",
    "completed_header",
    "field_of",
    "file_stem",
    "filter_of",
    "header_file",
    "one_quadrant_ldac",
    "quadrant_file_name",
    "read_image_header",
    "read_quadrant",
    "read_quadrant_header",
    "write_quadrant_files",
]

#: The archive's quadrant part of a file's stem, and the exposure's name before it.
QUADRANT_NAME = re.compile(r"^(?P<exposure>.+)_c(?P<ccd>\d{2})_o_q(?P<qid>\d)(?:_.*)?$")
#: A sexcat's name, and the prefix its header files share.
SEXCAT = re.compile(r"^(?P<prefix>.+)_sexcat\.fits(?:\.gz)?$")
#: The science image's (or its text header's) name.
IMAGE_HEADER = re.compile(r"^(?P<prefix>.+)_sciimg\.(?:fits(?:\.fz|\.gz)?|hdr)$")
#: The PSF-fit catalogue's name (not read: not a SExtractor catalogue).
PSFCAT = re.compile(r"^(?P<prefix>.+)_psfcat\.fits(?:\.gz)?$")
_HEADER_SUFFIXES = ("_sciimg.fits", "_sciimg.fits.fz", "_sciimg.fits.gz", "_sciimg.hdr")
_FILTER_CODES = {1: "zg", 2: "zr", 3: "zi"}


def quadrant_file_name(exposure, ccdid, qid, product):
    """The archive's name of a quadrant's file: ``<exposure>_c<CCD>_o_q<Q>_<product>``.

    ``product`` is e.g. ``"sexcat.fits"``, ``"sciimg.fits"`` or ``"sciimg.hdr"``.
    """
    return f"{exposure}_c{int(ccdid):02d}_o_q{int(qid)}_{product}"


def write_quadrant_files(folder, exposure, extensions):
    """Write an exposure as the archive delivers it: per quadrant a sexcat and its header.

    ``<exposure>_c<CCD>_o_q<Q>_sexcat.fits`` (an empty primary HDU, the
    detections as a binary table in HDU 1) and ``…_sciimg.hdr`` (the image
    header as text, one card a line, ``END`` last), each written under a
    temporary name and renamed; the same input gives the same bytes.

    Parameters
    ----------
    folder : path-like
    exposure : str
        The exposure's name, ``ztf_<filefracday>_<field>_<filter>``.
    extensions : iterable of `~ztfnb.io.ldac.LdacExtension`
        Headers with ``CCDID`` and ``QID``.

    Returns
    -------
    list of `~pathlib.Path`
        The sexcat files.
    """
    folder = Path(folder)
    written = []
    for extension in extensions:
        header = extension.header
        ccdid, qid = int(header["CCDID"]), int(header["QID"])
        sexcat = folder / quadrant_file_name(exposure, ccdid, qid, "sexcat.fits")
        table = fits.table_to_hdu(Table(extension.objects))
        with atomic_path(sexcat) as temporary:
            fits.HDUList([fits.PrimaryHDU(), table]).writeto(temporary)
        text = header.tostring(sep="\n", endcard=True, padding=False) + "\n"
        with atomic_path(folder / quadrant_file_name(exposure, ccdid, qid, "sciimg.hdr")) as tmp:
            Path(tmp).write_text(text, encoding="ascii")
        written.append(sexcat)
    return written


def file_stem(path):
    """A file's name without its extension (``.fits.gz``, ``.fits.fz`` count as one)."""
    name = path.name
    for suffix in (".gz", ".fz"):
        name = name.removesuffix(suffix)
    return name.rsplit(".", 1)[0] if "." in name else name


def header_file(sexcat):
    """The image header beside a sexcat (``_sciimg.fits``, ``.fits.fz``, ``.fits.gz``, ``.hdr``, in that order); None when the sexcat is FITS_LDAC itself."""
    prefix = SEXCAT.match(sexcat.name)["prefix"]
    for suffix in _HEADER_SUFFIXES:
        candidate = sexcat.with_name(prefix + suffix)
        if candidate.is_file():
            return candidate
    if not sexcat.is_file():
        raise no_such_file(sexcat)
    if _is_ldac(sexcat):
        return None  # a sexcat written as FITS_LDAC carries its own header
    raise InputError(
        f"no image header beside it ({prefix}_sciimg.fits or {prefix}_sciimg.hdr): the archive's "
        "sexcat holds only detections; its WCS, CCDID, QID, OBSMJD and pointing are in the "
        "science image's header",
        path=sexcat,
    )


def _is_ldac(path):
    with open_fits(path, "SExtractor catalogue", allow=CATALOGUE_WARNINGS) as hdul:
        return any(
            isinstance(h, fits.BinTableHDU)
            and (
                str(h.name).upper().startswith("LDAC_IMHEAD")
                or HEADER_COLUMN.lower() in [c.name.lower() for c in h.columns]
            )
            for h in hdul[1:]
        )


def one_quadrant_ldac(path):
    """Whether a file named as an archive quadrant is FITS_LDAC with one quadrant."""
    with open_fits(path, "SExtractor catalogue", allow=CATALOGUE_WARNINGS) as hdul:
        heads = [h for h in hdul[1:] if str(h.name).upper().startswith("LDAC_IMHEAD")]
    return len(heads) == 1


def read_quadrant(path, header_path):
    """A quadrant's image header (completed, `completed_header`) and detections.

    Parameters
    ----------
    path : path-like
        The sexcat, or a one-quadrant FITS_LDAC file.
    header_path : path-like or None
        The sexcat's image header (`header_file`); None for FITS_LDAC.

    Returns
    -------
    `~ztfnb.io.ldac.LdacExtension`
    """
    path = Path(path)
    header, objects = _stored(path, header_path)
    return LdacExtension(completed_header(header, path), objects)


def read_quadrant_header(path, header_path):
    """A quadrant's image header, completed, without reading its detections (a sexcat's)."""
    path = Path(path)
    header = read_ldac(path)[0].header if header_path is None else read_image_header(header_path)
    return completed_header(header, path)


def _stored(path, header_path):
    """A quadrant's image header (as stored) and detections."""
    if header_path is None:
        extensions = read_ldac(path)
        if len(extensions) != 1:
            raise InputError(
                f"{len(extensions)} quadrants in a file named as one (…_c<CCD>_o_q<Q>…)", path=path
            )
        return extensions[0].header, extensions[0].objects
    return read_image_header(Path(header_path)), _read_sexcat(path)


def _read_sexcat(path):
    with open_fits(path, "SExtractor catalogue") as hdul:
        if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
            raise InputError(
                "no binary table in HDU 1: not a SExtractor catalogue (CATALOG_TYPE FITS_1.0)",
                path=path,
            )
        objects = Table.read(hdul[1], format="fits", unit_parse_strict="silent")
    objects.meta.clear()
    return objects


def read_image_header(path):
    """The image header of a ``_sciimg.fits`` (first image HDU) or of a text ``.hdr`` (one block)."""
    if path.suffix == ".hdr":
        blocks = read_header_blocks(path)
        if len(blocks) != 1:
            raise InputError(
                f"{len(blocks)} header blocks: one quadrant's image header expected", path=path
            )
        return blocks[0]
    # the image's data (tens of MB) is not needed: its size is checked, not read
    with read_header_only(path, "science image") as hdul:
        # the image: the primary HDU, or the first extension of a tile-compressed file
        for hdu in hdul:
            if hdu.header.get("NAXIS", 0) or isinstance(hdu, fits.CompImageHDU):
                return hdu.header.copy()
        return hdul[0].header.copy()


def _sexagesimal(value, hours, path, keyword):
    """Degrees from a number or a sexagesimal string (hours for RA)."""
    try:
        if isinstance(value, str) and (":" in value or " " in value.strip()):
            return Angle(value.strip(), unit="hourangle" if hours else "deg").deg
        return float(value)
    except (ValueError, TypeError):
        raise InputError(
            "not an angle (degrees or sexagesimal)", path=path, keyword=keyword, value=value
        ) from None


def completed_header(header, path):
    """The header with the keywords ztfnb needs added from the archive's others (when missing)."""
    header = header.copy()
    for key, source, hours in (("TELRAD", "TELRA", True), ("TELDECD", "TELDEC", False)):
        if key not in header and source in header:
            header[key] = (
                _sexagesimal(header[source], hours, path, source),
                f"[deg] from {source}",
            )
    if not any(k in header for k in ("OBSMJD", "MJD-OBS")) and "OBSJD" in header:
        try:
            header["OBSMJD"] = (float(header["OBSJD"]) - 2400000.5, "[day] from OBSJD")
        except (TypeError, ValueError):
            raise InputError(
                "not a number", path=path, keyword="OBSJD", value=header["OBSJD"]
            ) from None
    match = QUADRANT_NAME.match(file_stem(path))
    if match:
        ccdid, qid = int(match["ccd"]), int(match["qid"])
        if "RCID" not in header and not ("CCDID" in header and "QID" in header):
            header["CCDID"], header["QID"] = (ccdid, "from the file name"), (qid, "")
        else:
            said = _said_ccd_qid(header)
            if said is not None and said != (ccdid, qid):
                raise InputError(
                    f"the file name says CCD {ccdid}, quadrant {qid}; its header says CCDID "
                    f"{said[0]}, QID {said[1]}",
                    path=path,
                )
    return header


def _said_ccd_qid(header):
    try:
        if "CCDID" in header and "QID" in header:
            return int(header["CCDID"]), int(header["QID"])
        return tuple(int(v) for v in ccdid_qid(int(header["RCID"])))
    except (TypeError, ValueError, IndexError, KeyError):
        return None  # read_exposure names a bad keyword


def field_of(header):
    """``FIELDID`` as a whole number, or None."""
    value = header.get("FIELDID")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def filter_of(header):
    """The filter code (``zg``, ``zr``, ``zi``) from ``FILTERID`` or ``FILTER``, or None."""
    if "FILTERID" in header:
        try:
            return _FILTER_CODES.get(int(header["FILTERID"]), str(header["FILTERID"]))
        except (TypeError, ValueError):
            pass
    if "FILTER" in header:
        return "z" + filter_band(header["FILTER"])
    return None


def archive_exposure_name(mjd, field=None, filter_code=None):
    """``ztf_<filefracday>_<field>_<filter>``, as the archive names an exposure.

    Parameters
    ----------
    mjd : float
        Shutter open, UTC.
    field : int, optional
    filter_code : str, optional
        ``zg``, ``zr`` or ``zi``.
    """
    start = Time(mjd, format="mjd", scale="utc")
    name = f"ztf_{start.strftime('%Y%m%d')}{int((mjd % 1) * 1e6):06d}"
    if field is not None:
        name += f"_{field:06d}"
    return name + (f"_{filter_code}" if filter_code else "")


def exposure_name(named, mjd, field=None, filter_code=None):
    """The name ``ztfnb`` gives an exposure of per-quadrant files: their common prefix
    (``named``, from `QUADRANT_NAME`) when they have one, else the archive's name from
    the time, field and filter (`archive_exposure_name`)."""
    return named or archive_exposure_name(mjd, field, filter_code)
