"""Damaged FITS files and values that are not values: refused in one line naming the file.

A matrix of (file kind × damage, `tests.damage`) over the readers ztfnb's
commands use: the FITS_LDAC catalogue, the archive's sexcat and science-image
header, the Gaia table, the prior file; through the Python readers and
through ``prior fit``, ``prior ahead``, ``solve`` and ``quality``. The
damaged files are copies in ``tmp_path``; the shared nights are not touched.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tests import damage
from tests.conftest import needs_scamp
from tests.refusals import refused
from ztfnb.catalogs import read_catalogs
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia, read_ldac, write_ldac
from ztfnb.io.archive import read_image_header
from ztfnb.io.errors import InputError
from ztfnb.prior.file import read_prior

NIGHT = {"exposures": 1, "density": 300.0}

#: What each damage's refusal says.
SAYS = {
    "half_hdus": "NEXTEND",
    "mid_header": "cut short",
    "mid_data": "cut short",
    "last_byte": "cut short",
    "zero_block": "zero bytes",
    "garbled_card": "not printable ASCII",
    "wrong_naxis2": "NAXISn",
    "text_file": "not a FITS file",
    "empty_file": "empty",
    "gzip_of_text": "not a FITS file",
    "cut_gzip": "gzip stream",
}


@pytest.fixture(scope="module")
def inputs(simulated, tmp_path_factory):
    """One exposure's catalogue, its Gaia table, a prior written by ztfnb and its .ahead as a .head."""
    from ztfnb.cli import main
    from ztfnb.prior import fit_prior
    from ztfnb.prior.file import write_prior

    night = simulated(**NIGHT)
    (catalog,) = sorted(night.glob("*.ldac"))
    folder = tmp_path_factory.mktemp("bad_fits")
    prior = folder / "prior.fits"
    write_prior(prior, fit_prior([read_exposure(catalog)], read_gaia(night / "gaia.fits")))
    heads = folder / "heads"
    heads.mkdir()
    ahead = heads / f"{catalog.stem}.head"
    argv = ["prior", "ahead", prior, catalog, "--gaia", night / "gaia.fits", "--out", ahead]
    assert main([str(a) for a in [*argv, "--no-refine"]]) == 0
    return {"catalog": catalog, "gaia": night / "gaia.fits", "prior": prior, "heads": heads}


def _damaged(source, name, tmp_path):
    """A damaged copy named after the damage, with the source's suffixes."""
    return damage.DAMAGES[name](source, tmp_path / f"{name}{''.join(Path(source).suffixes)}")


