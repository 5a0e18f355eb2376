"""The papermill runner: parameters checked before a kernel starts, failures kept and marked."""

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ztfnb.cli import main
from ztfnb.parameters import check_parameters, notebook_parameters
from ztfnb.provenance import sha256
from ztfnb.quantity import ParameterError
from ztfnb.runner import checked_parameters, default_output_dir, new_report_dir, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _notebook(path, parameters, body):
    document = new_notebook()
    document.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    document.cells = [cell, new_code_cell(body)]
    nbformat.write(document, path)
    return path


PARAMETERS = 'exposure: str = "30 min"  # a time\ncount: int = 3  # how many\nlabel: str = "zr"  # a filter\noutput_dir: str = ""  # report folder'


def test_unknown_parameters_are_named(tmp_path):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    # a misspelling is named with the declared name it is closest to (difflib's ratio)
    with pytest.raises(
        ParameterError, match=r"unknown parameter\(s\) cuont \(did you mean count\?\), extra for"
    ):
        check_parameters(notebook, {"cuont": 4, "extra": 1, "count": 2}, source="p.yaml")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"count": "three"}, "count must be int"),
        ({"count": 2.5}, "count must be int"),
        ({"exposure": "30 m"}, "exposure: '30 m' has unit m"),
        ({"exposure": 30}, "exposure must be str"),
        ({"label": 5}, "label must be str"),
    ],
)
def test_values_of_the_wrong_type_or_unit_are_refused(tmp_path, values, message):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    with pytest.raises(ParameterError, match=message):
        check_parameters(notebook, values)
    check_parameters(notebook, {"exposure": "2 h", "count": 5, "label": "zg"})  # good values pass


def test_a_parameter_papermill_cannot_read_is_an_error(tmp_path):
    notebook = _notebook(
        tmp_path / "n.ipynb", "ratio: float = 0.5  # where x = 2 y\n", "print(ratio)"
    )
    with pytest.raises(ParameterError, match=r"papermill cannot read parameter.*ratio"):
        notebook_parameters(notebook)


def test_a_run_writes_notebook_html_and_manifest(tmp_path):
    notebook = _notebook(
        tmp_path / "n.ipynb",
        PARAMETERS,
        "from pathlib import Path\nPath(output_dir, 'result.txt').write_text(str(count * 2))\nprint('done', exposure)",
    )
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"count": 21, "exposure": "1 h"}))
    result = run_notebook(
        notebook, parameters_file=tmp_path / "p.yaml", output_dir=tmp_path / "report"
    )
    assert result.ok, result.error
    folder = tmp_path / "report"
    assert (folder / "result.txt").read_text() == "42"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["parameters"] == {  # every value used: the defaults with the file's over them
        "exposure": "1 h",
        "count": 21,
        "label": "zr",
        "output_dir": str(folder.resolve()),
    }
    assert set(manifest["versions"]) >= {
        "python",
        "numpy",
        "astropy",
        "scamp",
        "ztfnb",
        "papermill",
    }
    for name, digest in manifest["outputs"].items():
        assert sha256(folder / name) == digest
    assert {"n.ipynb", "n.html", "result.txt", "run.log"} <= set(manifest["outputs"])
    assert "done 1 h" in (folder / "run.log").read_text()
    assert not list(folder.glob(".*"))  # no partial files left


def test_a_failing_cell_fails_the_command_and_keeps_the_partial_report(tmp_path, capsys):
    notebook = _notebook(
        tmp_path / "bad.ipynb",
        PARAMETERS,
        "print('before')\nraise ValueError('the night was cloudy')",
    )
    (tmp_path / "p.yaml").write_text("count: 1\n")
    code = main(
        ["run", str(notebook), "-p", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "report")]
    )
    assert code == 1
    assert "ValueError: the night was cloudy" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "the night was cloudy" in manifest["error"]
    executed = nbformat.read(tmp_path / "report" / "bad.ipynb", as_version=4)
    assert any("before" in str(cell.get("outputs")) for cell in executed.cells)
    assert (tmp_path / "report" / "bad.html").is_file()


