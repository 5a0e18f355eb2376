"""``ztfnb extract``: the real source-extractor on rendered quadrants, its catalogue solved by SCAMP.

Oracles: the simulation's truth (where each star was drawn, the true
mapping of the camera), and the image headers the catalogue must carry.
"""

import json
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy.spatial import cKDTree

from tests.conftest import needs_scamp, needs_sextractor
from ztfnb.analyses.prior import ahead_accuracy
from ztfnb.cli import main
from ztfnb.exposure import read_exposure
from ztfnb.io import read_header_blocks
from ztfnb.io.ldac import read_ldac
from ztfnb.simulate import TrueMapping

pytestmark = needs_sextractor


def _info(pixel_night):
    info = json.loads((pixel_night / "info.json").read_text())
    return info["exposure"], info["rcids"]


@pytest.mark.slow
def test_one_catalogue_per_image_with_each_quadrant_header(pixel_night):
    name, rcids = _info(pixel_night)
    extensions = read_ldac(pixel_night / "catalogs" / f"{name}.ldac")
    with fits.open(pixel_night / "images" / f"{name}.fits") as hdul:
        images = [hdu.header for hdu in hdul[1:]]
    assert [e.header["RCID"] for e in extensions] == rcids
    for extension, image in zip(extensions, images, strict=True):
        for key in ("RCID", "CCDID", "QID", "OBSMJD", "EXPTIME", "TELRAD", "TELDECD", "CD1_1"):
            assert extension.header[key] == image[key], key
        assert {"XWIN_IMAGE", "ERRAWIN_IMAGE", "FLUX_RADIUS", "FLAGS"} <= set(
            extension.objects.colnames
        )
    assert read_exposure(pixel_night / "catalogs" / f"{name}.ldac").rcids == rcids


@pytest.mark.slow
def test_centroids_sit_where_the_stars_were_drawn(pixel_night, other_night):
    name, _ = _info(pixel_night)
    with fits.open(other_night / "truth" / f"{name}.fits") as hdul:
        truth = Table.read(hdul["DETECTIONS"])
    for extension in read_ldac(pixel_night / "catalogs" / f"{name}.ldac"):
        objects = extension.objects
        bright = objects[
            (objects["FLAGS"] == 0) & (objects["FLUX_AUTO"] / objects["FLUXERR_AUTO"] > 50)
        ]
        stars = truth[(truth["rcid"] == extension.header["RCID"]) & (truth["kind"] == "star")]
        distance, _ = cKDTree(np.column_stack([stars["x_true"], stars["y_true"]])).query(
            np.column_stack([bright["XWIN_IMAGE"], bright["YWIN_IMAGE"]])
        )
        assert len(bright) > 30
        matched = distance[distance < 1.0]  # a blend's centroid is nowhere near one star
        assert len(matched) > 0.9 * len(bright)
        assert np.sqrt(np.mean(matched**2)) < 0.1  # pixels


@needs_scamp
@pytest.mark.scamp
@pytest.mark.slow
def test_the_catalogue_solves_from_the_prior_as_simulated_ones_do(pixel_night, other_night):
    name, rcids = _info(pixel_night)
    catalog = read_exposure(pixel_night / "catalogs" / f"{name}.ldac")
    headers = read_header_blocks(pixel_night / "solved" / f"{name}.head")
    quality = ahead_accuracy(
        headers, catalog, TrueMapping.read(other_night / "truth" / f"{name}.fits")
    )
    assert list(quality["rcid"]) == rcids
    assert quality["worst"].max() <= 0.1 * u.arcsec


# ----------------------------------------------------------------- refusals


def _image(folder, header, name="ztf_x.fits"):
    """A small image with a simulated quadrant's header (the checks read headers only)."""
    path = Path(folder) / name
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((8, 8), np.float32), header)]).writeto(
        path
    )
    return path


@pytest.fixture(scope="module")
def quadrant_header(simulated):
    night = simulated()
    header = read_ldac(next(night.glob("*.ldac")))[0].header.copy()
    for key in ("XTENSION", "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT"):
        header.remove(key, ignore_missing=True)
    header["EXTNAME"] = f"RC{header['RCID']:02d}"
    return header


