"""Catalogue paths → exposures: one FITS_LDAC per exposure, or the archive's files per quadrant.

Every command that takes catalogues (``prior fit``, ``prior ahead``, ``solve``,
``quality``) reads them through `find_exposures` and `read_catalogs`. A path
given is one of:

``*.ldac`` (or any other name): a FITS_LDAC catalogue of one exposure
    One ``LDAC_IMHEAD``/``LDAC_OBJECTS`` pair per quadrant, named by its stem,
    as before (`ztfnb.exposure.read_exposure`).
``<prefix>_sexcat.fits``: one quadrant as ZTF's archive delivers it
    Paired with the header of ``<prefix>_sciimg.fits`` or ``<prefix>_sciimg.hdr``
    beside it (`ztfnb.io.archive` says what is read).
A FITS_LDAC file holding one quadrant, named as the archive names quadrants
    ``…_c<CCD>_o_q<Q>…`` (``ztf_20231017123456_000512_zr_c04_o_q3_sexcat.ldac``).
``<prefix>_sciimg.fits``/``.hdr``/``_psfcat.fits`` given beside their sexcat
    Skipped (so ``ztfnb solve night/ztf_*`` works); alone they are refused.

Quadrant files are grouped into exposures by their headers: the same field
(``FIELDID``), filter (``FILTERID`` or ``FILTER``) and shutter time (within
1 s). An exposure is named ``ztf_<filefracday>_<field>_<filter>``: the part
of its files' names before ``_c<CCD>_o_q<Q>`` (which must agree), or, for
files named otherwise, made from the headers as the archive makes it
(`ztfnb.io.archive.archive_exposure_name`). Its quadrants are ordered by
readout channel (``RCID``): the order of the FITS_LDAC catalogue ``ztfnb
solve`` writes for SCAMP (`~ztfnb.io.ldac.write_ldac`, ``<exposure>.ldac``
in its output folder) and of the ``.ahead`` blocks.

Refused, in one line naming the file: a sexcat without its header; two files
for the same quadrant of an exposure; files whose names say one exposure and
whose headers say two (another time, field or filter); quadrants of one
exposure that disagree on the pointing or the exposure time; an image header
or psfcat without its catalogue; two inputs that would give outputs of the
same name, or hold the same exposure (`read_catalogs`).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ztfnb.exposure import exposure_from_extensions, quadrant_identity, read_exposure
from ztfnb.io.archive import (
    IMAGE_HEADER,
    PSFCAT,
    QUADRANT_NAME,
    SEXCAT,
    exposure_name,
    field_of,
    file_stem,
    filter_of,
    header_file,
    one_quadrant_ldac,
    read_quadrant,
    read_quadrant_header,
)
from ztfnb.io.errors import InputError
from ztfnb.io.fitscheck import CATALOGUE_WARNINGS, check_layout, open_checked
from ztfnb.io.ldac import check_ldac_layout

__all__ = [
    "CatalogSource",
    "check_distinct",
    "checked_exposures",
    "find_exposures",
    "read_catalogs",
]

_SAME_TIME = 1.0 / 86400  # days: one shutter


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

    @property
    def label(self):
        """Where the header is, for messages."""
        if self.header_path is None:
            return "1 (LDAC_IMHEAD #1)"
        return f"image header ({self.header_path.name})"

    def load(self):
        """The quadrant's header (completed) and detections, as an `LdacExtension`."""
        return read_quadrant(self.path, self.header_path)


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
            origins.append((quadrant.path, quadrant.label, "HDU 1 (detections)"))
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
        if IMAGE_HEADER.match(name) or PSFCAT.match(name):
            prefix = (IMAGE_HEADER.match(name) or PSFCAT.match(name))["prefix"]
            if any(f"{prefix}_sexcat{ext}" in given for ext in (".fits", ".fits.gz")):
                continue  # a header (or another product) given beside its catalogue
            what = "an image header" if IMAGE_HEADER.match(name) else "a PSF-fit catalogue (psfcat)"
            raise InputError(
                f"{what}, not a SExtractor catalogue: give {prefix}_sexcat.fits (which this "
                "file's header goes with)",
                path=path,
            )
        if SEXCAT.match(name):
            entries.append(_quadrant(path, header_file(path)))
        elif QUADRANT_NAME.match(file_stem(path)) and one_quadrant_ldac(path):
            entries.append(_quadrant(path, None))
        else:
            entries.append(path)
    return _grouped(entries)


def checked_exposures(paths):
    """`find_exposures`, every file's structure checked (headers only: cheap for a whole night).

    A damaged catalogue is refused in one line naming it before any work, not
    met half-way through a night that reads one exposure at a time.

    Returns
    -------
    list of `CatalogSource`
    """
    sources = find_exposures(paths)
    for source in sources:
        for path in source.files:
            if path.suffix.lower() == ".hdr":  # the archive's text headers are checked when read
                continue
            spans = check_layout(path, "catalogue")
            if spans is None:  # compressed: checked by reading it whole
                with open_checked(path, "catalogue", allow=CATALOGUE_WARNINGS):
                    pass
            if not source.per_quadrant:  # a Gaia table or an image caught up in a glob
                check_ldac_layout(path, spans)
    return sources


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
        check_distinct(catalog, source.path, seen)
    return catalogs


def check_distinct(catalog, path, seen):
    """Refuse an exposure already read from another file (same start time and pointing).

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    path : path-like
        Where it was read from, named in the refusal.
    seen : dict
        What was read before; updated.

    Raises
    ------
    InputError
    """
    key = (round(catalog.start.mjd * 86400), *np.round(_radec(catalog), 5))
    if key in seen:
        raise InputError(
            f"the same exposure as {seen[key]} (same time and pointing) in another file: "
            "give one catalogue per exposure, or name quadrant files as the archive does "
            "(…_c<CCD>_o_q<Q>…) to have them grouped",
            path=path,
        )
    seen[key] = path


def _radec(catalog):
    return catalog.pointing.ra.deg % 360, catalog.pointing.dec.deg


def _quadrant(path, header_path):
    """A quadrant file placed by its header (read without its detections, for a sexcat)."""
    header = read_quadrant_header(path, header_path)
    where = header_path or path
    rcid, start, pointing, exptime = quadrant_identity(header, where, None)
    match = QUADRANT_NAME.match(file_stem(path))
    return _Quadrant(
        path=path,
        header_path=header_path,
        rcid=rcid,
        mjd=float(start.mjd),
        pointing=pointing,
        exptime=exptime,
        field=field_of(header),
        filter=filter_of(header),
        named=match["exposure"] if match else None,
    )


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
            source, where = CatalogSource(file_stem(entry), entry), entry
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
    if not source.per_quadrant and not other.per_quadrant:
        if source.path.resolve() == other.path.resolve():
            return "the same catalogue is given twice"
        # `ztfnb.exposure.check_unique_names`'s words
        return (
            f"two catalogues named {source.name!r} ({other.path} too): their outputs "
            "would overwrite each other; rename one"
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
                f"{_name_of([first])} with {first.path.name}",
                path=quadrant.path,
            )
    name = _name_of(group)
    return CatalogSource(name, first.path.with_name(f"{name}.ldac"), tuple(group))


def _name_of(group):
    return exposure_name(group[0].named, group[0].mjd, group[0].field, group[0].filter)
