"""Which SExtractor column serves which purpose, whatever the parameter file asked for.

SExtractor writes the columns its parameter file names, so catalogues differ:
windowed centroids or not, errors as ellipse axes or as variances, vector
columns (``FLUX_RADIUS(3)``, ``FLUX_APER(3)``, ``MAG_APER(3)``), postage
stamps (``VIGNET``), positions stored as float32 by tools that rewrote the
file. `choose_columns` looks at an ``LDAC_OBJECTS`` table once and names the
column used for each purpose (`CatalogColumns`); everything in ztfnb reads
detections through it, as float64. A column not listed here, vector or not,
is ignored.

========================  ====================================================
Purpose                   Columns, in order of preference
========================  ====================================================
centroid                  ``XWIN_IMAGE/YWIN_IMAGE``, ``XPSF_IMAGE/YPSF_IMAGE``,
                          ``XMODEL_IMAGE/YMODEL_IMAGE``,
                          ``X_IMAGE_DBL/Y_IMAGE_DBL``, ``X_IMAGE/Y_IMAGE``
centroid error            of the centroid's own kind first, then of the others
                          in the same order: ``ERRA*_IMAGE`` (``ERRB*_IMAGE``
                          when there; the major axis alone otherwise), else
                          ``ERRX2*_IMAGE/ERRY2*_IMAGE`` (``ERRXY*_IMAGE`` when
                          there) turned into the error ellipse's axes as
                          SExtractor computes ``ERRA/ERRB``
flux and S/N              ``FLUX_AUTO``, ``FLUX_PSF``, ``FLUX_WIN``,
                          ``FLUX_BEST``, ``FLUX_ISOCOR``, ``FLUX_ISO``,
                          ``FLUX_APER``, ``FLUX_PETRO``, ``FLUX_MODEL``, each
                          with its ``FLUXERR_``; else the ``MAG_``/``MAGERR_``
                          pairs in the same order (flux 10^(−0.4 mag), S/N
                          1.086 / MAGERR, as SExtractor writes MAGERR)
size (stars vs galaxies   ``FLUX_RADIUS``, else ``FWHM_IMAGE``; none: no cut
and cosmic rays)
elongation                ``ELONGATION``, else ``A_IMAGE/B_IMAGE``, else
                          ``AWIN_IMAGE/BWIN_IMAGE``; none: no cut
flags                     ``FLAGS`` (the bits `ztfnb.match.MatchConfig`
                          rejects), ``FLAGS_WEIGHT`` and ``IMAFLAGS_ISO`` (any
                          nonzero value rejects; ``IMAFLAGS_ISO(n)`` of several
                          flag images: any nonzero element), each when present
========================  ====================================================

Of a vector column the middle element is used (the first of two):
SExtractor does not record ``PHOT_FLUXFRAC`` or which aperture is which in
the catalogue, and the middle of the usual ``PHOT_FLUXFRAC 0.25,0.5,0.75``
is the half-light radius; of ``PHOT_APERTURES`` lists it is a mid-sized
aperture. A flux and its error must have the same number of values.

A catalogue is refused, in one line naming the file, the extension and what
would do instead, only when it has no centroid pair, no centroid error or no
flux with its error.

SCAMP reads the same file: `CatalogColumns.scamp_options` gives the
``CENTROID_KEYS``, ``CENTROIDERR_KEYS``, ``DISTORT_KEYS``, ``PHOTFLUX_KEY``
and ``PHOTFLUXERR_KEY`` that name the chosen columns (``FLUX_APER(2)`` for
an element of a vector). SCAMP cannot read variances as errors or
magnitudes as fluxes: for those catalogues `scamp_extensions` adds the
converted columns (``ERRA*_IMAGE``, ``ERRB*_IMAGE``, ``ERRTHETA*_IMAGE``;
``FLUX_*``, ``FLUXERR_*``) to a copy.
"""

from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from ztfnb.io.errors import InputError
from ztfnb.io.ldac import LdacExtension

__all__ = [
    "CENTROIDS",
    "FLUXES",
    "CatalogColumns",
    "CentroidError",
    "Column",
    "choose_columns",
    "error_ellipse",
    "scamp_extensions",
]

