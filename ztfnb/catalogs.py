"""Catalogue paths → exposures: one FITS_LDAC per exposure, or the archive's files per quadrant.

Every command that takes catalogues (``prior fit``, ``prior ahead``, ``solve``,
``quality``) reads them through `find_exposures` and `read_catalogs`. A path
given is one of:

``*.ldac`` (or any other name): a FITS_LDAC catalogue of one exposure
    One ``LDAC_IMHEAD``/``LDAC_OBJECTS`` pair per quadrant, named by its stem,
    as before (`ztfnb.exposure.read_exposure`).
``<prefix>_sexcat.fits``: one quadrant as ZTF's archive delivers it
    A plain SExtractor binary table (HDU 1; not FITS_LDAC) whose image header
    is that of ``<prefix>_sciimg.fits`` beside it (its primary header, or the
    first extension's of a tile-compressed ``.fits.fz``), or, for users who
    keep only headers, of ``<prefix>_sciimg.hdr``: the header as text, one
    card per line as `astropy.io.fits.Header.totextfile` writes it, or a
    SCAMP-style block ending in ``END`` (80-character cards without line
    ends read too). The FITS image wins when both are there. A sexcat that
    is FITS_LDAC after all is read with its own header.
A FITS_LDAC file holding one quadrant, named as the archive names quadrants
    ``…_c<CCD>_o_q<Q>…`` (``ztf_20231017123456_000512_zr_c04_o_q3_sexcat.ldac``).
``<prefix>_sciimg.fits``/``.hdr`` given beside their sexcat are skipped (so
``ztfnb solve night/ztf_*`` works); alone they are refused, as is a
``_psfcat.fits`` (PSF-fit photometry, not a SExtractor catalogue).

Quadrant files are grouped into exposures by their headers: the same field
(``FIELDID``), filter (``FILTERID`` or ``FILTER``) and shutter time (within
1 s). An exposure is named ``ztf_<filefracday>_<field>_<filter>``: the part
of its files' names before ``_c<CCD>_o_q<Q>`` (which must agree), or, for
files named otherwise, made from the headers as the archive makes it. Its
quadrants are ordered by readout channel (``RCID``), the order of the
FITS_LDAC catalogue ``ztfnb solve`` writes for SCAMP (`~ztfnb.io.ldac.write_ldac`) and of the
``.ahead`` blocks.

Headers are read liberally, and only what is missing is added (a header with
the ZTF keywords is used unchanged): ``TELRAD``/``TELDECD`` from
``TELRA``/``TELDEC`` (degrees, or sexagesimal hours and degrees as
``'12:34:56.7'``); ``OBSMJD`` from ``OBSJD``; ``CCDID``/``QID`` from the file
name when the header has neither them nor ``RCID``.

Refused, in one line naming the file: a sexcat without its header (the names
looked for are given); two files for the same quadrant of an exposure; files
whose names say one exposure and whose headers say two (another time,
field or filter); quadrants of one exposure that disagree on the pointing
or the exposure time; a file name's CCD and quadrant that disagree with its
header; an image header or psfcat without its catalogue; two inputs that
would give outputs of the same name.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.coordinates import Angle
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from ztfnb.camera import ccdid_qid
from ztfnb.exposure import exposure_from_extensions, quadrant_identity, read_exposure
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.io.headers import read_header_blocks
from ztfnb.io.ldac import HEADER_COLUMN, LdacExtension, read_ldac
from ztfnb.site import filter_band

__all__ = [
    "CatalogSource",
    "find_exposures",
    "quadrant_file_name",
    "read_catalogs",
    "write_quadrant_files",
]

#: The archive's quadrant part of a file name, and the exposure's name before it.
_QUADRANT_NAME = re.compile(r"^(?P<exposure>.+)_c(?P<ccd>\d{2})_o_q(?P<qid>\d)(?:_.*)?$")
_SEXCAT = re.compile(r"^(?P<prefix>.+)_sexcat\.fits(?:\.gz)?$")
_SCIIMG = re.compile(r"^(?P<prefix>.+)_sciimg\.(?:fits(?:\.fz|\.gz)?|hdr)$")
_PSFCAT = re.compile(r"^(?P<prefix>.+)_psfcat\.fits(?:\.gz)?$")
_HEADER_SUFFIXES = ("_sciimg.fits", "_sciimg.fits.fz", "_sciimg.fits.gz", "_sciimg.hdr")
_SAME_TIME = 1.0 / 86400  # days: one shutter
_FILTER_CODES = {1: "zg", 2: "zr", 3: "zi"}


@dataclass(frozen=True)
class _Quadrant:
    """One quadrant's file (and header file), placed in its exposure by its header."""

    path: Path
    header_path: Path | None  # None: the header is in ``path`` (FITS_LDAC)
    rcid: int
    mjd: float
    pointing: tuple
    exptime: float | None
    field: int | None
    filter: str | None
    named: str | None  # the exposure's name from the file name, if it follows the archive's

    def load(self):
        """The quadrant's header (completed) and detections, as an `LdacExtension`."""
        header, objects = _load(self.path, self.header_path)
        return LdacExtension(_completed(header, self.path), objects)


