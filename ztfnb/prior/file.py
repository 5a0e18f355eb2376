"""The prior file written by ``ztfnb prior fit`` and read by ``ztfnb prior ahead``.

One FITS file:

- primary header: provenance (ztfnb version, calibration catalogues, Gaia
  file, settings, residual rms) and the distortion polynomial as TPV
  ``PV1_k`` / ``PV2_k`` keys;
- ``QUADRANTS``: one row per readout quadrant — ``rcid, ccdid, qid, crpix1,
  crpix2, cd1_1, cd1_2, cd2_1, cd2_2`` and the fit's residual statistics;
- ``EXPOSURES``: the calibration exposures' own terms (pointing offset,
  rotation, scale, anisotropy), for the record.
"""

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.io.fitscheck import open_fits

__all__ = ["read_prior", "write_prior"]

_KIND = "ztfnb focal-plane prior"
_QUADRANT_COLUMNS = ("rcid", "crpix1", "crpix2", "cd1_1", "cd1_2", "cd2_1", "cd2_2")


def write_prior(path, fit, provenance=None):
    """Write a `~ztfnb.prior.PriorFit` as a prior file, atomically.

    Parameters
    ----------
    path : path-like
    fit : `~ztfnb.prior.PriorFit`
    provenance : dict, optional
        More header cards (short keys) or HISTORY lines (key ``"history"``).
    """
    model = fit.model
    primary = fits.PrimaryHDU()
    header = primary.header
    # a reader finds a file cut between two HDUs by this count (ztfnb.io.fitscheck)
    header["NEXTEND"] = (2, "extensions: QUADRANTS, EXPOSURES")
    header["ZTFNBPRI"] = (_KIND, "file kind")
    header["ZTFNBVER"] = (model.meta.get("ztfnb", ""), "ztfnb version that fitted it")
    header["FRAME"] = ("HADEC-REFRACTED", "polynomial output: observed HADec tangent plane")
    header["DEGREE"] = (model.degree, "degree of the distortion polynomial")
    header["NEXPOSE"] = (len(model.meta.get("exposures", [])), "calibration exposures")
    header["NSTARS"] = (model.meta.get("n_stars", 0), "matched stars used")
    header["RMSXI"] = (round(model.meta.get("rms_xi", np.nan), 5), "[arcsec] residual rms, xi")
    header["RMSETA"] = (round(model.meta.get("rms_eta", np.nan), 5), "[arcsec] residual rms, eta")
    header["CLIP"] = (model.meta.get("clip", np.nan), "outlier rejection, robust sigmas")
    header["REFRACT"] = (bool(model.meta.get("refraction", True)), "fitted in the refracted frame")
    for axis, coefficients in ((1, model.pv1), (2, model.pv2)):
        for k in sorted(coefficients):
            header[f"PV{axis}_{k}"] = (float(coefficients[k]), "distortion (TPV)")
    extra = dict(provenance or {})
    for line in extra.pop("history", []):
        header.add_history(_ascii(line))
    for key, value in extra.items():
        if isinstance(value, tuple):
            value = tuple(_ascii(v) if isinstance(v, str) else v for v in value)
        header[key] = _ascii(value) if isinstance(value, str) else value
    for name in model.meta.get("exposures", []):
        header.add_history(_ascii(f"calibration catalogue: {name}"))

    quadrants = Table(model.quadrants, copy=True)
    quadrants["crpix1"] = model.crpix[:, 0]
    quadrants["crpix2"] = model.crpix[:, 1]
    for i in (1, 2):
        for j in (1, 2):
            quadrants[f"cd{i}_{j}"] = model.cd[:, i - 1, j - 1]
    quadrant_hdu = fits.table_to_hdu(quadrants)
    quadrant_hdu.name = "QUADRANTS"
    exposure_hdu = fits.table_to_hdu(Table(fit.exposure_table()))
    exposure_hdu.name = "EXPOSURES"
    with atomic_path(path) as temporary:
        fits.HDUList([primary, quadrant_hdu, exposure_hdu]).writeto(temporary)


def _ascii(text):
    """FITS headers hold ASCII only: a file name such as gaia_é.fits is kept as gaia_\\xe9.fits."""
    return str(text).encode("ascii", "backslashreplace").decode("ascii")


def read_prior(path):
    """Read a prior file.

    Returns
    -------
    `~ztfnb.prior.FocalPlaneModel`

    Raises
    ------
    InputError
        Not a ztfnb prior, or a required column or key missing.
    """
    from ztfnb.prior.model import FocalPlaneModel

    path = Path(path)
    with open_fits(path, "ztfnb prior") as hdul:
        header = hdul[0].header
        if header.get("ZTFNBPRI") != _KIND:
            raise InputError(
                "not a ztfnb prior (no ZTFNBPRI key): write one with 'ztfnb prior fit'", path=path
            )
        if "QUADRANTS" not in hdul:
            raise InputError("missing extension", path=path, extension="QUADRANTS")
        quadrants = Table.read(hdul["QUADRANTS"])
        for column in _QUADRANT_COLUMNS:
            if column not in quadrants.colnames:
                raise InputError("missing column", path=path, extension="QUADRANTS", column=column)
        exposures = QTable.read(hdul["EXPOSURES"]) if "EXPOSURES" in hdul else None
        pv = {1: {}, 2: {}}
        for key in header:
            if key.startswith(("PV1_", "PV2_")):
                pv[int(key[2])][int(key[4:])] = float(header[key])
        if 1 not in pv[1] or 1 not in pv[2]:
            raise InputError(
                "missing the distortion polynomial (PV1_1, PV2_1)", path=path, extension="PRIMARY"
            )
        meta = {
            "ztfnb": header.get("ZTFNBVER", ""),
            "degree": int(header.get("DEGREE", 3)),
            "refraction": bool(header.get("REFRACT", True)),
            "exposures": [
                line.split(": ", 1)[1]
                for line in header.get("HISTORY", [])
                if str(line).startswith("calibration catalogue: ")
            ],
            "rms_xi": header.get("RMSXI"),
            "rms_eta": header.get("RMSETA"),
            "path": str(path),
            "exposure_terms": exposures,
        }
    crpix = np.column_stack([quadrants["crpix1"], quadrants["crpix2"]]).astype(float)
    cd = np.stack(
        [
            np.column_stack([quadrants["cd1_1"], quadrants["cd1_2"]]),
            np.column_stack([quadrants["cd2_1"], quadrants["cd2_2"]]),
        ],
        axis=1,
    ).astype(float)
    if not (np.all(np.isfinite(crpix)) and np.all(np.isfinite(cd))):
        raise InputError("non-finite CRPIX or CD", path=path, extension="QUADRANTS")
    return FocalPlaneModel(
        rcid=np.asarray(quadrants["rcid"], int),
        crpix=crpix,
        cd=cd,
        pv1=pv[1],
        pv2=pv[2],
        degree=meta["degree"],
        quadrants=quadrants,
        meta=meta,
    )
