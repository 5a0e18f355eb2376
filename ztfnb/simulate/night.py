"""Write a simulated ZTF night in the formats real data come in.

``DIR/gaia.fits``
    Gaia-like reference over every field, archive column names and units.
``DIR/gaia_hats/``
    The same reference as a HATS catalogue (`~ztfnb.simulate.gaiahats`).
``DIR/<exposure>.ldac``
    One SExtractor FITS_LDAC catalogue per exposure, one LDAC_IMHEAD /
    LDAC_OBJECTS pair per readout quadrant, with the ZTF header keywords and
    the telescope's rough linear TAN WCS. With ``per_quadrant``, instead, the
    archive's layout: ``DIR/<exposure>_c<CCD>_o_q<Q>_sexcat.fits`` and
    ``…_sciimg.hdr`` per quadrant (`ztfnb.catalogs`).
``DIR/exposures.ecsv``
    One row per exposure: pointing (commanded and true), time, airmass,
    weather, injected failures.
``DIR/truth/``
    The true pixel → sky mapping of every quadrant and the identity of every
    detection (`~ztfnb.simulate.truth`), and ``failures.ecsv``.
``DIR/simulation.json``
    The parameters, so a night can be recognised and reused.
``DIR/images/`` (only with ``images``)
    ``<exposure>.fits`` and ``<exposure>.weight.fits``: the asked-for
    quadrants' pixels and weights (`~ztfnb.simulate.images`), drawn as each
    exposure is made; and ``truth/<exposure>.head``, their true solutions as
    SWarp reads them (`~ztfnb.simulate.truth.truth_heads`).

The same parameters give byte-identical files. The options of
`NightParameters` after ``date`` make nights unlike ZTF's (another rough
header, a turned or mirrored camera, poorer centroids, no weather keys); at
their defaults the files are byte for byte those of a night simulated before
the options existed: their random numbers come from streams of their own,
drawn only when an option asks for them, and they are recorded only when they
differ from their defaults.
"""

import datetime
import json
import math
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table, vstack
from astropy.utils import iers

from ztfnb._version import __version__
from ztfnb.camera import N_QUADRANTS, NAXIS1, NAXIS2, FocalPlane
from ztfnb.io.archive import write_quadrant_files
from ztfnb.io.atomic import atomic_directory, atomic_path
from ztfnb.io.headers import write_header_blocks
from ztfnb.io.ldac import LdacExtension, write_ldac
from ztfnb.simulate.detections import DetectionModel, detect
from ztfnb.simulate.failures import apply_failure, choose_failures
from ztfnb.simulate.gaiahats import write_gaia_hats
from ztfnb.simulate.images import IMAGE_STREAM, ImageWriter, image_rcids, images_rule
from ztfnb.simulate.instrument import true_camera
from ztfnb.simulate.projection import ExposureProjection
from ztfnb.simulate.schedule import plan_night, revisit
from ztfnb.simulate.stars import FIELD_HALF_SIZE
from ztfnb.simulate.starstream import write_star_field
from ztfnb.simulate.truth import TrueMapping, truth_grid, truth_heads, write_truth
from ztfnb.site import PALOMAR, filter_band
from ztfnb.tangent import gnomonic, gnomonic_inverse, tangent_basis

__all__ = [
    "HEADER_CRPIX",
    "NightParameters",
    "check_night_date",
    "ensure_night",
    "option_rule",
    "simulate_night",
]

_FILTER_IDS = {"g": 1, "r": 2, "i": 3}
_COLOUR_TERMS = {"g": 0.35, "r": -0.15, "i": -0.35}  # mean filter − G of field stars
_MARKER = "simulation.json"
_DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MJD_ZERO = datetime.date(1858, 11, 17)