#: Centroid pairs by kind, best first; the kind names the matching error columns.
CENTROIDS = (
    ("WIN", "XWIN_IMAGE", "YWIN_IMAGE"),
    ("PSF", "XPSF_IMAGE", "YPSF_IMAGE"),
    ("MODEL", "XMODEL_IMAGE", "YMODEL_IMAGE"),
    ("", "X_IMAGE_DBL", "Y_IMAGE_DBL"),  # X_IMAGE in double precision
    ("", "X_IMAGE", "Y_IMAGE"),
)
#: Flux kinds, best first: ``FLUX_<kind>``/``FLUXERR_<kind>`` or ``MAG_<kind>``/``MAGERR_<kind>``.
FLUXES = ("AUTO", "PSF", "WIN", "BEST", "ISOCOR", "ISO", "APER", "PETRO", "MODEL")
#: SCAMP's own defaults for the keys ztfnb may set.
SCAMP_DEFAULTS = {
    "CENTROID_KEYS": "XWIN_IMAGE,YWIN_IMAGE",
    "CENTROIDERR_KEYS": "ERRAWIN_IMAGE,ERRBWIN_IMAGE,ERRTHETAWIN_IMAGE",
    "DISTORT_KEYS": "XWIN_IMAGE,YWIN_IMAGE",
    "PHOTFLUX_KEY": "FLUX_AUTO",
    "PHOTFLUXERR_KEY": "FLUXERR_AUTO",
}
_ERROR_KINDS = ("WIN", "PSF", "MODEL", "")
#: SExtractor writes MAGERR = 1.086 × FLUXERR / FLUX (its rounding of 2.5 / ln 10).
_MAG_SIGMA = 1.086


@dataclass(frozen=True)
class Column:
    """A catalogue column and, for a vector column, the element used.

    Attributes
    ----------
    name : str
    index : int or None
        Element (from 0) of a vector column; None for a scalar one.
    size : int
        Values per row (1 for a scalar column).
    """

    name: str
    index: int | None = None
    size: int = 1

    def values(self, table):
        """The column (or its element) as float64, shape (n,)."""
        data = np.asarray(table[self.name])
        if data.ndim > 1:  # a vector column, or a scalar one stored with a shape of its own
            data = data.reshape(len(data), -1)[:, self.index or 0]
        return np.asarray(data, dtype=np.float64)

    @property
    def scamp_key(self):
        """How SCAMP names it: ``FLUX_APER(2)`` for the second element (SCAMP counts from 1)."""
        return self.name if self.index is None else f"{self.name}({self.index + 1})"

    def __str__(self):
        if self.index is None:
            return self.name
        return f"{self.name} #{self.index + 1} of {self.size}"


def _floats(table, name):
    """A scalar column as float64, shape (n,)."""
    return Column(name).values(table)


def _integers(table, name):
    """A flag column as int64, shape (n, k): k = 1, or one per flag image (``IMAFLAGS_ISO(k)``)."""
    data = np.asarray(table[name]).astype(np.int64)
    return data.reshape(len(data), -1)


def _shape(table, name):
    """Values per row of a column (its shape past the row axis), or None when absent."""
    if name not in table.colnames:
        return None
    return tuple(np.shape(table[name])[1:])


def _scalar(table, name):
    shape = _shape(table, name)
    return shape is not None and int(np.prod(shape, dtype=int)) == 1


