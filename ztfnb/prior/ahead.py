"""SCAMP ``.ahead`` headers from the prior for one exposure (`ahead_headers`)."""

import numpy as np

from ztfnb.camera import NAXIS1, NAXIS2, ccdid_qid
from ztfnb.io.errors import InputError
from ztfnb.tangent import gnomonic
from ztfnb.tpv import fit_tpv, tpv_header

__all__ = ["ahead_headers", "predict_sky"]


def predict_sky(model, terms, rcid, x, y):
    """ICRS positions the prior predicts for pixels of a quadrant in an exposure."""
    xi, eta = terms.apply(*model.plane(rcid, x, y))
    return terms.plane.deproject(xi, eta)


def ahead_headers(model, catalog, terms, degree=None, grid=16):
    """SCAMP ``.ahead`` blocks for a catalogue, one per extension in file order.

    Each block has CRVAL = the exposure's boresight, the quadrant's CRPIX and
    CD from the prior, and PV terms fitted on a grid of the quadrant (corners
    included) to the full prediction: distortion, the exposure's own terms and
    refraction for its pointing, time and weather.

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
        headers.append(header)
    return headers
