"""The TPV distortion polynomial, as SCAMP writes it and wcslib reads it.

With intermediate coordinates ``(xi, eta) = CD · (pixel − CRPIX)`` in degrees:

    xi'  = Σ_k PV1_k · xi^i eta^j      eta' = Σ_k PV2_k · eta^i xi^j

where term ``k`` has powers ``(i, j)`` in TPV's order — 0: 1, 1: xi, 2: eta,
3: r, 4: xi², 5: xi·eta, 6: eta², 7: xi³, 8: xi²eta, 9: xi·eta², 10: eta³,
11: r³, 12–16: fourth order, … — and the second axis swaps the roles of xi and
eta. ``r`` terms (odd powers of the radius) are part of the standard but not
used here. Unset ``PV1_1`` and ``PV2_1`` are 1. Then TAN about CRVAL.
"""

import numpy as np
from astropy.io import fits

__all__ = [
    "MAX_DEGREE",
    "TPV_IDENTITY",
    "evaluate",
    "fit_tpv",
    "term_powers",
    "tpv_header",
]

MAX_DEGREE = 7
TPV_IDENTITY = ({1: 1.0}, {1: 1.0})


def _build_terms():
    """Index → (power of the axis' own coordinate, power of the other, is radial)."""
    terms = {}
    k = 0
    for degree in range(MAX_DEGREE + 1):
        for j in range(degree + 1):
            terms[k] = (degree - j, j, False)
            k += 1
        if degree % 2 == 1:
            terms[k] = (degree, 0, True)  # r^degree
            k += 1
    return terms


_TERMS = _build_terms()


def term_powers(degree, include_linear=True):
    """Non-radial TPV term indices up to ``degree`` with their powers.

    Parameters
    ----------
    degree : int
    include_linear : bool
        Include the constant and linear terms (k = 0, 1, 2).

    Returns
    -------
    list of (k, i, j)
    """
    if not 1 <= degree <= MAX_DEGREE:
        raise ValueError(f"TPV degree must be 1–{MAX_DEGREE}, got {degree}")
    result = []
    for k, (i, j, radial) in _TERMS.items():
        if radial or i + j > degree or (not include_linear and i + j < 2):
            continue
        result.append((k, i, j))
    return result


def _axis(coefficients, own, other):
    total = np.zeros(np.broadcast(own, other).shape)
    radius = None
    for k, value in coefficients.items():
        i, j, radial = _TERMS[int(k)]
        if radial:
            radius = np.hypot(own, other) if radius is None else radius
            total = total + value * radius**i
        else:
            total = total + value * own**i * other**j
    return total


def evaluate(pv1, pv2, xi, eta):
    """Apply TPV polynomials to intermediate coordinates (degrees).

    Parameters
    ----------
    pv1, pv2 : dict
        Term index → coefficient; missing terms are zero (so give k = 1 explicitly).
    xi, eta : array-like

    Returns
    -------
    xi', eta' : `~numpy.ndarray`
    """
    xi = np.asarray(xi, float)
    eta = np.asarray(eta, float)
    return _axis(pv1, xi, eta), _axis(pv2, eta, xi)


def design_matrix(own, other, terms):
    """Columns own^i · other^j for each (k, i, j) in ``terms``."""
    return np.column_stack([own**i * other**j for _, i, j in terms])


def fit_tpv(xi_in, eta_in, xi_out, eta_out, degree, weights=None):
    """Least-squares TPV coefficients mapping (xi_in, eta_in) to (xi_out, eta_out).

    Constant and linear terms are fitted too (CD and CRPIX held fixed).

    Returns
    -------
    pv1, pv2 : dict
    rms : float
        Root-mean-square residual, degrees.
    """
    terms = term_powers(degree)
    weights = (
        np.ones_like(np.asarray(xi_in, float)) if weights is None else np.asarray(weights, float)
    )
    root = np.sqrt(weights)[:, None]
    result = []
    residuals = []
    for own, other, target in ((xi_in, eta_in, xi_out), (eta_in, xi_in, eta_out)):
        design = design_matrix(np.asarray(own, float), np.asarray(other, float), terms)
        scale = np.abs(design).max(axis=0)
        scale[scale == 0] = 1
        solution, *_ = np.linalg.lstsq(
            design / scale * root, np.asarray(target) * root[:, 0], rcond=None
        )
        solution = solution / scale
        result.append({k: float(value) for (k, _, _), value in zip(terms, solution, strict=True)})
        residuals.append(np.asarray(target) - design @ solution)
    rms = float(np.sqrt(np.mean(residuals[0] ** 2 + residuals[1] ** 2)))
    return result[0], result[1], rms


def tpv_header(crval, crpix, cd, pv1, pv2, extra=None):
    """A FITS header with a TPV WCS.

    Parameters
    ----------
    crval : (float, float)
        Degrees.
    crpix : (float, float)
    cd : array-like, shape (2, 2)
        Degrees per pixel.
    pv1, pv2 : dict
    extra : list of cards, optional
        Added first (e.g. RCID for a reader's convenience).

    Returns
    -------
    `~astropy.io.fits.Header`
    """
    header = fits.Header(extra or [])
    header["CTYPE1"] = ("RA---TPV", "TAN with TPV polynomial distortion")
    header["CTYPE2"] = ("DEC--TPV", "TAN with TPV polynomial distortion")
    header["EQUINOX"] = (2000.0, "")
    header["RADESYS"] = ("ICRS", "")
    header["CUNIT1"] = ("deg", "")
    header["CUNIT2"] = ("deg", "")
    header["CRVAL1"] = (float(crval[0]), "[deg] boresight RA")
    header["CRVAL2"] = (float(crval[1]), "[deg] boresight Dec")
    header["CRPIX1"] = (float(crpix[0]), "[pix] boresight in this quadrant's pixels")
    header["CRPIX2"] = (float(crpix[1]), "[pix]")
    cd = np.asarray(cd, float)
    header["CD1_1"] = (cd[0, 0], "[deg/pix]")
    header["CD1_2"] = (cd[0, 1], "[deg/pix]")
    header["CD2_1"] = (cd[1, 0], "[deg/pix]")
    header["CD2_2"] = (cd[1, 1], "[deg/pix]")
    for axis, coefficients in ((1, pv1), (2, pv2)):
        for k in sorted(coefficients):
            header[f"PV{axis}_{k}"] = (float(coefficients[k]), "TPV distortion")
    return header