def _element(table, name):
    """A `Column` for a scalar or the middle element of a 1-D vector; None when absent or 2-D."""
    shape = _shape(table, name)
    if shape is None or len(shape) > 1:
        return None
    size = int(np.prod(shape, dtype=int))
    if size == 1:
        return Column(name)
    return Column(name, (size - 1) // 2, size)


def error_ellipse(x2, y2, xy=None):
    """The axes and angle of an error ellipse from its variances, as SExtractor computes ERRA/ERRB.

    Parameters
    ----------
    x2, y2 : array-like
        Variances along x and y, pixel².
    xy : array-like, optional
        Covariance, pixel² (zero when not given).

    Returns
    -------
    a, b : `~numpy.ndarray`
        RMS error along the major and minor axes, pixels (float64).
    theta : `~numpy.ndarray`
        Position angle of the major axis, degrees counter-clockwise from x.
    """
    x2 = np.asarray(x2, np.float64)
    y2 = np.asarray(y2, np.float64)
    xy = np.zeros_like(x2) if xy is None else np.asarray(xy, np.float64)
    mean = (x2 + y2) / 2
    spread = np.sqrt(((x2 - y2) / 2) ** 2 + xy**2)
    a = np.sqrt(mean + spread)
    b = np.sqrt(np.clip(mean - spread, 0.0, None))
    theta = np.degrees(0.5 * np.arctan2(2 * xy, x2 - y2))
    return a, b, theta


@dataclass(frozen=True)
class CentroidError:
    """Where a centroid's error comes from.

    Attributes
    ----------
    kind : str
        ``"axes"`` (RMS along the ellipse's axes: ``major``, ``minor``,
        ``theta``) or ``"variances"`` (``major`` is the x variance,
        ``minor`` the y variance, ``theta`` the covariance).
    major, minor, theta : str or None
        Column names (``minor`` and ``theta`` may be None).
    """

    kind: str
    major: str
    minor: str | None = None
    theta: str | None = None

    def axes(self, table):
        """RMS errors along the major and minor axes, pixels (minor = major where not known)."""
        if self.kind == "variances":
            xy = None if self.theta is None else _floats(table, self.theta)
            a, b, _ = error_ellipse(_floats(table, self.major), _floats(table, self.minor), xy)
            return a, b
        a = _floats(table, self.major)
        if self.minor is None:
            return a, a.copy()
        b = _floats(table, self.minor)
        return a, np.where(np.isfinite(b), b, a)

    @property
    def columns(self):
        return tuple(name for name in (self.major, self.minor, self.theta) if name)

    def __str__(self):
        if self.kind == "variances":
            return "/".join(self.columns) + " (as the error ellipse's axes)"
        return "/".join(self.columns[:2])


def _centroid_error(table, kind):
    """The error columns of one kind (``"WIN"``, ``"PSF"``, ``"MODEL"`` or ``""``), or None."""
    major, minor, theta = (f"ERR{axis}{kind}_IMAGE" for axis in ("A", "B", "THETA"))
    if _scalar(table, major):
        return CentroidError(
            "axes",
            major,
            minor if _scalar(table, minor) else None,
            theta if _scalar(table, theta) else None,
        )
    x2, y2, xy = (f"ERR{axis}{kind}_IMAGE" for axis in ("X2", "Y2", "XY"))
    if _scalar(table, x2) and _scalar(table, y2):
        return CentroidError("variances", x2, y2, xy if _scalar(table, xy) else None)
    return None


def _flux(table):
    """(flux, error, from magnitudes) of the best flux kind with its error, or None."""
    for prefix, error_prefix, magnitudes in (
        ("FLUX_", "FLUXERR_", False),
        ("MAG_", "MAGERR_", True),
    ):
        for kind in FLUXES:
            flux, error = _element(table, prefix + kind), _element(table, error_prefix + kind)
            if flux is not None and error is not None and flux.size == error.size:
                return flux, error, magnitudes
    return None


def _which(table, names):
    return [name for name in names if name in table.colnames]


@dataclass(frozen=True)
class CatalogColumns:
    """The columns of an ``LDAC_OBJECTS`` table chosen for each purpose (see the module's table).

    Attributes
    ----------
    x, y : `Column`
        Centroid, pixels (1-based, as SExtractor).
    error : `CentroidError`
    flux, flux_error : `Column`
    magnitudes : bool
        Whether ``flux`` and ``flux_error`` are ``MAG_*``/``MAGERR_*``.
    size : `Column` or None
        ``FLUX_RADIUS`` (an element of it) or ``FWHM_IMAGE``.
    elongation : tuple of str
        ``("ELONGATION",)``, ``("A_IMAGE", "B_IMAGE")`` or empty.
    flags : str or None
        ``FLAGS``.
    zero_flags : tuple of str
        ``FLAGS_WEIGHT`` and ``IMAFLAGS_ISO`` where present: nonzero rejects.
    """

    x: Column
    y: Column
    error: CentroidError
    flux: Column
    flux_error: Column
    magnitudes: bool = False
    size: Column | None = None
    elongation: tuple = ()
    flags: str | None = None
    zero_flags: tuple = field(default_factory=tuple)

    # what each purpose reads -------------------------------------------------

    def centroid(self, table):
        """x and y, pixels, float64."""
        return self.x.values(table), self.y.values(table)

    def centroid_error(self, table):
        """RMS centroid error along the error ellipse's major and minor axes, pixels."""
        return self.error.axes(table)

    def flux_and_error(self, table):
        """Flux and its error (from magnitudes with zero point 0 when that is what there is)."""
        value, error = self.flux.values(table), self.flux_error.values(table)
        if not self.magnitudes:
            return value, error
        flux = 10 ** (-0.4 * value)
        return flux, flux * error / _MAG_SIGMA

    def snr(self, table):
        """Signal-to-noise ratio (0 where the error is not positive)."""
        flux, error = self.flux_and_error(table)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(error > 0, flux / error, 0.0)

    def sizes(self, table):
        """``FLUX_RADIUS`` or ``FWHM_IMAGE`` (pixels), or None."""
        return None if self.size is None else self.size.values(table)

    def elongations(self, table):
        """``ELONGATION`` (or A/B), or None."""
        if not self.elongation:
            return None
        if len(self.elongation) == 1:
            return _floats(table, self.elongation[0])
        a, b = (_floats(table, name) for name in self.elongation)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, a / b, np.inf)

    def clean(self, table, reject_flags=0xFE):
        """Rows whose ``FLAGS`` have none of ``reject_flags`` and whose other flags are zero."""
        keep = np.ones(len(table), bool)
        if self.flags is not None:
            keep &= (_integers(table, self.flags)[:, 0] & int(reject_flags)) == 0
        for name in self.zero_flags:
            keep &= np.all(_integers(table, name) == 0, axis=1)
        return keep

    # checks and SCAMP ----------------------------------------------------------

    @property
    def checked(self):
        """The columns whose values must all be numbers (no NaN, no ±inf) in every extension."""
        return (self.x, self.y, Column(self.error.major), self.flux, self.flux_error)

    @property
    def names(self):
        """Every column name used."""
        names = [
            self.x.name,
            self.y.name,
            *self.error.columns,
            self.flux.name,
            self.flux_error.name,
        ]
        names += [self.size.name] if self.size else []
        names += [*self.elongation, *([self.flags] if self.flags else []), *self.zero_flags]
        return tuple(dict.fromkeys(names))

    @property
    def scamp_reads_directly(self):
        """Whether SCAMP can read the catalogue as it is (errors as axes, fluxes not magnitudes)."""
        return self.error.kind == "axes" and not self.magnitudes

    def scamp_options(self):
        """The SCAMP keys naming these columns, where they differ from SCAMP's defaults.

        For a catalogue SCAMP cannot read directly, the keys name the
        columns `scamp_extensions` adds.

        Returns
        -------
        dict
        """
        centroid = f"{self.x.name},{self.y.name}"
        if self.error.kind == "axes":
            # SCAMP reads only the first two (rms = √((a² + b²)/2)); the major twice when alone
            major, minor = self.error.major, self.error.minor or self.error.major
            errors = f"{major},{minor},{self.error.theta or major}"
        else:
            errors = ",".join(_converted_error_names(self.error))
        if self.magnitudes:
            flux, error = _converted_flux_names(self)
        else:
            flux, error = self.flux.scamp_key, self.flux_error.scamp_key
        wanted = {
            "CENTROID_KEYS": centroid,
            "CENTROIDERR_KEYS": errors,
            "DISTORT_KEYS": centroid,
            "PHOTFLUX_KEY": flux,
            "PHOTFLUXERR_KEY": error,
        }
        if "IMAFLAGS_ISO" in self.zero_flags:
            # SCAMP keeps flagged pixels by default (IMAFLAGS_MASK 0): refuse them as ztfnb does
            # (of IMAFLAGS_ISO(n) SCAMP reads the first flag image's only)
            wanted["IMAFLAGS_MASK"] = "0x7fffffff"
        return {key: value for key, value in wanted.items() if SCAMP_DEFAULTS.get(key) != value}

    def describe(self):
        """One line: which column is used for what."""
        parts = [
            f"centroid {self.x.name}/{self.y.name}",
            f"error {self.error}",
            f"flux {self.flux} ± {self.flux_error}",
        ]
        if self.size is not None:
            parts.append(f"size {self.size}")
        if self.elongation:
            parts.append("elongation " + "/".join(self.elongation))
        flags = ([self.flags] if self.flags else []) + list(self.zero_flags)
        if flags:
            parts.append("flags " + ", ".join(flags))
        return "; ".join(parts)


