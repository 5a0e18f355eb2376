"""YAML parameters and grids read as papermill's own command line reads them (dates stay text).

Oracle: ``papermill.iorw.read_yaml_file``, what ``papermill NOTEBOOK OUT -f FILE`` uses.
Data: ``tests/data/yaml`` (its README says what each file imitates).
"""

import datetime
import json
import shutil
from pathlib import Path

import pytest
from papermill.iorw import read_yaml_file

from ztfnb.batch import load_grid, run_batch
from ztfnb.cli import main
from ztfnb.parameters import ParameterError, check_parameters, load_parameters

DATA = Path(__file__).parent / "data" / "yaml"
READABLE = ["typed", "timestamps", "nested", "grid"]


@pytest.mark.parametrize("name", READABLE)
def test_values_are_papermills(name):
    path = DATA / f"{name}.yaml"
    assert load_parameters(path) == read_yaml_file(str(path))


def test_an_explicit_timestamp_tag_is_kept_as_written_too():
    values = load_parameters(DATA / "spaced.yaml")
    assert values == {"night": "2023-10-17 21:24:51.25 -07:00", "start": "2023-10-18"}
    oracle = read_yaml_file(str(DATA / "spaced.yaml"))
    assert oracle["night"] == values["night"]
    assert oracle["start"] == datetime.date(2023, 10, 18)  # papermill would pass a date here


def test_typed_and_untyped_parameters_accept_the_dates(tmp_path):
    notebook = DATA / "dates.ipynb"
    for name in ("typed", "timestamps", "nested", "spaced"):
        values = load_parameters(DATA / f"{name}.yaml")
        check_parameters(notebook, values, source=name)
        json.dumps(values)  # what the manifest does


def test_a_grid_of_dates_is_strings():
    assert load_grid(DATA / "grid.yaml") == [{"start": "2023-10-18"}, {"start": "2023-10-19"}]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("binary", r"binary\.yaml: start is binary data \(!!binary\)"),
        ("set", r"set\.yaml: start is a set \(!!set\)"),
    ],
)
def test_values_no_manifest_can_hold_are_refused_naming_them(name, message):
    with pytest.raises(ParameterError, match=message):
        load_parameters(DATA / f"{name}.yaml")
    with pytest.raises(ParameterError, match=message):
        load_grid(DATA / f"{name}.yaml")


def test_a_key_yaml_reads_as_a_number_is_refused_in_one_line(tmp_path, capsys):
    notebook = shutil.copy(DATA / "dates.ipynb", tmp_path)
    code = main(
        ["run", str(notebook), "-p", str(DATA / "numberkey.yaml"), "-o", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "a parameter name must be a word, got 2023" in err
    assert "\n" not in err and not (tmp_path / "o").exists()


def _printed(notebook):
    cells = json.loads(Path(notebook).read_text())["cells"]
    return "".join(
        "".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", [])
    )


def test_run_and_batch_pass_the_strings_papermill_passes(tmp_path):
    notebook = shutil.copy(DATA / "dates.ipynb", tmp_path)
    oracle = read_yaml_file(str(DATA / "timestamps.yaml"))
    assert (
        main(["run", str(notebook), "-p", str(DATA / "timestamps.yaml"), "-o", str(tmp_path / "r")])
        == 0
    )
    printed = _printed(tmp_path / "r" / "dates.ipynb")
    assert f"night {oracle['night']!r} str" in printed
    assert f"start {oracle['start']!r} str" in printed

    table = run_batch(
        notebook, load_grid(DATA / "grid.yaml"), tmp_path / "b", workers=1, progress=False
    )
    assert list(table["status"]) == ["complete", "complete"]
    for folder, day in zip(sorted((tmp_path / "b").glob("start=*")), ("18", "19"), strict=True):
        assert f"start '2023-10-{day}' str" in _printed(folder / "dates.ipynb")
        assert (
            json.loads((folder / "manifest.json").read_text())["parameters"]["start"]
            == f"2023-10-{day}"
        )
