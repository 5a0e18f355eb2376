"""``ztfnb coadd``: the real SWarp on rendered quadrants with the solutions SCAMP found from them.

Oracles: the simulation's truth (the sky position of every star drawn), the
solutions' own footprints, and SExtractor measuring the co-add.
"""

import json
import subprocess
import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS, FITSFixedWarning

from tests.conftest import needs_swarp
from ztfnb.camera import NAXIS1, NAXIS2
from ztfnb.cli import main
from ztfnb.io import read_header_blocks, write_header_blocks
from ztfnb.io.ldac import read_ldac
from ztfnb.simulate import TrueMapping

pytestmark = needs_swarp


@pytest.fixture(scope="module")
def coadds(pixel_night, tmp_path_factory):
    """The co-add of the two quadrants, and the one with the second flagged and left out."""
    info = json.loads((pixel_night / "info.json").read_text())
    folder = tmp_path_factory.mktemp("coadd")
    image = str(pixel_night / "images" / f"{info['exposure']}.fits")
    heads = str(pixel_night / "solved")
    assert main(["coadd", image, "--heads", heads, "--out", str(folder / "all.fits")]) == 0
    flagged = info["rcids"][0]
    QTable(
        {"exposure": [info["exposure"]] * 2, "rcid": info["rcids"], "flag": [True, False]}
    ).write(folder / "metrics.ecsv")
    command = ["coadd", image, "--heads", heads, "--out", str(folder / "kept.fits")]
    assert main([*command, "--exclude", str(folder / "metrics.ecsv")]) == 0
    return folder, info, flagged


def _solutions(pixel_night, info):
    blocks = read_header_blocks(pixel_night / "solved" / f"{info['exposure']}.head")
    return dict(zip(info["rcids"], blocks, strict=True))


def _coadd(path):
    """The co-add's WCS and shape (SWarp's header has MJD-OBS only: astropy's DATE-OBS fix-up is no news)."""
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(hdul[0].header), hdul[0].data.shape


def _inside(wcs, shape, ra, dec, margin=2.0):
    x, y = wcs.all_world2pix(ra, dec, 1)
    return (
        (x > 0.5 - margin)
        & (x < shape[1] + 0.5 + margin)
        & (y > 0.5 - margin)
        & (y < shape[0] + 0.5 + margin)
    )


