"""The real SCAMP reads a simulated catalogue and pattern-matches it from the rough header WCS."""

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.time import Time
from astropy.wcs import WCS

from tests.conftest import needs_scamp
from ztfnb.io import read_gaia, read_header_blocks, read_ldac
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.reference import reference_at_epoch, select_cone
from ztfnb.scamp import ScampNotFoundError, find_scamp, run_scamp
from ztfnb.simulate import TrueMapping


def _solved_wcs(image_header, solution):
    header = image_header.copy()
    for key in list(header):
        if key.startswith(("CD", "CRPIX", "CRVAL", "CTYPE", "PV", "CDELT", "PC")):
            del header[key]
    header.update(solution)
    return WCS(header)


@needs_scamp
@pytest.mark.scamp
def test_scamp_solves_a_simulated_exposure_from_the_rough_wcs(dense_exposure, tmp_path):
    exposure = QTable.read(dense_exposure / "exposures.ecsv")[0]
    catalogue = tmp_path / f"{exposure['exposure']}.ldac"
    shutil.copy(dense_exposure / f"{exposure['exposure']}.ldac", catalogue)
    centre = SkyCoord(exposure["telrad"], exposure["teldecd"])
    epoch = Time(exposure["obsmjd"].value, format="mjd", scale="utc")
    reference = reference_at_epoch(
        select_cone(read_gaia(dense_exposure / "gaia.fits"), centre, 6 * u.deg), epoch
    )
    write_scamp_reference(
        tmp_path / "gaia.ldac", reference[reference["phot_g_mean_mag"] < 20 * u.mag]
    )

    run = run_scamp(
        catalogue,
        tmp_path / "gaia.ldac",
        {"MATCH": "Y", "CROSSID_RADIUS": "6", "DISTORT_DEGREES": "3"},
    )
    assert run.solved, run.stderr[-2000:]
    fields = run.fields
    assert fields["AS_Contrast"][0] > 5 and fields["XY_Contrast"][0] > 5
    sigma = np.asarray(fields["AstromSigma_Reference"][0])
    assert np.all(sigma < 0.15)  # arcsec

    truth = TrueMapping.read(dense_exposure / "truth" / f"{exposure['exposure']}.fits")
    grid = np.meshgrid(np.linspace(1, 3072, 7), np.linspace(1, 3080, 7))
    worst = []
    for extension, solution in zip(read_ldac(catalogue), read_header_blocks(run.head), strict=True):
        ra, dec = _solved_wcs(extension.header, solution).all_pix2world(
            grid[0].ravel(), grid[1].ravel(), 1
        )
        true = truth.pixel_to_sky(extension.header["RCID"], grid[0].ravel(), grid[1].ravel())
        worst.append(SkyCoord(ra * u.deg, dec * u.deg).separation(true).arcsec.max())
    worst = np.array(worst)
    assert len(worst) == 64
    assert np.sum(worst < 0.5) >= 60, np.round(np.sort(worst)[-8:], 2)


def test_missing_scamp_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ScampNotFoundError, match="apt-get install scamp"):
        find_scamp()
