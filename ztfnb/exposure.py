"""One exposure's catalogue, checked: its quadrants, pointing, time and weather.

Reads any SExtractor FITS_LDAC catalogue whose image headers carry the ZTF
keywords (``RCID`` or ``CCDID``/``QID``, ``TELRAD``, ``TELDECD``, ``OBSMJD``
or ``MJD-OBS`` or ``DATE-OBS``) and a WCS. Which object column serves as
centroid, centroid error, flux, size and flags is chosen once per file from
its first extension (`ztfnb.io.sextractor`); every extension must have those
columns. Problems are reported naming the file, the extension and the
keyword or column.
"""

import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning

from ztfnb.camera import N_QUADRANTS, ccdid_qid, rcid_of
from ztfnb.io.errors import InputError, refuse_rows
from ztfnb.io.ldac import read_ldac, require_columns
from ztfnb.io.sextractor import CatalogColumns, choose_columns
from ztfnb.site import Weather, weather_from_header

__all__ = [
    "REQUIRED_COLUMNS",
    "CatalogExtension",
    "ExposureCatalog",
    "check_unique_names",
    "exposure_from_extensions",
    "quadrant_identity",
    "read_exposure",
]

#: Object columns a caller may require beyond those `ztfnb.io.sextractor` chooses (none).
REQUIRED_COLUMNS = ()
#: The dates an exposure may have, MJD (1990-01-01 to 2100-01-01, UTC): CCD images
#: astrometrically solved against Gaia, ZTF's own from 2018. Outside, the header is damaged
#: or holds another quantity (a JD, a date in years); proper motions carried to it would
#: reject every star as an outlier instead of naming the keyword.
MJD_RANGE = (47892.0, 88069.0)


@dataclass
class CatalogExtension:
    """One quadrant of a catalogue.

    Attributes
    ----------
    index : int
        Position in the file (SCAMP applies ``.ahead`` blocks by it).
    rcid : int
    header : `~astropy.io.fits.Header`
    objects : `~astropy.table.Table`
    columns : `~ztfnb.io.sextractor.CatalogColumns`, optional
        Which column serves which purpose (chosen from ``objects`` when not given).
    scamp_reads : bool
        Whether SCAMP reads the file's header layout as stored
        (`~ztfnb.io.ldac.LdacExtension`).
    """

    index: int
    rcid: int
    header: object
    objects: object
    columns: CatalogColumns | None = None
    scamp_reads: bool = True

    def __post_init__(self):
        if self.columns is None:
            self.columns = choose_columns(self.objects)

    @property
    def x(self):
        """Centroid x, pixels (float64)."""
        return self.columns.x.values(self.objects)

    @property
    def y(self):
        """Centroid y, pixels (float64)."""
        return self.columns.y.values(self.objects)

    @property
    def centroid_error(self):
        """RMS centroid error along the error ellipse's major and minor axes, pixels."""
        return self.columns.centroid_error(self.objects)

    @property
    def flux(self):
        """Flux (float64; from magnitudes, zero point 0, when the catalogue has only those)."""
        return self.columns.flux_and_error(self.objects)[0]

    @cached_property
    def wcs(self):
        """The header's own WCS (the telescope's rough one, or a solution)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(self.header)


@dataclass
class ExposureCatalog:
    """A catalogue file: every quadrant of one exposure.

    Attributes
    ----------
    path : `~pathlib.Path`
    extensions : list of `CatalogExtension`
        In file order.
    pointing : `~astropy.coordinates.SkyCoord`
        The telescope's boresight (TELRAD, TELDECD).
    start : `~astropy.time.Time`
        Shutter open (UTC).
    exptime : `~astropy.units.Quantity`
    weather : `~ztfnb.site.Weather`
        From the header where it says, Palomar defaults otherwise.
    exposure_name : str, optional
        The exposure's name when its quadrants came from several files.
    """

    path: Path
    extensions: list
    pointing: SkyCoord
    start: Time
    exptime: u.Quantity
    weather: Weather
    exposure_name: str | None = None

    @property
    def name(self):
        """The exposure's name, used to name its outputs: the catalogue's stem, or the name
        its per-quadrant files share (``exposure_name``, `ztfnb.catalogs`)."""
        return self.exposure_name or self.path.stem

    @property
    def mid_time(self):
        """Middle of the exposure."""
        return self.start + self.exptime / 2

    @property
    def rcids(self):
        return [e.rcid for e in self.extensions]

    @property
    def header(self):
        """The first quadrant's header (exposure-wide keywords)."""
        return self.extensions[0].header


