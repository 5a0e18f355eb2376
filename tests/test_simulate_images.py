"""``ztfnb simulate --images`` and ``--revisits``: quadrant images, weights, true solutions, revisits.

Oracles: the catalogue's own headers (the image must carry them), the truth
(`TrueMapping`, read through astropy's wcslib for the TPV heads), and the
definition of saturation (pixels at the header's ``SATURATE``).
"""

import hashlib

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from ztfnb.cli import main
from ztfnb.io import read_header_blocks
from ztfnb.io.ldac import read_ldac
from ztfnb.simulate import NightParameters, TrueMapping, simulate_night
from ztfnb.simulate.images import image_rcids

# one small night for every test here: one field visited twice, two quadrants drawn
IMAGED = {"images": "2,1", "revisits": 2}


def _exposures(night):
    return [str(name) for name in QTable.read(night / "exposures.ecsv")["exposure"]]


def test_images_hold_exactly_the_asked_quadrants_with_the_catalogue_headers(simulated):
    night = simulated(**IMAGED)
    for name in _exposures(night):
        headers = {e.header["RCID"]: e.header for e in read_ldac(night / f"{name}.ldac")}
        for path in (night / "images" / f"{name}.fits", night / "images" / f"{name}.weight.fits"):
            with fits.open(path) as hdul:
                assert hdul[0].data is None and len(hdul) == 3
                assert [h.header["RCID"] for h in hdul[1:]] == [1, 2]  # rcid order
                for hdu in hdul[1:]:
                    assert hdu.data.shape == (hdu.header["NAXIS2"], hdu.header["NAXIS1"])
                    catalogue = headers[hdu.header["RCID"]]
                    for card in catalogue.cards:
                        if card.keyword not in ("SIMPLE", "BITPIX", "EXTEND", "NAXIS1", "NAXIS2"):
                            assert hdu.header[card.keyword] == card.value, card.keyword
        with fits.open(night / "images" / f"{name}.fits") as hdul:
            assert all(hdu.data.dtype == np.dtype(">f4") for hdu in hdul[1:])


def test_weights_are_zero_exactly_on_saturated_pixels(simulated):
    night = simulated(**IMAGED)
    name = _exposures(night)[0]
    saturated = 0
    with (
        fits.open(night / "images" / f"{name}.fits") as images,
        fits.open(night / "images" / f"{name}.weight.fits") as weights,
    ):
        for image, weight in zip(images[1:], weights[1:], strict=True):
            full = image.data >= image.header["SATURATE"]
            assert image.data.max() <= image.header["SATURATE"]
            assert np.array_equal(weight.data == 0, full)
            assert set(np.unique(weight.data)) <= {0, 1}
            saturated += int(full.sum())
            sky = np.median(image.data)
            assert abs(sky - 600) < 5  # the flat sky the stars sit on
    assert saturated > 0  # the bright stars of two quadrants do saturate


def test_truth_heads_are_the_true_mapping_within_5_mas(simulated):
    night = simulated(**IMAGED)
    for name in _exposures(night):
        truth = TrueMapping.read(night / "truth" / f"{name}.fits")
        blocks = read_header_blocks(night / "truth" / f"{name}.head")
        assert [b["RCID"] for b in blocks] == [1, 2]
        # a grid off the truth's own nodes, edges included
        x, y = np.meshgrid(np.linspace(0.5, 3072.5, 23), np.linspace(0.5, 3080.5, 29))
        x, y = x.ravel(), y.ravel()
        for block in blocks:
            ra, dec = WCS(block).all_pix2world(x, y, 1)  # wcslib's TPV, not ztfnb's
            error = SkyCoord(ra * u.deg, dec * u.deg).separation(
                truth.pixel_to_sky(block["RCID"], x, y)
            )
            assert error.max() < 5 * u.mas


def test_revisits_observe_each_field_in_a_row(simulated):
    night = simulated(**IMAGED)
    table = QTable.read(night / "exposures.ecsv")
    assert len(table) == 2 and len(set(table["exposure"])) == 2
    assert len(set(table["field"])) == 1 and len(set(table["filter"])) == 1
    assert table["telrad"][0] == table["telrad"][1]  # the same field centre
    assert 30 * u.s < (table["obsmjd"][1] - table["obsmjd"][0]).to(u.s) < 60 * u.s
    assert table["fwhm"][0] != table["fwhm"][1]  # seeing of its own
    assert table["true_ra"][0] != table["true_ra"][1]  # pointing scatter of its own
    for name, field in zip(table["exposure"], table["field"], strict=True):
        assert {e.header["FIELDID"] for e in read_ldac(night / f"{name}.ldac")} == {field}
    first = QTable.read(simulated(revisits=1) / "exposures.ecsv")
    assert first["exposure"][0] == table["exposure"][0]  # the planned visit stays as it was


def test_images_change_no_other_file(simulated):
    """The night with images has the catalogues, truth and Gaia of the night without them."""
    plain, imaged = simulated(revisits=2), simulated(**IMAGED)

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    names = [*sorted(p.name for p in plain.glob("*.ldac")), "gaia.fits"]
    names += [f"truth/{p.name}" for p in (plain / "truth").glob("*.fits")]
    assert names and all(digest(plain / n) == digest(imaged / n) for n in names)
    assert not (plain / "images").exists() and not list((plain / "truth").glob("*.head"))


def test_all_is_every_quadrant_and_the_cli_passes_both_options(tmp_path, monkeypatch, capsys):
    import ztfnb.simulate

    assert image_rcids("all") == list(range(64)) and image_rcids("") == []
    assert image_rcids(" 45, 0,45") == [0, 45]
    made = []
    monkeypatch.setattr(ztfnb.simulate, "simulate_night", lambda out, p, **_: made.append(p))
    command = ["simulate", "--out", str(tmp_path / "n"), "--seed", "2", "--quiet"]
    assert main([*command, "--images", "all", "--revisits", "3"]) == 0
    assert made.pop() == NightParameters(seed=2, images="all", revisits=3)
    capsys.readouterr()


@pytest.mark.parametrize("value", ["64", "-1", "x", "1,,2", "1,", "1.5"])
def test_bad_rcids_are_refused_naming_them(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--out", str(tmp_path / "n"), "--seed", "1", "--images", value])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "argument --images: " in error and repr(value) in error
    with pytest.raises(ValueError, match=f"^images must be .+, got {value!r}$"):
        simulate_night(tmp_path / "n", NightParameters(seed=1, images=value))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [0, 11, 2.0, True])
def test_bad_revisits_are_refused(tmp_path, value):
    with pytest.raises(ValueError, match=f"^revisits must be .+, got {value!r}$"):
        simulate_night(tmp_path / "n", NightParameters(seed=1, revisits=value))
    assert list(tmp_path.iterdir()) == []