@pytest.mark.parametrize(
    ("removed", "named"),
    [(("CTYPE1",), "keyword CTYPE1"), (("RCID", "CCDID"), "RCID"), (("TELRAD",), "keyword TELRAD"),
     (("OBSMJD", "MJD-OBS", "DATE-OBS", "OBSJD"), "OBSMJD")],
)  # fmt: skip
def test_an_image_without_wcs_or_camera_keywords_is_refused_before_anything_is_written(
    quadrant_header, tmp_path, capsys, removed, named
):
    good = _image(tmp_path, quadrant_header, "ztf_good.fits")
    header = quadrant_header.copy()
    for key in removed:
        del header[key]
    bad = _image(tmp_path, header)
    assert main(["extract", str(good), str(bad), "--out", str(tmp_path / "out")]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"ztfnb extract: error: {bad}: extension 1 (RC00): ")
    assert named in line and "\n" not in line
    assert not (tmp_path / "out").exists()


def test_missing_sextractor_is_refused_with_the_apt_get_line(
    quadrant_header, tmp_path, capsys, monkeypatch
):
    image = _image(tmp_path, quadrant_header)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["extract", str(image), "--out", str(tmp_path / "out")]) == 2
    assert "sudo apt-get install source-extractor" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_existing_catalogue_is_kept_without_overwrite(quadrant_header, tmp_path, capsys):
    image = _image(tmp_path, quadrant_header)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ztf_x.ldac").write_text("mine")
    assert main(["extract", str(image), "--out", str(tmp_path / "out")]) == 2
    assert "give --overwrite" in capsys.readouterr().err
    assert (tmp_path / "out" / "ztf_x.ldac").read_text() == "mine"


# a night simulated with images: one field twice, two quadrants drawn (shared with
# tests/test_simulate_images.py)
IMAGED = {"images": "2,1", "revisits": 2}


def test_extract_of_images_star_fits_makes_one_catalogue_per_exposure(simulated, tmp_path, capsys):
    images = sorted((simulated(**IMAGED) / "images").glob("*.fits"))  # weight maps among them
    assert len(images) == 4
    command = ["extract", *map(str, images), "--out", str(tmp_path / "c"), "--quiet"]
    assert main([*command, "--workers", "2"]) == 0
    exposures = [p.name[: -len(".fits")] for p in images if not p.name.endswith(".weight.fits")]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [f"{e}.ldac" for e in exposures]
    for name in exposures:
        assert read_exposure(tmp_path / "c" / f"{name}.ldac").rcids == [1, 2]
    capsys.readouterr()


def test_extract_uses_the_weight_map_beside_the_image(simulated, tmp_path, capsys):
    night = simulated(**IMAGED)
    name = sorted(p.name for p in (night / "images").glob("*.weight.fits"))[0][
        : -len(".weight.fits")
    ]
    (tmp_path / f"{name}.fits").symlink_to(night / "images" / f"{name}.fits")
    with fits.open(night / "images" / f"{name}.weight.fits") as hdul:
        for hdu in hdul[1:]:
            hdu.data[:, :1500] = 0  # the left half of every quadrant is bad
        hdul.writeto(tmp_path / f"{name}.weight.fits")
    assert main(["extract", str(tmp_path / f"{name}.fits"), "--out", str(tmp_path / "c")]) == 0
    for extension in read_ldac(tmp_path / "c" / f"{name}.ldac"):
        x = np.asarray(extension.objects["XWIN_IMAGE"])
        assert len(x) > 20 and x.min() > 1490  # nothing measured on zero weight
    capsys.readouterr()


# ---------------------------------------------------------------- INHERIT = T
# Multi-extension cameras keep the exposure's keywords in the primary header and say
# INHERIT = T in each extension (the FITS inheritance convention). The oracle: the same
# pixels with every keyword in its extension, measured by the same source-extractor.
_EXPOSURE_KEYS = ("DATE-OBS", "OBSJD", "OBSMJD", "MJD-OBS", "EXPTIME", "FILTER", "FIELDID",
                  "TELRAD", "TELDECD", "AIRMASS", "PRESSURE", "TEMPTURE", "HUMIDITY", "GAIN",
                  "SATURATE")  # fmt: skip
_SPLITS = {
    "exposure keywords": _EXPOSURE_KEYS,
    "and the WCS's axis types": (*_EXPOSURE_KEYS, "CTYPE1", "CTYPE2", "RADESYS", "EQUINOX"),
}