def test_cli_refuses_unknown_parameters_before_running(tmp_path, capsys):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    (tmp_path / "p.yaml").write_text("count: 1\ncolour: red\n")
    assert (
        main(["run", str(notebook), "-p", str(tmp_path / "p.yaml"), "-o", str(tmp_path / "r")]) == 2
    )
    assert "unknown parameter(s) colour" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_clean_and_thin(notebook):
    document = nbformat.read(notebook, as_version=4)
    nbformat.validate(document)
    assert (document.nbformat, document.nbformat_minor) == (4, 5)
    assert document.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in document.cells if cell.cell_type == "code"]
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in code) == 1
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None
        assert "def " not in cell.source and "class " not in cell.source, (
            "notebooks call the package; no definitions"
        )
        assert "sys.path" not in cell.source and "os.environ" not in cell.source


def _parameter_files():
    files = sorted((ROOT / "parameters").glob("*.yaml")) + sorted(
        (ROOT / "parameters" / "ci").glob("*.yaml")
    )
    return files


@pytest.mark.parametrize("parameters", _parameter_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_parameters_file_matches_its_notebook(parameters):
    notebook = ROOT / "notebooks" / f"{parameters.stem}.ipynb"
    assert notebook.is_file(), f"{parameters} has no notebook"
    check_parameters(notebook, yaml.safe_load(parameters.read_text()) or {}, source=str(parameters))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_parameters_for_reports_and_for_ci(notebook):
    assert (ROOT / "parameters" / f"{notebook.stem}.yaml").is_file()
    assert (ROOT / "parameters" / "ci" / f"{notebook.stem}.yaml").is_file()


def test_an_output_folder_holding_the_notebook_is_refused(tmp_path, monkeypatch, capsys):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    before = notebook.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["run", "n.ipynb", "-o", "."]) == 2
    assert "would replace the notebook itself" in capsys.readouterr().err
    assert notebook.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.ipynb"]


