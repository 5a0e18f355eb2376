"""Readable reports and notebooks 01/02 on a real night's folder (catalogues and a Gaia file only)."""

import shutil
from pathlib import Path

import astropy.units as u
import nbformat
import numpy as np
import pytest
from astropy.table import QTable

from tests.conftest import needs_scamp
from tests.report_checks import table_problems
from ztfnb.display import show
from ztfnb.runner import run_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_show_converts_units_and_precision():
    table = QTable()
    table["airmass"] = [2.0688888888894015, 1.0]
    table["offset"] = [0.012, 0.5] * u.arcsec  # all under 1″: mas
    table["pointing"] = [12.3456, 1.0] * u.arcsec
    table["cd"] = [2.8111e-4, 2.8e-4] * u.deg / u.pix
    table["scale_change"] = [4.6e-6, -1e-7] * u.percent  # tiny fractions: ppm
    table["wavelength"] = [104.44559999999998, 33.48] * u.um
    table["worst"] = [np.nan, 0.1] * u.arcsec
    table["ok"] = [True, False]
    table["reason"] = ["a long reason", ""]
    shown = show(table)
    assert shown.names[:2] == ["reason", "airmass"]  # key columns first
    values = dict(zip(shown.names, zip(*shown.rows, strict=True), strict=True))
    units = dict(zip(shown.names, shown.units, strict=True))
    assert values["airmass"][0] == "2.069"
    assert (units["offset"], values["offset"]) == ("mas", ("12.0", "500.0"))
    assert (units["pointing"], values["pointing"][0]) == ("″", "12.346")
    assert (units["cd"], values["cd"][0]) == ("″/px", "1.0120")
    assert (units["scale change"], values["scale change"][0]) == ("ppm", "0.0")
    assert (units["wavelength"], values["wavelength"][0]) == ("µm", "104.446")
    assert values["worst"][0] == "—" and values["ok"] == ("✓", "")
    html = shown._repr_html_()
    assert "float64" not in html and "overflow-x:auto" in html and 'data-unit="mas"' in html


def test_show_bare_ppm_and_empty_table_note():
    shown = show(QTable({"anisotropy": [184.79054]}), units={"anisotropy": "ppm"})
    assert shown.units == ["ppm"] and shown.rows == [["184.8"]]
    empty = QTable(names=["injected", "flagged"], dtype=[str, int])
    empty.meta["note"] = "no truth"
    assert "no truth" in show(empty)._repr_html_()


@pytest.mark.notebook
@pytest.mark.slow
@needs_scamp
@pytest.mark.parametrize("notebook", ["01_prior_fit", "02_quality_review"])
def test_notebook_runs_on_a_real_night_without_truth(notebook, small_night, tmp_path):
    """Only catalogues and gaia.fits: exposures from the headers, no truth comparisons."""
    night = tmp_path / "real"
    night.mkdir()
    for path in [*small_night.glob("*.ldac"), small_night / "gaia.fits"]:
        shutil.copy(path, night / path.name)
    overrides = {"night_dir": str(night), "calibration_count": 2}
    if notebook == "01_prior_fit":
        overrides["compare_without_refraction"] = False
    else:
        overrides["inject_solution_failures"] = 0
    result = run_notebook(
        ROOT / "notebooks" / f"{notebook}.ipynb",
        parameters_file=ROOT / "parameters" / "ci" / f"{notebook}.yaml",
        output_dir=tmp_path / "report",
        overrides=overrides,
    )
    assert result.ok, result.error
    assert sorted(p.name for p in night.iterdir() if not p.name.endswith(".ldac")) == ["gaia.fits"]
    executed = nbformat.read(result.notebook, as_version=4)
    assert table_problems(executed) == []
    text = "\n".join(
        str(output.get("data", {}).get("text/html", "")) + str(output.get("text", ""))
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    if notebook == "01_prior_fit":
        assert "errors against the truth not measured" in text or "—" in text
        assert (tmp_path / "report" / "prior.fits").is_file()
    else:
        assert "no truth in this night" in text
        assert (tmp_path / "report" / "metrics.ecsv").is_file()


def test_a_night_folder_in_the_archive_layout_opens_as_per_exposure_catalogues(simulated, tmp_path):
    """Notebooks 01 and 02 find a night's exposures in per-quadrant files as in per-exposure ones.

    (That the prior, the solutions and the metrics are then the same is tests/test_archive_layout.py.)
    """
    from ztfnb.analyses.night import night_catalogs, night_exposures, open_night

    folders = {}
    for layout, patterns in (
        ("exposure", ["*.ldac"]),
        ("quadrant", ["*_sexcat.fits", "*_sciimg.hdr"]),
    ):
        night = simulated(exposures=2, per_quadrant=layout == "quadrant")
        folder = tmp_path / layout  # a user's folder: catalogues and Gaia only
        folder.mkdir()
        for pattern in [*patterns, "gaia.fits"]:
            for path in night.glob(pattern):
                shutil.copy(path, folder)
        assert open_night(folder) == folder  # used as it is, nothing simulated
        folders[layout] = folder
    a, b = (night_exposures(folders[k]) for k in ("exposure", "quadrant"))
    assert list(a["exposure"]) == list(b["exposure"]) and len(a) == 2
    for column in ("obsmjd", "telrad", "teldecd", "airmass"):
        assert np.array_equal(np.asarray(a[column]), np.asarray(b[column]))
    one, other = (night_catalogs(folders[k]) for k in ("exposure", "quadrant"))
    for name, catalog in one.items():
        assert catalog.rcids == other[name].rcids
        for x, y in zip(catalog.extensions, other[name].extensions, strict=True):
            assert np.array_equal(x.x, y.x) and np.array_equal(x.y, y.y)
