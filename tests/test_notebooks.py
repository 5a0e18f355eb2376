"""Every notebook runs headless through papermill on its small CI parameters."""

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.report_checks import screenshot_report, table_problems
from ztfnb.runner import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_into_a_complete_report(notebook, tmp_path):
    parameters = ROOT / "parameters" / "ci" / f"{notebook.stem}.yaml"
    values = yaml.safe_load(parameters.read_text()) or {}
    # everything the run writes goes under tmp_path, not into the checkout
    overrides = {
        key: str(tmp_path / Path(value).name)
        for key, value in values.items()
        if key.endswith("_dir")
    }
    result = run_notebook(
        notebook, parameters_file=parameters, output_dir=tmp_path / "report", overrides=overrides
    )
    assert result.ok, result.error
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    executed = nbformat.read(result.notebook, as_version=4)
    images = sum(
        "image/png" in output.get("data", {})
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    assert images >= 1, "the report embeds its figures"
    errors = [
        o
        for cell in executed.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    # readable: every table with units where its quantity has one, no dtype rows
    assert table_problems(executed) == []
    # looked at in Chromium at 1,400 px: nothing off-screen to the right
    shot = screenshot_report(tmp_path / "report" / f"{notebook.stem}.html", notebook.stem)
    if shot is not None:
        assert shot[1] <= 1400, f"{notebook.stem} is {shot[1]} px wide (screenshot {shot[0]})"
