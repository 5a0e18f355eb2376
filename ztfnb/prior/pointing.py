"""An exposure's own pointing offset, turn, scale and anisotropy, measured against Gaia (`refine_pointing`)."""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from scipy.spatial import cKDTree

from ztfnb.io.errors import InputError
from ztfnb.match import (
    MatchConfig,
    Offset,
    find_offset,
    match_quadrant,
    robust_affine_fit,
    usable_detections,
)
from ztfnb.observed import ObservedPlane
from ztfnb.pose import PoseConfig, find_pose, pose_samples
from ztfnb.prior.calibration import _reference, _weather
from ztfnb.prior.model import ExposureTerms

__all__ = ["refine_pointing"]

_ARCSEC = 1 / 3600
_NO_OFFSET = Offset(0.0, 0.0, 0, 0.0)


def refine_pointing(model, catalog, gaia, config=None, refraction=None, iterations=3):
    """Measure an exposure's own pointing offset, rotation, scale and anisotropy against Gaia.

    The prior predicts every detection's position in the exposure's observed
    plane; one offset search over all quadrants finds the pointing error; then,
    ``iterations`` times, stars are paired quadrant by quadrant and ``M`` and
    ``t`` fitted with outlier rejection, the plane moved onto the measured axis
    and the predictions updated, so that quadrants far from the axis pair up
    even when the first guess is several arcseconds off there.

    Parameters
    ----------
    model : `FocalPlaneModel`
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    config : `~ztfnb.match.MatchConfig`, optional
    refraction : bool, optional
        Default: as the prior was fitted.
    iterations : int

    Returns
    -------
    `ExposureTerms`

    Raises
    ------
    InputError
        When no offset is found or too few stars match.
    """
    config = config or MatchConfig()
    refraction = model.meta.get("refraction", True) if refraction is None else refraction
    plane = ObservedPlane.about(catalog.pointing, catalog.mid_time, _weather(catalog, refraction))
    reference = _reference(catalog, gaia, config)
    ref_xi, ref_eta = plane.project(SkyCoord(reference["ra"], reference["dec"]))
    predicted = []
    for extension in catalog.extensions:
        if extension.rcid not in model.rcid:
            continue
        usable = np.flatnonzero(
            usable_detections(extension.objects, config, columns=extension.columns)
        )
        xi, eta = model.plane(extension.rcid, extension.x[usable], extension.y[usable])
        pixel = np.sqrt(abs(np.linalg.det(model.cd[model._row(extension.rcid)])))
        error = extension.centroid_error[0][usable] * pixel  # the major axis: conservative
        flux = extension.flux[usable]
        predicted.append((xi, eta, flux, 1 / (error**2 + (0.03 * _ARCSEC) ** 2)))
    if not predicted:
        raise InputError("none of the catalogue's quadrants is in the prior", path=catalog.path)
    tree = cKDTree(np.column_stack([ref_xi, ref_eta]))
    ref_mag = np.asarray(u.Quantity(reference["phot_g_mean_mag"], u.mag).value)
    start, found = _search_pointing(predicted, ref_xi, ref_eta, ref_mag, tree, config)
    if not found.found:
        raise InputError(
            f"could not find the pointing offset against Gaia within {config.search_radius} "
            f"(peak of {found.peak} pairs over a background of {found.background:.1f})",
            path=catalog.path,
        )
    matrix, offset, shift = start, np.array([found.dx, found.dy]), np.zeros(2)
    for iteration in range(iterations + 1):
        pairs = [
            _pair(matrix, offset, xi, eta, flux, weight, tree, config)
            for xi, eta, flux, weight in predicted
        ]
        pu, pv, ref_index, w = (np.concatenate([p[i] for p in pairs]) for i in range(4))
        if pu.size < 20:
            raise InputError(
                f"only {pu.size} stars matched Gaia: cannot measure the pointing", path=catalog.path
            )
        matrix, offset, used, rms = _fit_affine(pu, pv, ref_xi[ref_index], ref_eta[ref_index], w)
        if iteration == iterations:
            break  # the last fit's terms belong to the current plane
        # project about the measured axis, not the commanded one; moving the plane also turns
        # its axes (meridian convergence), which the next fit absorbs
        moved = plane.shifted(*offset)
        ref_xi, ref_eta = plane.transfer(ref_xi, ref_eta, moved)
        tree = cKDTree(np.column_stack([ref_xi, ref_eta]))
        matrix = _turned(plane, moved, matrix)
        plane, shift, offset = moved, shift + offset, np.zeros(2)
    return ExposureTerms(
        catalog.name, plane, matrix, offset, int(used.sum()), rms, pointing_shift=shift
    )