def _number(header, keys, path, extension, required=True):
    for key in keys:
        if key in header:
            try:
                value = float(header[key])
            except (TypeError, ValueError):
                raise InputError(
                    f"keyword {key} is not a number",
                    path=path,
                    extension=extension,
                    value=header[key],
                ) from None
            if not np.isfinite(value):
                raise InputError(
                    f"keyword {key} is not finite",
                    path=path,
                    extension=extension,
                    value=header[key],
                )
            return value
    if required:
        raise InputError(f"missing keyword {' or '.join(keys)}", path=path, extension=extension)
    return None


def _plausible_date(mjd, key, value, path, extension):
    """Refuse a start outside `MJD_RANGE`, naming the keyword, its value and a likely mix-up."""
    if MJD_RANGE[0] <= mjd <= MJD_RANGE[1]:
        return
    hint = ""
    if key != "DATE-OBS" and MJD_RANGE[0] <= mjd - 2400000.5 <= MJD_RANGE[1]:
        hint = " (a Julian date? MJD = JD - 2400000.5)"
    raise InputError(
        f"not a date between 1990 and 2100 (MJD {MJD_RANGE[0]:.0f}-{MJD_RANGE[1]:.0f}) when "
        f"an exposure can have been taken{hint}",
        path=path,
        extension=extension,
        keyword=key,
        value=value,
    )


def _start_time(header, path, extension):
    for key in ("OBSMJD", "MJD-OBS"):
        mjd = _number(header, (key,), path, extension, required=False)
        if mjd is not None:
            _plausible_date(mjd, key, header[key], path, extension)
            return Time(mjd, format="mjd", scale="utc")
    if "DATE-OBS" in header:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ERFA's "dubious year": refused below
                start = Time(header["DATE-OBS"], scale="utc")
            mjd = float(start.mjd)
        except (ValueError, TypeError):
            raise InputError(
                "DATE-OBS is not a date", path=path, extension=extension, value=header["DATE-OBS"]
            ) from None
        _plausible_date(mjd, "DATE-OBS", header["DATE-OBS"], path, extension)
        return start
    raise InputError(
        "missing keyword OBSMJD (or MJD-OBS, DATE-OBS)", path=path, extension=extension
    )


def _whole(header, key, path, extension):
    """A keyword holding a whole number, written as 5, 5.0 or '5'."""
    value = _number(header, (key,), path, extension)
    if not float(value).is_integer():
        raise InputError(
            f"keyword {key} is not a whole number",
            path=path,
            extension=extension,
            value=header[key],
        )
    return int(value)


def _rcid(header, path, extension):
    has_ccd = "CCDID" in header and "QID" in header
    if has_ccd:
        ccdid, qid = (_whole(header, key, path, extension) for key in ("CCDID", "QID"))
    if "RCID" in header:
        rcid = _whole(header, "RCID", path, extension)
    elif has_ccd:
        if not (1 <= ccdid <= 16 and 1 <= qid <= 4):
            raise InputError(
                "CCDID must be 1-16 and QID 1-4", path=path, extension=extension, value=(ccdid, qid)
            )
        rcid = int(rcid_of(ccdid, qid))
    else:
        raise InputError("missing keyword RCID (or CCDID and QID)", path=path, extension=extension)
    if not 0 <= rcid < N_QUADRANTS:
        raise InputError(
            f"RCID outside 0-{N_QUADRANTS - 1}", path=path, extension=extension, value=rcid
        )
    if has_ccd:
        expected = tuple(int(v) for v in ccdid_qid(rcid))
        if expected != (ccdid, qid):
            raise InputError(
                f"RCID {rcid} disagrees with CCDID {header['CCDID']}, QID {header['QID']}",
                path=path,
                extension=extension,
            )
    return rcid


def check_unique_names(paths):
    """Refuse catalogues that share a stem: their outputs (``<stem>.head``...) would collide.

    Raises
    ------
    InputError
        Naming both files.
    """
    seen = {}
    for path in map(Path, paths):
        if path.stem in seen and seen[path.stem].resolve() != path.resolve():
            raise InputError(
                f"two catalogues named {path.stem!r} ({seen[path.stem]} too): their outputs "
                "would overwrite each other; rename one",
                path=path,
            )
        if path.stem in seen:
            raise InputError("the same catalogue is given twice", path=path)
        seen[path.stem] = path


def _require_chosen(objects, columns, path, where):
    """Refuse an extension that lacks a column chosen from the first, or holds NaN in one."""
    for name in columns.names:
        if name not in objects.colnames:
            raise InputError(
                "missing column (the first extension has it: one set of columns per file)",
                path=path,
                extension=where,
                column=name,
            )
    for column in columns.checked:
        values = column.values(objects)
        refuse_rows(
            ~np.isfinite(values), "NaN or infinite value(s)", path=path, extension=where,
            column=str(column), values=values,
        )  # fmt: skip


