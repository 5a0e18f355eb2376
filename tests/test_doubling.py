"""Doubled stars in a co-add, measured on numpy-drawn images where the truth is known.

Each 'co-add' is the mean of two renderings of the same Gaussian stars on
noise under a TAN WCS at 1.01″/px; in the top-right corner region the
second rendering's stars are shifted, elsewhere not. The oracle is the
geometry: two equal images ``d`` apart add ``d²/4`` to the moment matrix
(so the smear is ``d``), along the shift's position angle as astropy
computes it from the WCS.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from ztfnb.doubling import corner_regions, grid_regions, measure_doubling, measure_stars
from ztfnb.io.errors import InputError

SCALE = 1.01  # arcsec per pixel, ZTF's
SIZE = 768  # pixels: a 3 × 3 grid of 256-pixel regions
CORNER = "x2y2"


def tan_wcs(size=SIZE):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 30.0]
    wcs.wcs.crpix = [size / 2 + 0.5, size / 2 + 0.5]
    wcs.wcs.cdelt = [-SCALE / 3600, SCALE / 3600]
    return wcs


def render(x, y, flux, covariance, rng, size=SIZE, sky=100.0, half=12):
    """Gaussian stars (covariance px², (2, 2) or (n, 2, 2)) on a sky with Poisson-like noise."""
    covariance = np.broadcast_to(covariance, (len(x), 2, 2))
    inverse = np.linalg.inv(covariance)
    norm = 1 / (2 * np.pi * np.sqrt(np.linalg.det(covariance)))
    d = np.arange(-half, half + 1)
    cols = np.round(x).astype(int)[:, None, None] + d[None, None, :]
    rows = np.round(y).astype(int)[:, None, None] + d[None, :, None]
    dx, dy = cols - x[:, None, None], rows - y[:, None, None]
    q = (
        inverse[:, 0, 0, None, None] * dx**2
        + 2 * inverse[:, 0, 1, None, None] * dx * dy
        + inverse[:, 1, 1, None, None] * dy**2
    )
    values = (flux * norm)[:, None, None] * np.exp(-0.5 * q)
    cols, rows = np.broadcast_arrays(cols, rows)
    inside = (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size)
    image = np.zeros((size, size))
    np.add.at(image, (rows[inside], cols[inside]), values[inside])
    return image + sky + rng.normal(size=image.shape) * np.sqrt(sky + image)


def psf(seeing, ellipticity=0.0, angle=0.0):
    """A Gaussian's covariance (px²) of FWHM ``seeing`` (arcsec), stretched along ``angle`` (deg)."""
    sigma2 = (seeing / 2.3548 / SCALE) ** 2
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    rotation = np.array([[c, -s], [s, c]])
    return rotation @ np.diag([sigma2 * (1 + ellipticity), sigma2 * (1 - ellipticity)]) @ rotation.T


def coadd(shift=0.0, angle=0.0, seeing=2.0, density=1.0, covariance=None, seed=3):
    """Two renderings averaged; in the corner region the second one's stars moved by ``shift``″."""
    rng = np.random.default_rng(seed)
    n = int(350 * density)
    x, y = rng.uniform(10, SIZE - 10, n), rng.uniform(10, SIZE - 10, n)
    flux = 10 ** rng.uniform(3.5, 5.5, n)
    covariance = psf(seeing) if covariance is None else covariance
    corner = (x > 2 * SIZE / 3) & (y > 2 * SIZE / 3)
    step = shift / SCALE * np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    first = render(x, y, flux, covariance, rng)
    second = render(x + corner * step[0], y + corner * step[1], flux, covariance, rng)
    wcs = tan_wcs()
    return (first + second) / 2, wcs, wcs.pixel_to_world(x, y), flux, step


def expected_pa(wcs, step):
    """The shift's position angle (deg East of North, modulo 180) from astropy's geometry."""
    start = wcs.pixel_to_world(SIZE * 5 / 6, SIZE * 5 / 6)
    end = wcs.pixel_to_world(SIZE * 5 / 6 + step[0], SIZE * 5 / 6 + step[1])
    return start.position_angle(end).to_value(u.deg) % 180


def corner_row(result):
    return result.regions[list(result.regions["region"]).index(CORNER)]