def choose_columns(table, path=None, extension=None):
    """Choose the column for each purpose from an ``LDAC_OBJECTS`` table.

    Parameters
    ----------
    table : `~astropy.table.Table`
    path, extension : optional
        Named in the error.

    Returns
    -------
    `CatalogColumns`

    Raises
    ------
    InputError
        No centroid pair, no centroid error or no flux with its error; the
        message says which columns would do.
    """
    centroid = next(
        ((kind, x, y) for kind, x, y in CENTROIDS if _scalar(table, x) and _scalar(table, y)),
        None,
    )
    if centroid is None:
        raise InputError(
            "no centroid column: need XWIN_IMAGE/YWIN_IMAGE (or XPSF_IMAGE/YPSF_IMAGE, "
            "XMODEL_IMAGE/YMODEL_IMAGE, X_IMAGE/Y_IMAGE)",
            path=path,
            extension=extension,
        )
    kind, x, y = centroid
    error = next(
        (
            found
            for other in (kind, *[k for k in _ERROR_KINDS if k != kind])
            if (found := _centroid_error(table, other)) is not None
        ),
        None,
    )
    if error is None:
        raise InputError(
            f"no centroid error column for {x}/{y}: need ERRAWIN_IMAGE (or ERRA_IMAGE, "
            "ERRAPSF_IMAGE, or the variances ERRX2WIN_IMAGE/ERRY2WIN_IMAGE, "
            "ERRX2_IMAGE/ERRY2_IMAGE)",
            path=path,
            extension=extension,
        )
    flux = _flux(table)
    if flux is None:
        raise InputError(
            "no flux with its error: need FLUX_AUTO/FLUXERR_AUTO (or another FLUX_*/FLUXERR_* "
            "pair, e.g. FLUX_ISO, FLUX_APER, FLUX_PSF, or MAG_*/MAGERR_*)",
            path=path,
            extension=extension,
        )
    size = _element(table, "FLUX_RADIUS")
    if size is None and _scalar(table, "FWHM_IMAGE"):
        size = Column("FWHM_IMAGE")
    elongation = ()
    for names in (("ELONGATION",), ("A_IMAGE", "B_IMAGE"), ("AWIN_IMAGE", "BWIN_IMAGE")):
        if all(_scalar(table, name) for name in names):
            elongation = names
            break
    return CatalogColumns(
        x=Column(x),
        y=Column(y),
        error=error,
        flux=flux[0],
        flux_error=flux[1],
        magnitudes=flux[2],
        size=size,
        elongation=elongation,
        flags="FLAGS" if _scalar(table, "FLAGS") else None,
        zero_flags=tuple(
            name
            for name in ("FLAGS_WEIGHT", "IMAFLAGS_ISO")
            if (shape := _shape(table, name)) is not None and len(shape) <= 1
        ),
    )


