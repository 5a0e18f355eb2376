"""Point sources are chosen by the stellar locus, also where galaxies outnumber stars."""

import itertools

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.io.sextractor import choose_columns
from ztfnb.match import usable_detections
from ztfnb.simulate import TrueMapping
from ztfnb.stellarlocus import stellar_radius

R0 = 1.3  # the PSF's FLUX_RADIUS, pixels


def _galaxies(kind, n, rng):
    """Galaxy sizes of three shapes: broad in log, uniform in radius (piling up in log), compact."""
    if kind == "lognormal":
        return R0 * np.exp(rng.normal(0.9, 0.5, n))
    if kind == "uniform":
        return rng.uniform(1.5 * R0, 4.5 * R0, n)
    return R0 * rng.uniform(1.25, 2.2, n)  # compact: just resolved


# galaxies up to 10 times the stars; just-resolved ones (sizes from 1.25 PSF, a sharp edge) up to
# 3 times: ten times as many outscore the stars (a limit of choosing stars by size alone)
CASES = [
    case
    for case in itertools.product(
        (20, 40, 200), (0, 3, 10), ("lognormal", "uniform", "compact"), (0, 20)
    )
    if not (case[2] == "compact" and case[1] > 3)
]


@pytest.mark.parametrize(("stars", "ratio", "kind", "cosmics"), CASES)
def test_the_locus_is_the_stars_radius(stars, ratio, kind, cosmics):
    rng = np.random.default_rng([stars, ratio, cosmics, len(kind)])
    radius = np.concatenate(
        [
            R0 * (1 + rng.normal(0, 0.03, stars)),  # measured with a few per cent of scatter
            _galaxies(kind, ratio * stars, rng),
            rng.uniform(0.2, 0.6, cosmics) * R0,
            [np.nan, 0.0, -1.0],  # unmeasured sizes are ignored
        ]
    )
    assert stellar_radius(rng.permutation(radius)) == pytest.approx(R0, rel=0.05)


def test_the_median_fails_where_galaxies_outnumber_stars():
    """The matrix above holds the family the median got wrong (so its test can fail)."""
    rng = np.random.default_rng(1)
    radius = np.concatenate([R0 * (1 + rng.normal(0, 0.03, 30)), _galaxies("uniform", 90, rng)])
    assert not 0.8 < np.median(radius) / R0 < 1.25
    assert stellar_radius(radius) == pytest.approx(R0, rel=0.05)
    assert np.isnan(stellar_radius(np.array([np.nan, 0.0])))


def test_usable_detections_of_a_sparse_field_are_gaia_stars(simulated):
    """At 100 Gaia stars per deg² (≈150 galaxies a quadrant against ≈25 stars), what is kept
    for matching is, in every quadrant, mostly stars: checked against the simulator's true
    pixel → sky mapping and its Gaia table with astropy's matcher."""
    folder = simulated(seed=3, density=100.0)
    gaia = read_gaia(folder / "gaia.fits")
    stars = SkyCoord(u.Quantity(gaia["ra"], u.deg), u.Quantity(gaia["dec"], u.deg))
    catalog_path = next(folder.glob("*.ldac"))
    truth = TrueMapping.read(folder / "truth" / f"{catalog_path.stem}.fits")
    fractions = []
    for extension in read_exposure(catalog_path).extensions:
        objects = extension.objects
        keep = usable_detections(objects)
        if keep.sum() < 10:
            continue
        x, y = choose_columns(objects).centroid(objects)
        true_sky = truth.pixel_to_sky(extension.rcid, x[keep], y[keep])
        _, separation, _ = true_sky.match_to_catalog_sky(stars)
        fractions.append(np.mean(separation < 1 * u.arcsec))  # proper motions move stars < 0.5″
    assert len(fractions) >= 60
    assert min(fractions) >= 0.5, sorted(fractions)[:5]


def test_stars_are_found_where_faint_detections_share_one_size():
    # a real source-extractor catalogue with PHOT_FLUXFRAC 0.25,0.5,0.75 and a scalar FLUX_RADIUS
    # (the radius of a quarter of the flux): the stars' radius is small and scatters by ≈10 %,
    # and detections just above the S/N cut pile up at one larger radius. Chosen among the
    # brighter half, the pile outscored the stars in two quadrants of four (a probe's files:
    # 60 stars at S/N 60-1000, 32 of the pile at S/N 40-58, 89 fainter detections)
    from astropy.table import Table

    for seed in range(3):
        rng = np.random.default_rng(seed)
        stars, pile, faint = 60, 32, 89
        radius = np.concatenate(
            [
                0.55 * (1 + rng.normal(0, 0.1, stars)),
                1.02 * (1 + rng.normal(0, 0.015, pile)),
                0.55 * np.exp(rng.normal(0.3, 0.5, faint)),
            ]
        )
        snr = np.concatenate(
            [
                np.exp(rng.uniform(np.log(60), np.log(1000), stars)),
                rng.uniform(40, 58, pile),
                np.exp(rng.uniform(np.log(10), np.log(39), faint)),
            ]
        )
        n = radius.size
        objects = Table(
            {
                "XWIN_IMAGE": rng.uniform(1, 3072, n),
                "YWIN_IMAGE": rng.uniform(1, 3080, n),
                "ERRAWIN_IMAGE": np.full(n, 0.05),
                "ERRBWIN_IMAGE": np.full(n, 0.05),
                "FLUX_AUTO": snr * 100.0,
                "FLUXERR_AUTO": np.full(n, 100.0),
                "FLUX_RADIUS": radius,
                "FLAGS": np.zeros(n, np.int16),
            }
        )
        keep = usable_detections(objects)
        assert keep[:stars].mean() > 0.9, seed
        assert not keep[stars : stars + pile].any(), seed
