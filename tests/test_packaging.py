"""Set-up files agree with each other; the command line answers --help everywhere."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ztfnb.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {}
NOT_PYTHON = {
    "python",
    "pip",
    "astromatic-scamp",
    "astromatic-source-extractor",
    "astromatic-swarp",
}


def _split(requirement):
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        wanted += extra
    pyproject = {CONDA_NAMES.get(name, name): spec for name, spec in map(_split, wanted)}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(d) for d in environment["dependencies"] if isinstance(d, str))
    assert {k: v for k, v in conda.items() if k not in NOT_PYTHON} == pyproject
    assert "conda-forge" in environment["channels"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make reports" in readme and "make test" in readme


def _subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


@pytest.mark.parametrize(
    "command", [(), *_subcommands(build_parser())], ids=lambda c: " ".join(c) or "ztfnb"
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*command, "--help"])
    assert stop.value.code == 0
    assert "usage: ztfnb" in capsys.readouterr().out


def test_python_dash_m_ztfnb():
    result = subprocess.run(
        [sys.executable, "-m", "ztfnb", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("ztfnb ")
