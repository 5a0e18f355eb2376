"""Calibration stars: each calibration exposure's detections matched to Gaia, in its observed plane."""

from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ztfnb.io.errors import InputError
from ztfnb.match import match_catalog
from ztfnb.observed import ObservedPlane
from ztfnb.reference import field_reference


@dataclass
class _Stars:
    """Matched stars of all calibration exposures, flattened."""

    exposure: np.ndarray
    rcid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray  # degrees
    xi: np.ndarray  # Gaia in the exposure's observed plane, degrees
    eta: np.ndarray


def _reference(catalog, gaia, config):
    """Gaia stars of the field at the exposure's epoch, brighter than the limit."""
    return field_reference(gaia, catalog, config.reference_mag_limit)


def _centroid_sigma(extension, rows, floor_deg, scale_deg):
    """Per-axis centroid error of some rows, degrees: the axes' quadratic mean ⊕ a floor.

    Where the catalogue gives no minor axis (or a NaN), the major one alone
    (conservative) stands for both (`ztfnb.io.sextractor`).
    """
    major, minor = (axis[rows] for axis in extension.centroid_error)
    error = np.hypot(major, minor) / np.sqrt(2)
    return np.hypot(error * scale_deg, floor_deg)


def _weather(catalog, refraction):
    """The exposure's weather, or a vacuum (no refraction) for the ZTF-style comparison."""
    return catalog.weather if refraction else replace(catalog.weather, pressure=0 * u.hPa)


def _match_exposure(catalog, gaia, config, index):
    """Match one calibration exposure through its header WCS, quadrant by quadrant."""
    reference = _reference(catalog, gaia, config.match)
    pairs = match_catalog(catalog, reference, config=config.match)
    if len(pairs) == 0:
        raise InputError("no quadrant could be matched to Gaia", path=catalog.path)
    ref = np.asarray(pairs["ref_index"], int)
    observed = ObservedPlane.about(
        catalog.pointing, catalog.mid_time, _weather(catalog, config.refraction)
    )
    ref_xi, ref_eta = observed.project(SkyCoord(reference["ra"][ref], reference["dec"][ref]))
    ref_sigma = np.hypot(reference["ra_error"][ref], reference["dec_error"][ref]).to_value(
        u.deg
    ) / np.sqrt(2)
    sigma = np.empty(len(pairs))
    for position in np.unique(pairs["extension"]):
        mine = np.asarray(pairs["extension"]) == position
        extension = catalog.extensions[position]
        scale = np.sqrt(abs(np.linalg.det(extension.wcs.pixel_scale_matrix)))
        sigma[mine] = _centroid_sigma(
            extension, np.asarray(pairs["row"])[mine], config.floor.to_value(u.deg), scale
        )
    stars = {
        "exposure": np.full(len(pairs), index),
        "rcid": np.asarray(pairs["rcid"], int),
        "x": pairs["x"].value,
        "y": pairs["y"].value,
        "sigma": np.hypot(sigma, ref_sigma),
        "xi": ref_xi,
        "eta": ref_eta,
    }
    return stars, observed, pairs.meta
