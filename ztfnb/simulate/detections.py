"""What SExtractor would have measured on one quadrant.

Stars are detected with a probability that rises with S/N (5σ near G ≈ 20.5
in good seeing), their windowed centroids scattered by the S/N-dependent
error SExtractor reports plus an image-motion term it does not know about.
Close pairs merge (flag 2) or disturb each other (flag 1); stars brighter than
the saturation level are flagged (4) and their centroids pulled along the
bleed direction; objects near the edge are flagged (8). Galaxies and cosmic
rays add detections with no Gaia counterpart.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from ztfnb.camera import NAXIS1, NAXIS2, PIXEL_SCALE

__all__ = ["OBJECT_COLUMNS", "DetectionModel", "detect"]

#: SExtractor columns written to LDAC_OBJECTS, with their FITS types.
OBJECT_COLUMNS = {
    "NUMBER": (np.int32, None),
    "XWIN_IMAGE": (np.float64, u.pix),
    "YWIN_IMAGE": (np.float64, u.pix),
    "ERRAWIN_IMAGE": (np.float32, u.pix),
    "ERRBWIN_IMAGE": (np.float32, u.pix),
    "ERRTHETAWIN_IMAGE": (np.float32, u.deg),
    "ALPHAWIN_J2000": (np.float64, u.deg),
    "DELTAWIN_J2000": (np.float64, u.deg),
    "FLUX_AUTO": (np.float32, u.ct),
    "FLUXERR_AUTO": (np.float32, u.ct),
    "MAG_AUTO": (np.float32, u.mag),
    "MAGERR_AUTO": (np.float32, u.mag),
    "FLUX_RADIUS": (np.float32, u.pix),
    "ELONGATION": (np.float32, None),
    "FLAGS": (np.int16, None),
}

_PIXEL_ARCSEC = PIXEL_SCALE.to_value(u.arcsec)
#: Per-star centroid scatter from the atmosphere in ZTF's typical conditions, arcseconds.
IMAGE_MOTION = 0.035


@dataclass(frozen=True)
class DetectionModel:
    """Photometric and astrometric conditions of an exposure.

    Attributes
    ----------
    fwhm : float
        Seeing, arcseconds.
    zero_point : float
        Magnitude giving one count (ADU) in the exposure.
    limiting_mag : float
        Magnitude at S/N = 5.
    saturation : float
        Peak level (ADU) above which a star is saturated.
    sky : float
        Sky level per pixel (ADU).
    image_motion : float
        Per-star centroid scatter from the atmosphere that SExtractor's errors
        do not include, arcseconds.
    centroid_noise : float
        Factor on the centroid errors SExtractor reports for stars and
        galaxies (and on their actual scatter): 1 in ZTF's typical
        conditions, 2–3 for a telescope with poorer seeing. `for_conditions`
        scales ``image_motion`` by it too.
    """

    fwhm: float
    zero_point: float
    limiting_mag: float
    saturation: float = 50000.0
    sky: float = 600.0
    image_motion: float = IMAGE_MOTION
    centroid_noise: float = 1.0

    @classmethod
    def for_conditions(cls, fwhm_arcsec, airmass, centroid_noise=1.0):
        """Conditions of a 30 s ZTF exposure in a given seeing and airmass.

        ``centroid_noise`` scales the centroid errors, reported and unreported
        (image motion), as poorer seeing would; the photometry stays ZTF's.
        """
        zero_point = 26.3 - 0.1 * (airmass - 1)
        limiting = 20.6 - 0.15 * (airmass - 1) - 2.5 * np.log10(fwhm_arcsec / 2.0)
        if centroid_noise == 1:
            return cls(fwhm=fwhm_arcsec, zero_point=zero_point, limiting_mag=limiting)
        return cls(
            fwhm=fwhm_arcsec,
            zero_point=zero_point,
            limiting_mag=limiting,
            image_motion=IMAGE_MOTION * centroid_noise,
            centroid_noise=float(centroid_noise),
        )

    @property
    def fwhm_pixels(self):
        return self.fwhm / _PIXEL_ARCSEC

    def flux(self, mag):
        return 10 ** (-0.4 * (np.asarray(mag) - self.zero_point))

    def snr(self, flux):
        limit = self.flux(self.limiting_mag)
        background = (limit / 5) ** 2 - limit  # aperture variance that gives S/N 5 at the limit
        return flux / np.sqrt(flux + background)

    def peak(self, flux):
        sigma = self.fwhm_pixels / 2.3548
        return flux / (2 * np.pi * sigma**2)


def _neighbour_flags(x, y, flux, fwhm_pixels):
    """Merge close pairs into the brighter one (flag 2), flag disturbed neighbours (flag 1)."""
    n = x.size
    flags = np.zeros(n, np.int16)
    merged_into = np.full(n, -1)
    if n < 2:
        return flags, merged_into
    tree = cKDTree(np.column_stack([x, y]))
    for i, j in tree.query_pairs(2.5 * fwhm_pixels, output_type="ndarray"):
        bright, faint = (i, j) if flux[i] >= flux[j] else (j, i)
        if np.hypot(x[i] - x[j], y[i] - y[j]) < 1.0 * fwhm_pixels:
            merged_into[faint] = bright
            flags[bright] |= 2
        else:
            flags[faint] |= 1
    return flags, merged_into


def detect(x_true, y_true, magnitude, source_id, model, rng):
    """Simulate SExtractor's measurements of the stars on one quadrant.

    Parameters
    ----------
    x_true, y_true : `~numpy.ndarray`
        True 1-based pixel positions of the stars on the quadrant.
    magnitude : `~numpy.ndarray`
        Their magnitudes in the exposure's filter.
    source_id : `~numpy.ndarray`
        Gaia ids, kept in the truth.
    model : `DetectionModel`
    rng : `numpy.random.Generator`

    Returns
    -------
    objects : `~astropy.table.Table`
        SExtractor columns (without the sky columns, which need a WCS), sorted by y.
    truth : `~astropy.table.Table`
        Per object: ``source_id`` (−1 for galaxies and cosmic rays), ``kind``, ``x_true``, ``y_true``.
    """
    flux_true = model.flux(magnitude)
    snr = model.snr(flux_true)
    detected = rng.uniform(0, 1, snr.size) < 0.995 * 0.5 * (1 + np.tanh((snr - 5.0) / 1.2))

    stars = _measure_stars(
        x_true[detected], y_true[detected], flux_true[detected], source_id[detected], model, rng
    )
    galaxies = _galaxies(model, rng)
    cosmics = _cosmic_rays(model, rng)
    table = Table(
        {key: np.concatenate([part[key] for part in (stars, galaxies, cosmics)]) for key in stars}
    )

    on_chip = (
        (table["x"] >= 0.5)
        & (table["x"] <= NAXIS1 + 0.5)
        & (table["y"] >= 0.5)
        & (table["y"] <= NAXIS2 + 0.5)
    )
    table = table[on_chip]
    table.sort(["y", "x"])
    edge = (
        (table["x"] < 3.5)
        | (table["x"] > NAXIS1 - 2.5)
        | (table["y"] < 3.5)
        | (table["y"] > NAXIS2 - 2.5)
    )
    table["flags"][edge] |= 8
    return _sextractor_columns(table, rng), Table(
        {
            "NUMBER": np.arange(1, len(table) + 1, dtype=np.int32),
            "source_id": table["source_id"],
            "kind": table["kind"],
            "x_true": table["x_true"],
            "y_true": table["y_true"],
        }
    )


def _measure_stars(x, y, flux, source_id, model, rng):
    n = x.size
    flags, merged_into = _neighbour_flags(x, y, flux, model.fwhm_pixels)
    measured_flux = flux.copy()
    centroid_x, centroid_y = x.copy(), y.copy()
    for faint in np.flatnonzero(merged_into >= 0):
        bright = merged_into[faint]
        total = measured_flux[bright] + flux[faint]
        centroid_x[bright] = (
            centroid_x[bright] * measured_flux[bright] + x[faint] * flux[faint]
        ) / total
        centroid_y[bright] = (
            centroid_y[bright] * measured_flux[bright] + y[faint] * flux[faint]
        ) / total
        measured_flux[bright] = total
    snr = model.snr(measured_flux)
    error = np.hypot(0.6 * model.fwhm_pixels / snr, 0.01) * model.centroid_noise
    motion = model.image_motion / _PIXEL_ARCSEC
    centroid_x += rng.normal(0, 1, n) * np.hypot(error, motion)
    centroid_y += rng.normal(0, 1, n) * np.hypot(error, motion)

    saturated = model.peak(measured_flux) + model.sky > model.saturation
    flags[saturated] |= 4
    bleed = np.sqrt(model.peak(measured_flux[saturated]) / model.saturation)
    centroid_y[saturated] += rng.normal(0, 1, saturated.sum()) * np.minimum(0.5 * bleed, 3.0)
    error[saturated] = np.maximum(error[saturated], 0.05)

    keep = merged_into < 0
    return {
        "x": centroid_x[keep],
        "y": centroid_y[keep],
        "x_true": x[keep],
        "y_true": y[keep],
        "flux": np.where(saturated, model.saturation * 4.0, measured_flux)[keep]
        * rng.normal(1, 0.01, n)[keep],
        "snr": snr[keep],
        "error": error[keep],
        "radius": (0.5 * model.fwhm_pixels * rng.normal(1, 0.03, n))[keep],
        "elongation": (1 + np.abs(rng.normal(0, 0.05, n)))[keep],
        "flags": flags[keep],
        "source_id": source_id[keep].astype(np.int64),
        "kind": np.full(int(keep.sum()), "star"),
    }


def _uniform_positions(n, rng):
    return rng.uniform(0.5, NAXIS1 + 0.5, n), rng.uniform(0.5, NAXIS2 + 0.5, n)


def _galaxies(model, rng):
    """Resolved galaxies, ≈150 per quadrant, none in Gaia."""
    n = rng.poisson(150)
    x, y = _uniform_positions(n, rng)
    mag = rng.uniform(17.5, model.limiting_mag, n)
    flux = model.flux(mag)
    snr = model.snr(flux) * 0.7
    error = 1.5 * model.fwhm_pixels / snr * model.centroid_noise
    return {
        "x": x + rng.normal(0, 1, n) * error,
        "y": y + rng.normal(0, 1, n) * error,
        "x_true": x,
        "y_true": y,
        "flux": flux,
        "snr": snr,
        "error": error,
        "radius": rng.uniform(1.5, 4.5, n) * model.fwhm_pixels / 2,
        "elongation": 1 + rng.exponential(0.5, n),
        "flags": np.zeros(n, np.int16),
        "source_id": np.full(n, -1, np.int64),
        "kind": np.full(n, "galaxy"),
    }


def _cosmic_rays(model, rng):
    """Cosmic-ray hits: sharp, often elongated, ≈20 per quadrant in 30 s."""
    n = rng.poisson(20)
    x, y = _uniform_positions(n, rng)
    snr = rng.uniform(5, 60, n)
    return {
        "x": x,
        "y": y,
        "x_true": x,
        "y_true": y,
        "flux": snr * 40.0,
        "snr": snr,
        "error": 0.3 / snr * 10,
        "radius": rng.uniform(0.3, 0.8, n),
        "elongation": 1 + rng.exponential(0.8, n),
        "flags": np.where(rng.uniform(0, 1, n) < 0.3, 16, 0).astype(np.int16),
        "source_id": np.full(n, -1, np.int64),
        "kind": np.full(n, "cosmic"),
    }


def _sextractor_columns(table, rng):
    n = len(table)
    flux = np.asarray(table["flux"], float)
    flux_error = flux / np.asarray(table["snr"], float)
    columns = {
        "NUMBER": np.arange(1, n + 1),
        "XWIN_IMAGE": table["x"],
        "YWIN_IMAGE": table["y"],
        "ERRAWIN_IMAGE": table["error"],
        "ERRBWIN_IMAGE": np.asarray(table["error"]) * rng.uniform(0.85, 1.0, n),
        "ERRTHETAWIN_IMAGE": rng.uniform(-90, 90, n),
        "ALPHAWIN_J2000": np.zeros(n),
        "DELTAWIN_J2000": np.zeros(n),
        "FLUX_AUTO": flux,
        "FLUXERR_AUTO": flux_error,
        "MAG_AUTO": -2.5 * np.log10(flux),
        "MAGERR_AUTO": 1.0857 * flux_error / flux,
        "FLUX_RADIUS": table["radius"],
        "ELONGATION": table["elongation"],
        "FLAGS": table["flags"],
    }
    objects = Table()
    for name, (dtype, unit) in OBJECT_COLUMNS.items():
        objects[name] = np.asarray(columns[name]).astype(dtype)
        if unit is not None:
            objects[name].unit = unit
    return objects