def _converted_error_names(error):
    """The ERRA/ERRB/ERRTHETA names of the variances' kind (ERRX2WIN_IMAGE → ERRAWIN_IMAGE...)."""
    kind = error.major[len("ERRX2") : -len("_IMAGE")]
    return tuple(f"ERR{axis}{kind}_IMAGE" for axis in ("A", "B", "THETA"))


def _converted_flux_names(columns):
    kind = columns.flux.name[len("MAG_") :]
    return f"FLUX_{kind}", f"FLUXERR_{kind}"


def scamp_extensions(extensions, columns):
    """The catalogue's extensions with the columns SCAMP needs and cannot read as they are.

    Variances become the error ellipse's axes (``ERRA*_IMAGE``,
    ``ERRB*_IMAGE``, ``ERRTHETA*_IMAGE``, float32 as SExtractor writes them);
    magnitudes become ``FLUX_*``/``FLUXERR_*`` (zero point 0: SCAMP only uses
    them for S/N and ranking here, ``SOLVE_PHOTOM N``). Other columns are
    kept as they are.

    Parameters
    ----------
    extensions : list of `~ztfnb.io.ldac.LdacExtension` or of objects with ``header`` and ``objects``
    columns : `CatalogColumns`

    Returns
    -------
    list of `~ztfnb.io.ldac.LdacExtension`
        For `ztfnb.io.ldac.write_ldac`; the tables are copies.
    """
    converted = []
    for extension in extensions:
        objects = Table(extension.objects, copy=True)
        if columns.error.kind == "variances":
            a, b = columns.error.axes(objects)
            xy = None if columns.error.theta is None else _floats(objects, columns.error.theta)
            _, _, theta = error_ellipse(
                _floats(objects, columns.error.major), _floats(objects, columns.error.minor), xy
            )
            for name, values, unit in zip(
                _converted_error_names(columns.error),
                (a, b, theta),
                ("pix", "pix", "deg"),
                strict=True,
            ):
                objects[name] = values.astype(np.float32)
                objects[name].unit = unit
        if columns.magnitudes:
            flux, error = columns.flux_and_error(objects)
            for name, values in zip(_converted_flux_names(columns), (flux, error), strict=True):
                objects[name] = values.astype(np.float32)
                objects[name].unit = "ct"
        converted.append(LdacExtension(extension.header, objects, getattr(extension, "index", 0)))
    return converted
