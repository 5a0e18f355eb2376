"""Figures of the focal-plane prior: placement, residuals, distortion, accuracy."""

import astropy.units as u
import numpy as np
from matplotlib.collections import PolyCollection

from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.plots.camera import (
    binned_means,
    draw_pixel_vectors,
    draw_vectors,
    new_axes,
    robust_limits,
)
from ztfnb.tpv import evaluate

__all__ = [
    "plot_accuracy_vs_airmass",
    "plot_distortion",
    "plot_prior_focal_plane",
    "plot_quadrant_residuals",
    "plot_residual_field",
]

_CORNERS = np.array(
    [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5], [0.5, NAXIS2 + 0.5]]
)


def _quadrant_polygons(model):
    return [
        np.column_stack(model.focal(rcid, _CORNERS[:, 0], _CORNERS[:, 1])) for rcid in model.rcid
    ]


def plot_prior_focal_plane(model):
    """The fitted quadrants (from their CRPIX and CD) coloured by residual rms, +x marked."""
    figure, ax = new_axes()
    polygons = _quadrant_polygons(model)
    rms = np.hypot(
        np.asarray(model.quadrants["rms_xi"], float), np.asarray(model.quadrants["rms_eta"], float)
    ) / np.sqrt(2)
    collection = PolyCollection(polygons, edgecolors="0.3", linewidths=0.6, cmap="viridis")
    collection.set_array(rms)
    vmin, vmax, extend = robust_limits(rms, zero=True)
    collection.set_clim(vmin, vmax)
    ax.add_collection(collection)
    figure.colorbar(collection, ax=ax, label='residual rms per axis (")', shrink=0.8, extend=extend)
    for rcid, polygon in zip(model.rcid, polygons, strict=True):
        centre = polygon.mean(axis=0)
        ax.text(*centre, str(rcid), ha="center", va="center", fontsize=7, color="w")
        # from the corner at pixel (1, 1) along +x: the readout direction
        ax.annotate(
            "",
            polygon[1] * 0.25 + polygon[0] * 0.75,
            polygon[0],
            arrowprops={"arrowstyle": "->", "color": "w", "lw": 0.8},
        )
    limit = np.abs(np.concatenate(polygons)).max() * 1.05
    ax.set_xlim(limit, -limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("u (deg, East)")
    ax.set_ylabel("v (deg, North)")
    ax.set_title("Fitted quadrants (CRPIX, CD); arrows: pixel +x from (1, 1)")
    return figure


def plot_residual_field(model, residuals, bin_deg=0.2):
    """Mean residual (Gaia − prior) in cells of the whole focal plane, stars kept by the fit."""
    figure, ax = new_axes()
    used = np.asarray(residuals["used"])
    u_all, v_all = np.zeros(len(residuals)), np.zeros(len(residuals))
    for rcid in np.unique(residuals["rcid"]):
        rows = np.asarray(residuals["rcid"]) == rcid
        u_all[rows], v_all[rows] = model.focal(
            int(rcid),
            u.Quantity(residuals["x"][rows]).value,
            u.Quantity(residuals["y"][rows]).value,
        )
    edges = np.arange(-3.9, 3.9 + bin_deg, bin_deg)
    cu, cv, du, dv = binned_means(
        u_all[used],
        v_all[used],
        u.Quantity(residuals["dxi"][used], u.arcsec).value,
        u.Quantity(residuals["deta"][used], u.arcsec).value,
        edges,
        edges,
    )
    polygons = _quadrant_polygons(model)
    ax.add_collection(PolyCollection(polygons, facecolors="none", edgecolors="0.6", linewidths=0.5))
    ax.set_xlim(4, -4)
    ax.set_ylim(-4, 4)
    draw_vectors(ax, cu, cv, du, dv, length_deg=0.15)  # after the limits: its key goes below
    ax.set_aspect("equal")
    ax.set_xlabel("u (deg, East)")
    ax.set_ylabel("v (deg, North)")
    peak = np.max(np.hypot(du, dv)) if du.size else np.nan
    ax.set_title(f'Mean residuals in {bin_deg}° cells (largest {peak:.3f}")')
    return figure


def plot_quadrant_residuals(residuals, rcid, bin_pixels=256):
    """Residual vectors of one quadrant in its pixel frame, cell means and corners marked."""
    figure, ax = new_axes(6.5, 6)
    rows = (np.asarray(residuals["rcid"]) == rcid) & np.asarray(residuals["used"])
    draw_pixel_vectors(
        ax,
        u.Quantity(residuals["x"][rows]).value,
        u.Quantity(residuals["y"][rows]).value,
        u.Quantity(residuals["dxi"][rows], u.arcsec).value,
        u.Quantity(residuals["deta"][rows], u.arcsec).value,
        bin_pixels,
    )
    ax.set_title(
        f"rcid {rcid}: mean residual (ξ, η) in {bin_pixels}-pixel cells, {rows.sum()} stars"
    )
    return figure


def plot_distortion(model, step=0.3):
    """The fitted distortion polynomial: P(u) − u over the focal plane."""
    figure, ax = new_axes()
    grid = np.arange(-3.75, 3.76, step)
    gu, gv = (a.ravel() for a in np.meshgrid(grid, grid))
    xi, eta = evaluate(model.pv1, model.pv2, gu, gv)
    ax.add_collection(
        PolyCollection(
            _quadrant_polygons(model), facecolors="none", edgecolors="0.6", linewidths=0.5
        )
    )
    ax.set_xlim(4, -4)
    ax.set_ylim(-4, 4)
    draw_vectors(ax, gu, gv, (xi - gu) * 3600, (eta - gv) * 3600, length_deg=0.25)
    ax.set_aspect("equal")
    ax.set_xlabel("u (deg, East)")
    ax.set_ylabel("v (deg, North)")
    peak = np.max(np.hypot(xi - gu, eta - gv)) * 3600
    ax.set_title(
        f'Distortion polynomial (degree {model.degree}): largest {peak:.2f}" at the corners'
    )
    return figure


def plot_accuracy_vs_airmass(accuracy):
    """Worst .ahead error against the truth, with and without the refraction model, and what refraction does.

    Without a truth (a real night: ``accuracy.meta["truth"]`` False) the
    ``.ahead``'s rms against Gaia per exposure is drawn instead, so labelled.
    """
    figure, ax = new_axes(7, 4.5)
    airmass = np.asarray(accuracy["airmass"], float)
    if not accuracy.meta.get("truth", True):
        rms = u.Quantity(accuracy["gaia_rms"], u.arcsec).value
        calibration = np.asarray(accuracy["calibration"], bool)
        ax.plot(airmass, rms, "o", color="C0", label=".ahead against Gaia (rms per axis)")
        ax.plot(
            airmass[calibration],
            rms[calibration],
            "o",
            mfc="none",
            mec="k",
            ms=11,
            label="calibration exposures",
        )
        ax.set_xlabel("airmass")
        ax.set_ylabel('rms per axis (")')
        ax.set_title("No truth in this night's folder: errors against the truth not measured")
        ax.legend(fontsize=8)
        return figure
    ax.semilogy(
        airmass,
        u.Quantity(accuracy["worst"], u.arcsec).value,
        "o",
        color="C0",
        label="ztfnb prior (refraction-aware)",
    )
    if "worst_without_refraction" in accuracy.colnames:
        ax.semilogy(
            airmass,
            u.Quantity(accuracy["worst_without_refraction"], u.arcsec).value,
            "s",
            color="C3",
            label="same fit without refraction (as ZTF)",
        )
    if "refraction_non_affine" in accuracy.colnames:
        order = np.argsort(airmass)
        ax.semilogy(
            airmass[order],
            u.Quantity(accuracy["refraction_non_affine"], u.arcsec).value[order],
            "--",
            color="0.5",
            label="non-affine refraction over the field",
        )
    calibration = np.asarray(accuracy["calibration"], bool)
    ax.semilogy(
        airmass[calibration],
        u.Quantity(accuracy["worst"], u.arcsec).value[calibration],
        "o",
        mfc="none",
        mec="k",
        ms=11,
        label="calibration exposures",
    )
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.axhline(0.1, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel("airmass")
    ax.set_ylabel('worst error over every quadrant (")')
    ax.legend(fontsize=8)
    return figure
