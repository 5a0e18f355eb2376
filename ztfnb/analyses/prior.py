"""Fit the prior on a night's calibration exposures and measure it on the others.

Twin of ``notebooks/01_prior_fit.ipynb``.
"""

from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.wcs import WCS

from ztfnb.analyses.night import has_truth, night_catalogs, night_exposures
from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.io import read_gaia, write_header_blocks
from ztfnb.io.summary import write_summary
from ztfnb.observed import ObservedPlane
from ztfnb.prior import PriorFitConfig, ahead_headers, fit_prior, refine_pointing
from ztfnb.prior.file import write_prior
from ztfnb.project import project_path
from ztfnb.simulate.truth import TrueMapping

__all__ = [
    "PriorReport",
    "ahead_accuracy",
    "choose_calibration",
    "focal_plane_table",
    "prior_report",
    "refraction_terms",
]


@dataclass
class PriorReport:
    """Everything the prior notebook shows.

    Attributes
    ----------
    fit : `~ztfnb.prior.PriorFit`
        The refraction-aware prior.
    fit_without_refraction : `~ztfnb.prior.PriorFit` or None
        The same fit in the unrefracted frame, as ZTF did.
    calibration : list of str
    accuracy : `~astropy.table.QTable`
        One row per exposure: airmass, measured pointing, rms of its ``.ahead``
        against Gaia, worst and median error against the truth (and of the
        ZTF-style prior's); NaN where the night has no truth
        (``meta["truth"]`` False).
    quadrant_accuracy : `~astropy.table.QTable`
        One row per exposure and quadrant.
    outputs : list of `~pathlib.Path`
    """

    fit: object
    fit_without_refraction: object
    calibration: list
    accuracy: QTable
    quadrant_accuracy: QTable
    outputs: list

    def worst_quadrant(self):
        """The calibration quadrant with the largest residual rms."""
        quadrants = self.fit.model.quadrants
        rms = np.hypot(
            np.asarray(quadrants["rms_xi"], float), np.asarray(quadrants["rms_eta"], float)
        )
        return int(quadrants["rcid"][np.nanargmax(rms)])


def choose_calibration(exposures, count=3, max_airmass=1.5):
    """The ``count`` lowest-airmass exposures (below ``max_airmass`` where possible)."""
    order = np.argsort(np.asarray(exposures["airmass"], float))
    names = [str(exposures["exposure"][i]) for i in order if exposures["airmass"][i] <= max_airmass]
    if len(names) < count:
        names = [str(exposures["exposure"][i]) for i in order]
    return names[:count]


def ahead_accuracy(headers, catalog, truth, grid=25):
    """Error of ``.ahead`` (or ``.head``) blocks against the true mapping.

    Parameters
    ----------
    headers : list of `~astropy.io.fits.Header`
        In the catalogue's extension order.
    catalog : `~ztfnb.exposure.ExposureCatalog`
    truth : `~ztfnb.simulate.truth.TrueMapping`
    grid : int
        Points per side over the whole quadrant, edges and corners included.

    Returns
    -------
    `~astropy.table.QTable`
        ``rcid, worst, median, corner`` (arcsec; ``corner``: worst of the four corners).
    """
    axes = np.linspace(0.5, NAXIS1 + 0.5, grid), np.linspace(0.5, NAXIS2 + 0.5, grid)
    gx, gy = (a.ravel() for a in np.meshgrid(*axes))
    corners = np.isin(gx, axes[0][[0, -1]]) & np.isin(gy, axes[1][[0, -1]])
    rows = []
    for extension, header in zip(catalog.extensions, headers, strict=True):
        ra, dec = WCS(header).all_pix2world(gx, gy, 1)
        error = (
            SkyCoord(ra * u.deg, dec * u.deg)
            .separation(truth.pixel_to_sky(extension.rcid, gx, gy))
            .arcsec
        )
        rows.append((extension.rcid, error.max(), np.median(error), error[corners].max()))
    table = QTable(rows=rows, names=["rcid", "worst", "median", "corner"])
    for name in ("worst", "median", "corner"):
        table[name] = np.asarray(table[name], float) * u.arcsec
    return table


