"""SCAMP ``.ahead`` headers from the prior for one exposure (`ahead_headers`)."""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ztfnb.camera import NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.site import Weather, observed_frame
from ztfnb.tangent import gnomonic
from ztfnb.tpv import fit_tpv, tpv_header

__all__ = ["ahead_headers", "predict_sky", "vacuum_scale_ratio"]


def predict_sky(model, terms, rcid, x, y):
    """ICRS positions the prior predicts for pixels of a quadrant in an exposure."""
    xi, eta = terms.apply(*model.plane(rcid, x, y))
    return terms.plane.deproject(xi, eta)


def ahead_headers(model, catalog, terms, degree=None, grid=16):
    """SCAMP ``.ahead`` blocks for a catalogue, one per extension in file order.

    Each block has CRVAL = the exposure's boresight, the quadrant's CRPIX and
    CD from the prior, and PV terms fitted on a grid of the quadrant (corners
    included) to the full prediction: distortion, the exposure's own terms and
    refraction for its pointing, time and weather. ``ZVACSCL`` is the ratio of
    the block's mean pixel scale to that of the prior's camera alone at the
    same boresight, in a vacuum and without the exposure's own terms (see
    `vacuum_scale_ratio`): what ``ztfnb quality`` needs to put each solution's
    pixel scale relative to the zenith.

    Parameters
    ----------
    model : `FocalPlaneModel`
    catalog : `~ztfnb.exposure.ExposureCatalog`
    terms : `ExposureTerms`
        From `refine_pointing` (or identity terms to skip refinement).
    degree : int, optional
        Of the written PV polynomial (default: the prior's).
    grid : int
        Points per side of the fitting grid.

    Returns
    -------
    list of `~astropy.io.fits.Header`
    """
    degree = degree or model.degree
    boresight = terms.boresight
    axis = np.linspace(0.5, NAXIS1 + 0.5, grid), np.linspace(0.5, NAXIS2 + 0.5, grid)
    gx, gy = (g.ravel() for g in np.meshgrid(*axis))
    missing = [e.rcid for e in catalog.extensions if e.rcid not in model.rcid]
    if missing:
        raise InputError(
            f"the prior has no quadrant rcid {', '.join(map(str, missing))}: no calibration "
            "catalogue held it; fit the prior with catalogues that do",
            path=catalog.path,
        )
    # one astropy call for every grid point of every quadrant
    planes = [terms.apply(*model.plane(e.rcid, gx, gy)) for e in catalog.extensions]
    sky = terms.plane.deproject(
        np.concatenate([p[0] for p in planes]), np.concatenate([p[1] for p in planes])
    )
    target_xi, target_eta = gnomonic(sky.ra.deg, sky.dec.deg, boresight.ra.deg, boresight.dec.deg)
    vacuum = vacuum_scale_ratio(model, catalog, terms, boresight, sky, grid)
    headers = []
    for index, extension in enumerate(catalog.extensions):
        rows = slice(index * gx.size, (index + 1) * gx.size)
        row = model._row(extension.rcid)
        w_u, w_v = model.focal(extension.rcid, gx, gy)
        pv1, pv2, rms = fit_tpv(w_u, w_v, target_xi[rows], target_eta[rows], degree)
        ccdid, qid = ccdid_qid(extension.rcid)
        header = tpv_header(
            (boresight.ra.deg, boresight.dec.deg),
            model.crpix[row],
            model.cd[row],
            pv1,
            pv2,
            extra=[
                ("RCID", int(extension.rcid), "readout channel"),
                ("CCDID", int(ccdid), ""),
                ("QID", int(qid), ""),
            ],
        )
        header["ZPRIORFT"] = (rms * 3600, "[arcsec] rms of this TPV about the ztfnb prior")
        header["ZPOINTX"] = (float(terms.offset_arcsec[0]), "[arcsec] measured pointing offset, xi")
        header["ZPOINTY"] = (
            float(terms.offset_arcsec[1]),
            "[arcsec] measured pointing offset, eta",
        )
        header["ZNMATCH"] = (int(terms.n_stars), "stars matched to Gaia for the pointing")
        header["ZVACSCL"] = (
            float(vacuum[index]),
            "pixel scale / the camera's in vacuum",
        )
        headers.append(header)
    return headers


