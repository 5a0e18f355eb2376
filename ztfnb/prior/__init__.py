"""The astrometric prior: the camera's focal plane, fitted once, applied to any exposure.

Model
-----
For a detection at pixel (x, y) on quadrant q of exposure e, the focal-plane
position is ``u = CD_q · (x − CRPIX_q)`` (degrees; CRPIX_q is the boresight in
the quadrant's pixels), the optics map it to ``P(u)`` (a TPV polynomial with
identity linear part) and the exposure sees it at::

    ξ = M_e · P(u) + t_e

in the tangent plane about its pointing **in the refracted, aberrated
hour-angle/declination frame** (`ztfnb.observed.ObservedPlane`, astropy's
``HADec`` with the header's weather). Because refraction and aberration are
computed exactly there, ``M_e`` (rotation, scale, anisotropy) and ``t_e``
(pointing offset) are small and the camera model is the same at every
airmass. This goes past the ZTF prior, which fitted in the tangent plane of
ICRS and left the non-linear part of differential refraction (≈1.6″ at
airmass 1.9) in its errors.

Fitting (`fit_prior`) is linear least squares, iterated with outlier
rejection, in two stages: the CCDs as rigid bodies (each a similarity
transform of the header's nominal quadrant geometry) with the polynomial,
which fixes the distortion; then each quadrant's own CRPIX and CD with the
polynomial held. Exposures' ``M_e, t_e`` average to zero; for a new exposure
they are measured from its own detections (`refine_pointing`) before its
``.ahead`` is written (`ahead_headers`): per quadrant, CRVAL = the boresight,
the quadrant's CRPIX and CD, and PV terms fitted to the full model, refraction
included.

Parts: `ztfnb.prior.model` (the types), `~ztfnb.prior.calibration` (matched
stars), `~ztfnb.prior.lsq` (the least squares), `~ztfnb.prior.fit`,
`~ztfnb.prior.pointing`, `~ztfnb.prior.ahead` and `~ztfnb.prior.file` (the
prior file).
"""

from ztfnb.prior.ahead import ahead_headers, predict_sky
from ztfnb.prior.file import read_prior, write_prior
from ztfnb.prior.fit import fit_prior
from ztfnb.prior.model import ExposureTerms, FocalPlaneModel, PriorFit, PriorFitConfig
from ztfnb.prior.pointing import refine_pointing

__all__ = [
    "ExposureTerms",
    "FocalPlaneModel",
    "PriorFit",
    "PriorFitConfig",
    "ahead_headers",
    "fit_prior",
    "predict_sky",
    "read_prior",
    "refine_pointing",
    "write_prior",
]