def focal_plane_table(model):
    """The fitted quadrants as an astronomer reads a CD matrix: plate scale, rotation, skew.

    Parameters
    ----------
    model : `~ztfnb.prior.FocalPlaneModel`

    Returns
    -------
    `~astropy.table.QTable`
        ``rcid, ccdid, qid, crpix1, crpix2`` (pix), ``scale_x, scale_y``
        (arcsec/pix: the lengths of the CD matrix's columns), ``rotation``
        (deg: of pixel +x from +ξ towards +η), ``skew`` (arcsec: the angle
        between the pixel axes minus 90°), ``parity`` (+1 or −1, the sign of
        det CD), ``n_stars``, ``rms_xi, rms_eta`` (arcsec), ``placement``. The
        CD elements themselves are in the prior file.
    """
    table = model.table()
    cd = np.array(
        [[u.Quantity(table[f"cd{i}_{j}"], u.deg / u.pix).value for j in (1, 2)] for i in (1, 2)]
    )
    x_axis, y_axis = cd[:, 0], cd[:, 1]
    cosine = np.sum(x_axis * y_axis, axis=0) / (np.hypot(*x_axis) * np.hypot(*y_axis))
    result = QTable()
    for name in ("rcid", "ccdid", "qid", "crpix1", "crpix2"):
        result[name] = table[name]
    result["scale_x"] = (np.hypot(*x_axis) * u.deg / u.pix).to(u.arcsec / u.pix)
    result["scale_y"] = (np.hypot(*y_axis) * u.deg / u.pix).to(u.arcsec / u.pix)
    result["rotation"] = np.degrees(np.arctan2(x_axis[1], x_axis[0])) * u.deg
    result["skew"] = (np.degrees(np.arccos(np.clip(cosine, -1, 1))) - 90) * 3600 * u.arcsec
    result["parity"] = np.sign(cd[0, 0] * cd[1, 1] - cd[0, 1] * cd[1, 0]).astype(int)
    for name in ("n_stars", "rms_xi", "rms_eta", "placement"):
        result[name] = table[name]
    return result


def _largest(column):
    """The largest finite value of an arcsec column, NaN when none was measured."""
    values = u.Quantity(column, u.arcsec).value
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else np.nan


def _not_measured(catalog):
    """`ahead_accuracy`'s table with every error NaN: no truth to measure against."""
    table = QTable()
    table["rcid"] = catalog.rcids
    for name in ("worst", "median", "corner"):
        table[name] = np.full(len(catalog.rcids), np.nan) * u.arcsec
    return table


def refraction_terms(catalog, half_size=3.7, points=15):
    """How refraction distorts an exposure's field: its affine part and what is left.

    The field is mapped through the exposure's observed plane with and without
    refraction; the best affine map between the two is what per-exposure
    terms absorb, the remainder is what a prior without a refraction model
    gets wrong.

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    half_size : float
        Half-size of the square field sampled, degrees.
    points : int

    Returns
    -------
    dict
        ``scale`` and ``anisotropy`` (parts per million), ``non_affine`` (arcsec, largest).
    """
    grid = np.linspace(-half_size, half_size, points)
    gu, gv = (a.ravel() for a in np.meshgrid(grid, grid))
    refracted = ObservedPlane.about(catalog.pointing, catalog.mid_time, catalog.weather)
    vacuum = ObservedPlane.about(
        catalog.pointing, catalog.mid_time, replace(catalog.weather, pressure=0 * u.hPa)
    )
    xi, eta = vacuum.project(refracted.deproject(gu, gv))
    design = np.column_stack([np.ones_like(gu), gu, gv])
    cx, *_ = np.linalg.lstsq(design, xi, rcond=None)
    cy, *_ = np.linalg.lstsq(design, eta, rcond=None)
    residual = np.hypot(xi - design @ cx, eta - design @ cy) * 3600
    matrix = np.array([[cx[1], cx[2]], [cy[1], cy[2]]])
    return {
        "scale": ((matrix[0, 0] + matrix[1, 1]) / 2 - 1) * 1e6,
        "anisotropy": float(
            np.hypot((matrix[0, 0] - matrix[1, 1]) / 2, (matrix[0, 1] + matrix[1, 0]) / 2)
        )
        * 1e6,
        "non_affine": float(residual.max()),
    }