#: Where a rough header puts its reference pixel (``NightParameters.header_crpix``).
HEADER_CRPIX = ("boresight", "centre", "corner")
_REFERENCE_PIXELS = {
    "centre": np.array([(NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2]),
    "corner": np.array([1.0, 1.0]),
}
_CRPIX_COMMENTS = {
    "boresight": "[pix] boresight in this quadrant's pixels",
    "centre": "[pix] quadrant's central pixel",
    "corner": "[pix] quadrant's first pixel",
}
# Random streams of the options, np.random.default_rng([seed, exposure index, stream]), apart
# from the night's ([seed]) and each exposure's ([seed, index]) so that those stay as they were.
_QUADRANT_HEADER_STREAM = 1
_FIELD_ROTATION_STREAM = 2
_REVISIT_STREAM = 3  # 4 is the images' (ztfnb.simulate.images.IMAGE_STREAM)
# Room kept between a turned camera's farthest corner and the edge of the stars' square, degrees.
_FIELD_MARGIN = 0.2


@dataclass(frozen=True)
class NightParameters:
    """What defines a simulated night (and its byte-identical output).

    The fields after ``date`` make nights unlike ZTF's, as another telescope's
    software or another generator would write them; at their defaults the
    night is today's ZTF-like one, byte for byte. Each is the option of
    ``ztfnb simulate`` with the same name (``header_scale_error`` is
    ``--header-scale-error``).

    Attributes
    ----------
    seed : int
    exposures : int
    failures : int
    density : float
        Gaia stars per square degree (to G = 21).
    date : str
        UT date of the night.
    header_scale_error : float
        The rough header's plate scale is ``1 + header_scale_error`` times the
        camera's, for the whole exposure: quadrant positions and CDs scale
        about the boresight (a header written with 1.0″/px for a 1.012″/px
        camera has −0.0119). At most 0.1 in size.
    header_rotation_error : float
        The rough header is turned by this many degrees about the boresight,
        for the whole exposure (positive turns East towards North, the sense of
        the camera rotation). At most 10 in size.
    header_quadrant_scale_error : float
        Rms of a fractional scale error drawn for each quadrant's header CD
        (per exposure), about its CRPIX. 0 to 0.1.
    header_quadrant_rotation_error : float
        Rms, degrees, of a rotation drawn for each quadrant's header CD (per
        exposure), about its CRPIX. 0 to 10.
    header_crpix : str
        Where the rough header's reference pixel is, one of `HEADER_CRPIX`:
        ``boresight`` (CRVAL the telescope's pointing TELRAD/TELDECD, CRPIX the
        boresight in the quadrant's pixels, thousands of pixels off it),
        ``centre`` (CRPIX the quadrant's central pixel) or ``corner`` (CRPIX
        (1, 1)), CRVAL then the sky position the header's geometry puts
        there. ``centre`` and ``corner`` headers are TAN projections about
        that CRVAL with the CD of the boresight header's local scale and
        orientation there: the same mapping at CRPIX, parting from it by the
        gnomonic projection's curvature away from it (up to 1.9″ over a
        quadrant for ``centre``, 8.5″ at the far corner for ``corner``).
    mirrored : bool
        The camera reads out every quadrant's pixel x axis the other way (the
        other parity, ``det(CD) > 0``): truth and rough header both.
    field_rotation : float
        The camera turned relative to the mount by this many degrees on every
        exposure (a rotator offset, a remounted camera), which the rough header
        does not know. At most 10 in size.
    field_rotation_scatter : float
        Rms, degrees, of a further rotation drawn per exposure (flexure, polar
        misalignment), also unknown to the header. 0 to 10.
    centroid_noise : float
        Factor on the centroid errors, as poorer seeing would make them: the
        errors SExtractor reports, the actual scatter and the image motion it
        does not report. 0.1 to 10.
    no_weather : bool
        The headers carry no ``PRESSURE``, ``TEMPTURE``, ``HUMIDITY`` (as some
        telescopes write them).
    per_quadrant : bool
        Write the catalogues as ZTF's archive delivers them, instead of one
        FITS_LDAC per exposure: per quadrant
        ``<exposure>_c<CCD>_o_q<Q>_sexcat.fits`` (the detections, a plain
        binary table) and ``…_sciimg.hdr`` (its image header as text),
        `ztfnb.io.archive.write_quadrant_files`. The same detections and headers
        (and every other file) as the night without it.
    images : str
        Quadrants to draw as images as well, ``""`` (none), ``"all"`` or rcids
        separated by commas (``"0,1,45"``): ``DIR/images/<exposure>.fits``
        and ``.weight.fits``, one extension per quadrant in rcid order (a
        quadrant a failure removed from the catalogue is left out), and
        ``DIR/truth/<exposure>.head``. The same catalogues (and every other
        file) as the night without it.
    revisits : int
        Exposures of each field, in a row (1 to 10): each of the ``exposures``
        planned visits is followed by ``revisits − 1`` more of the same field
        and filter, each its own exposure (time, airmass, seeing, pointing
        error, name; `ztfnb.simulate.schedule.revisit`), so the night has
        ``exposures × revisits`` exposures.
    """

    seed: int
    exposures: int = 10
    failures: int = 0
    density: float = 1200.0
    date: str = "2023-10-17"
    header_scale_error: float = 0.0
    header_rotation_error: float = 0.0
    header_quadrant_scale_error: float = 0.0
    header_quadrant_rotation_error: float = 0.0
    header_crpix: str = "boresight"
    mirrored: bool = False
    field_rotation: float = 0.0
    field_rotation_scatter: float = 0.0
    centroid_noise: float = 1.0
    no_weather: bool = False
    per_quadrant: bool = False
    images: str = ""
    revisits: int = 1

    def check(self):
        """Raise ValueError for parameters that cannot make a night."""
        if (
            not isinstance(self.seed, int | np.integer)
            or isinstance(self.seed, bool)
            or self.seed < 0
        ):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 1 <= self.exposures <= 1000:
            raise ValueError(f"exposures must be between 1 and 1000, got {self.exposures}")
        if not 0 <= self.failures <= self.exposures * self.revisits * N_QUADRANTS:
            raise ValueError(
                f"failures must be between 0 and {N_QUADRANTS} × exposures × revisits, "
                f"got {self.failures}"
            )
        if not 10 <= self.density <= 1e5:
            raise ValueError(f"density must be 10–100000 stars per deg², got {self.density}")
        try:
            check_night_date(self.date)
        except ValueError as error:
            raise ValueError(f"date: {error}") from None
        for name in _OPTIONS:
            value = getattr(self, name)
            rule = option_rule(name, value)
            if rule is not None:
                raise ValueError(f"{name} must be {rule}, got {value!r}")

    def options(self):
        """The options (fields after ``date``) that differ from their defaults, by name."""
        return {
            name: getattr(self, name)
            for name, default in _OPTIONS.items()
            if getattr(self, name) != default
        }

    def recorded(self):
        """What ``simulation.json`` and ``exposures.ecsv`` record: the fields, options only when set.

        Options at their defaults are left out so that a night simulated
        without them keeps the bytes (and the recognition by `ensure_night`)
        of one simulated before they existed; a night with any of them set has
        other keys, so `ensure_night` never takes one for the other.
        """
        return {
            key: value if key not in _OPTIONS else _plain(value)
            for key, value in asdict(self).items()
            if key not in _OPTIONS or value != _OPTIONS[key]
        }

    def to_json(self):
        return (
            json.dumps({**self.recorded(), "ztfnb": __version__}, indent=2, sort_keys=True) + "\n"
        )


#: The options that make other nights, and their defaults (a ZTF-like night).
_OPTIONS = {
    f.name: f.default
    for f in fields(NightParameters)
    if f.name not in ("seed", "exposures", "failures", "density", "date")
}


def _plain(value):
    """A numpy scalar as the Python value JSON and ECSV write."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value):
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _within(limit, low=None):
    low = -limit if low is None else low
    return lambda value: _is_number(value) and low <= value <= limit  # False for NaN


_OPTION_RULES = {
    "header_scale_error": (_within(0.1), "a fraction within ±0.1"),
    "header_rotation_error": (_within(10.0), "within ±10 degrees"),
    "header_quadrant_scale_error": (_within(0.1, 0.0), "an rms fraction from 0 to 0.1"),
    "header_quadrant_rotation_error": (_within(10.0, 0.0), "an rms from 0 to 10 degrees"),
    "header_crpix": (lambda value: value in HEADER_CRPIX, "one of " + ", ".join(HEADER_CRPIX)),
    "mirrored": (lambda value: isinstance(value, bool | np.bool_), "True or False"),
    "field_rotation": (_within(10.0), "within ±10 degrees"),
    "field_rotation_scatter": (_within(10.0, 0.0), "an rms from 0 to 10 degrees"),
    "centroid_noise": (_within(10.0, 0.1), "a factor from 0.1 to 10"),
    "no_weather": (lambda value: isinstance(value, bool | np.bool_), "True or False"),
    "per_quadrant": (lambda value: isinstance(value, bool | np.bool_), "True or False"),
    "images": (
        lambda value: images_rule(value) is None,
        "'', 'all' or rcids 0-63 separated by commas",
    ),
    "revisits": (
        lambda value: (
            isinstance(value, int | np.integer) and not isinstance(value, bool) and 1 <= value <= 10
        ),
        "a whole number from 1 to 10",
    ),
}
#: Options that change how the night is written, not what it holds.
_LAYOUT_OPTIONS = ("per_quadrant", "images")


def option_rule(name, value):
    """What an option of `NightParameters` must be when ``value`` breaks the rule, else None.

    Parameters
    ----------
    name : str
        A field after ``date``, e.g. ``"header_scale_error"``.
    value

    Returns
    -------
    str or None
        The rule, e.g. ``"a fraction within ±0.1"``, for a value that breaks it.
    """
    test, rule = _OPTION_RULES[name]
    try:
        return None if test(value) else rule
    except TypeError:  # an unhashable or incomparable value
        return rule


def check_night_date(date):
    """Check that a night can be simulated on a UT date, with one clear message if not.

    The date must be a calendar date ``YYYY-MM-DD`` whose whole UT day lies
    within the Earth-orientation (IERS) table bundled with astropy (the
    ``astropy-iers-data`` package: 1973 to about a year after its release).
    Outside it astropy can only guess UT1 and polar motion, and says so with
    hundreds of ERFA/IERS warnings; a simulated night is meant to stand for a
    real one, so such dates are refused instead.

    Parameters
    ----------
    date : str

    Returns
    -------
    str
        ``date``, unchanged.

    Raises
    ------
    ValueError
        Naming the date and, for one out of range, the dates that can be used.
    """
    if not isinstance(date, str) or not _DATE_FORMAT.fullmatch(date):
        raise ValueError(f"{date!r} is not a UT date YYYY-MM-DD")
    try:
        day = datetime.date.fromisoformat(date)
    except ValueError as error:
        raise ValueError(f"{date!r} is not a calendar date ({error})") from None
    first, last = _dates_with_earth_orientation()
    if not first <= day <= last:
        raise ValueError(
            f"{date} is outside {first} to {last}, the dates astropy's bundled Earth-orientation "
            "(IERS) table covers; choose a date within them (later ones need a newer "
            "astropy-iers-data)"
        )
    return date


def _dates_with_earth_orientation():
    """First and last UT dates whose whole day the bundled IERS table covers."""
    mjd = np.asarray(iers.earth_orientation_table.get()["MJD"].to_value(u.day))
    first = _MJD_ZERO + datetime.timedelta(days=math.ceil(mjd[0]))
    last = _MJD_ZERO + datetime.timedelta(days=math.floor(mjd[-1]) - 1)
    return first, last


def simulate_night(out, parameters, overwrite=False, log=None):
    """Simulate a night and write it to ``out`` (created whole, or not at all).

    Parameters
    ----------
    out : path-like
        Output folder; must not exist or be empty unless ``overwrite``.
    parameters : `NightParameters`
    overwrite : bool
        Replace an existing non-empty folder, provided it holds a simulated
        night (its ``simulation.json``): a folder of other files is never
        deleted.
    log : callable, optional
        Called with a progress message per exposure.

    Returns
    -------
    `~pathlib.Path`
        The folder.

    Raises
    ------
    ValueError
        Parameters that cannot make a night.
    FileExistsError
        ``out`` is a file, or a non-empty folder that may not be replaced.
    """
    parameters.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        # said first, so that nobody is told to add --overwrite only to be refused again
        if not _is_simulated_night(out):
            raise FileExistsError(
                f"{out} is not empty and holds no ztfnb simulated night (no valid {_MARKER}): "
                "only a simulated night is ever replaced, so nothing was deleted; "
                "choose another folder"
            )
        if not overwrite:
            raise FileExistsError(
                f"{out} exists and is not empty: it holds a simulated night "
                "(use --overwrite to replace it)"
            )
    with atomic_directory(out, overwrite=overwrite) as folder:
        rng = np.random.default_rng(parameters.seed)
        plan = plan_night(parameters.exposures, rng, date=parameters.date)
        centres = [(e.target.ra.deg, e.target.dec.deg) for e in plan]
        # revisits draw from their own streams: the planned night stays as it was
        plan, field_of = revisit(plan, parameters.revisits, parameters.seed, _REVISIT_STREAM)
        camera = true_camera(mirrored=parameters.mirrored)
        half_size = FIELD_HALF_SIZE
        if parameters.field_rotation or parameters.field_rotation_scatter:
            offsets = field_rotation_offsets(parameters, len(plan))
            plan = [
                replace(e, rotation=e.rotation + float(offset))
                for e, offset in zip(plan, offsets, strict=True)
            ]
            half_size = _star_half_size(camera, [e.rotation for e in plan])
        # the stars on disk, read back a few fields at a time: memory does not grow with the night
        scratch = Path(tempfile.mkdtemp(prefix=".stars.", dir=folder))
        stars = write_star_field(
            centres,
            parameters.density * u.deg**-2,
            rng,
            scratch,
            folder / "gaia.fits",
            half_size=half_size,
        )
        failures = choose_failures([e.name for e in plan], parameters.failures, rng)
        (folder / "truth").mkdir()
        rows = []
        for index, exposure in enumerate(plan):
            exposure_rng = np.random.default_rng([parameters.seed, index])
            own_failures = [f for f in failures if f.exposure == exposure.name]
            rows.append(
                _write_exposure(
                    folder,
                    exposure,
                    stars.around(field_of[index]),
                    own_failures,
                    exposure_rng,
                    parameters=parameters,
                    camera=camera,
                    half_size=half_size,
                    header_errors=quadrant_header_errors(parameters, index),
                    index=index,
                )
            )
            if log:
                log(
                    f"{exposure.name}: airmass {exposure.airmass:.2f}, {rows[-1]['n_detections']} detections"
                )
        shutil.rmtree(scratch)
        write_gaia_hats(folder / "gaia.fits", folder / "gaia_hats")
        _write_table(folder / "exposures.ecsv", _exposure_table(rows, parameters))
        _write_table(folder / "truth" / "failures.ecsv", _failure_table(failures))
        (folder / _MARKER).write_text(parameters.to_json())
    return out


def ensure_night(path, parameters, log=None):
    """The simulated night at ``path``, simulated first unless it is already there.

    A folder holding a night simulated with the same parameters (and ztfnb
    version) is reused; one with other parameters is replaced; a non-empty
    folder that is not a simulated night is refused.

    Returns
    -------
    `~pathlib.Path`
    """
    path = Path(path)
    if _night_parameters(path) == json.loads(parameters.to_json()):
        return path
    return simulate_night(path, parameters, overwrite=True, log=log)


def _night_parameters(folder):
    """The parameters recorded in a folder's marker, or None when it holds no simulated night."""
    try:
        recorded = json.loads((Path(folder) / _MARKER).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    # another tool's simulation.json is not ours: ours records the seed and ztfnb's version
    if not isinstance(recorded, dict) or not {"seed", "ztfnb"} <= recorded.keys():
        return None
    return recorded


def _is_simulated_night(folder):
    return _night_parameters(folder) is not None


def _write_table(path, table):
    with atomic_path(path) as temporary:
        table.write(temporary, format="ascii.ecsv", overwrite=True)


def field_rotation_offsets(parameters, count):
    """The camera's rotation from the options, degrees, for each of ``count`` exposures.

    ``field_rotation`` plus, when ``field_rotation_scatter`` is set, a normal
    draw of that rms per exposure from its own stream
    ``[seed, exposure index, 2]``; it adds to the plan's own few-millidegree
    rotation.
    """
    offsets = np.full(count, float(parameters.field_rotation))
    if parameters.field_rotation_scatter:
        offsets += parameters.field_rotation_scatter * np.array(
            [
                np.random.default_rng([parameters.seed, index, _FIELD_ROTATION_STREAM]).normal()
                for index in range(count)
            ]
        )
    return offsets


def quadrant_header_errors(parameters, index):
    """Per-quadrant (fractional scale, rotation in degrees) of exposure ``index``'s rough headers.

    Normal draws, rms ``header_quadrant_scale_error`` and
    ``header_quadrant_rotation_error``, from their own stream
    ``[seed, index, 1]`` for all 64 quadrants (present or not), so that each
    quadrant's draw does not depend on the failures or on the other option.

    Returns
    -------
    tuple of two `~numpy.ndarray` of shape (64,), indexed by rcid, or None
        None when neither option is set.
    """
    if not (parameters.header_quadrant_scale_error or parameters.header_quadrant_rotation_error):
        return None
    rng = np.random.default_rng([parameters.seed, index, _QUADRANT_HEADER_STREAM])
    scale = rng.normal(0.0, 1.0, N_QUADRANTS) * parameters.header_quadrant_scale_error
    rotation = rng.normal(0.0, 1.0, N_QUADRANTS) * parameters.header_quadrant_rotation_error
    return scale, rotation


def _star_half_size(camera, rotations):
    """Half-size of the stars' squares that keeps every corner of the turned camera inside."""
    corners = np.concatenate([q.corners_focal() for q in camera])
    reach = max(
        np.abs(corners @ _turn(rotation).T).max() for rotation in rotations
    )  # the true projection turns (u, v) by the rotation into (xi, eta)
    return max(FIELD_HALF_SIZE, float(reach) + _FIELD_MARGIN)


def _turn(degrees):
    """The rotation matrix by an angle in degrees, counter-clockwise in (xi, eta): East to North."""
    theta = np.deg2rad(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@cache
def _header_layout(mirrored):
    """The camera layout the telescope software writes headers from (it knows the parity)."""
    nominal = FocalPlane.nominal()
    return nominal.mirrored() if mirrored else nominal


def _write_exposure(
    folder,
    exposure,
    stars,
    failures,
    rng,
    parameters,
    camera,
    half_size=FIELD_HALF_SIZE,
    header_errors=None,
    index=0,
):
    projection = ExposureProjection.for_exposure(exposure, camera=camera)
    target = (exposure.target.ra.deg, exposure.target.dec.deg)
    ra, dec = stars.true_positions(exposure.mid_time)
    xi, eta = gnomonic(ra.value, dec.value, *target)
    near = np.flatnonzero((np.abs(xi) < half_size) & (np.abs(eta) < half_size))
    rcid, x, y = projection.sky_to_pixel(SkyCoord(ra[near], dec[near]))
    band = filter_band(exposure.filter)
    magnitude = (
        np.asarray(stars.catalogue["phot_g_mean_mag"].value[near], float) + _COLOUR_TERMS[band]
    )
    source_id = np.asarray(stars.catalogue["source_id"][near])
    model = DetectionModel.for_conditions(
        exposure.fwhm.to_value(u.arcsec), exposure.airmass, parameters.centroid_noise
    )
    by_rcid = {f.rcid: f for f in failures}
    altaz = _altaz(exposure)  # once: the same for every quadrant, and slow

    extensions, truth_rows, kept = [], [], []
    for quadrant in _header_layout(parameters.mirrored):
        on = rcid == quadrant.rcid
        objects, truth = detect(x[on], y[on], magnitude[on], source_id[on], model, rng)
        if quadrant.rcid in by_rcid:
            objects, truth = apply_failure(by_rcid[quadrant.rcid], objects, truth, rng)
            if objects is None:
                continue
        quadrant_error = (
            None
            if header_errors is None
            else (float(header_errors[0][quadrant.rcid]), float(header_errors[1][quadrant.rcid]))
        )
        header = _quadrant_header(exposure, quadrant, model, parameters, quadrant_error, altaz)
        _add_sky_columns(objects, header)
        extensions.append(LdacExtension(header, objects, index=len(extensions)))
        truth["rcid"] = np.full(len(truth), quadrant.rcid, np.int16)
        truth_rows.append(truth)
        kept.append(quadrant.rcid)

    if parameters.per_quadrant:
        write_quadrant_files(folder, exposure.name, extensions)
    else:
        write_ldac(folder / f"{exposure.name}.ldac", extensions)
    detections = vstack(truth_rows) if truth_rows else Table()
    detections = detections[["rcid", "NUMBER", "source_id", "kind", "x_true", "y_true"]]
    grid = truth_grid(projection, kept)
    imaged = [r for r in image_rcids(parameters.images) if r in kept]
    if imaged:
        star_flux = (source_id, model.flux(magnitude))
        _write_images(
            folder, exposure.name, imaged, kept, extensions, truth_rows, star_flux,
            parameters.seed, index,
        )  # fmt: skip
        mapping = TrueMapping(grid, projection.boresight)
        write_header_blocks(
            folder / "truth" / f"{exposure.name}.head", truth_heads(mapping, imaged)
        )
    write_truth(
        folder / "truth" / f"{exposure.name}.fits",
        exposure,
        projection,
        grid,
        detections,
        header_errors=None
        if header_errors is None
        else Table(
            {
                "rcid": np.asarray(kept, np.int16),
                "scale_error": header_errors[0][kept],
                "rotation_error": header_errors[1][kept] * u.deg,
            }
        ),
    )
    boresight = projection.boresight
    row = {
        "exposure": exposure.name,
        "field": exposure.field_id,
        "filter": exposure.filter,
        "kind": exposure.kind,
        "obsmjd": exposure.start.utc.mjd,
        "exptime": exposure.exptime.to_value(u.s),
        "telrad": exposure.target.ra.deg,
        "teldecd": exposure.target.dec.deg,
        "airmass": exposure.airmass,
        "azimuth": altaz.az.deg,
        "elevation": altaz.alt.deg,
        "true_ra": boresight.ra.deg,
        "true_dec": boresight.dec.deg,
        "pointing_error": float(np.hypot(*exposure.pointing_error)),
        "fwhm": exposure.fwhm.to_value(u.arcsec),
        "pressure": exposure.reported_weather.pressure.to_value(u.hPa),
        "temperature": exposure.reported_weather.temperature.to_value(u.deg_C),
        "humidity": exposure.reported_weather.relative_humidity,
        "n_quadrants": len(kept),
        "n_detections": int(sum(len(e.objects) for e in extensions)),
        "failures": ";".join(f.describe() for f in failures),
    }
    if set(parameters.options()) - set(_LAYOUT_OPTIONS):
        # a column only in nights made with options, so that others keep their bytes
        row["rotation"] = exposure.rotation
    return row


def _write_images(folder, name, imaged, kept, extensions, truth_rows, star_flux, seed, index):
    """Draw an exposure's asked-for quadrants, in rcid order, from its detections in memory.

    Stars are drawn with their true flux (``star_flux``: Gaia source_id and
    ADU), not the catalogue's measurement, which a saturated star's caps.
    """
    ids, flux = star_flux
    order = np.argsort(ids)
    ids, flux = ids[order], flux[order]
    writer = ImageWriter(folder / "images", name)
    for rcid in imaged:
        position = kept.index(rcid)
        objects, truth = extensions[position].objects, truth_rows[position]
        drawn = np.asarray(objects["FLUX_AUTO"], float)
        if ids.size:
            wanted = np.asarray(truth["source_id"])
            at = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
            known = (wanted >= 0) & (ids[at] == wanted)  # galaxies and cosmic rays are -1
            drawn = np.where(known, flux[at], drawn)
        rng = np.random.default_rng([seed, index, IMAGE_STREAM, rcid])
        writer.add(extensions[position].header, objects, truth, rng, flux=drawn)


def _altaz(exposure):
    return exposure.target.transform_to(AltAz(obstime=exposure.start, location=PALOMAR))


def _quadrant_header(exposure, quadrant, model, parameters=None, quadrant_error=None, altaz=None):
    """The quadrant image's header as the ZTF camera writes it, rough WCS included.

    ``parameters`` (`NightParameters`) may ask for another rough WCS or no
    weather keys; ``quadrant_error`` is this quadrant's (scale, rotation) error;
    ``altaz`` the exposure's pointing in `AltAz` (computed when not given).
    """
    parameters = parameters or NightParameters(seed=0)
    (crval1, crval2), crpix, cd, crpix_comment = _header_wcs(
        exposure, quadrant, parameters, quadrant_error
    )
    band = filter_band(exposure.filter)
    altaz = _altaz(exposure) if altaz is None else altaz
    weather = exposure.reported_weather
    start = exposure.start.utc
    cards = [
        ("SIMPLE", True, "conforms to FITS standard"),
        ("BITPIX", -32, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", NAXIS1, ""),
        ("NAXIS2", NAXIS2, ""),
        ("ORIGIN", "ztfnb simulate", "simulated data"),
        ("TELESCOP", "P48", "Palomar 48-inch Samuel Oschin Schmidt"),
        ("INSTRUME", "ZTF/MOSAIC", ""),
        ("DATE-OBS", start.isot, "UTC shutter open"),
        ("OBSJD", start.jd, "[day] Julian day at shutter open"),
        ("OBSMJD", start.mjd, "[day] MJD at shutter open"),
        ("MJD-OBS", start.mjd, "[day] MJD at shutter open"),
        ("EXPTIME", exposure.exptime.to_value(u.s), "[s] exposure time"),
        ("FILTER", f"ZTF_{band}", "filter name"),
        ("FILTERID", _FILTER_IDS[band], "filter id (1 g, 2 r, 3 i)"),
        ("FIELDID", exposure.field_id, "ZTF field id"),
        ("CCDID", quadrant.ccdid, "CCD number (1-16)"),
        ("QID", quadrant.qid, "quadrant number (1-4)"),
        ("RCID", quadrant.rcid, "readout channel id (0-63)"),
        ("TELRAD", exposure.target.ra.deg, "[deg] telescope RA (boresight, ICRS)"),
        ("TELDECD", exposure.target.dec.deg, "[deg] telescope Dec (boresight, ICRS)"),
        ("AZIMUTH", altaz.az.deg, "[deg] telescope azimuth"),
        ("ELVATION", altaz.alt.deg, "[deg] telescope elevation"),
        ("AIRMASS", exposure.airmass, "telescope airmass at shutter open"),
        ("PRESSURE", weather.pressure.to_value(u.hPa), "[hPa] air pressure"),
        ("TEMPTURE", weather.temperature.to_value(u.deg_C), "[deg C] outside temperature"),
        ("HUMIDITY", 100 * weather.relative_humidity, "[percent] relative humidity"),
        ("SEEING", exposure.fwhm.to_value(u.arcsec), "[arcsec] FWHM"),
        ("GAIN", 6.2, "[e-/ADU]"),
        ("SATURATE", model.saturation, "[ADU] saturation level"),
        ("MAGZP", model.zero_point, "[mag] zero point (1 ADU)"),
        ("RADESYS", "ICRS", ""),
        ("EQUINOX", 2000.0, ""),
        ("CTYPE1", "RA---TAN", "rough telescope WCS"),
        ("CTYPE2", "DEC--TAN", "rough telescope WCS"),
        ("CRVAL1", crval1, "[deg]"),
        ("CRVAL2", crval2, "[deg]"),
        ("CRPIX1", crpix[0], crpix_comment),
        ("CRPIX2", crpix[1], "[pix]"),
        ("CD1_1", cd[0, 0], "[deg/pix] nominal layout"),
        ("CD1_2", cd[0, 1], ""),
        ("CD2_1", cd[1, 0], ""),
        ("CD2_2", cd[1, 1], ""),
    ]
    if parameters.no_weather:
        cards = [card for card in cards if card[0] not in ("PRESSURE", "TEMPTURE", "HUMIDITY")]
    return fits.Header(cards)


def _header_wcs(exposure, quadrant, parameters, quadrant_error=None):
    """CRVAL, CRPIX, CD and CRPIX1's comment of a quadrant's rough linear TAN header.

    ZTF's (all options at their defaults): CRVAL the commanded pointing and
    the layout's CRPIX (the boresight) and CD. The whole-exposure errors scale
    and turn every quadrant about the boresight (CRPIX stays, the CD scales and
    turns); another ``header_crpix`` writes the same geometry about another
    reference pixel (CRVAL its sky position, CD the local linear map there);
    the per-quadrant error then scales and turns the CD about that CRPIX.
    """
    crval = (exposure.target.ra.deg, exposure.target.dec.deg)
    crpix, cd = quadrant.crpix, quadrant.cd
    if parameters.header_scale_error or parameters.header_rotation_error:
        cd = (1 + parameters.header_scale_error) * _turn(parameters.header_rotation_error) @ cd
    if parameters.header_crpix != "boresight":
        reference = _REFERENCE_PIXELS[parameters.header_crpix]
        xi, eta = cd @ (reference - crpix)
        lon, lat = gnomonic_inverse(xi, eta, *crval)
        new_crval = (float(lon), float(lat))
        cd = _tangent_plane_change(crval, new_crval, xi, eta) @ cd
        crval, crpix = new_crval, reference
    if quadrant_error is not None:
        scale, rotation = quadrant_error
        cd = (1 + scale) * _turn(rotation) @ cd
    return crval, crpix, cd, _CRPIX_COMMENTS[parameters.header_crpix]


def _tangent_plane_change(old, new, xi, eta):
    """d(xi', eta')/d(xi, eta) at the point (xi, eta) of the plane about ``old`` that is ``new``.

    (xi', eta') are the standard coordinates about ``new``; all in degrees.
    With v = centre + xi·east + eta·north (radians) along ``new``'s centre,
    d(xi')/d(xi) = east'·east / |v|, and so on.
    """
    _, east, north = tangent_basis(*old)
    _, new_east, new_north = tangent_basis(*new)
    length = np.sqrt(1 + np.deg2rad(xi) ** 2 + np.deg2rad(eta) ** 2)
    return (
        np.array([[new_east @ east, new_east @ north], [new_north @ east, new_north @ north]])
        / length
    )


def _add_sky_columns(objects, header):
    """ALPHAWIN/DELTAWIN_J2000 from the header's linear TAN WCS, as SExtractor computes them."""
    cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
    offsets = np.stack(
        [
            np.asarray(objects["XWIN_IMAGE"], float) - header["CRPIX1"],
            np.asarray(objects["YWIN_IMAGE"], float) - header["CRPIX2"],
        ]
    )
    xi, eta = cd @ offsets
    ra, dec = gnomonic_inverse(xi, eta, header["CRVAL1"], header["CRVAL2"])
    objects["ALPHAWIN_J2000"] = ra * u.deg
    objects["DELTAWIN_J2000"] = dec * u.deg


def _exposure_table(rows, parameters):
    table = QTable(rows=rows, names=list(rows[0]))
    units = {
        "obsmjd": u.day,
        "exptime": u.s,
        "telrad": u.deg,
        "teldecd": u.deg,
        "azimuth": u.deg,
        "elevation": u.deg,
        "true_ra": u.deg,
        "true_dec": u.deg,
        "pointing_error": u.arcsec,
        "fwhm": u.arcsec,
        "pressure": u.hPa,
        "temperature": u.deg_C,
        "rotation": u.deg,
    }
    for name, unit in units.items():
        if name in table.colnames:
            table[name] = np.asarray(table[name], float) * unit
    table.meta = {
        "description": "ztfnb simulated night: one row per exposure",
        # the options only when set (`NightParameters.recorded`): other nights keep their bytes
        **parameters.recorded(),
        "ztfnb": __version__,
    }
    return table


def _failure_table(failures):
    table = Table(
        rows=[(f.exposure, f.rcid, f.kind, f.amplitude, f.corner, f.angle) for f in failures],
        names=["exposure", "rcid", "kind", "amplitude", "corner", "angle"],
        dtype=[str, np.int16, str, float, np.int16, float],
    )
    table["amplitude"].unit = u.arcsec
    table["angle"].unit = u.deg
    return table