def quadrant_identity(header, path, label):
    """What places one quadrant's header in an exposure: its rcid, start, pointing and exposure time.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
    path : path-like
        The file, for messages.
    label : str
        The extension or header, for messages.

    Returns
    -------
    rcid : int
    start : `~astropy.time.Time`
    pointing : tuple of float
        TELRAD (0-360) and TELDECD, degrees.
    exptime : float or None
        Seconds, None when the header does not say.

    Raises
    ------
    InputError
        Naming the file, the extension and the keyword.
    """
    rcid = _rcid(header, path, label)
    ra = _number(header, ("TELRAD",), path, label)
    dec = _number(header, ("TELDECD",), path, label)
    if not -90 <= dec <= 90:
        raise InputError("TELDECD outside ±90°", path=path, extension=label, value=dec)
    start = _start_time(header, path, label)
    exptime = _number(header, ("EXPTIME",), path, label, required=False)
    if exptime is not None and not 0 < exptime <= 86400:
        raise InputError(
            "not an exposure time in seconds (more than 0, at most a day)",
            path=path,
            extension=label,
            keyword="EXPTIME",
            value=header["EXPTIME"],
        )
    return rcid, start, (ra % 360, dec), exptime


def read_exposure(path, required_columns=REQUIRED_COLUMNS):
    """Read and check a ZTF exposure catalogue.

    Parameters
    ----------
    path : path-like
        SExtractor FITS_LDAC catalogue, one extension pair per quadrant.
    required_columns : sequence of str
        Object columns that must be present and free of NaN, beyond those
        chosen for centroid, centroid error and flux (which always must be).

    Returns
    -------
    `ExposureCatalog`

    Raises
    ------
    InputError
        Also when the first extension has no usable centroid, centroid error
        or flux column (`ztfnb.io.sextractor.choose_columns`), or another
        extension lacks one the first has.
    """
    path = Path(path)
    return exposure_from_extensions(read_ldac(path), path, required_columns=required_columns)


def exposure_from_extensions(
    pairs, path, required_columns=REQUIRED_COLUMNS, name=None, origins=None
):
    """Check quadrants' headers and detections as one exposure (`read_exposure`'s work).

    Parameters
    ----------
    pairs : list of `~ztfnb.io.ldac.LdacExtension`
        In the order SCAMP will see them (their ``index``).
    path : path-like
        The catalogue (``ExposureCatalog.path``).
    required_columns : sequence of str
    name : str, optional
        The exposure's name, when it is not the catalogue's stem (quadrants
        read from several files, `ztfnb.catalogs`).
    origins : list of (path, str, str), optional
        Per pair, the file and the labels of its header and its detections,
        for messages (default: ``path`` and the LDAC extension numbers).

    Returns
    -------
    `ExposureCatalog`
    """
    path = Path(path)
    if origins is None:
        origins = [
            (
                path,
                f"{pair.index + 1} (LDAC_IMHEAD #{pair.index + 1})",
                f"{pair.index + 1} (LDAC_OBJECTS #{pair.index + 1})",
            )
            for pair in pairs
        ]
    extensions, pointings = [], []
    seen = {}
    columns = None
    for pair, (where_path, label, where) in zip(pairs, origins, strict=True):
        header = pair.header
        rcid, _, pointing, _ = quadrant_identity(header, where_path, label)
        if rcid in seen:
            raise InputError(
                f"RCID {rcid} appears twice (also in {seen[rcid]})",
                path=where_path,
                extension=label,
            )
        seen[rcid] = f"extension {pair.index + 1}" if where_path == path else str(where_path)
        if columns is None:
            columns = choose_columns(pair.objects, path=where_path, extension=where)
        _require_chosen(pair.objects, columns, where_path, where)
        require_columns(pair.objects, required_columns, path=where_path, extension=where)
        pointings.append(pointing)
        extensions.append(
            CatalogExtension(pair.index, rcid, header, pair.objects, columns, pair.scamp_reads)
        )
    if len({(round(r, 6), round(d, 6)) for r, d in pointings}) > 1:
        raise InputError(
            "quadrants disagree on TELRAD/TELDECD: one exposure per catalogue", path=path
        )
    first = extensions[0].header
    first_path, label, _ = origins[0]
    return ExposureCatalog(
        path=path,
        extensions=extensions,
        pointing=SkyCoord(pointings[0][0] * u.deg, pointings[0][1] * u.deg),
        start=_start_time(first, first_path, label),
        exptime=(_number(first, ("EXPTIME",), first_path, label, required=False) or 30.0) * u.s,
        weather=weather_from_header(first),
        exposure_name=name,
    )