@pytest.mark.slow
def test_the_coadd_covers_the_quadrants_and_its_stars_sit_on_the_truth(
    coadds, pixel_night, other_night, tmp_path
):
    folder, info, _ = coadds
    wcs, shape = _coadd(folder / "all.fits")
    weight = fits.getdata(folder / "all.weight.fits")
    corners = np.array(
        [[0.5, 0.5], [NAXIS1 + 0.5, 0.5], [0.5, NAXIS2 + 0.5], [NAXIS1 + 0.5, NAXIS2 + 0.5]]
    )
    for solution in _solutions(pixel_night, info).values():
        ra, dec = WCS(solution).all_pix2world(corners[:, 0], corners[:, 1], 1)
        assert np.all(_inside(wcs, shape, ra, dec))
        x, y = wcs.all_world2pix(*WCS(solution).all_pix2world([NAXIS1 / 2], [NAXIS2 / 2], 1), 0)
        assert weight[round(y[0]), round(x[0])] > 0
    # SExtractor on the co-add: the stars where the truth puts them on the sky
    (tmp_path / "p.param").write_text("XWIN_IMAGE\nYWIN_IMAGE\nFLUX_AUTO\nFLUXERR_AUTO\nFLAGS\n")
    subprocess.run(
        ["source-extractor", str(folder / "all.fits"), "-c", "/dev/null", "-CATALOG_TYPE", "FITS_1.0",
         "-CATALOG_NAME", "c.fits", "-PARAMETERS_NAME", "p.param", "-FILTER", "N", "-BACK_SIZE", "128",
         "-WEIGHT_TYPE", "MAP_WEIGHT", "-WEIGHT_IMAGE", str(folder / "all.weight.fits"),
         "-VERBOSE_TYPE", "QUIET"],
        cwd=tmp_path, check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    found = Table.read(tmp_path / "c.fits", hdu=1)
    found = found[(found["FLAGS"] == 0) & (found["FLUX_AUTO"] / found["FLUXERR_AUTO"] > 50)]
    ra, dec = wcs.all_pix2world(found["XWIN_IMAGE"], found["YWIN_IMAGE"], 1)
    truth = TrueMapping.read(other_night / "truth" / f"{info['exposure']}.fits")
    with fits.open(other_night / "truth" / f"{info['exposure']}.fits") as hdul:
        drawn = Table.read(hdul["DETECTIONS"])
    stars = drawn[np.isin(drawn["rcid"], info["rcids"]) & (drawn["kind"] == "star")]
    true = [
        truth.pixel_to_sky(rcid, mine["x_true"], mine["y_true"])
        for rcid in info["rcids"]
        for mine in [stars[stars["rcid"] == rcid]]
    ]
    true = SkyCoord(np.concatenate([t.ra for t in true]), np.concatenate([t.dec for t in true]))
    _, separation, _ = SkyCoord(ra, dec, unit="deg").match_to_catalog_sky(true)
    matched = separation.arcsec[separation.arcsec < 1.0]
    assert len(found) > 60 and len(matched) > 0.9 * len(found)
    assert np.sqrt(np.mean(matched**2)) < 0.1  # arcsec


@pytest.mark.slow
def test_exclude_leaves_the_flagged_quadrant_out(coadds, pixel_night, capsys):
    folder, info, flagged = coadds
    wcs, shape = _coadd(folder / "kept.fits")
    weight = fits.getdata(folder / "kept.weight.fits")
    # inside the quadrants: resampling leaves their outermost pixels partly weighted
    grid = np.meshgrid(np.linspace(20, NAXIS1 - 20, 9), np.linspace(20, NAXIS2 - 20, 9))
    for rcid, solution in _solutions(pixel_night, info).items():
        ra, dec = WCS(solution).all_pix2world(grid[0].ravel(), grid[1].ravel(), 1)
        x, y = wcs.all_world2pix(ra, dec, 0)
        inside = _inside(wcs, shape, ra, dec, margin=-3)
        values = weight[np.rint(y[inside]).astype(int), np.rint(x[inside]).astype(int)]
        if rcid == flagged:  # nowhere in the co-add, or with no weight
            assert np.all(values == 0)
        else:
            assert inside.all() and np.all(values > 0)


# ----------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def tiny(simulated, tmp_path_factory):
    """A small image with a simulated quadrant's header, and its own WCS as its solution."""
    header = read_ldac(next(simulated().glob("*.ldac")))[0].header.copy()
    for key in ("XTENSION", "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT"):
        header.remove(key, ignore_missing=True)
    folder = tmp_path_factory.mktemp("tiny")
    image = folder / "ztf_x.fits"
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(np.ones((16, 16), np.float32), header)]
    fits.HDUList(hdus).writeto(image)
    (folder / "heads").mkdir()
    solution = fits.Header(
        [card for card in header.cards if card.keyword[:2] in ("CT", "CR", "CD")]
    )
    (folder / "heads" / "ztf_x.head").write_text(solution.tostring(sep="\n", padding=False) + "\n")
    return folder, image


def test_missing_swarp_is_refused_with_the_apt_get_line(tiny, tmp_path, capsys, monkeypatch):
    folder, image = tiny
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    command = [
        "coadd",
        str(image),
        "--heads",
        str(folder / "heads"),
        "--out",
        str(tmp_path / "c.fits"),
    ]
    assert main(command) == 2
    assert "sudo apt-get install swarp" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_head_is_refused_naming_the_image(tiny, tmp_path, capsys):
    _, image = tiny
    command = ["coadd", str(image), "--heads", str(tmp_path), "--out", str(tmp_path / "c.fits")]
    assert main(command) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"ztfnb coadd: error: {image}: no solution") and "ztf_x.head" in line
    assert list(tmp_path.iterdir()) == []


def test_an_existing_coadd_is_kept_without_overwrite_and_replaced_with_it(tiny, tmp_path, capsys):
    folder, image = tiny
    out = tmp_path / "c.fits"
    out.write_text("mine")
    command = ["coadd", str(image), "--heads", str(folder / "heads"), "--out", str(out)]
    assert main(command) == 2
    assert "give --overwrite" in capsys.readouterr().err and out.read_text() == "mine"
    assert main([*command, "--overwrite"]) == 0
    assert fits.getdata(out).shape and (tmp_path / "c.weight.fits").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.fits", "c.weight.fits"]