@pytest.mark.parametrize(
    ("shift", "angle", "seeing", "density"),
    [
        (1.0, 0.0, 1.5, 1.0),
        (1.0, 90.0, 2.0, 1.0),
        (1.0, 45.0, 3.0, 1.0),
        (1.0, 135.0, 2.0, 0.6),
        (3.0, 30.0, 2.0, 1.0),
        (3.0, 120.0, 3.0, 1.6),
        (5.0, 0.0, 1.5, 1.0),
    ],
)
def test_the_spoiled_corner_and_only_it_is_doubled(shift, angle, seeing, density):
    image, wcs, stars, flux, step = coadd(shift, angle, seeing, density)
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3))
    assert result.doubled_regions == [CORNER]
    row = corner_row(result)
    assert row["fraction_doubled"] >= 0.4
    others = result.regions[result.regions["region"] != CORNER]
    assert np.all(others["fraction_doubled"] <= 0.1)
    if shift <= 3:  # both images inside the moments' aperture: the smear is the separation
        assert row["median_smear"].to_value(u.arcsec) == pytest.approx(shift, rel=0.1)
        inside = result.stars[result.stars["doubled"]]
        measured = np.median(inside["excess_pa"].to_value(u.deg))
        difference = (measured - expected_pa(wcs, step) + 90) % 180 - 90
        assert abs(difference) < 5


@pytest.mark.parametrize("seeing", [1.5, 2.0, 3.0])
def test_a_clean_coadd_has_no_doubled_region(seeing):
    image, wcs, stars, flux, _ = coadd(0.0, seeing=seeing)
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3))
    assert result.doubled_regions == []
    assert np.all(result.regions["fraction_doubled"] <= 0.1)
    assert np.all(result.regions["median_smear"] < 0.5 * u.arcsec)
    # the typical star is the seeing drawn
    assert np.median(result.stars["fwhm"].to_value(u.arcsec)) == pytest.approx(seeing, rel=0.05)


def test_a_shift_of_a_third_of_an_arcsecond_is_measured_but_below_the_bar():
    image, wcs, stars, flux, _ = coadd(0.3, 0.0, 2.0)
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3))
    row = corner_row(result)
    assert row["median_smear"].to_value(u.arcsec) == pytest.approx(0.3, abs=0.1)
    assert result.doubled_regions == []


@pytest.mark.parametrize("angle", [0.0, 45.0])
def test_a_psf_elongated_everywhere_is_not_doubling(angle):
    covariance = psf(2.0, ellipticity=0.3, angle=angle)
    image, wcs, stars, flux, _ = coadd(0.0, covariance=covariance)
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3))
    assert result.doubled_regions == []
    # (1 + 0.3)/(1 − 0.3) in variance: axes ratio √(13/7), e = (a − b)/(a + b)
    ratio = np.sqrt(1.3 / 0.7)
    assert np.median(result.stars["ellipticity"]) == pytest.approx(
        (ratio - 1) / (ratio + 1), abs=0.02
    )
    # and a 1″ double across that elongation is still seen
    image, wcs, stars, flux, _ = coadd(1.0, angle + 90, covariance=covariance)
    assert measure_doubling(image, wcs, stars, flux, regions=(3, 3)).doubled_regions == [CORNER]


def test_against_a_truth_coadd_a_psf_varying_over_the_field_is_not_doubling():
    rng = np.random.default_rng(5)
    n = 350
    x, y = rng.uniform(10, SIZE - 10, n), rng.uniform(10, SIZE - 10, n)
    flux = 10 ** rng.uniform(3.5, 5.5, n)
    seeing = 1.6 + 1.4 * x / SIZE  # 1.6″ on the left to 3″ on the right
    covariance = np.stack([psf(s) for s in seeing])
    corner = (x > 2 * SIZE / 3) & (y > 2 * SIZE / 3)
    wcs = tan_wcs()
    stars = wcs.pixel_to_world(x, y)
    truth = (render(x, y, flux, covariance, rng) + render(x, y, flux, covariance, rng)) / 2
    spoiled = render(x + corner / SCALE, y, flux, covariance, rng)
    image = (render(x, y, flux, covariance, rng) + spoiled) / 2
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3), truth=truth)
    assert result.stars.meta["reference"] == "truth"
    assert result.doubled_regions == [CORNER]
    assert corner_row(result)["median_smear"].to_value(u.arcsec) == pytest.approx(1.0, rel=0.15)


