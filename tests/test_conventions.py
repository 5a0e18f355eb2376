"""The habits people bring: papermill's -p/-r/-f/-y, progress, quantities on the command line,
``ztfnb lab``, and notebooks that find the project's folders from any working folder."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import astropy.units as u
import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.browser import free_port
from ztfnb.cli import build_parser, lab_command, main
from ztfnb.parameters import command_line_value
from ztfnb.project import project_path

ROOT = Path(__file__).resolve().parents[1]
OST = ROOT / "notebooks" / "03_ost_simulation.ipynb"

PARAMETERS = """\
a: int = 0  # from the files
b: str = "x"  # from -y
c: float = 0.0  # from -p over -y
d: str = ""  # from -r
e: bool = False  # from -p
output_dir: str = ""  # report folder
"""
BODY = (
    "for name in 'abcde':\n    print(name, repr(globals()[name]), type(globals()[name]).__name__)"
)


def _notebook(path):
    document = new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}  # fmt: skip
    cell = new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    document.cells = [cell, new_code_cell(BODY)]
    nbformat.write(document, path)
    return path


def _printed(notebook):
    cells = json.loads(Path(notebook).read_text())["cells"]
    return "".join(
        "".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize(
    "text", ["3", "-3", "3.5", "1e-3", "1_000", " 7 ", "True", "False", "None", "true", "nan",
             "inf", "0x10", "007", "3 deg", "", "nights/default"],
)  # fmt: skip
def test_values_are_typed_as_papermill_types_them(text):
    from papermill.cli import _resolve_type

    value, expected = command_line_value(text), _resolve_type(text)
    assert type(value) is type(expected)
    assert value == expected or (value != value and expected != expected)  # NaN


@pytest.mark.notebook
def test_files_then_yaml_then_p_then_r_and_p_with_a_yaml_file(tmp_path, capsys, monkeypatch):
    notebook = _notebook(tmp_path / "n.ipynb")
    (tmp_path / "one.yaml").write_text("a: 1\nb: from-one\nc: 1.0\n")
    (tmp_path / "two.yml").write_text("a: 2\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # progress is on at a terminal
    code = main(
        ["run", str(notebook), "-p", str(tmp_path / "one.yaml"), "-f", str(tmp_path / "two.yml"),
         "-y", "b: from-y\nc: 2.5", "-p", "c", "3", "-p", "e", "True", "-r", "d", "007",
         "-o", str(tmp_path / "r")],
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    printed = _printed(tmp_path / "r" / "n.ipynb")
    for line in ("a 2 int", "b 'from-y' str", "c 3 int", "d '007' str", "e True bool"):
        assert line in printed
    assert "n: 3 of 3 cells done" in err and "elapsed" in err
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["parameters_file"] == ["one.yaml", "two.yml"]  # in the order read
    assert len(manifest["parameters_file_sha256"]) == 2
    assert set(manifest["inputs"]) >= set(manifest["parameters_file"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-p", "colour", "red"], "the command line: unknown parameter(s) colour for n.ipynb"),
        (["-p", "d", "007"], "the command line: parameter d must be str, got 7 (int)"),
        (["-y", "a: [1"], "-y 'a: [1': not valid YAML"),
        (["-y", "[1, 2]"], "expected a mapping of parameter names to values, got list"),
        (["-f", "missing.yaml"], "missing.yaml: no such parameters file"),
        (["-p", "a"], "argument -p/--parameters: expected 2 arguments"),
    ],
)
def test_bad_names_and_values_are_refused_before_a_kernel_starts(tmp_path, capsys, arguments, message):  # fmt: skip
    notebook = _notebook(tmp_path / "n.ipynb")
    try:
        code = main(["run", str(notebook), *arguments, "-o", str(tmp_path / "r")])
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.notebook
def test_ost_notebook_with_p_redshift_3(tmp_path, capsys):
    ci = ROOT / "parameters" / "ci" / "03_ost_simulation.yaml"
    code = main(
        ["run", str(OST), "-f", str(ci), "-p", "redshift", "3", "-y", "integration_time: 2 h",
         "-o", str(tmp_path / "r"), "--no-progress"],
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "cells done" not in err
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    expected = {**yaml.safe_load(ci.read_text()), "redshift": 3, "integration_time": "2 h"}
    assert {k: manifest["parameters"][k] for k in expected} == expected
    assert manifest["parameters_file"] == "parameters/ci/03_ost_simulation.yaml"


@pytest.mark.notebook
def test_batch_takes_base_values_from_the_command_line(tmp_path, capsys):
    notebook = _notebook(tmp_path / "n.ipynb")
    (tmp_path / "grid.yaml").write_text("a: [5]\n")
    code = main(
        ["batch", str(notebook), "--grid", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "b"),
         "--workers", "1", "--no-progress", "-p", "a", "1", "-r", "b", "z", "-y", "c: 0.5"],
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (folder,) = (tmp_path / "b").glob("a=5*")
    parameters = json.loads((folder / "manifest.json").read_text())["parameters"]
    assert (parameters["a"], parameters["b"], parameters["c"]) == (5, "z", 0.5)  # the grid's last


def test_progress_is_on_at_a_terminal_and_can_be_turned_off():
    parser = build_parser()
    assert parser.parse_args(["run", "n.ipynb"]).progress is None  # then: stderr.isatty()
    assert parser.parse_args(["run", "n.ipynb", "--progress"]).progress is True
    assert parser.parse_args(["run", "n.ipynb", "--no-progress"]).progress is False


@pytest.mark.parametrize(
    ("text", "arcsec"), [("0.2 arcsec", 0.2), ("0.2arcsec", 0.2), ("200 mas", 0.2), ("0.2", 0.2)]
)
def test_thresholds_take_quantities(text, arcsec):
    args = build_parser().parse_args(
        ["quality", "c.ldac", "--heads", "h", "--gaia", "g", "--out", "m.ecsv",
         "--max-rms", text, "--max-scale-change", "0.5 %"],
    )  # fmt: skip
    assert args.max_rms.to_value(u.arcsec) == pytest.approx(arcsec)
    assert args.max_scale_change == pytest.approx(0.5)


def test_simulator_angles_and_fractions_take_quantities(capsys):
    args = build_parser().parse_args(
        ["simulate", "--out", "n", "--seed", "1", "--field-rotation", "18 arcmin",
         "--header-scale-error", "1.5 %", "--header-rotation-error", "0.1"],
    )  # fmt: skip
    assert args.field_rotation == pytest.approx(0.3)
    assert args.header_scale_error == pytest.approx(0.015)
    assert args.header_rotation_error == pytest.approx(0.1)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["quality", "c", "--heads", "h", "--gaia", "g", "--out", "m", "--max-rms", "1 m"])  # fmt: skip
    assert "has unit m (length), expected arcsec" in capsys.readouterr().err


def test_lab_command_opens_notebooks_with_this_interpreter(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # outside a checkout: the package's own is used
    assert main(["lab", "--print-command", "--port", "8890", "--", "--ServerApp.ip=127.0.0.1"]) == 0
    printed = capsys.readouterr().out.strip()
    root = project_path(".", start=Path(__file__).parent).resolve()
    assert printed.startswith(f"cd {root} && {sys.executable} -m jupyterlab")
    assert f"--ServerApp.root_dir={root}" in printed
    for option in ("--ContentsManager.preferred_dir=notebooks", "--port=8890", "--ServerApp.ip=127.0.0.1"):  # fmt: skip
        assert option in printed
    assert "--no-browser" in lab_command(root, no_browser=True)


@pytest.mark.slow
def test_lab_starts_on_notebooks_and_stops(tmp_path):
    port, token = free_port(), "ztfnb-lab-test"
    command = [sys.executable, "-m", "ztfnb", "lab", "--no-browser", "--port", str(port)]
    command += ["--allow-root"] if os.geteuid() == 0 else []
    command += ["--", f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with open(tmp_path / "lab.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT / "notebooks", env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.3)
        page = urllib.request.urlopen(f"{url}/lab?token={token}", timeout=20).read().decode()
        assert '"preferredPath": "notebooks"' in page
        specs = json.loads(urllib.request.urlopen(f"{url}/api/kernelspecs?token={token}").read())
        assert specs["default"] == "python3"
    finally:
        process.send_signal(signal.SIGTERM)  # our own child (ztfnb lab exec'd JupyterLab)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.notebook
def test_a_notebook_run_in_notebooks_finds_the_default_night(simulated, tmp_path):
    """As JupyterLab runs it: the kernel's working folder is the notebook's own."""
    import papermill

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    notebook = shutil.copy(ROOT / "notebooks" / "00_simulated_night.ipynb", project / "notebooks")
    night = shutil.copytree(simulated(exposures=1), project / "nights" / "default")
    recorded = json.loads((night / "simulation.json").read_text())
    made = (night / "simulation.json").stat().st_mtime_ns
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / "out.ipynb"),
        parameters={
            "seed": recorded["seed"],
            "exposures": recorded["exposures"],
            "failures": recorded["failures"],
            "density": f"{recorded['density']} deg-2",
        },  # night_dir keeps its default, "nights/default"
        cwd=str(project / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    assert not (project / "notebooks" / "nights").exists()  # not simulated again beside it
    assert (night / "simulation.json").stat().st_mtime_ns == made  # the night was used as it is
    assert project_path("nights/default", start=project / "notebooks") == night
