"""From pixels to a verdict and back: extract, solve, judge, co-add, and look for doubled stars.

Twin of ``notebooks/05_coadd.ipynb``. A small simulated night with images
(one field revisited, a few quadrants) goes through the real tools:
SExtractor (`ztfnb.extract`), SCAMP from the prior (`ztfnb.solve`), the
catalogue verdict (`ztfnb.quality`), then SWarp (`ztfnb.coadd`) three times
on one pixel grid: through the true solutions (the reference), through
SCAMP's solutions with some corners spoiled on purpose (what a survey's
reference image is made from), and the same with the quadrants the verdict
flagged left out. `ztfnb.doubling` measures each star of the last two
against itself in the truth's co-add, per corner of every quadrant: a
corner that took off doubles its stars in the co-add that includes it.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS, FITSFixedWarning

from ztfnb.analyses.night import has_truth, night_catalogs, night_exposures
from ztfnb.analyses.prior import ahead_accuracy, choose_calibration
from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.coadd import coadd_images
from ztfnb.doubling import corner_regions, measure_doubling
from ztfnb.exposure import read_exposure
from ztfnb.extract import extract_images
from ztfnb.imagefiles import without_weight_maps
from ztfnb.io import read_gaia
from ztfnb.io.atomic import atomic_path
from ztfnb.io.headers import read_header_blocks
from ztfnb.io.summary import write_summary
from ztfnb.prior import fit_prior
from ztfnb.prior.file import read_prior, write_prior
from ztfnb.project import project_path
from ztfnb.quality import QualityConfig, night_metrics
from ztfnb.quantity import parse_quantity
from ztfnb.reference import reference_at_epoch, select_cone
from ztfnb.simulate import NightParameters, ensure_night
from ztfnb.simulate.failures import inject_solution_failures
from ztfnb.simulate.truth import TrueMapping
from ztfnb.solve import SolveConfig, solve_night

__all__ = ["CoaddReport", "coadd_report", "pixel_night", "quadrant_footprints"]

#: A corner region's side, as a fraction of the quadrant's: a take-off grows
#: as the cube of the distance from the opposite corner, so the outer fifth
#: holds most of it (its median star sees ≈ 60 % of the corner's amplitude).
CORNER_SIZE = 0.2
#: A corner region is doubled when its median star is smeared by this much against the
#: same star in the truth's co-add (and a quarter of its stars are; `ztfnb.doubling`).
#: Lower than `ztfnb.doubling`'s 0.5″, which is for a co-add judged against its own median
#: star: against the truth, clean corners of the CI night measured 0.01–0.2″ and a 1.5″
#: take-off in one exposure of three 0.68″.
MIN_MEDIAN_SMEAR = 0.3 * u.arcsec


@dataclass
class CoaddReport:
    """Everything the co-add notebook shows.

    Attributes
    ----------
    night_dir, output_dir : `~pathlib.Path`
    images : list of `~pathlib.Path`
        The exposures' images, one multi-extension FITS each.
    quadrants : `~astropy.table.QTable`
        The catalogue verdict per exposure and quadrant (``ztfnb quality``'s
        metrics), with ``spoiled`` (True where a corner was spoiled here) and
        ``spoiled_corner``.
    spoiled : `~astropy.table.Table`
        The injected solution failures (exposure, rcid, kind, amplitude, corner).
    coadds : dict of str to `~ztfnb.coadd.CoaddRun`
        ``"truth"``, ``"all"``, ``"flagged left out"``.
    doubling : dict of str to `~ztfnb.doubling.Doubling`
        ``"all"`` and ``"flagged left out"``, against the truth's co-add.
    agreement : `~astropy.table.QTable`
        Per exposure and quadrant: spoiled, ``worst_error`` (″: the final
        solution's worst error against the true mapping, over the quadrant),
        flagged by the verdict, and which corner regions of its quadrant
        double in each co-add.
    footprints : dict of str to `~astropy.coordinates.SkyCoord`
        Each quadrant's corners (`quadrant_footprints`).
    """

    night_dir: Path
    output_dir: Path
    images: list
    quadrants: QTable
    spoiled: Table
    coadds: dict
    doubling: dict
    agreement: QTable
    footprints: dict

    def coadd_arrays(self):
        """The three co-adds (truth, all, flagged left out) as arrays, NaN without data, and their WCS.

        Returns
        -------
        images : list of `~numpy.ndarray`, each shape (ny, nx)
        wcs : `~astropy.wcs.WCS`
            Their common pixel grid's.
        """
        images = [_coadd_array(self.coadds[which]) for which in self.coadds]
        return images, _coadd_wcs(self.coadds["truth"].image)[0]

    def regions_table(self, which="all"):
        """The corner regions of co-add ``which`` as a reader wants them, `~astropy.table.QTable`.

        ``region`` (``rc<rcid>:<corner>``), ``n_stars``, ``median_smear`` (″),
        ``fraction_doubled`` (%), ``median_ellipticity``, ``verdict``.
        """
        regions = self.doubling[which].regions
        table = QTable()
        table["region"] = regions["region"]
        table["n_stars"] = regions["n_stars"]
        table["median_smear"] = u.Quantity(regions["median_smear"]).to(u.arcsec)
        table["fraction_doubled"] = u.Quantity(regions["fraction_doubled"]).to(u.percent)
        table["median_ellipticity"] = regions["median_ellipticity"]
        table["verdict"] = regions["verdict"]
        return table

    def corner_sky(self, rcid, corner, inset=0.1):
        """A point near corner ``corner`` (0–3) of quadrant ``rcid``, `~astropy.coordinates.SkyCoord`.

        ``inset`` of the way along the diagonal towards the opposite corner:
        inside the quadrant, where a take-off is still most of its size.
        """
        corners = self.footprints[f"rc{int(rcid):02d}"]
        here, there = corners[int(corner)], corners[(int(corner) + 2) % 4]
        return here.directional_offset_by(
            here.position_angle(there), inset * here.separation(there)
        )


def _coadd_wcs(path):
    """A co-add's WCS and shape (ny, nx).

    SWarp writes MJD-OBS without DATE-OBS; wcslib's note that it filled one in
    from the other says nothing about the mapping, so it is not passed on.
    """
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(hdul[0].header), hdul[0].data.shape


def _coadd_array(run):
    """A co-add's image, NaN where its weight is zero (no exposure there)."""
    image = fits.getdata(run.image).astype(float)
    image[fits.getdata(run.weight) <= 0] = np.nan
    return image


def pixel_night(night_dir, seed=3, exposures=1, revisits=4, images="0,1,2,3", density="4000 deg-2"):
    """The folder of a simulated night with images, simulated first when needed.

    Parameters
    ----------
    night_dir : path-like
    seed, exposures, revisits : int
        ``ztfnb simulate``'s: ``exposures`` in all, each field visited ``revisits`` times.
    images : str
        Quadrants drawn (``ztfnb simulate --images``): a comma list of rcids or ``all``.
    density : str or `~astropy.units.Quantity`
        Gaia stars per solid angle.

    Returns
    -------
    `~pathlib.Path`
    """
    density = parse_quantity(density, u.deg**-2, name="density").to_value(u.deg**-2)
    parameters = NightParameters(
        seed=seed,
        exposures=exposures,
        failures=0,
        density=density,
        revisits=revisits,
        images=str(images),
    )
    return ensure_night(project_path(night_dir), parameters)


def image_paths(night_dir):
    """The exposures' images of a night folder (``images/<exposure>.fits``), weight maps left out."""
    return without_weight_maps(sorted((Path(night_dir) / "images").glob("*.fits")))


def quadrant_footprints(truth, rcids):
    """Each quadrant's four corners on the sky, through the true mapping.

    Parameters
    ----------
    truth : `~ztfnb.simulate.truth.TrueMapping`
    rcids : sequence of int

    Returns
    -------
    dict of str to `~astropy.coordinates.SkyCoord`
        ``"rc{rcid:02d}"`` → corners in `ztfnb.simulate.failures`' order
        (pixel (0.5, 0.5), (NAXIS1 + 0.5, 0.5), (NAXIS1 + 0.5, NAXIS2 + 0.5),
        (0.5, NAXIS2 + 0.5)), so that corner ``k`` of a take-off is region ``:k``.
    """
    x = np.array([0.5, NAXIS1 + 0.5, NAXIS1 + 0.5, 0.5])
    y = np.array([0.5, 0.5, NAXIS2 + 0.5, NAXIS2 + 0.5])
    return {f"rc{int(rcid):02d}": truth.pixel_to_sky(int(rcid), x, y) for rcid in rcids}


def _grid_options(coadd):
    """SWarp settings that put another co-add on the pixel grid of ``coadd``."""
    wcs, (ny, nx) = _coadd_wcs(coadd)
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    scale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600)
    return {
        "CENTER_TYPE": "MANUAL",
        "CENTER": f"{centre.ra.deg:.8f},{centre.dec.deg:.8f}",
        "PIXELSCALE_TYPE": "MANUAL",
        "PIXEL_SCALE": f"{scale:.8f}",
        "IMAGE_SIZE": f"{nx},{ny}",
    }