def test_quadrant_footprints_are_judged_by_their_corners():
    image, wcs, stars, flux, _ = coadd(1.0, 0.0, 2.0)
    low, middle, high = -0.5, SIZE / 3 - 0.5, SIZE - 0.5
    # a "quadrant" whose top-right quarter is the spoiled corner, and one beside it
    quadrants = {
        "spoiled": wcs.pixel_to_world([middle, high, high, middle], [middle, middle, high, high]),
        "good": wcs.pixel_to_world([low, middle, middle, low], [low, low, high, high]),
    }
    whole = measure_doubling(image, wcs, stars, flux, regions=quadrants)
    assert whole.doubled_regions == []  # the corner is a quarter of it: its median star is good
    corners = corner_regions(quadrants, wcs)
    assert len(corners) == 8
    result = measure_doubling(image, wcs, stars, flux, regions=corners)
    assert result.doubled_regions == ["spoiled:2"]
    assert isinstance(result.regions["centre"], SkyCoord)
    with pytest.raises(ValueError, match="'triangle': 3 corners"):
        corner_regions({"triangle": quadrants["good"][:3]}, wcs)


def test_grid_regions_tile_the_image():
    wcs = tan_wcs()
    regions = grid_regions((SIZE, SIZE), wcs, (3, 3))
    assert len(regions) == 9
    x, y = wcs.world_to_pixel(regions["x0y0"])
    assert np.allclose(x, [-0.5, 255.5, 255.5, -0.5], atol=1e-6)
    assert np.allclose(y, [-0.5, -0.5, 255.5, 255.5], atol=1e-6)


def test_magnitudes_are_accepted_for_isolation():
    image, wcs, stars, flux, _ = coadd(0.0)
    from_flux = measure_stars(image, wcs, stars, flux)
    from_mag = measure_stars(image, wcs, stars, (25 - 2.5 * np.log10(flux)) * u.mag)
    assert len(from_flux) == len(from_mag)


def test_bad_input_is_refused_naming_it():
    image, wcs, stars, flux, _ = coadd(0.0)
    with pytest.raises(InputError, match=r"flux.*3 values for 350 stars"):
        measure_stars(image, wcs, stars, flux[:3])
    with pytest.raises(InputError, match=r"flux.*not a positive number"):
        measure_stars(image, wcs, stars, -flux)
    with pytest.raises(InputError, match=r"image.*2-d"):
        measure_stars(image[None], wcs, stars, flux)
    with pytest.raises(InputError, match=r"truth.*shape"):
        measure_stars(image, wcs, stars, flux, truth=image[:10])
    with pytest.raises(InputError, match="signal-to-noise"):
        measure_stars(np.full_like(image, 100.0), wcs, stars, flux)


@pytest.mark.parametrize("quantity", ["fraction_doubled", "median_smear", "median_ellipticity"])
def test_the_doubling_map_has_a_labelled_colour_bar(quantity):
    from ztfnb.plots.doubling import plot_doubling_map

    image, wcs, stars, flux, _ = coadd(1.0)
    figure = plot_doubling_map(measure_doubling(image, wcs, stars, flux, (3, 3)), quantity)
    colourbars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(colourbars) == 1
    assert colourbars[0].get_ylabel()
    assert figure.axes[0].get_title() == f"doubled: {CORNER}"
    with pytest.raises(ValueError, match="none of"):
        plot_doubling_map(measure_doubling(image, wcs, stars, flux, (3, 3)), "colour")


def test_stars_where_the_coadd_has_no_data_are_left_out():
    image, wcs, stars, flux, _ = coadd(1.0)
    image[:, : SIZE // 3] = np.nan  # no exposure covered the left third
    result = measure_doubling(image, wcs, stars, flux, regions=(3, 3))
    assert np.all(result.stars["x"] > SIZE // 3 - 1)
    assert list(result.regions["verdict"][:1]) == ["too few stars"]
    assert result.doubled_regions == [CORNER]


def test_one_spoiled_exposure_in_four_smears_by_the_mixture_formula():
    # weights f = 1/4 and 3/4 of images 1″ apart: smear 2 √(f (1 − f)) × 1″ = 0.87″
    rng = np.random.default_rng(7)
    x, y = rng.uniform(10, SIZE - 10, 350), rng.uniform(10, SIZE - 10, 350)
    flux = 10 ** rng.uniform(3.5, 5.5, 350)
    corner = (x > 2 * SIZE / 3) & (y > 2 * SIZE / 3)
    frames = [render(x + (k == 0) * corner / SCALE, y, flux, psf(2.0), rng) for k in range(4)]
    wcs = tan_wcs()
    result = measure_doubling(np.mean(frames, axis=0), wcs, wcs.pixel_to_world(x, y), flux, (3, 3))
    assert result.doubled_regions == [CORNER]
    expected = 2 * np.sqrt(0.25 * 0.75)
    assert corner_row(result)["median_smear"].to_value(u.arcsec) == pytest.approx(expected, rel=0.1)
