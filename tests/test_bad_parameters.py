"""Bad parameters are refused in one line naming the file and the field, before any kernel starts.

The cases come from `tests.badparameters` (reserved parameters at every level,
YAML alias bombs, huge files and values, non-mappings, binary junk, deep
nesting, an output folder holding a user's file); each is checked by
`tests.refusals.refused`: exit 2, one line, no traceback, nothing written.
"""

import psutil
import pytest

from tests.badparameters import cases, materialise, project
from tests.refusals import refused

CASES = list(cases())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_parameters_are_refused_in_one_line(case, tmp_path, capsys):
    project(tmp_path)
    argv = materialise(case, tmp_path)
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    refused(
        argv,
        names=case.names,
        watch=[tmp_path],
        absent=[tmp_path / "out", tmp_path / "reports"],
        capsys=capsys,
    )
    # refused before a kernel starts: no process was started (pytest-timeout catches a bomb
    # that expands; no timing here, which a loaded machine would fail)
    assert {child.pid for child in psutil.Process().children(recursive=True)} <= before