#: Nodes of the fitting grid (per side) that bound the cells of `vacuum_scale_ratio`.
_VACUUM_NODES = 4


def vacuum_scale_ratio(model, catalog, terms, boresight, sky, grid):
    """Per quadrant, its mean pixel scale over that of the prior's camera alone in a vacuum.

    The camera alone is the same `FocalPlaneModel` at the same boresight with
    no refraction (the observed frame at pressure 0, which keeps aberration)
    and the exposure's own terms set to identity: the pixel scale the exposure
    would have at the zenith. The mean scale is measured as
    `ztfnb.quality.pixel_scale_change` measures it (mean over the quadrant of
    the square root of the pixel's area ratio), on 3 × 3 cells whose corners
    are nodes of the ``.ahead`` fitting grid. Both mappings are compared in
    the vacuum tangent plane about the boresight, where the camera alone is
    the polynomial itself: one astropy call takes the full prediction's 16
    nodes per quadrant there; cell areas are corrected by the gnomonic area
    factor ``(1 + ρ²)^(-3/2)``.

    Parameters
    ----------
    model : `FocalPlaneModel`
    catalog : `~ztfnb.exposure.ExposureCatalog`
    terms : `ExposureTerms`
    boresight : `~astropy.coordinates.SkyCoord`
    sky : `~astropy.coordinates.SkyCoord`
        The full prediction on every quadrant's ``grid`` × ``grid`` nodes,
        quadrant after quadrant (as `ahead_headers` computes it).
    grid : int

    Returns
    -------
    `~numpy.ndarray`
        One ratio per extension, in file order.
    """
    nodes = np.unique(np.linspace(0, grid - 1, _VACUUM_NODES).round().astype(int))
    axis = np.linspace(0.5, NAXIS1 + 0.5, grid)[nodes], np.linspace(0.5, NAXIS2 + 0.5, grid)[nodes]
    nx, ny = (g.ravel() for g in np.meshgrid(*axis))
    # the same nodes within each quadrant's grid × grid block (meshgrid order: y rows, x columns)
    within = (nodes[:, None] * grid + nodes[None, :]).ravel()
    count = len(catalog.extensions)
    picked = np.concatenate([index * grid * grid + within for index in range(count)])
    frame = observed_frame(terms.plane.frame.obstime, Weather(pressure=0 * u.hPa))
    points = SkyCoord(
        np.concatenate([[boresight.ra.deg], sky.ra.deg[picked]]) * u.deg,
        np.concatenate([[boresight.dec.deg], sky.dec.deg[picked]]) * u.deg,
    ).transform_to(frame)
    lon, lat = -points.ha.deg, points.dec.deg
    xi, eta = gnomonic(lon[1:], lat[1:], lon[0], lat[0])
    camera = [model.plane(e.rcid, nx, ny) for e in catalog.extensions]
    shape = (count, nodes.size, nodes.size)
    full = _cell_areas(xi.reshape(shape), eta.reshape(shape))
    alone = _cell_areas(
        np.concatenate([c[0] for c in camera]).reshape(shape),
        np.concatenate([c[1] for c in camera]).reshape(shape),
    )
    return np.mean(np.sqrt(full / alone), axis=(1, 2))


def _cell_areas(xi, eta):
    """Sky areas (arbitrary unit) of the quadrilateral cells of grids of tangent-plane nodes.

    ``xi, eta``: degrees, shape (n, rows, columns); returns (n, rows − 1, columns − 1).
    """
    xi, eta = np.deg2rad(xi), np.deg2rad(eta)
    corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)),
               (slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1))]  # fmt: skip
    x = [xi[(..., *c)] for c in corners]
    y = [eta[(..., *c)] for c in corners]
    area = 0.5 * np.abs(
        (x[0] - x[2]) * (y[1] - y[3]) - (x[1] - x[3]) * (y[0] - y[2])
    )  # half the cross product of the diagonals
    rho2 = (sum(x) / 4) ** 2 + (sum(y) / 4) ** 2
    return area * (1 + rho2) ** -1.5