def _moved_to_primary(source, target, keys, inherit=True, own=None):
    """``source`` rewritten with ``keys`` in the primary header only; ``own`` keeps a keyword
    (with another value) in the first extension, which must win over the primary's."""
    with fits.open(source) as hdul:
        primary = fits.PrimaryHDU()
        for key in keys:
            primary.header[key] = (hdul[1].header[key], hdul[1].header.comments[key])
        hdus = [primary]
        for index, hdu in enumerate(hdul[1:]):
            header = hdu.header.copy()
            for key in keys:
                del header[key]
            if inherit:
                header["INHERIT"] = True
            if own and index == 0:
                header[own[0]] = own[1]
            hdus.append(fits.ImageHDU(hdu.data, header))
        fits.HDUList(hdus).writeto(target)
    return target


@pytest.mark.parametrize("split", _SPLITS)
def test_extensions_inherit_the_primary_keywords_that_say_inherit(
    simulated, tmp_path, capsys, split
):
    images = simulated(**IMAGED) / "images"
    plain = sorted(p for p in images.glob("*.fits") if not p.name.endswith(".weight.fits"))[0]
    mef = _moved_to_primary(plain, tmp_path / "mef.fits", _SPLITS[split], own=("GAIN", 3.1))
    (tmp_path / "mef.weight.fits").symlink_to(plain.with_name(f"{plain.stem}.weight.fits"))
    # the oracle: every keyword in its extension, the first extension's own gain included
    with fits.open(plain) as hdul:
        hdul[1].header["GAIN"] = 3.1
        (tmp_path / "ref").mkdir()
        hdul.writeto(tmp_path / "ref" / "ref.fits")
    (tmp_path / "ref" / "ref.weight.fits").symlink_to(plain.with_name(f"{plain.stem}.weight.fits"))
    for image in (mef, tmp_path / "ref" / "ref.fits"):
        assert main(["extract", str(image), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    ours, theirs = read_ldac(tmp_path / "c" / "mef.ldac"), read_ldac(tmp_path / "c" / "ref.ldac")
    assert len(ours) == len(theirs) == 2
    for chip, oracle in zip(ours, theirs, strict=True):
        for key in (*_SPLITS[split], "RCID", "CD1_1", "CRPIX1"):
            assert chip.header[key] == oracle.header[key], key
        assert chip.header["SEXGAIN"] == pytest.approx(oracle.header["SEXGAIN"], rel=1e-7)
        assert chip.header["SEXSATLV"] == oracle.header["SEXSATLV"]
        assert len(chip.objects) == len(oracle.objects) > 20
        for column in oracle.objects.colnames:  # SExtractor reads a gain given as a float
            np.testing.assert_allclose(chip.objects[column], oracle.objects[column], rtol=3e-7)
    assert ours[0].header["SEXGAIN"] == pytest.approx(3.1) and ours[1].header["SEXGAIN"] != 3.1
    assert read_exposure(tmp_path / "c" / "mef.ldac").rcids == [1, 2]
    capsys.readouterr()


def test_a_keyword_only_in_the_primary_without_inherit_is_named_so(simulated, tmp_path, capsys):
    images = simulated(**IMAGED) / "images"
    plain = sorted(p for p in images.glob("*.fits") if not p.name.endswith(".weight.fits"))[0]
    mef = _moved_to_primary(plain, tmp_path / "mef.fits", _EXPOSURE_KEYS, inherit=False)
    assert main(["extract", str(mef), "--out", str(tmp_path / "c")]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"ztfnb extract: error: {mef}: extension 1 (RC01): ")
    assert "TELRAD" in line and "INHERIT = T" in line and "\n" not in line
    assert not (tmp_path / "c").exists()


# ------------------------------------------- images as archives deliver them
def _as(source, target):
    """``source`` as ``target`` names it: gzipped (``.gz``), tile-compressed losslessly (``.fz``:
    GZIP_2, no quantisation, as fpack -q 0 writes floats), or linked (``.fits``)."""
    import gzip

    if target.name.endswith(".gz"):
        target.write_bytes(gzip.compress(source.read_bytes(), compresslevel=1))
    elif target.name.endswith(".fz"):
        with fits.open(source) as hdul:
            hdus = [fits.PrimaryHDU(header=hdul[0].header)]
            hdus += [fits.CompImageHDU(h.data, h.header, compression_type="GZIP_2",
                                       quantize_level=0.0) for h in hdul[1:]]  # fmt: skip
            fits.HDUList(hdus).writeto(target)
    else:
        target.symlink_to(source)
    return target


@pytest.fixture(scope="module")
def plain_catalogue(simulated, tmp_path_factory):
    """An imaged exposure (its weight map beside it) and its catalogue, extracted once."""
    images = simulated(**IMAGED) / "images"
    plain = sorted(p for p in images.glob("*.fits") if not p.name.endswith(".weight.fits"))[0]
    folder = tmp_path_factory.mktemp("plain")
    (folder / "x.fits").symlink_to(plain)
    (folder / "x.weight.fits").symlink_to(plain.with_name(f"{plain.stem}.weight.fits"))
    assert main(["extract", str(folder / "x.fits"), "--out", str(folder), "--quiet"]) == 0
    return plain, read_ldac(folder / "x.ldac")


@pytest.mark.parametrize(
    ("image", "weight"),
    [
        ("x.fits.fz", "x.weight.fits.fz"),
        ("x.fits.gz", "x.weight.fits"),
        ("x.fits", "x.weight.fits.fz"),
    ],
)
def test_compressed_images_and_weight_maps_give_the_plain_images_catalogue(
    plain_catalogue, tmp_path, capsys, image, weight
):
    """Oracle: the same source-extractor on the uncompressed image beside its weight map."""
    plain, theirs = plain_catalogue
    _as(plain, tmp_path / image)
    _as(plain.with_name(f"{plain.stem}.weight.fits"), tmp_path / weight)
    command = ["extract", str(tmp_path / image), str(tmp_path / weight), "--quiet"]
    assert main([*command, "--out", str(tmp_path / "c")]) == 0
    ours = read_ldac(tmp_path / "c" / "x.ldac")
    assert [c.header["RCID"] for c in ours] == [c.header["RCID"] for c in theirs] == [1, 2]
    for chip, oracle in zip(ours, theirs, strict=True):
        assert len(chip.objects) == len(oracle.objects) > 20
        for column in oracle.objects.colnames:  # the weight map's zeros flag the same objects
            np.testing.assert_array_equal(chip.objects[column], oracle.objects[column])
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["x.ldac"]
    capsys.readouterr()


def test_a_weight_map_in_another_order_than_its_image_is_refused(simulated, tmp_path, capsys):
    images = simulated(**IMAGED) / "images"
    plain = sorted(p for p in images.glob("*.fits") if not p.name.endswith(".weight.fits"))[0]
    (tmp_path / "x.fits").symlink_to(plain)
    with fits.open(plain.with_name(f"{plain.stem}.weight.fits")) as hdul:
        fits.HDUList([hdul[0].copy(), hdul[2].copy(), hdul[1].copy()]).writeto(
            tmp_path / "x.weight.fits"
        )
    assert main(["extract", str(tmp_path / "x.fits"), "--out", str(tmp_path / "c")]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"ztfnb extract: error: {tmp_path / 'x.weight.fits'}: extension 1")
    assert "RCID 2 where" in line and "RCID 1" in line and "\n" not in line
    assert not (tmp_path / "c").exists()


def test_telra_teldec_in_sexagesimal_are_read_as_for_catalogues(simulated, tmp_path, capsys):
    """Oracle: astropy's Angle of the sexagesimal strings; the catalogue's pointing is the plain one's."""
    from astropy.coordinates import Angle

    images = simulated(**IMAGED) / "images"
    plain = sorted(p for p in images.glob("*.fits") if not p.name.endswith(".weight.fits"))[0]
    with fits.open(plain) as hdul:
        ra, dec = hdul[1].header["TELRAD"], hdul[1].header["TELDECD"]
        text = (Angle(ra, u.deg).to_string(u.hourangle, sep=":", precision=4),
                Angle(dec, u.deg).to_string(u.deg, sep=":", precision=3))  # fmt: skip
        for hdu in hdul[1:]:
            del hdu.header["TELRAD"], hdu.header["TELDECD"]
            hdu.header["TELRA"], hdu.header["TELDEC"] = text
        hdul.writeto(tmp_path / "x.fits")
    assert main(["extract", str(tmp_path / "x.fits"), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    for chip in read_ldac(tmp_path / "c" / "x.ldac"):
        assert chip.header["TELRAD"] == pytest.approx(Angle(text[0], u.hourangle).deg, abs=1e-9)
        assert chip.header["TELDECD"] == pytest.approx(Angle(text[1], u.deg).deg, abs=1e-9)
        assert chip.header["TELRAD"] == pytest.approx(ra, abs=1e-5)
    capsys.readouterr()