@dataclass(frozen=True)
class CatalogSource:
    """Where one exposure's catalogue comes from: one FITS_LDAC file, or one file per quadrant.

    Attributes
    ----------
    name : str
        The exposure's name, which its outputs carry (``<name>.head``...).
    path : `~pathlib.Path`
        The catalogue; for quadrant files, ``<their folder>/<name>.ldac``
        (where ztfnb would write them as one catalogue).
    quadrants : tuple
        The quadrant files in readout-channel order (empty for one file).
    """

    name: str
    path: Path
    quadrants: tuple = field(default=(), repr=False)

    @property
    def per_quadrant(self):
        """Whether the exposure comes as one file per quadrant."""
        return bool(self.quadrants)

    @property
    def files(self):
        """Every file read: the catalogue, or each quadrant's catalogue and header."""
        if not self.quadrants:
            return [self.path]
        return [p for q in self.quadrants for p in (q.path, q.header_path) if p is not None]

    def read(self, required_columns=()):
        """The exposure's `~ztfnb.exposure.ExposureCatalog`, checked."""
        if not self.quadrants:
            return read_exposure(self.path, required_columns=required_columns)
        pairs, origins = [], []
        for index, quadrant in enumerate(self.quadrants):
            extension = quadrant.load()
            extension.index = index
            pairs.append(extension)
            origins.append((quadrant.path, "header", "detections"))
        return exposure_from_extensions(
            pairs, self.path, required_columns, name=self.name, origins=origins
        )


def find_exposures(paths):
    """Group catalogue paths into exposures (see the module's description).

    Parameters
    ----------
    paths : iterable of path-like

    Returns
    -------
    list of `CatalogSource`
        In the order of the paths (an exposure of quadrant files where its
        first file was given).

    Raises
    ------
    InputError
        Naming the file, for an incomplete or inconsistent pair or group.
    """
    paths = [Path(p) for p in paths]
    given = {p.name for p in paths}
    entries = []  # a path (one exposure's catalogue) or a _Quadrant, in the order given
    for path in paths:
        name = path.name
        if _SCIIMG.match(name) or _PSFCAT.match(name):
            prefix = (_SCIIMG.match(name) or _PSFCAT.match(name))["prefix"]
            if any(f"{prefix}_sexcat{ext}" in given for ext in (".fits", ".fits.gz")):
                continue  # a header (or another product) given beside its catalogue
            what = "an image header" if _SCIIMG.match(name) else "a PSF-fit catalogue (psfcat)"
            raise InputError(
                f"{what}, not a SExtractor catalogue: give {prefix}_sexcat.fits (which this "
                "file's header goes with)",
                path=path,
            )
        if _SEXCAT.match(name):
            entries.append(_quadrant(path, _header_file(path)))
        elif _QUADRANT_NAME.match(_stem(path)) and _one_quadrant_ldac(path):
            entries.append(_quadrant(path, None))
        else:
            entries.append(path)
    return _grouped(entries)


def read_catalogs(paths, required_columns=()):
    """Every exposure of the catalogue paths, read and checked.

    Parameters
    ----------
    paths : iterable of path-like
        Per-exposure FITS_LDAC catalogues and per-quadrant files, mixed at will.
    required_columns : sequence of str

    Returns
    -------
    list of `~ztfnb.exposure.ExposureCatalog`
    """
    sources = find_exposures(paths)
    catalogs = [source.read(required_columns) for source in sources]
    seen = {}
    for source, catalog in zip(sources, catalogs, strict=True):
        key = (round(catalog.start.mjd * 86400), *np.round(_radec(catalog), 5))
        if key in seen:
            raise InputError(
                f"the same exposure as {seen[key]} (same time and pointing) in another file: "
                "give one catalogue per exposure, or name quadrant files as the archive does "
                "(…_c<CCD>_o_q<Q>…) to have them grouped",
                path=source.path,
            )
        seen[key] = source.path
    return catalogs


