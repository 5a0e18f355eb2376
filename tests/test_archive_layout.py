"""Per-quadrant catalogues as ZTF's archive delivers them (``ztfnb.catalogs``, ``ztfnb.io.archive``).

The oracle is the same night written one FITS_LDAC per exposure (the simulator
writes the same detections and headers either way): every command must give
the same numbers from the archive's layout as from it, and the catalogue ztfnb
writes for SCAMP must be the simulator's own per-exposure file, byte for byte.
"""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import Angle
from astropy.io import fits
from astropy.table import Table

from tests.conftest import needs_scamp
from ztfnb.catalogs import find_exposures, read_catalogs
from ztfnb.cli import main
from ztfnb.io.archive import read_image_header
from ztfnb.io.errors import InputError
from ztfnb.io.ldac import write_ldac

NIGHT = {"seed": 3, "exposures": 2, "failures": 3, "density": 200.0}
ARCHIVE_NAME = re.compile(
    r"^ztf_\d{14}_\d{6}_z[gri]_c(\d{2})_o_q([1-4])_(sexcat\.fits|sciimg\.hdr)$"
)


@pytest.fixture(scope="module")
def nights(simulated):
    """The same night one FITS_LDAC per exposure, and in the archive's layout."""
    return simulated(**NIGHT), simulated(**NIGHT, per_quadrant=True)


def _pairs(ldac):
    with fits.open(ldac) as hdul:
        return (len(hdul) - 1) // 2


def _sexcats(folder):
    return sorted(folder.glob("*_sexcat.fits"))


def test_the_archive_layout_is_written_instead_of_one_file_per_exposure(nights):
    exposures, quadrants = nights
    ldacs = sorted(exposures.glob("*.ldac"))
    assert not list(quadrants.glob("*.ldac"))
    names = sorted(p.name for p in quadrants.glob("ztf_*"))
    assert names and all(ARCHIVE_NAME.match(n) for n in names)
    sexcats = _sexcats(quadrants)
    assert len(names) == 2 * len(sexcats)
    # as many quadrants as the per-exposure catalogues hold (a dead channel has no file)
    assert len(sexcats) == sum(_pairs(p) for p in ldacs)
    with fits.open(sexcats[0]) as hdul:  # a plain binary table in HDU 1, not FITS_LDAC
        assert len(hdul) == 2 and isinstance(hdul[1], fits.BinTableHDU)
        assert "XWIN_IMAGE" in hdul[1].columns.names
    for name in ("gaia.fits", *(f"truth/{p.stem}.fits" for p in ldacs)):
        assert (quadrants / name).read_bytes() == (exposures / name).read_bytes()


def test_quadrant_files_read_as_the_same_exposures(nights, tmp_path):
    exposures, quadrants = nights
    by_quadrant = read_catalogs(_sexcats(quadrants))
    by_exposure = read_catalogs(sorted(exposures.glob("*.ldac")))
    assert [c.name for c in by_quadrant] == [c.name for c in by_exposure]
    for a, b in zip(by_quadrant, by_exposure, strict=True):
        assert a.rcids == b.rcids and a.start == b.start and a.weather == b.weather
        # what SCAMP is given is the simulator's own per-exposure catalogue, byte for byte
        write_ldac(tmp_path / "x.ldac", [(e.header, e.objects) for e in a.extensions])
        assert (tmp_path / "x.ldac").read_bytes() == (exposures / f"{a.name}.ldac").read_bytes()


@needs_scamp
def test_every_command_gives_the_same_results_per_quadrant(nights, tmp_path):
    exposures, quadrants = nights
    first = sorted(exposures.glob("*.ldac"))[0].stem  # ztf_<filefracday>_<field>_<filter>
    runs = {}
    for label, night, inputs in (
        ("exp", exposures, [str(p) for p in sorted(exposures.glob("*.ldac"))]),
        # the archive's whole folder content, headers and all, as a shell glob gives it
        ("quad", quadrants, [str(p) for p in sorted(quadrants.glob("ztf_*"))]),
    ):
        out = tmp_path / label
        gaia = str(night / "gaia.fits")
        prior = str(out / "prior.fits")
        assert main(["prior", "fit", *inputs, "--gaia", gaia, "--out", prior, "--quiet"]) == 0
        one = [p for p in inputs if Path(p).name.startswith(f"{first}.") or f"{first}_c" in p]
        ahead = str(out / "one.ahead")
        assert main(["prior", "ahead", prior, *one, "--gaia", gaia, "--out", ahead]) == 0
        solved = out / "solved"
        args = [*inputs, "--gaia", gaia, "--prior", prior, "--out", str(solved), "--quiet"]
        assert main(["solve", *args, "--workers", "2"]) == 0
        metrics = str(out / "metrics.ecsv")
        quality = ["quality", *inputs, "--heads", str(solved), "--gaia", gaia, "--out", metrics]
        assert main([*quality, "--quiet"]) == 0
        runs[label] = out
    exp, quad = runs["exp"], runs["quad"]
    for name in ("prior.fits", "one.ahead", "metrics.ecsv", "metrics.exposures.ecsv"):
        assert (quad / name).read_bytes() == (exp / name).read_bytes(), name
    heads = sorted(p.name for p in (exp / "solved").glob("*.head"))
    assert len(heads) == 2
    for name in heads + [h.replace(".head", ".ldac") for h in heads]:
        assert (quad / "solved" / name).read_bytes() == (exp / "solved" / name).read_bytes()
    a, b = (Table.read(r / "solved" / "summary.ecsv") for r in (quad, exp))
    assert list(a["exposure"]) == list(b["exposure"]) and set(a["status"]) == {"solved"}
    for column in ("ndeg", "sigma_1", "sigma_2", "chi2", "pointing_offset", "n_quadrants"):
        assert np.array_equal(a[column], b[column]), column
    flagged = Table.read(quad / "metrics.ecsv")
    # the injected data failures are where the simulator put them, in the right exposures
    failures = Table.read(quadrants / "truth" / "failures.ecsv")
    for row in failures:
        mine = flagged[(flagged["exposure"] == row["exposure"]) & (flagged["rcid"] == row["rcid"])]
        assert len(mine) == 1