#: The pose searched for an exposure against the prior: the prior knows the plate scale and the
#: parity; the turn may be anything (a rotator, a remounted camera, a field near the pole).
_POSE = PoseConfig(max_scale=1.05)


def _search_pointing(predicted, ref_xi, ref_eta, ref_mag, tree, config):
    """The exposure's turn against the prior, as a starting matrix, and its pointing offset.

    The turn (and any scale change) comes from the pose search in pair space
    (`ztfnb.pose`) on the detections near the axis, which a shift does not
    disturb; near a pole the plane about the commanded pointing is turned
    against the one about the true axis by meridian convergence (20″ of
    pointing error at Dec 89.7° turns it by a degree), elsewhere a field can
    be turned by the mount or a rotator. The offset is then the peak of all
    displacements from the turned predictions to Gaia.

    Returns
    -------
    matrix : `~numpy.ndarray`, (2, 2)
    found : `~ztfnb.match.Offset`
    """
    radius, step = config.search_radius.to_value(u.deg), config.search_bin.to_value(u.deg)
    samples = pose_samples(
        [(xi, eta, flux) for xi, eta, flux, _ in predicted], ref_xi, ref_eta, ref_mag, radius, _POSE
    )
    pose = find_pose(samples, _POSE, parities=(False,))
    xis, etas, fluxes = (np.concatenate([p[i] for p in predicted]) for i in range(3))
    bright = np.argsort(fluxes)[::-1][: 10 * config.bright]
    turns = (0,) if not pose.found(_POSE) or pose.is_identity() else (0, 1)
    trials = []
    for half in turns:
        matrix = np.eye(2) if len(turns) == 1 else pose.matrix * (-1.0) ** half
        x, y = matrix @ np.vstack([xis[bright], etas[bright]])
        trials.append((matrix, find_offset(x, y, tree, radius, step)))
    return max(trials, key=lambda trial: trial[1].peak)


def _turned(old, new, matrix, step=1e-3):
    """The matrix re-expressed in a moved plane, whose axes are turned by meridian convergence."""
    x, y = old.transfer(np.array([0.0, step, 0.0]), np.array([0.0, 0.0, step]), new)
    jacobian = np.array([[x[1] - x[0], x[2] - x[0]], [y[1] - y[0], y[2] - y[0]]]) / step
    return jacobian @ matrix


def _pair(matrix, offset, xi, eta, flux, weight, tree, config):
    """Pairs of one quadrant's predictions, moved by the current terms, with reference stars."""
    moved_xi = matrix[0, 0] * xi + matrix[0, 1] * eta + offset[0]
    moved_eta = matrix[1, 0] * xi + matrix[1, 1] * eta + offset[1]
    det, ref, _ = match_quadrant(moved_xi, moved_eta, flux, tree, config, offset=_NO_OFFSET)
    return xi[det], eta[det], ref, weight[det]


def _fit_affine(pu, pv, tx, ty, weight):
    """Weighted affine fit ``target = M · p + t`` with outlier rejection."""
    cx, cy, used, residual = robust_affine_fit(pu, pv, tx, ty, weight)
    rms = float(np.sqrt(np.mean(residual[used] ** 2) / 2) * 3600)
    return np.array([[cx[1], cx[2]], [cy[1], cy[2]]]), np.array([cx[0], cy[0]]), used, rms
