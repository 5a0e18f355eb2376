"""Each reference star's shape in a co-add, against the typical star, and whether it is doubled."""

import astropy.units as u
import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.table import QTable

from ztfnb.doubling.moments import aperture_moments, axes, cutouts, sky_moments
from ztfnb.io.errors import InputError

__all__ = ["measure_stars"]


def _as_flux(flux, n):
    """Fluxes (any linear unit) or magnitudes → relative linear fluxes, shape (n,)."""
    if isinstance(flux, u.Quantity) and (
        isinstance(flux.unit, u.MagUnit) or flux.unit.is_equivalent(u.mag)
    ):
        flux = 10 ** (-0.4 * np.asarray(getattr(flux, "value", flux), float))
    values = np.asarray(getattr(flux, "value", flux), float)
    if values.shape != (n,):
        raise InputError(
            f"{values.shape[0] if values.ndim else 0} values for {n} stars", column="flux"
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        first = int(np.flatnonzero(~(np.isfinite(values) & (values > 0)))[0])
        raise InputError("a flux that is not a positive number", column="flux", value=values[first])
    return values


def _isolated(x, y, flux, distance_px):
    """Stars with no reference neighbour brighter than 1/1000 of them within ``distance_px``.

    1/1000: a neighbour whose light reaches the circle adds about ratio × r²
    to the second moment; 1e-3 × (4 px)² is a fortieth of a 1″ double's 0.25 px².
    """
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(distance_px, output_type="ndarray")
    crowded = np.zeros(x.size, bool)
    for me, other in (pairs.T, pairs.T[::-1]):
        np.logical_or.at(crowded, me, flux[other] >= 1e-3 * flux[me])
    return ~crowded


def check_image(image, name):
    """The image as a float array, refused unless 2-d (``name`` says which image)."""
    image = np.asarray(image, float)
    if image.ndim != 2:
        raise InputError(f"expected a 2-d image, got {image.ndim} dimension(s)", column=name)
    return image


def measure_stars(
    image,
    wcs,
    stars,
    flux,
    *,
    truth=None,
    radius=None,
    snr_min=100.0,
    nsigma=5.0,
    min_smear=0.2 * u.arcsec,
    reach=6 * u.arcsec,
    min_halo=0.05,
):
    """Each bright, isolated reference star's shape in a co-add, and whether it is doubled.

    Parameters
    ----------
    image : `~numpy.ndarray`, shape (ny, nx)
        The co-add, background not subtracted (a local sky is taken around
        each star); NaN where there are no data (a star touching one is left out).
    wcs : `~astropy.wcs.WCS`
        The co-add's celestial WCS (its pixel-scale matrix carries moments
        to arcsec², taken as constant over the image).
    stars : `~astropy.coordinates.SkyCoord`, shape (n,)
        Reference positions (Gaia or the truth), at the co-add's epoch.
    flux : array-like or `~astropy.units.Quantity`, shape (n,)
        Their brightness: linear fluxes in any unit, or magnitudes (``u.mag``);
        only used to judge isolation.
    truth : `~numpy.ndarray`, shape (ny, nx), optional
        A co-add of the same exposures drawn through the truth, on the same
        grid: each star is then compared with itself there rather than with
        the co-add's median star. Needed when the PSF varies over the field
        (seeing from 1.6″ to 3″ across it: against the median star the
        scatter raises the bar and a 1″ double is missed; against the
        truth it is found), or when most of the co-add is doubled.
    radius : `~astropy.units.Quantity`, optional
        Aperture of the moments. Default twice the median star's FWHM
        (from a first pass at 5″): wide enough that each image of a 3–5″
        double is inside, narrow enough that the pixel noise stays small.
    snr_min : float
        Stars fainter than this signal-to-noise in the aperture are left out.
    nsigma : float
        How far above the good stars' scatter a star's excess must be.
    min_smear : `~astropy.units.Quantity`
        And the least equivalent separation that counts as a double.
    reach : `~astropy.units.Quantity`
        How far beyond the aperture a take-off's second image is sought: the
        light in the ring ``radius < r ≤ radius + reach`` about the centroid,
        as a fraction of that inside (a 5″ take-off puts its second image
        outside the moments' aperture, where moments do not see it).
        Neighbours closer than ``2 radius + reach`` leave a star out.
    min_halo : float
        The least excess of that fraction that counts as a double.

    Returns
    -------
    `~astropy.table.QTable`
        One row per measured star: ``coord``, ``x``, ``y`` (measured centroid,
        0-based pixels), ``offset`` (centroid − reference, arcsec), ``snr``,
        ``fwhm`` (2.3548 √((a² + b²)/2), arcsec), ``ellipticity``
        ((a − b)/(a + b) of the moment ellipse's axes), ``pa`` (its major
        axis, deg East of North), ``excess`` (largest eigenvalue of the
        moment matrix minus the reference's, arcsec²), ``smear``
        (2 √excess, arcsec: the separation of two equal images that makes
        it), ``excess_pa``, ``significance`` (excess over its noise),
        ``halo`` (the ring's light over the aperture's, minus the
        reference's), ``halo_significance`` and ``doubled``. ``meta`` holds
        ``radius``, ``reach``, ``threshold``, ``halo_threshold`` and ``reference``.

    Notes
    -----
    Two images of a star ``d`` apart with weights ``f`` and ``1 − f`` add
    ``f (1 − f) d dᵀ`` to its moment matrix, whatever the PSF; for a
    two-exposure co-add the smear is ``d``, for one spoiled exposure in
    ``N`` it is ``2 √(f (1 − f)) d`` with ``f = 1/N``. A star is doubled
    when its significance exceeds the median + ``nsigma`` × standard
    deviation of all stars' significances (sigma-clipped at 3σ so that a
    doubled minority does not set the bar) and its smear exceeds
    ``min_smear``; or when its halo passes the same kind of bar and
    ``min_halo``. The significance's noise is the pixel noise propagated
    through the moment sums (∂xx/∂Iᵢ = (xᵢ² − xx)/F); it ignores the
    centroid's own noise, which is why the bar is taken from the stars'
    scatter rather than from a fixed number of sigmas.

    Raises
    ------
    InputError
        An image that is not 2-d, fluxes that do not match the stars or are
        not positive, no star bright and isolated enough to measure.
    """
    image = check_image(image, "image")
    flux = _as_flux(flux, len(stars))
    celestial = wcs.celestial
    jacobian = celestial.pixel_scale_matrix * 3600.0  # arcsec per pixel, rows (ξ, η)
    scale = float(np.sqrt(abs(np.linalg.det(jacobian))))
    x, y = (np.nan_to_num(np.asarray(c, float), nan=-1e9) for c in celestial.world_to_pixel(stars))
    reach = u.Quantity(reach, u.arcsec).value / scale
    if radius is None:
        pixels = _typical_radius(image, x, y, 5.0 / scale, snr_min)
    else:
        pixels = u.Quantity(radius, u.arcsec).value / scale
    outer = pixels + reach
    alone = _isolated(x, y, flux, pixels + outer)
    half = int(np.ceil(outer)) + 5
    stamps, x0, y0, ok = cutouts(image, x, y, half)
    m = aperture_moments(stamps, x0, y0, pixels, outer)
    keep = (m["snr"] > snr_min) & alone[ok] & np.all(np.isfinite(stamps), axis=(1, 2))
    if truth is not None:
        truth = check_image(truth, "truth")
        if truth.shape != image.shape:
            raise InputError(f"shape {truth.shape}, not the co-add's {image.shape}", column="truth")
        t_stamps = cutouts(truth, x, y, half)[0]
        t = aperture_moments(t_stamps, x0, y0, pixels, outer)
        keep &= np.isfinite(t["xx"]) & np.all(np.isfinite(t_stamps), axis=(1, 2))
    if not keep.any():
        raise InputError(f"no reference star bright (S/N > {snr_min}) and isolated enough")
    m = {k: v[keep] for k, v in m.items()}
    index = np.flatnonzero(ok)[keep]
    sky = sky_moments(m, jacobian)
    if truth is not None:
        t = {k: v[keep] for k, v in t.items()}
        reference, halo_reference = sky_moments(t, jacobian), t["halo"]
        noise = np.hypot(m["noise_moment"], t["noise_moment"])
        noise_halo = np.hypot(m["noise_halo"], t["noise_halo"])
    else:
        reference, halo_reference = np.median(sky, axis=0)[None], np.median(m["halo"])
        noise, noise_halo = m["noise_moment"], m["noise_halo"]
    excess, _, excess_pa = axes(sky - reference)
    a2, b2, pa = axes(sky)
    a, b = np.sqrt(np.maximum(a2, 0)), np.sqrt(np.maximum(b2, 0))
    significance = excess / (noise * scale**2)
    halo = m["halo"] - halo_reference
    halo_significance = halo / noise_halo
    bar, halo_bar = _bar(significance, nsigma), _bar(halo_significance, nsigma)
    smear = 2 * np.sqrt(np.maximum(excess, 0)) * u.arcsec
    doubled = ((significance > bar) & (smear > min_smear)) | (
        (halo_significance > halo_bar) & (halo > min_halo)
    )
    cx, cy = np.round(x[index]) + m["x"], np.round(y[index]) + m["y"]
    offset = jacobian @ np.vstack([cx - x[index], cy - y[index]])
    table = QTable(
        {
            "coord": stars[index],
            "x": cx,
            "y": cy,
            "offset": np.hypot(*offset) * u.arcsec,
            "snr": m["snr"],
            "fwhm": 2.3548 * np.sqrt((a2 + b2) / 2) * u.arcsec,
            "ellipticity": (a - b) / (a + b),
            "pa": pa * u.deg,
            "excess": excess * u.arcsec**2,
            "smear": smear,
            "excess_pa": excess_pa * u.deg,
            "significance": significance,
            "halo": halo,
            "halo_significance": halo_significance,
            "doubled": doubled,
        }
    )
    table.meta.update(
        radius=pixels * scale * u.arcsec,
        reach=reach * scale * u.arcsec,
        threshold=float(bar),
        halo_threshold=float(halo_bar),
        reference="truth" if truth is not None else "median star",
    )
    return table


def _typical_radius(image, x, y, pixels, snr_min):
    """Twice the FWHM of the median bright star (px), from moments in a first ``pixels`` circle."""
    stamps, x0, y0, _ = cutouts(image, x, y, int(np.ceil(pixels)) + 5)
    first = aperture_moments(stamps, x0, y0, pixels, pixels)
    bright = first["snr"] > snr_min
    if not bright.any():
        raise InputError(f"no reference star with signal-to-noise above {snr_min}")
    return 2 * 2.3548 * np.sqrt(np.median((first["xx"] + first["yy"])[bright]) / 2)


def _bar(significance, nsigma):
    """Median + nsigma × standard deviation of the stars' significances, clipped at 3σ.

    The clipping keeps a doubled minority from raising the bar; the
    propagated noise leaves out the centroid's own, so the spread is
    measured rather than assumed to be 1.
    """
    _, middle, spread = sigma_clipped_stats(significance, sigma=3.0)
    return middle + nsigma * spread