def _one_line(reader, path, *words):
    with pytest.raises(InputError) as caught:
        reader(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 600, message
    for word in (Path(path).name, *words):
        assert str(word) in message, message
    return message


# the Python readers: every damage, every kind ------------------------------------------------


@pytest.mark.parametrize("name", list(damage.DAMAGES))
def test_a_damaged_catalogue_is_refused_by_read_exposure(inputs, name, tmp_path):
    path = _damaged(inputs["catalog"], name, tmp_path)
    _one_line(read_exposure, path, SAYS[name])


@pytest.mark.parametrize(
    "name", ["half_hdus", "mid_data", "last_byte", "zero_block", "garbled_card", "wrong_naxis2"]
)
def test_a_damaged_prior_is_refused_by_read_prior(inputs, name, tmp_path):
    path = _damaged(inputs["prior"], name, tmp_path)
    _one_line(read_prior, path, SAYS[name])


@pytest.mark.parametrize(
    "name", ["mid_header", "mid_data", "last_byte", "garbled_card", "wrong_naxis2", "cut_gzip"]
)
def test_a_damaged_gaia_fits_is_refused_by_read_gaia(inputs, name, tmp_path):
    path = _damaged(inputs["gaia"], name, tmp_path)
    _one_line(read_gaia, path, SAYS[name])


@pytest.fixture(scope="module")
def quadrant(simulated, tmp_path_factory):
    """One archive quadrant: its sexcat and its science image's header as a FITS file."""
    night = simulated(**NIGHT, per_quadrant=True)
    sexcat = sorted(night.glob("*_sexcat.fits"))[0]
    folder = tmp_path_factory.mktemp("quadrant")
    text = sexcat.with_name(sexcat.name.replace("_sexcat.fits", "_sciimg.hdr"))
    image = folder / text.with_suffix(".fits").name
    fits.PrimaryHDU(header=read_image_header(text)).writeto(image)
    return shutil.copy(sexcat, folder), image


@pytest.mark.parametrize("name", ["mid_data", "last_byte", "garbled_card", "half_hdus"])
def test_a_damaged_sexcat_is_refused(quadrant, name, tmp_path):
    sexcat, image = quadrant
    path = damage.DAMAGES[name](sexcat, tmp_path / Path(sexcat).name)
    shutil.copy(image, tmp_path)
    # astropy writes no NEXTEND: the sexcat cut to its primary HDU is found empty
    says = "no binary table in HDU 1" if name == "half_hdus" else SAYS[name]
    _one_line(lambda p: read_catalogs([p]), path, says)


@pytest.mark.parametrize("name", ["mid_header", "last_byte", "garbled_card"])
def test_a_damaged_science_image_header_is_refused(quadrant, name, tmp_path):
    _, image = quadrant
    path = damage.DAMAGES[name](
        image, tmp_path / image.name, **({"hdu": 0} if name != "last_byte" else {})
    )
    _one_line(read_image_header, path, SAYS[name])


def test_every_valid_input_is_still_read(inputs, quadrant):
    assert len(read_exposure(inputs["catalog"]).extensions) > 1
    assert len(read_gaia(inputs["gaia"])) and read_prior(inputs["prior"]).rcid.size
    assert len(read_catalogs([quadrant[0]])) == 1


# the commands ---------------------------------------------------------------------------------


def test_prior_fit_refuses_a_catalogue_cut_between_quadrants(inputs, tmp_path, capsys):
    path = damage.half_hdus(inputs["catalog"], tmp_path / inputs["catalog"].name)
    out = tmp_path / "prior.fits"
    argv = ["prior", "fit", path, "--gaia", inputs["gaia"], "--out", out]
    refused(
        argv,
        names=[path, "NEXTEND = 128", "holds 64"],
        watch=[tmp_path],
        absent=[out],
        capsys=capsys,
    )


def test_prior_fit_refuses_a_cut_gaia_table(inputs, tmp_path, capsys):
    gaia = damage.mid_data(inputs["gaia"], tmp_path / "gaia.fits")
    out = tmp_path / "prior.fits"
    argv = ["prior", "fit", inputs["catalog"], "--gaia", gaia, "--out", out]
    refused(argv, names=[gaia, "cut short"], watch=[tmp_path], absent=[out], capsys=capsys)


@pytest.mark.parametrize("name", ["half_hdus", "garbled_card", "empty_file"])
def test_prior_ahead_refuses_a_damaged_prior(inputs, name, tmp_path, capsys):
    prior = _damaged(inputs["prior"], name, tmp_path)
    out = tmp_path / "x.ahead"
    argv = ["prior", "ahead", prior, inputs["catalog"], "--gaia", inputs["gaia"], "--out", out]
    refused(argv, names=[prior, SAYS[name]], watch=[tmp_path], absent=[out], capsys=capsys)


def test_prior_ahead_refuses_a_catalogue_cut_in_its_data(inputs, tmp_path, capsys):
    path = damage.mid_data(inputs["catalog"], tmp_path / inputs["catalog"].name)
    out = tmp_path / "x.ahead"
    argv = ["prior", "ahead", inputs["prior"], path, "--gaia", inputs["gaia"], "--out", out]
    refused(
        argv, names=[path, "HDU 128", "cut short"], watch=[tmp_path], absent=[out], capsys=capsys
    )


@needs_scamp
def test_solve_refuses_a_damaged_prior(inputs, tmp_path, capsys):
    prior = damage.last_byte(inputs["prior"], tmp_path / "prior.fits")
    out = tmp_path / "solved"
    argv = ["solve", inputs["catalog"], "--gaia", inputs["gaia"], "--prior", prior, "--out", out]
    refused(
        [*argv, "--workers", "1"],
        names=[prior, "cut short"],
        watch=[tmp_path],
        absent=[out],
        capsys=capsys,
    )


@needs_scamp
@pytest.mark.parametrize("name", ["half_hdus", "mid_data", "garbled_card", "text_file"])
def test_solve_refuses_a_damaged_catalogue_before_any_work(inputs, name, tmp_path, capsys):
    path = _damaged(inputs["catalog"], name, tmp_path)
    path = path.rename(tmp_path / inputs["catalog"].name)
    out = tmp_path / "solved"
    argv = ["solve", path, "--gaia", inputs["gaia"], "--prior", inputs["prior"], "--out", out]
    refused(
        [*argv, "--workers", "1", "--quiet"],
        names=[path, SAYS[name]],
        watch=[tmp_path],
        absent=[out],
        capsys=capsys,
    )


@pytest.mark.parametrize("name", ["mid_data", "garbled_card"])
def test_quality_refuses_a_damaged_catalogue(inputs, name, tmp_path, capsys):
    path = _damaged(inputs["catalog"], name, tmp_path)
    path = path.rename(tmp_path / inputs["catalog"].name)
    out = tmp_path / "q.ecsv"
    argv = ["quality", path, "--heads", inputs["heads"], "--gaia", inputs["gaia"], "--out", out]
    refused(
        argv,
        names=[path, SAYS[name]],
        watch=[tmp_path, inputs["heads"]],
        absent=[out],
        capsys=capsys,
    )


def test_quality_refuses_a_head_file_cut_short(inputs, tmp_path, capsys):
    heads = tmp_path / "heads"
    heads.mkdir()
    (head,) = inputs["heads"].glob("*.head")
    text = head.read_text()
    (heads / head.name).write_text(text[: len(text) // 2 + 100])  # inside block 33 of 64
    out = tmp_path / "q.ecsv"
    argv = ["quality", inputs["catalog"], "--heads", heads, "--gaia", inputs["gaia"], "--out", out]
    refused(argv, names=[head.name, "cut short"], watch=[tmp_path], absent=[out], capsys=capsys)


@pytest.mark.parametrize("flip", [b"\xff\xfe", b"??", b"1 2"])
def test_quality_refuses_a_head_card_with_damaged_bytes(inputs, tmp_path, capsys, flip):
    heads = tmp_path / "heads"
    heads.mkdir()
    (head,) = inputs["heads"].glob("*.head")
    data = bytearray(head.read_bytes())
    at = data.index(b"CUNIT1  = 'deg") + 30  # between the value and its comment
    data[at : at + len(flip)] = flip
    (heads / head.name).write_bytes(bytes(data))
    out = tmp_path / "q.ecsv"
    argv = ["quality", inputs["catalog"], "--heads", heads, "--gaia", inputs["gaia"], "--out", out]
    refused(argv, names=[head.name, "CUNIT1"], watch=[tmp_path], absent=[out], capsys=capsys)


@pytest.mark.parametrize("keep", [0.3, 0.9, -400])
def test_an_archive_image_header_cut_short_is_refused(simulated, inputs, tmp_path, capsys, keep):
    night = simulated(exposures=1, density=200.0, per_quadrant=True, seed=7)
    folder = tmp_path / "night"
    shutil.copytree(night, folder)
    header = sorted(folder.glob("*_sciimg.hdr"))[0]
    data = header.read_bytes()
    header.write_bytes(data[: int(len(data) * keep) if keep > 0 else keep])
    out = tmp_path / "x.ahead"
    exposure = [str(p) for p in folder.glob("*_sexcat.fits")]
    argv = ["prior", "ahead", inputs["prior"], *exposure, "--gaia", inputs["gaia"], "--out", out]
    refused(argv, names=[header.name], watch=[tmp_path], absent=[out], capsys=capsys)


@pytest.mark.parametrize("command", ["prior ahead", "quality"])
def test_a_folder_where_a_file_is_expected_is_named_as_one(inputs, tmp_path, capsys, command):
    # a folder given as the prior or a catalogue; as --gaia a folder must be a HATS catalogue
    folder = tmp_path / "x.fits"
    folder.mkdir()
    out = tmp_path / "o.out"
    if command == "prior ahead":
        argv = ["prior", "ahead", folder, inputs["catalog"], "--gaia", inputs["gaia"]]
    else:
        argv = ["quality", folder, "--heads", inputs["heads"], "--gaia", inputs["gaia"]]
    refused([*argv, "--out", out], names=[folder, "a folder"], watch=[tmp_path], capsys=capsys)
    gaia = tmp_path / "gaia"
    gaia.mkdir()
    argv = ["prior", "ahead", inputs["prior"], inputs["catalog"], "--gaia", gaia, "--out", out]
    refused(argv, names=[gaia, "not a HATS catalogue"], watch=[tmp_path], capsys=capsys)


# values that are not values ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quadrants(inputs):
    """The catalogue's first three quadrants (a catalogue of three writes and reads fast)."""
    return read_ldac(inputs["catalog"])[:3]


def _edited_catalogue(quadrants, inputs, tmp_path, edit):
    extensions = [(e.header.copy(), e.objects.copy()) for e in quadrants]
    edit(extensions)
    path = tmp_path / inputs["catalog"].name
    write_ldac(path, extensions)
    return path


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_centroid_is_refused_like_nan(quadrants, inputs, value, tmp_path, capsys):
    def edit(extensions):
        extensions[2][1]["XWIN_IMAGE"][5] = value

    path = _edited_catalogue(quadrants, inputs, tmp_path, edit)
    _one_line(
        read_exposure, path, "XWIN_IMAGE", "infinite", "row 6 (counting from 1)", "extension 3"
    )
    out = tmp_path / "prior.fits"
    argv = ["prior", "fit", path, "--gaia", inputs["gaia"], "--out", out]
    refused(
        argv, names=[path, "XWIN_IMAGE", "row 6 (counting from 1)"], absent=[out], capsys=capsys
    )


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("OBSMJD", -132000.0, "between 1990 and 2100"),  # the year 1500
        ("OBSMJD", 2460234.65, "a Julian date?"),
        ("DATE-OBS", "1500-01-01T00:00:00", "between 1990 and 2100"),
        ("EXPTIME", -30.0, "exposure time"),
    ],
)
def test_a_date_or_exposure_time_no_camera_can_have_is_refused(
    quadrants, inputs, key, value, says, tmp_path
):
    def edit(extensions):
        for header, _ in extensions:
            if key == "DATE-OBS":
                for other in ("OBSMJD", "MJD-OBS", "OBSJD"):
                    header.remove(other, ignore_missing=True)
            header[key] = value

    path = _edited_catalogue(quadrants, inputs, tmp_path, edit)
    _one_line(read_exposure, path, key, says, str(value)[:10])


def _edited_gaia(inputs, tmp_path, column, row, value):
    table = Table.read(inputs["gaia"])
    table[column][row] = value
    path = tmp_path / "gaia.fits"
    table.write(path)
    return path


def test_a_ref_epoch_in_days_is_refused_naming_the_unit(inputs, tmp_path, capsys):
    path = _edited_gaia(inputs, tmp_path, "ref_epoch", 3, 2455197.5)
    _one_line(
        read_gaia,
        path,
        "ref_epoch",
        "row 4 (counting from 1)",
        "2455197.5",
        "Julian date, in days",
        "Julian years",
    )
    out = tmp_path / "prior.fits"
    argv = ["prior", "fit", inputs["catalog"], "--gaia", path, "--out", out]
    refused(argv, names=[path, "ref_epoch", "2455197.5"], absent=[out], capsys=capsys)


def test_an_infinite_proper_motion_is_refused(inputs, tmp_path):
    path = _edited_gaia(inputs, tmp_path, "pmra", 7, np.inf)
    _one_line(read_gaia, path, "pmra", "infinite", "row 8 (counting from 1)")


def test_a_long_value_is_echoed_short(quadrants, inputs, tmp_path):
    def edit(extensions):
        extensions[0][0]["OBSMJD"] = ("x" * 60, "")
        extensions[0][0].remove("MJD-OBS")

    path = _edited_catalogue(quadrants, inputs, tmp_path, edit)
    message = _one_line(read_exposure, path, "OBSMJD")
    assert len(InputError("m", value="y" * 500).args[0]) < 100
    assert len(message) < 300, message