def _radec(catalog):
    return catalog.pointing.ra.deg % 360, catalog.pointing.dec.deg


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


def _stem(path):
    name = path.name
    for suffix in (".gz", ".fz"):
        name = name.removesuffix(suffix)
    return name.rsplit(".", 1)[0] if "." in name else name


def _header_file(sexcat):
    prefix = _SEXCAT.match(sexcat.name)["prefix"]
    for suffix in _HEADER_SUFFIXES:
        candidate = sexcat.with_name(prefix + suffix)
        if candidate.is_file():
            return candidate
    if not sexcat.is_file():
        raise InputError("no such file", path=sexcat)
    if _is_ldac(sexcat):
        return None  # a sexcat written as FITS_LDAC carries its own header
    raise InputError(
        f"no image header beside it ({prefix}_sciimg.fits or {prefix}_sciimg.hdr): the archive's "
        "sexcat holds only detections; its WCS, CCDID, QID, OBSMJD and pointing are in the "
        "science image's header",
        path=sexcat,
    )


def _is_ldac(path):
    try:
        with fits.open(path) as hdul:
            return any(
                isinstance(h, fits.BinTableHDU)
                and (
                    str(h.name).upper().startswith("LDAC_IMHEAD")
                    or HEADER_COLUMN.lower() in [c.name.lower() for c in h.columns]
                )
                for h in hdul[1:]
            )
    except OSError as error:
        raise InputError(f"not a FITS file ({error})", path=path) from None


def _one_quadrant_ldac(path):
    """Whether a file named as an archive quadrant is FITS_LDAC with one quadrant."""
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        with fits.open(path) as hdul:
            heads = [h for h in hdul[1:] if str(h.name).upper().startswith("LDAC_IMHEAD")]
    except OSError as error:
        raise InputError(f"not a FITS file ({error})", path=path) from None
    return len(heads) == 1


def _load(path, header_path):
    """A quadrant's image header (as stored) and detections."""
    if header_path is None:
        extensions = read_ldac(path)
        if len(extensions) != 1:
            raise InputError(
                f"{len(extensions)} quadrants in a file named as one (…_c<CCD>_o_q<Q>…)", path=path
            )
        return extensions[0].header, extensions[0].objects
    return _read_header(header_path), _read_sexcat(path)


def _read_sexcat(path):
    try:
        hdul = fits.open(path, memmap=False)
    except OSError as error:
        raise InputError(f"not a FITS file ({error})", path=path) from None
    with hdul:
        if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
            raise InputError(
                "no binary table in HDU 1: not a SExtractor catalogue (CATALOG_TYPE FITS_1.0)",
                path=path,
            )
        objects = Table.read(hdul[1], format="fits", unit_parse_strict="silent")
    objects.meta.clear()
    return objects


def _read_header(path):
    if path.suffix == ".hdr":
        blocks = read_header_blocks(path)
        if len(blocks) != 1:
            raise InputError(
                f"{len(blocks)} header blocks: one quadrant's image header expected", path=path
            )
        return blocks[0]
    try:
        with fits.open(path) as hdul:
            # the image: the primary HDU, or the first extension of a tile-compressed file
            for hdu in hdul:
                if hdu.header.get("NAXIS", 0) or isinstance(hdu, fits.CompImageHDU):
                    return hdu.header.copy()
            return hdul[0].header.copy()
    except OSError as error:
        raise InputError(f"not a FITS file ({error})", path=path) from None


def _sexagesimal(value, hours, path, keyword):
    try:
        if isinstance(value, str) and (":" in value or " " in value.strip()):
            return Angle(value.strip(), unit="hourangle" if hours else "deg").deg
        return float(value)
    except (ValueError, TypeError):
        raise InputError(
            "not an angle (degrees or sexagesimal)", path=path, keyword=keyword, value=value
        ) from None


def _completed(header, path):
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
    match = _QUADRANT_NAME.match(_stem(path))
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


def _field(header):
    value = header.get("FIELDID")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _filter(header):
    if "FILTERID" in header:
        try:
            return _FILTER_CODES.get(int(header["FILTERID"]), str(header["FILTERID"]))
        except (TypeError, ValueError):
            pass
    if "FILTER" in header:
        return "z" + filter_band(header["FILTER"])
    return None


