"""The values a report runs with: parameters files and the command line, checked against the notebook.

A notebook's parameters are the literal assignments of its ``parameters``
cell (`ztfnb.parameters.notebook_parameters`); values come from the
parameters file(s) (default ``parameters/<notebook stem>.yaml``), then the
command line, and are checked against the declared types before a kernel
starts. `ztfnb.runner` executes with them; `ztfnb.batchplan` checks a grid's
runs with them.
"""

import os
import re
import warnings
from pathlib import Path

from ztfnb.io.errors import InputError
from ztfnb.parameters import (
    ParameterError,
    check_parameters,
    load_parameters,
    notebook_parameters,
)
from ztfnb.project import find_root
from ztfnb.provenance import sha256

__all__ = [
    "RESERVED",
    "check_reserved",
    "checked_parameters",
    "files_record",
    "notebook_defaults",
    "parameters_file_for",
    "parameters_file_sha256",
    "parameters_files",
    "read_notebook",
    "without_output_dir",
]

#: Parameters the runner sets itself; a parameters file, a grid or the command line may not.
RESERVED = {
    "output_dir": "the runner sets it to the report's folder (choose that with -o or --out)",
}


def read_notebook(notebook):
    """Read a notebook, refusing a file that is not one with a one-line error.

    Parameters
    ----------
    notebook : path-like

    Returns
    -------
    `nbformat.NotebookNode`

    Raises
    ------
    InputError
        No such file, or not a Jupyter notebook nbformat can read.
    """
    import nbformat

    notebook = Path(notebook)
    if not notebook.is_file():
        raise InputError("no such notebook", path=notebook)
    try:
        with warnings.catch_warnings():
            # papermill reads it again and reports its warnings; here only errors count
            warnings.simplefilter("ignore")
            return nbformat.read(str(notebook), as_version=4)
    except Exception as error:  # nbformat raises JSON, schema, key and type errors alike
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise InputError(f"not a Jupyter notebook ({reason})", path=notebook) from None


def parameters_file_for(notebook, parameters_file=None):
    """The parameters file(s) a run uses: those given, else ``parameters/<stem>.yaml`` under the root.

    Parameters
    ----------
    notebook : path-like
    parameters_file : path-like or list of path-like, optional
        Several files are read in order, each over the ones before (papermill's ``-f``).

    Returns
    -------
    `~pathlib.Path`, list of `~pathlib.Path` (when several were given) or None
    """
    files = parameters_files(parameters_file)
    if len(files) == 1:
        return files[0]
    if files:
        return files
    candidate = (
        find_root(Path(notebook).resolve().parent) / "parameters" / f"{Path(notebook).stem}.yaml"
    )
    return candidate if candidate.is_file() else None


def parameters_files(parameters_file):
    """The parameters files as a list of resolved paths (none, one or several).

    Parameters
    ----------
    parameters_file : path-like, list of path-like or None

    Returns
    -------
    list of `~pathlib.Path`
    """
    if parameters_file is None:
        return []
    if isinstance(parameters_file, str | os.PathLike):
        parameters_file = [parameters_file]
    return [Path(path).resolve() for path in parameters_file]


def files_record(parameters_file, record):
    """How a manifest names the parameters file(s): one value for one file, a list for several."""
    values = [record(path) for path in parameters_files(parameters_file)]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def parameters_file_sha256(parameters_file):
    """The manifest's ``parameters_file_sha256``: a digest, a list of them for several files, or None."""
    return files_record(parameters_file, sha256)


# the digits before and after the dot cannot trade places: a long non-number fails in linear time
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _read_numbers(values, declared):
    """Numbers YAML read as text, as floats where the notebook expects a number.

    YAML 1.1 (PyYAML) reads ``1e-3`` — no dot — as a string; a user who wrote
    it for a float parameter means the number.
    """
    result = dict(values)
    for name, value in values.items():
        info = declared.get(name)
        if not isinstance(value, str) or len(value) > 100 or info is None:
            continue
        if not _NUMBER.match(value.strip()):
            continue
        kind = info["type"].split("[")[0].split("|")[0].strip()
        default = info["default"]
        number_default = isinstance(default, int | float) and not isinstance(default, bool)
        if kind == "float" or (kind in ("None", "") and number_default):
            result[name] = float(value)
    return result


def check_reserved(values, source):
    """Refuse a parameter the runner sets itself (`RESERVED`), naming where it was given.

    A report writes only into its own folder: were ``output_dir`` taken from a
    file, a notebook would write its tables wherever that file says.

    Raises
    ------
    ParameterError
    """
    for name in values:
        if name in RESERVED:
            raise ParameterError(f"{source}: parameter {name} cannot be given: {RESERVED[name]}")


def checked_parameters(
    notebook, parameters_file=None, overrides=None, source=None, overrides_source=None
):
    """The values a run injects: the files', under ``overrides``, checked against the notebook.

    Each file's values are checked under the file's name and the overrides
    under their own, so that an unknown name or a bad value is reported
    where it was written.

    Parameters
    ----------
    notebook : path-like
    parameters_file : path-like, list of path-like or None
        Used as given (see `parameters_file_for` for the default); several
        are read in order, each over the ones before.
    overrides : dict, optional
        Over the files' values (papermill's precedence: files, then ``-y``,
        ``-p`` and ``-r``, merged by the caller).
    source : str, optional
        Where the overrides came from, for messages (a batch's grid run).
    overrides_source : str, optional
        The same, when ``source`` is not given.

    Returns
    -------
    values : dict
    declared : dict
        As `ztfnb.parameters.notebook_parameters`.

    Raises
    ------
    ParameterError
    """
    declared = notebook_parameters(notebook)
    values = {}
    for path in parameters_files(parameters_file):
        given = load_parameters(path)
        check_reserved(given, str(path))
        given = _read_numbers(given, declared)
        check_parameters(notebook, given, source=str(path))
        values.update(given)
    if overrides:
        where = source or overrides_source or "parameters"
        check_reserved(overrides, where)
        given = _read_numbers(dict(overrides), declared)
        check_parameters(notebook, given, source=where)
        values.update(given)
    return values, declared


def notebook_defaults(notebook):
    """The literal defaults of a notebook's ``parameters`` cell.

    A default that is an expression (``np.arange(3)``) is left out: its value
    is known only in the kernel, and the notebook's sha256 records it.

    Returns
    -------
    dict
        name → value.
    """
    return {
        name: info["default"]
        for name, info in notebook_parameters(notebook).items()
        if info["literal"]
    }


def without_output_dir(values):
    """Parameter values without ``output_dir``: where a run writes is not what it computes."""
    return {k: v for k, v in values.items() if k != "output_dir"}