def _copy_quadrant(night, folder, index=0):
    folder.mkdir(exist_ok=True)
    sexcat = _sexcats(night)[index]
    header = sexcat.with_name(sexcat.name.replace("_sexcat.fits", "_sciimg.hdr"))
    return shutil.copy(sexcat, folder), shutil.copy(header, folder)


def _edit_header(path, **cards):
    header = read_image_header(path)
    for key, value in cards.items():
        if value is None:
            del header[key]
        else:
            header[key] = value
    path.write_text(header.tostring(sep="\n", endcard=True, padding=False) + "\n")


def _refused(paths, *words):
    with pytest.raises(InputError) as caught:
        read_catalogs(paths)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert str(word) in message, message
    return message


def test_a_sexcat_without_its_header_is_refused_naming_it(nights, tmp_path, capsys):
    sexcat, header = _copy_quadrant(nights[1], tmp_path)
    (tmp_path / header).unlink()
    prefix = sexcat.removesuffix("_sexcat.fits")
    _refused([sexcat], sexcat, f"{prefix.split('/')[-1]}_sciimg.hdr")
    code = main(["prior", "fit", sexcat, "--gaia", "g.fits", "--out", str(tmp_path / "p.fits")])
    error = capsys.readouterr().err
    assert code == 2 and sexcat in error and error.count("\n") == 1
    # its header given alone is refused too
    _, header = _copy_quadrant(nights[1], tmp_path / "alone")
    _refused([header], header, "sexcat.fits")


def test_incomplete_or_inconsistent_groups_are_refused_naming_the_file(nights, tmp_path):
    night = nights[1]
    sexcats = _sexcats(night)
    # the same quadrant twice (a copy in another folder)
    copy, _ = _copy_quadrant(night, tmp_path / "copy", index=1)
    _refused([*sexcats, copy], copy, "second file for quadrant", sexcats[1])
    # a quadrant whose header says another time than its name's exposure
    late, header = _copy_quadrant(night, tmp_path / "late", index=1)
    mjd = read_image_header(Path(header))
    _edit_header(Path(header), OBSMJD=mjd["OBSMJD"] + 0.01)
    others = [p for p in sexcats if p.name != sexcats[1].name]
    _refused([*others, late], late, "another exposure")
    # ... or another pointing
    moved, header = _copy_quadrant(night, tmp_path / "moved", index=1)
    _edit_header(Path(header), TELRAD=mjd["TELRAD"] + 0.01)
    _refused([*others, moved], moved, "TELRAD/TELDECD")
    # ... or another CCD than its name
    wrong, header = _copy_quadrant(night, tmp_path / "wrong", index=1)
    _edit_header(Path(header), CCDID=mjd["CCDID"] % 16 + 1)
    _refused([wrong], wrong, "file name says CCD")
    # one exposure given both ways
    ldac = sorted(nights[0].glob("*.ldac"))
    _refused([*sexcats, *ldac], ldac[0], "given twice")


def test_archive_keywords_and_header_files_are_read_liberally(nights, tmp_path):
    night = nights[1]
    (reference,) = read_catalogs([_copy_quadrant(night, tmp_path / "a")[0]])
    sexcat, header = _copy_quadrant(night, tmp_path / "b")
    header = Path(header)
    original = read_image_header(header)
    ra, dec = original["TELRAD"], original["TELDECD"]
    text = original.copy()
    for key in ("TELRAD", "TELDECD", "OBSMJD", "MJD-OBS", "DATE-OBS", "RCID", "CCDID", "QID"):
        del text[key]
    text["TELRA"] = Angle(ra, "deg").to_string(unit="hourangle", sep=":", precision=4)
    text["TELDEC"] = Angle(dec, "deg").to_string(unit="deg", sep=":", precision=3, alwayssign=True)
    # astropy's own text form (no END), as a user who keeps only headers has it
    header.unlink()
    text.totextfile(header)
    (catalog,) = read_catalogs([sexcat])
    assert catalog.name == reference.name and catalog.rcids == reference.rcids
    assert abs(catalog.start - reference.start).to_value("s") < 1e-3
    assert catalog.pointing.separation(reference.pointing).arcsec < 0.01
    # a science image's header wins over the text one
    fits.PrimaryHDU(header=original).writeto(header.with_suffix(".fits"))
    (source,) = find_exposures([sexcat])
    assert source.files[1].name.endswith("_sciimg.fits")
    assert source.read().pointing.separation(reference.pointing).arcsec < 1e-6