def _quadrant(path, header_path):
    """A quadrant file placed by its header (read without its detections, for a sexcat)."""
    if header_path is None:
        header = read_ldac(path)[0].header
    else:
        header = _read_header(header_path)
    where = header_path or path
    header = _completed(header, path)
    rcid, start, pointing, exptime = quadrant_identity(header, where, "header")
    match = _QUADRANT_NAME.match(_stem(path))
    return _Quadrant(
        path=path,
        header_path=header_path,
        rcid=rcid,
        mjd=float(start.mjd),
        pointing=pointing,
        exptime=exptime,
        field=_field(header),
        filter=_filter(header),
        named=match["exposure"] if match else None,
    )


def _archive_name(quadrant):
    """``ztf_<filefracday>_<field>_<filter>`` from a quadrant's header, as the archive names it."""
    start = Time(quadrant.mjd, format="mjd", scale="utc")
    name = f"ztf_{start.strftime('%Y%m%d')}{int((quadrant.mjd % 1) * 1e6):06d}"
    if quadrant.field is not None:
        name += f"_{quadrant.field:06d}"
    return name + (f"_{quadrant.filter}" if quadrant.filter else "")


def _grouped(entries):
    quadrants = [e for e in entries if isinstance(e, _Quadrant)]
    groups = []  # lists of quadrants of one exposure
    for quadrant in sorted(quadrants, key=lambda q: (str(q.field), str(q.filter), q.mjd)):
        last = groups[-1][0] if groups else None
        if (
            last is not None
            and (last.field, last.filter) == (quadrant.field, quadrant.filter)
            and abs(quadrant.mjd - last.mjd) < _SAME_TIME
        ):
            groups[-1].append(quadrant)
        else:
            groups.append([quadrant])
    source_of = {}
    for group in groups:
        source = _group_source(group)
        source_of.update({id(q): source for q in group})
    sources, names = [], {}
    for entry in entries:
        if isinstance(entry, _Quadrant):
            source, where = source_of[id(entry)], entry.path
            if any(s is source for s in sources):
                continue
        else:
            source, where = CatalogSource(_stem(entry), entry), entry
        if source.name in names:
            raise InputError(_name_clash(source, names[source.name]), path=where)
        names[source.name] = source
        sources.append(source)
    return sources


def _name_clash(source, other):
    if source.per_quadrant and other.per_quadrant:
        a, b = other.quadrants[0], source.quadrants[0]
        return (
            f"named as exposure {source.name} but its header says another exposure than "
            f"{a.path.name} (OBSMJD {b.mjd:.6f}, field {b.field}, filter {b.filter} against "
            f"{a.mjd:.6f}, {a.field}, {a.filter}): quadrants of one exposure must agree"
        )
    return (
        f"exposure {source.name} is given twice (also {other.path}): their outputs "
        f"({source.name}.head...) would overwrite each other"
    )


def _group_source(group):
    group = sorted(group, key=lambda q: q.rcid)
    first = group[0]
    seen = {}
    for quadrant in group:
        if quadrant.rcid in seen:
            raise InputError(
                f"a second file for quadrant RCID {quadrant.rcid} of exposure "
                f"{_name_of(group)} (also {seen[quadrant.rcid].path})",
                path=quadrant.path,
            )
        seen[quadrant.rcid] = quadrant
        if (
            np.hypot(
                (quadrant.pointing[0] - first.pointing[0] + 180) % 360 - 180,
                quadrant.pointing[1] - first.pointing[1],
            )
            > 1e-6
        ):
            raise InputError(
                f"pointing TELRAD/TELDECD {quadrant.pointing[0]:.6f}, {quadrant.pointing[1]:.6f} "
                f"differs from the other quadrants of its exposure ({first.path.name}: "
                f"{first.pointing[0]:.6f}, {first.pointing[1]:.6f})",
                path=quadrant.path,
            )
        if quadrant.exptime != first.exptime:
            raise InputError(
                f"EXPTIME {quadrant.exptime} differs from the other quadrants' of its exposure "
                f"({first.path.name}: {first.exptime})",
                path=quadrant.path,
            )
        if quadrant.named != first.named:
            raise InputError(
                f"named as exposure {quadrant.named}, but its header puts it in "
                f"{first.named or _archive_name(first)} with {first.path.name}",
                path=quadrant.path,
            )
    name = _name_of(group)
    return CatalogSource(name, first.path.with_name(f"{name}.ldac"), tuple(group))


def _name_of(group):
    return group[0].named or _archive_name(group[0])