def prior_report(
    night_dir,
    calibration=None,
    calibration_count=3,
    degree=None,
    output_dir="",
    compare=True,
    log=None,
):
    """Fit the prior and measure its ``.ahead`` files on every exposure of a night.

    Parameters
    ----------
    night_dir : path-like
        A night written by ``ztfnb simulate``, or a real one: catalogues
        (``*.ldac``) and ``gaia.fits`` only. The exposures come from
        ``exposures.ecsv`` or else the catalogues' headers
        (`~ztfnb.analyses.night.night_exposures`); the ``.ahead`` errors against
        the truth are measured only where ``truth/`` is (NaN otherwise), their
        rms against Gaia always.
    calibration : list of str, optional
        Exposures to fit on (default: the ``calibration_count`` of lowest airmass).
    calibration_count : int
    degree : int, optional
        Of the distortion polynomial (default `PriorFitConfig`'s).
    output_dir : path-like
        When given, ``prior.fits`` and an ``.ahead`` per exposure are written there.
    compare : bool
        Also fit without refraction (ZTF's way) and measure it.
    log : callable, optional

    Returns
    -------
    `PriorReport`
    """
    night_dir = project_path(night_dir)  # relative: under the project root, wherever it runs
    every = night_catalogs(night_dir)  # per exposure or per quadrant, as the folder holds them
    exposures = night_exposures(night_dir, every)
    truth_dir = night_dir / "truth" if has_truth(night_dir) else None
    calibration = list(calibration or choose_calibration(exposures, calibration_count))
    gaia = read_gaia(night_dir / "gaia.fits")
    catalogs = {name: every[name] for name in exposures["exposure"]}
    config = PriorFitConfig() if degree is None else PriorFitConfig(degree=degree)
    fit = fit_prior([catalogs[n] for n in calibration], gaia, config, log=log)
    plain = (
        fit_prior([catalogs[n] for n in calibration], gaia, replace(config, refraction=False))
        if compare
        else None
    )

    outputs = []
    folder = project_path(output_dir) if output_dir else None
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        write_prior(folder / "prior.fits", fit, provenance={"history": [f"night: {night_dir}"]})
        outputs.append(folder / "prior.fits")

    rows, quadrant_rows = [], []
    for row in exposures:
        name = str(row["exposure"])
        catalog = catalogs[name]
        truth = TrueMapping.read(truth_dir / f"{name}.fits") if truth_dir else None
        terms = refine_pointing(fit.model, catalog, gaia)
        headers = ahead_headers(fit.model, catalog, terms)
        quality = ahead_accuracy(headers, catalog, truth) if truth else _not_measured(catalog)
        if folder:
            write_header_blocks(folder / f"{name}.ahead", headers)
            outputs.append(folder / f"{name}.ahead")
        plain_worst = np.nan
        if plain is not None and truth:
            plain_terms = refine_pointing(plain.model, catalog, gaia)
            plain_worst = (
                ahead_accuracy(ahead_headers(plain.model, catalog, plain_terms), catalog, truth)[
                    "worst"
                ]
                .max()
                .value
            )
        refraction = refraction_terms(catalog)
        rows.append(
            (
                name,
                str(row["kind"]),
                float(row["airmass"]),
                refraction["anisotropy"],
                refraction["non_affine"],
                name in calibration,
                terms.n_stars,
                float(np.hypot(*terms.offset_arcsec)),
                float(terms.rms),
                float(quality["worst"].max().value),
                float(np.median(quality["median"].value)),
                float(quality["corner"].max().value),
                plain_worst,
            )
        )
        for q in quality:
            quadrant_rows.append(
                (
                    name,
                    float(row["airmass"]),
                    int(q["rcid"]),
                    q["worst"].value,
                    q["median"].value,
                    q["corner"].value,
                )
            )
        if log:
            log(f"{name}: airmass {row['airmass']:.2f}, worst {rows[-1][9]:.3f} arcsec")
    accuracy = QTable(
        rows=rows,
        names=[
            "exposure",
            "kind",
            "airmass",
            "refraction_anisotropy",
            "refraction_non_affine",
            "calibration",
            "n_stars",
            "pointing_offset",
            "gaia_rms",
            "worst",
            "median",
            "worst_corner",
            "worst_without_refraction",
        ],
    )
    accuracy.meta["truth"] = truth_dir is not None
    for name in (
        "refraction_non_affine",
        "pointing_offset",
        "gaia_rms",
        "worst",
        "median",
        "worst_corner",
        "worst_without_refraction",
    ):
        accuracy[name] = np.asarray(accuracy[name], float) * u.arcsec
    quadrant_accuracy = QTable(
        rows=quadrant_rows, names=["exposure", "airmass", "rcid", "worst", "median", "corner"]
    )
    for name in ("worst", "median", "corner"):
        quadrant_accuracy[name] = np.asarray(quadrant_accuracy[name], float) * u.arcsec
    if folder:
        for name, table in (
            ("accuracy.ecsv", accuracy),
            ("quadrant_accuracy.ecsv", quadrant_accuracy),
        ):
            table.write(folder / name, overwrite=True)
            outputs.append(folder / name)
    summary = write_summary(
        folder or "",
        {
            "worst_arcsec": _largest(accuracy["worst"]),
            "worst_without_refraction_arcsec": _largest(accuracy["worst_without_refraction"]),
            "rms_xi_arcsec": float(fit.model.meta["rms_xi"]),
            "calibration": len(calibration),
        },
    )
    outputs += [summary] if summary else []
    return PriorReport(fit, plain, calibration, accuracy, quadrant_accuracy, outputs)