def test_a_file_that_is_not_a_notebook_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "empty.ipynb").write_text("{}")
    assert main(["run", str(tmp_path / "empty.ipynb"), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty.ipynb: not a Jupyter notebook" in err
    assert not (tmp_path / "r").exists()


def test_folders_named_by_parameters_are_hashed_only_when_small_inputs(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "big.bin").write_bytes(b"0" * 1000)
    notebook = _notebook(
        tmp_path / "notebooks" / "n.ipynb",
        'data: str = "data"  # input folder (a default is an input too)\n'
        'work: str = ""  # a working folder\ntop: str = ""  # another\n'
        'output_dir: str = ""  # report folder',
        "print(data, work, top)",
    )
    result = run_notebook(
        notebook, output_dir=tmp_path / "report", overrides={"work": ".", "top": "/"}
    )
    assert result.ok, result.error
    manifest = result.manifest
    assert manifest["inputs"]["data/a.txt"] == sha256(tmp_path / "data" / "a.txt")
    assert set(manifest["inputs"]) == {"notebooks/n.ipynb", "data/a.txt"}  # no .venv, no /
    assert set(manifest["inputs_not_hashed"]) == {str(tmp_path.resolve()), "/"}


def test_a_night_in_the_archive_layout_is_hashed_as_an_input(tmp_path):
    # two files per readout quadrant: 8 exposures make 1,024 files, a night a user names
    from ztfnb.manifest import MAX_FOLDER_BYTES, input_paths

    night = tmp_path / "night"
    night.mkdir()
    for exposure in range(8):
        for rcid in range(64):
            for kind in ("sexcat.fits", "sciimg.hdr"):
                (night / f"e{exposure}_q{rcid}_{kind}").write_text("x")
    paths, skipped = input_paths({"night_dir": str(night)}, tmp_path, tmp_path / "report")
    assert paths == [night.resolve()] and not skipped
    assert MAX_FOLDER_BYTES <= 2 * 1024**3  # what bounds the hashing time instead


def test_two_runs_in_the_same_second_get_their_own_folders(tmp_path):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    now = datetime.datetime.now()
    taken = set()
    for seconds in range(30):  # another run's folders for this second and the next ones
        folder = default_output_dir(notebook, tmp_path, now + datetime.timedelta(seconds=seconds))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text("{}")
        taken.add(folder)
    result = run_notebook(notebook)
    assert result.ok and result.output_dir not in taken
    assert result.output_dir.name.rsplit("-", 1)[0] in {f.name for f in taken}
    assert all((folder / "manifest.json").read_text() == "{}" for folder in taken)
    assert new_report_dir(tmp_path / "x") != new_report_dir(tmp_path / "x")


_NETWORK = re.compile(r"https?://[^\s\"'<>)]+")


def test_the_report_html_loads_nothing_from_the_network(tmp_path):
    notebook = _notebook(
        tmp_path / "n.ipynb",
        PARAMETERS,
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "from IPython.display import SVG, display\nimport io\n"
        "plt.plot([1, 2], [3, 4])\nbuffer = io.StringIO()\nplt.savefig(buffer, format='svg')\n"
        "display(SVG(buffer.getvalue()))",
    )
    document = nbformat.read(notebook, as_version=4)
    document.cells.append(new_markdown_cell("The flux $F = L / 4 \\pi D_L^2$."))
    nbformat.write(document, notebook)
    result = run_notebook(notebook, output_dir=tmp_path / "report")
    assert result.ok, result.error
    page = result.html.read_text()
    assert "<svg" in page or "data:image/svg+xml" in page  # the figure is in the page
    # comments in nbconvert's CSS cite web pages; they load nothing
    code = re.sub(r"/\*.*?\*/|<!--.*?-->", "", page, flags=re.S)
    outside = {url for url in _NETWORK.findall(code) if not url.startswith("http://www.w3.org/")}
    assert not outside
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", code)  # protocol-relative


def test_a_yaml_exponent_is_a_number_for_a_float_parameter(tmp_path):
    notebook = _notebook(
        tmp_path / "n.ipynb",
        "scale: float = 0.1  # a float\nlabel: str = 'x'  # text",
        "print(scale)",
    )
    (tmp_path / "p.yaml").write_text("scale: 1e-3\nlabel: 1e-3\n")  # YAML 1.1 reads both as text
    values, _ = checked_parameters(notebook, tmp_path / "p.yaml")
    assert values == {"scale": 0.001, "label": "1e-3"}
    (tmp_path / "bad.yaml").write_text("scale: 1e-3 s\n")
    with pytest.raises(ParameterError, match="scale must be float"):
        checked_parameters(notebook, tmp_path / "bad.yaml")


def test_prior_without_an_action_prints_the_prior_help(capsys):
    assert main(["prior"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: ztfnb prior") and "fit" in out and "ahead" in out


def test_a_run_killed_with_sigkill_leaves_nothing_in_tmp_or_the_runtime_folder(tmp_path):
    """The kernel's connection file and sockets are in the report's own folder."""
    started = tmp_path / "started"
    notebook = _notebook(
        tmp_path / "n.ipynb",
        PARAMETERS,
        f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(60)",
    )
    temporary, runtime = tmp_path / "tmp", tmp_path / "runtime"
    temporary.mkdir()
    runtime.mkdir()
    environment = {**os.environ, "TMPDIR": str(temporary), "JUPYTER_RUNTIME_DIR": str(runtime)}
    environment.pop("XDG_RUNTIME_DIR", None)
    command = [sys.executable, "-m", "ztfnb", "run", str(notebook), "-o", str(tmp_path / "r")]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not started.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert started.exists()
        # the connection file is in the report's folder, or (a path too long for a socket, as
        # under pytest-xdist) in a private folder of the run's own
        kernel = list((tmp_path / "r").glob(".kernel-*/kernel.json")) or list(
            Path("/tmp").glob(f"ztfnb-kernel-p{process.pid}-*/kernel.json")
        )
        assert kernel
        os.kill(process.pid, signal.SIGKILL)  # the run alone: its kernel notices and exits
        process.wait()
        assert not list(temporary.iterdir()) and not list(runtime.iterdir())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_report_linking_outside_its_folder_fails(tmp_path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not the report's")
    notebook = _notebook(
        tmp_path / "n.ipynb",
        PARAMETERS,
        f"import os\nos.symlink({str(outside)!r}, os.path.join(output_dir, 'table.txt'))",
    )
    result = run_notebook(notebook, output_dir=tmp_path / "report")
    assert result.status == "failed" and "table.txt leads outside" in result.error


def test_overwrite_lets_a_run_into_a_folder_of_other_files(tmp_path):
    notebook = _notebook(tmp_path / "n.ipynb", PARAMETERS, "print(count)")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["run", str(notebook), "-o", str(tmp_path / "mine"), "--overwrite"]) == 0
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "mine" / "manifest.json").is_file()
    # a report folder is a report's: a second run into it needs no flag
    assert main(["run", str(notebook), "-o", str(tmp_path / "mine")]) == 0
