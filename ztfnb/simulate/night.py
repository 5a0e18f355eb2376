"""Write a simulated ZTF night in the formats real data come in.

``DIR/gaia.fits``
    Gaia-like reference over every field, archive column names and units.
``DIR/<exposure>.ldac``
    One SExtractor FITS_LDAC catalogue per exposure, one LDAC_IMHEAD /
    LDAC_OBJECTS pair per readout quadrant, with the ZTF header keywords and
    the telescope's rough linear TAN WCS.
``DIR/exposures.ecsv``
    One row per exposure: pointing (commanded and true), time, airmass,
    weather, injected failures.
``DIR/truth/``
    The true pixel → sky mapping of every quadrant and the identity of every
    detection (`~ztfnb.simulate.truth`), and ``failures.ecsv``.
``DIR/simulation.json``
    The parameters, so a night can be recognised and reused.

The same parameters give byte-identical files.
"""

import datetime
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table, vstack
from astropy.utils import iers

from ztfnb._version import __version__
from ztfnb.camera import NAXIS1, NAXIS2, FocalPlane
from ztfnb.io.atomic import atomic_directory, atomic_path
from ztfnb.io.gaia import write_gaia
from ztfnb.io.ldac import LdacExtension, write_ldac
from ztfnb.simulate.detections import DetectionModel, detect
from ztfnb.simulate.failures import apply_failure, choose_failures
from ztfnb.simulate.projection import ExposureProjection
from ztfnb.simulate.schedule import plan_night
from ztfnb.simulate.stars import FIELD_HALF_SIZE, make_star_field
from ztfnb.simulate.truth import truth_grid, write_truth
from ztfnb.site import PALOMAR, filter_band
from ztfnb.tangent import gnomonic, gnomonic_inverse

__all__ = ["NightParameters", "check_night_date", "ensure_night", "simulate_night"]

_FILTER_IDS = {"g": 1, "r": 2, "i": 3}
_COLOUR_TERMS = {"g": 0.35, "r": -0.15, "i": -0.35}  # mean filter − G of field stars
_MARKER = "simulation.json"
_DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MJD_ZERO = datetime.date(1858, 11, 17)


@dataclass(frozen=True)
class NightParameters:
    """What defines a simulated night (and its byte-identical output).

    Attributes
    ----------
    seed : int
    exposures : int
    failures : int
    density : float
        Gaia stars per square degree (to G = 21).
    date : str
        UT date of the night.
    """

    seed: int
    exposures: int = 10
    failures: int = 0
    density: float = 1200.0
    date: str = "2023-10-17"

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
        if not 0 <= self.failures <= self.exposures * 64:
            raise ValueError(f"failures must be between 0 and 64 × exposures, got {self.failures}")
        if not 10 <= self.density <= 1e5:
            raise ValueError(f"density must be 10–100000 stars per deg², got {self.density}")
        try:
            check_night_date(self.date)
        except ValueError as error:
            raise ValueError(f"date: {error}") from None

    def to_json(self):
        return json.dumps({**asdict(self), "ztfnb": __version__}, indent=2, sort_keys=True) + "\n"


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
        stars = make_star_field(
            [(e.target.ra.deg, e.target.dec.deg) for e in plan], parameters.density * u.deg**-2, rng
        )
        failures = choose_failures([e.name for e in plan], parameters.failures, rng)
        (folder / "truth").mkdir()
        rows = []
        for index, exposure in enumerate(plan):
            exposure_rng = np.random.default_rng([parameters.seed, index])
            own_failures = [f for f in failures if f.exposure == exposure.name]
            rows.append(_write_exposure(folder, exposure, stars, own_failures, exposure_rng))
            if log:
                log(
                    f"{exposure.name}: airmass {exposure.airmass:.2f}, {rows[-1]['n_detections']} detections"
                )
        write_gaia(folder / "gaia.fits", stars.catalogue)
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


def _write_exposure(folder, exposure, stars, failures, rng):
    projection = ExposureProjection.for_exposure(exposure)
    target = (exposure.target.ra.deg, exposure.target.dec.deg)
    ra, dec = stars.true_positions(exposure.mid_time)
    xi, eta = gnomonic(ra.value, dec.value, *target)
    near = np.flatnonzero((np.abs(xi) < FIELD_HALF_SIZE) & (np.abs(eta) < FIELD_HALF_SIZE))
    rcid, x, y = projection.sky_to_pixel(SkyCoord(ra[near], dec[near]))
    band = filter_band(exposure.filter)
    magnitude = (
        np.asarray(stars.catalogue["phot_g_mean_mag"].value[near], float) + _COLOUR_TERMS[band]
    )
    source_id = np.asarray(stars.catalogue["source_id"][near])
    model = DetectionModel.for_conditions(exposure.fwhm.to_value(u.arcsec), exposure.airmass)
    by_rcid = {f.rcid: f for f in failures}

    extensions, truth_rows, kept = [], [], []
    for quadrant in FocalPlane.nominal():
        on = rcid == quadrant.rcid
        objects, truth = detect(x[on], y[on], magnitude[on], source_id[on], model, rng)
        if quadrant.rcid in by_rcid:
            objects, truth = apply_failure(by_rcid[quadrant.rcid], objects, truth, rng)
            if objects is None:
                continue
        header = _quadrant_header(exposure, quadrant, model)
        _add_sky_columns(objects, header)
        extensions.append(LdacExtension(header, objects, index=len(extensions)))
        truth["rcid"] = np.full(len(truth), quadrant.rcid, np.int16)
        truth_rows.append(truth)
        kept.append(quadrant.rcid)

    write_ldac(folder / f"{exposure.name}.ldac", extensions)
    detections = vstack(truth_rows) if truth_rows else Table()
    detections = detections[["rcid", "NUMBER", "source_id", "kind", "x_true", "y_true"]]
    write_truth(
        folder / "truth" / f"{exposure.name}.fits",
        exposure,
        projection,
        truth_grid(projection, kept),
        detections,
    )
    boresight = projection.boresight
    altaz = _altaz(exposure)
    return {
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


def _altaz(exposure):
    return exposure.target.transform_to(AltAz(obstime=exposure.start, location=PALOMAR))


def _quadrant_header(exposure, quadrant, model):
    """The quadrant image's header as the ZTF camera writes it, rough WCS included."""
    band = filter_band(exposure.filter)
    altaz = _altaz(exposure)
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
        ("CRVAL1", exposure.target.ra.deg, "[deg]"),
        ("CRVAL2", exposure.target.dec.deg, "[deg]"),
        ("CRPIX1", quadrant.crpix[0], "[pix] boresight in this quadrant's pixels"),
        ("CRPIX2", quadrant.crpix[1], "[pix]"),
        ("CD1_1", quadrant.cd[0, 0], "[deg/pix] nominal layout"),
        ("CD1_2", quadrant.cd[0, 1], ""),
        ("CD2_1", quadrant.cd[1, 0], ""),
        ("CD2_2", quadrant.cd[1, 1], ""),
    ]
    return fits.Header(cards)


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
    }
    for name, unit in units.items():
        table[name] = np.asarray(table[name], float) * unit
    table.meta = {
        "description": "ztfnb simulated night: one row per exposure",
        **{key: value for key, value in asdict(parameters).items()},
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
