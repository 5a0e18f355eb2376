"""A batch's plan: the grid file read, each run checked against the notebook and named, and whether it is done.

Nothing here writes or runs anything; `ztfnb.batch` executes the plan and
`ztfnb.batchindex` lists it.
"""

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ztfnb.batchlock import new_owner
from ztfnb.manifest import Manifest
from ztfnb.parameters import ParameterError, read_yaml
from ztfnb.project import find_root
from ztfnb.provenance import sha256
from ztfnb.quantity import shown
from ztfnb.runparameters import (
    check_reserved,
    checked_parameters,
    notebook_defaults,
    parameters_file_for,
    parameters_file_sha256,
    read_notebook,
    without_output_dir,
)

__all__ = ["BatchRun", "is_done", "load_grid", "plan_batch", "run_name"]


def load_grid(path):
    """Parameter sets of a grid file.

    Returns
    -------
    list of dict

    Raises
    ------
    ParameterError
        No such file, not YAML, not a grid, or no run in it.
    """
    path = Path(path)
    content = read_yaml(path, what="grid file")
    if not isinstance(content, dict) or not content:
        raise ParameterError(f"{path}: expected a mapping of parameters to lists, or 'runs:'")
    if "runs" not in content:
        check_reserved(content, str(path))
    if "runs" in content:
        runs = content["runs"]
        if (
            set(content) != {"runs"}
            or not isinstance(runs, list)
            or not all(isinstance(r, dict) for r in runs)
        ):
            raise ParameterError(
                f"{path}: 'runs' must be the only key and hold a list of parameter mappings"
            )
        if not runs:
            raise ParameterError(f"{path}: 'runs' is an empty list: nothing to run")
        for number, values in enumerate(runs, 1):
            check_reserved(values, f"{path}, run {number}")
        return [dict(r) for r in runs]
    names = list(content)
    values = [content[n] if isinstance(content[n], list) else [content[n]] for n in names]
    if any(len(v) == 0 for v in values):
        raise ParameterError(
            f"{path}: empty list for {[n for n, v in zip(names, values, strict=True) if not v]}"
        )
    return [
        dict(zip(names, combination, strict=True)) for combination in itertools.product(*values)
    ]


def _canonical(values):
    """One text for equal parameter values: NaN equals NaN, a tuple its list, keys sorted."""
    return json.dumps(values, sort_keys=True, default=str)


def run_name(parameters):
    """A folder name from parameters: readable, and unique through a short hash."""
    canonical = json.dumps(parameters, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    readable = "_".join(f"{k}={v}" for k, v in sorted(parameters.items()))
    readable = re.sub(r"[^A-Za-z0-9=.+-]+", "-", readable).strip("-")[:80]
    return f"{readable}-{digest}" if readable else digest


@dataclass
class BatchRun:
    """One run of a batch.

    Attributes
    ----------
    name : str
        Its folder's name.
    parameters : dict
        The grid's values for it.
    folder : `~pathlib.Path`
    notebook : `~pathlib.Path`
    parameters_file : `~pathlib.Path`, list of `~pathlib.Path` or None
        The base values (the file(s) given, or the notebook's default file).
    effective : dict
        Every value it runs with but ``output_dir``: the notebook's defaults,
        the base files', the command line's and the grid's.
    reuse_kernels : bool
    base : dict
        Values given on the command line (``-y``, ``-p``, ``-r``), under the grid's.
    owner : str
        The batch's owner id (`ztfnb.batchlock.new_owner`): its temporary folders carry it.
    """

    name: str
    parameters: dict
    folder: Path
    notebook: Path
    parameters_file: Path | list | None
    effective: dict = field(default_factory=dict)
    reuse_kernels: bool = False
    base: dict = field(default_factory=dict)
    owner: str = field(default_factory=new_owner)


def plan_batch(notebook, parameter_sets, out, parameters_file=None, base=None, grid=None):
    """Check every parameter set against the notebook and name its folder.

    Nothing is written.

    Parameters
    ----------
    notebook : path-like
    parameter_sets : list of dict
    out : path-like
    parameters_file : path-like or list of path-like, optional
        Base values (default ``parameters/<notebook stem>.yaml``).
    base : dict, optional
        Values over the files' and under the grid's (the command line's ``-y``, ``-p``, ``-r``).
    grid : path-like, optional
        The grid file, named in messages about its runs.

    Returns
    -------
    list of `BatchRun`

    Raises
    ------
    InputError, ParameterError
        A missing or unreadable notebook, no parameter set, an unknown
        parameter, a bad value, two identical runs.
    """
    notebook = Path(notebook).resolve()
    read_notebook(notebook)
    if not parameter_sets:
        raise ParameterError("no runs: the grid holds no parameter set")
    parameters_file = parameters_file_for(notebook, parameters_file)
    base = dict(base or {})
    # a bad base file or command-line value is named as such
    checked_parameters(notebook, parameters_file, base, overrides_source="the command line")
    defaults = notebook_defaults(notebook)
    source = grid or "grid"  # the grid file, named in every message about one of its runs
    runs, names = [], set()
    for number, parameters in enumerate(parameter_sets, 1):
        where = f"{source}, run {number} ({shown(parameters, 60)})"
        check_reserved(parameters, where)
        values, _ = checked_parameters(
            notebook, parameters_file, {**base, **parameters}, source=where
        )
        chosen = {k: values[k] for k in parameters}  # as read: '1e-3' for a float is 0.001
        name = run_name(chosen)
        if name in names:
            raise ParameterError(
                f"{source}, run {number}: the same parameters as an earlier run: {shown(parameters)}"
            )
        names.add(name)
        runs.append(
            BatchRun(
                name,
                chosen,
                Path(out).resolve() / name,
                notebook,
                parameters_file,
                effective=without_output_dir({**defaults, **values}),
                base=base,
            )
        )
    return runs


def _sha256(path):
    """sha256 of a file, None if it cannot be read."""
    try:
        return sha256(path)
    except OSError:
        return None


def _recorded_path(name, root):
    path = Path(name)
    return (path if path.is_absolute() else Path(root) / path).resolve()


def is_done(run):
    """Whether the run's folder holds a complete report of this very run.

    The same notebook (path and sha256), the same parameters file content,
    the same values of every parameter (``output_dir`` aside; compared as
    canonical JSON, so NaN equals NaN), and input files that still have the
    recorded sha256.
    """
    manifest = Manifest.read(run.folder)
    if manifest is None or not manifest.complete:
        return False
    root = find_root(run.notebook.parent)
    if _canonical(without_output_dir(manifest.parameters)) != _canonical(run.effective):
        return False
    if _recorded_path(str(manifest.notebook), root) != run.notebook:
        return False
    if manifest.notebook_sha256 != _sha256(run.notebook):
        return False
    try:
        expected = parameters_file_sha256(run.parameters_file)
    except OSError:
        return False
    if manifest.parameters_file_sha256 != expected:
        return False
    for name, digest in manifest.inputs.items():
        if _sha256(_recorded_path(name, root)) != digest:
            return False
    return True