@pytest.mark.slow
def test_a_weight_map_beside_an_image_is_used_by_swarp(simulated, tmp_path):
    """The real SWarp honours the weight maps: where every exposure's weight is 0, so is the co-add's."""
    import shutil

    import ztfnb.coadd

    night = simulated(images="2,1", revisits=2)  # shared with tests/test_simulate_images.py
    images = []
    for image in sorted((night / "images").glob("*.fits")):
        if image.name.endswith(".weight.fits"):
            continue
        copy = tmp_path / image.name
        shutil.copyfile(image, copy)
        weight = image.with_name(image.name.replace(".fits", ".weight.fits"))
        with fits.open(weight) as hdul:
            hdul["RC01"].data[:, : NAXIS1 // 2] = 0  # the left half of rcid 1, in every exposure
            hdul.writeto(tmp_path / weight.name)
        images.append(copy)
    out = tmp_path / "coadd.fits"
    run = ztfnb.coadd.coadd_images(
        [*images, *tmp_path.glob("*.weight.fits")],  # weight maps given too are not images
        night / "truth",
        out,
        # a coarse output grid: the weights are what is tested, and SWarp's time goes with pixels
        options={"RESAMPLING_TYPE": "BILINEAR", "PIXELSCALE_TYPE": "MANUAL", "PIXEL_SCALE": "8.0"},
    )
    assert run.quadrants == 2 * len(images)
    truth = TrueMapping.read(night / "truth" / f"{images[0].stem}.fits")
    with fits.open(out.with_name("coadd.weight.fits")) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs, weight = WCS(hdul[0].header), hdul[0].data
    # centres of the zeroed and the kept half of rcid 1, and of rcid 2
    at = {
        "rc1 left": truth.pixel_to_sky(1, [NAXIS1 * 0.25], [NAXIS2 / 2]),
        "rc1 right": truth.pixel_to_sky(1, [NAXIS1 * 0.75], [NAXIS2 / 2]),
        "rc2": truth.pixel_to_sky(2, [NAXIS1 / 2], [NAXIS2 / 2]),
    }
    values = {}
    for name, sky in at.items():
        x, y = (round(float(v[0])) for v in wcs.world_to_pixel(sky))
        values[name] = float(weight[y, x])
    assert values["rc1 left"] == 0, values
    assert values["rc1 right"] > 0 and values["rc2"] > 0, values


# ----------------------------------------------------------------- the canvas
def _moved(tiny, folder, name, d_ra, d_dec):
    """A copy of the tiny image whose solution is moved by (d_ra, d_dec) degrees."""
    source, image = tiny
    target = folder / f"{name}.fits"
    target.write_bytes(image.read_bytes())
    (folder / "heads").mkdir(exist_ok=True)
    block = read_header_blocks(source / "heads" / "ztf_x.head")[0]
    block["CRVAL1"] = (block["CRVAL1"] + d_ra) % 360
    block["CRVAL2"] = block["CRVAL2"] + d_dec
    (folder / "heads" / f"{name}.head").write_text(block.tostring(sep="\n", padding=False) + "\n")
    return target


@pytest.mark.parametrize(("d_ra", "d_dec"), [(0.8, 0.0), (0.0, 0.3), (-0.5, 0.2)])
def test_the_canvas_expected_is_the_one_swarp_makes(tiny, tmp_path, d_ra, d_dec):
    """Oracle: SWarp's own automatic canvas (centre, size and scale from the inputs)."""
    from ztfnb.coadd import coadd_images

    images = [_moved(tiny, tmp_path, "ztf_a", 0, 0), _moved(tiny, tmp_path, "ztf_b", d_ra, d_dec)]
    run = coadd_images(images, tmp_path / "heads", tmp_path / "c.fits")
    ny, nx = fits.getdata(run.image).shape
    assert min(nx, ny) > 16 and max(nx, ny) > 300  # the two tiles far apart on it
    assert run.canvas.nx == pytest.approx(nx, rel=0.01, abs=3)
    assert run.canvas.ny == pytest.approx(ny, rel=0.01, abs=3)


@pytest.mark.parametrize(("d_ra", "d_dec", "said"), [
    (100.0, -55.0, "GB with its weight), more than the"),  # a canvas of terabytes
    (180.0, -130.0, "no tangent-plane co-add holds these images"),  # opposite sides of the sky
])  # fmt: skip
def test_fields_far_apart_are_refused_before_swarp_runs(tiny, tmp_path, capsys, d_ra, d_dec, said):
    import shutil

    images = [_moved(tiny, tmp_path, "ztf_a", 0, 0), _moved(tiny, tmp_path, "ztf_b", d_ra, d_dec)]
    (tmp_path / "out").mkdir()
    command = ["coadd", *map(str, images), "--heads", str(tmp_path / "heads")]
    assert main([*command, "--out", str(tmp_path / "out" / "c.fits")]) == 2
    line = capsys.readouterr().err.strip()
    assert said in line and "ztf_a and ztf_b lie" in line and "\n" not in line
    assert list((tmp_path / "out").iterdir()) == []
    if "GB" in line:  # the refusal is the disk's: the canvas is larger than the whole disk
        size = float(line.split("pixels at")[1].split("(")[1].split(" GB")[0].replace(",", ""))
        assert size * 1e9 > shutil.disk_usage(tmp_path).total


# ----------------------------------------------- images as archives deliver them
def test_a_one_quadrant_archive_image_takes_its_block_of_the_exposures_solution(tiny, tmp_path):
    """``ztfnb solve`` on per-quadrant files writes one ``<exposure>.head`` (and ``.ahead``
    naming each block's RCID); the co-add of the quadrant's own file through it is the
    co-add of the same pixels as a multi-extension image with its own ``.head``."""
    from ztfnb.coadd import coadd_images

    folder, image = tiny
    block = read_header_blocks(folder / "heads" / "ztf_x.head")[0]
    other = block.copy()
    other["CRVAL1"] += 1.0  # another quadrant's block, listed first: the RCID must choose
    with fits.open(image) as hdul:
        header, data = hdul[1].header.copy(), hdul[1].data
    rcid = header["RCID"]
    exposure = "ztf_20231017320622_000336_zg"
    header.remove("EXTNAME", ignore_missing=True)
    quadrant = tmp_path / f"{exposure}_c{header['CCDID']:02d}_o_q{header['QID']}_sciimg.fits"
    fits.PrimaryHDU(data, header).writeto(quadrant)
    (tmp_path / "heads").mkdir()
    write_header_blocks(tmp_path / "heads" / f"{exposure}.head", [other, block])
    ahead = [fits.Header([("RCID", (rcid + 1) % 64)]), fits.Header([("RCID", rcid)])]
    write_header_blocks(tmp_path / "heads" / f"{exposure}.ahead", ahead)
    ours = coadd_images([quadrant], tmp_path / "heads", tmp_path / "ours.fits")
    theirs = coadd_images([image], folder / "heads", tmp_path / "theirs.fits")
    assert ours.quadrants == 1
    np.testing.assert_array_equal(fits.getdata(ours.image), fits.getdata(theirs.image))
    assert fits.getheader(ours.image)["CRVAL1"] == fits.getheader(theirs.image)["CRVAL1"]


@pytest.mark.parametrize("ending", [".fits.fz", ".fits.gz"])
def test_a_compressed_image_is_coadded_as_the_plain_one(tiny, tmp_path, ending):
    import gzip

    from ztfnb.coadd import coadd_images

    folder, image = tiny
    compressed = tmp_path / f"ztf_x{ending}"
    if ending == ".fits.gz":
        compressed.write_bytes(gzip.compress(image.read_bytes()))
    else:
        with fits.open(image) as hdul:
            fits.HDUList([fits.PrimaryHDU(header=hdul[0].header), fits.CompImageHDU(
                hdul[1].data, hdul[1].header, compression_type="GZIP_2", quantize_level=0.0
            )]).writeto(compressed)  # fmt: skip
    ours = coadd_images([compressed], folder / "heads", tmp_path / "ours.fits")
    theirs = coadd_images([image], folder / "heads", tmp_path / "theirs.fits")
    np.testing.assert_array_equal(fits.getdata(ours.image), fits.getdata(theirs.image))