def _reference_stars(gaia, wcs, shape, epoch):
    """Gaia stars on a co-add, at its epoch: positions and G magnitudes."""
    ny, nx = shape
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    corner = wcs.pixel_to_world(0, 0)
    cone = reference_at_epoch(select_cone(gaia, centre, centre.separation(corner)), epoch)
    stars = SkyCoord(cone["ra"], cone["dec"])
    return stars, u.Quantity(cone["phot_g_mean_mag"]).value * u.mag


def coadd_report(
    night_dir,
    output_dir,
    prior_path="",
    workers=2,
    spoil=2,
    amplitude=1.5 * u.arcsec,
    seed=0,
    config=None,
    swarp=None,
    log=None,
):
    """Extract, solve, judge, spoil, co-add three ways and measure the doubling.

    Parameters
    ----------
    night_dir : path-like
        A simulated night with images (`pixel_night`): ``images/``, the
        catalogues of every exposure (for the prior), ``gaia.fits`` and ``truth/``.
    output_dir : path-like
        ``catalogs/`` (SExtractor's), ``solved/`` (SCAMP's), ``metrics.ecsv``
        and the co-adds ``coadd_truth.fits``, ``coadd_all.fits`` and
        ``coadd_clean.fits`` (each with its ``.weight.fits``) go here.
    prior_path : path-like, optional
        Default: fitted here on the night's three lowest-airmass exposures
        (their full catalogues).
    workers : int
    spoil : int
        Quadrant solutions whose corner is made to take off after solving.
    amplitude : `~astropy.units.Quantity`
        How far those corners are off, at the corner.
    seed : int
        For the choice of quadrants and corners.
    config : `~ztfnb.quality.QualityConfig`, optional
    swarp : dict, optional
        SWarp settings for every co-add (e.g. ``{"RESAMPLING_TYPE": "BILINEAR"}``).
    log : callable, optional

    Returns
    -------
    `CoaddReport`

    Raises
    ------
    FileNotFoundError
        A night without images or without the simulator's truth.
    """
    night_dir = project_path(night_dir)
    output_dir = project_path(output_dir)
    images = image_paths(night_dir)
    if not images:
        raise FileNotFoundError(f"{night_dir}: no images/ (ztfnb simulate --images RCIDS)")
    if not has_truth(night_dir):
        raise FileNotFoundError(f"{night_dir}: no truth/ to co-add the reference from")
    gaia_path = night_dir / "gaia.fits"
    gaia = read_gaia(gaia_path)
    if prior_path:
        prior_path = project_path(prior_path)
        read_prior(prior_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not prior_path:
        every = night_catalogs(night_dir)
        calibration = choose_calibration(night_exposures(night_dir, every), 3)
        prior_path = output_dir / "prior.fits"
        write_prior(prior_path, fit_prior([every[n] for n in calibration], gaia))

    extracted = extract_images(images, output_dir / "catalogs", workers=workers, log=log)
    catalogs = [Path(str(c)) for c in extracted["catalog"]]
    names = [c.stem for c in catalogs]
    solved = output_dir / "solved"
    solve_night(
        catalogs, gaia_path, prior_path, solved, SolveConfig(mode="fast"), workers=workers, log=log
    )
    spoiled = inject_solution_failures(
        solved,
        names,
        spoil,
        np.random.default_rng(seed),
        kinds=("corner_takeoff",),
        catalogs=dict(zip(names, catalogs, strict=True)),
        amplitude=amplitude.to_value(u.arcsec),
    )
    # a few imaged quadrants each: read once, for the verdict, the epoch and the accuracy
    exposures = [read_exposure(c) for c in catalogs]
    quadrants, _, _ = night_metrics(exposures, gaia, solved, config or QualityConfig(), log=log)
    # the metrics list the camera's 64 quadrants, those not imaged as absent: keep the imaged
    quadrants = quadrants[~np.asarray(quadrants["absent"], bool)]
    metrics = output_dir / "metrics.ecsv"
    with atomic_path(metrics) as temporary:
        quadrants.write(temporary, format="ascii.ecsv", overwrite=True)

    options = dict(swarp or {})
    coadds = {
        "truth": coadd_images(
            images, night_dir / "truth", output_dir / "coadd_truth.fits", options=options
        )
    }
    options |= _grid_options(coadds["truth"].image)
    coadds["all"] = coadd_images(images, solved, output_dir / "coadd_all.fits", options=options)
    coadds["flagged left out"] = coadd_images(
        images, solved, output_dir / "coadd_clean.fits", exclude=metrics, options=options
    )
    # each co-add's stars are compared with the same exposures' through the truth: a star
    # co-added from other exposures has another seeing, which would read as a shape change
    references = {
        "all": coadds["truth"],
        "flagged left out": coadd_images(
            images,
            night_dir / "truth",
            output_dir / "coadd_truth_clean.fits",
            exclude=metrics,
            options=options,
        ),
    }

    wcs, shape = _coadd_wcs(coadds["truth"].image)
    truths = {name: TrueMapping.read(night_dir / "truth" / f"{name}.fits") for name in names}
    mapping = truths[names[0]]
    rcids = sorted({int(r) for r in quadrants["rcid"]})
    footprints = quadrant_footprints(mapping, rcids)
    regions = corner_regions(footprints, wcs, size=CORNER_SIZE)
    stars, mags = _reference_stars(gaia, wcs, shape, exposures[0].mid_time)
    doubling = {}
    for which, reference in references.items():
        doubling[which] = measure_doubling(
            _coadd_array(coadds[which]),
            wcs,
            stars,
            mags,
            regions,
            truth=_coadd_array(reference),
            min_median_smear=MIN_MEDIAN_SMEAR,
        )
    accuracy = {
        (name, int(row["rcid"])): row["worst"]
        for name, exposure in zip(names, exposures, strict=True)
        for row in ahead_accuracy(
            read_header_blocks(solved / f"{name}.head"), exposure, truths[name]
        )
    }
    agreement = _agreement(quadrants, spoiled, doubling, accuracy)
    doubled = {w: int(np.sum(np.asarray(d.regions["doubled"], bool))) for w, d in doubling.items()}
    write_summary(  # the report index's key numbers
        output_dir,
        {
            "quadrant_solutions": len(quadrants),
            "spoiled": int(np.sum(agreement["spoiled"])),
            "flagged": int(np.sum(agreement["flagged"])),
            "spoiled_and_flagged": int(np.sum(agreement["spoiled"] & agreement["flagged"])),
            "doubled_corners_all": doubled["all"],
            "doubled_corners_flagged_left_out": doubled["flagged left out"],
        },
    )
    return CoaddReport(
        night_dir, output_dir, images, quadrants, spoiled, coadds, doubling, agreement, footprints
    )


def _agreement(quadrants, spoiled, doubling, accuracy):
    """Per quadrant: spoiled, its solution's worst error, flagged, its corners' verdicts in each co-add."""
    corner_of = {(str(r["exposure"]), int(r["rcid"])): int(r["corner"]) for r in spoiled}
    verdicts = {
        which: {str(r["region"]): bool(r["doubled"]) for r in d.regions}
        for which, d in doubling.items()
    }
    rows = []
    for row in quadrants:
        key = (str(row["exposure"]), int(row["rcid"]))
        region = f"rc{key[1]:02d}"
        corner = corner_of.get(key, -1)
        doubled = {
            which: [k for k in range(4) if verdicts[which].get(f"{region}:{k}", False)]
            for which in verdicts
        }
        rows.append(
            (
                *key,
                corner >= 0,
                str(corner) if corner >= 0 else "-",
                accuracy.get(key, np.nan * u.arcsec).to_value(u.arcsec),
                bool(row["flag"]),
                ",".join(map(str, doubled["all"])) or "-",
                ",".join(map(str, doubled["flagged left out"])) or "-",
            )
        )
    table = QTable(
        rows=rows,
        names=[
            "exposure",
            "rcid",
            "spoiled",
            "spoiled_corner",
            "worst_error",
            "flagged",
            "doubled_corners_all",
            "doubled_corners_flagged_left_out",
        ],
    )
    table["worst_error"].unit = u.arcsec
    return table
