"""Notebook parameters: the ``parameters`` cell holds every default, YAML files override.

One mechanism, papermill's. :func:`notebook_parameters` reads the declared
parameters (with ``papermill.inspect_notebook``); :func:`check_parameters`
refuses a name the notebook does not declare, a value of the wrong type, and
a quantity string of the wrong physical type, before any kernel starts.
"""

import ast
import copy
import numbers
from functools import lru_cache
from pathlib import Path

import yaml

from ztfnb.quantity import ParameterError, looks_like_quantity, parse_quantity

__all__ = [
    "ParameterError",
    "check_parameters",
    "load_parameters",
    "notebook_parameters",
]


def notebook_parameters(notebook):
    """Parameters declared in a notebook's ``parameters`` cell.

    Parameters
    ----------
    notebook : path-like

    Returns
    -------
    dict
        name → ``{"type": str, "default": value, "literal": bool, "help": str}``;
        ``default`` is the Python value of the default (``None``, and ``literal``
        False, when it is an expression).
    """
    path = Path(notebook).resolve()
    stat = path.stat()
    # a batch checks every run against the same notebook: read it once while it is unchanged
    return copy.deepcopy(_declared(str(path), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=16)
def _declared(notebook, mtime_ns, size):
    from papermill import inspect_notebook  # papermill is slow to import; only the runner needs it

    declared = inspect_notebook(str(notebook))
    assigned = _assigned_names(notebook)
    unparsed = sorted(assigned - set(declared))
    if unparsed:
        # papermill skips lines it cannot parse (an '=' in a comment...): such a
        # parameter could never be set, so refuse the notebook instead
        raise ParameterError(
            f"{notebook}: papermill cannot read parameter(s) {', '.join(unparsed)} in the parameters cell; "
            "write them as 'name: type = value  # help' without '=' in the comment"
        )
    result = {}
    for name, info in declared.items():
        try:
            default, literal = ast.literal_eval(info["default"]), True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            default, literal = None, False
        result[name] = {
            "type": (info.get("inferred_type_name") or "None").strip(),
            "default": default,
            "literal": literal,
            "help": info.get("help", ""),
        }
    return result


def _assigned_names(notebook):
    """Names assigned at the top level of the notebook's ``parameters`` cell."""
    import nbformat

    document = nbformat.read(str(notebook), as_version=4)
    for cell in document.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            names = set()
            for node in ast.parse(cell.source).body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [getattr(node, "target", None)]
                )
                names.update(target.id for target in targets if isinstance(target, ast.Name))
            return names
    return set()


def load_parameters(path):
    """Read a YAML mapping of parameter values.

    Raises
    ------
    ParameterError
        The file is missing, not YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such parameters file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(values, dict):
        raise ParameterError(
            f"{path}: expected a mapping of parameter names to values, got {type(values).__name__}"
        )
    return values


def _type_ok(declared, default, value):
    """Whether ``value`` suits a parameter declared with this type and default."""
    base = declared.split("[")[0].split("|")[0].strip()
    if value is None:
        return "None" in declared or "Optional" in declared or default is None
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if base == "str":
        return isinstance(value, str)
    if base == "list":
        return isinstance(value, list)
    if base == "dict":
        return isinstance(value, dict)
    return True  # no annotation and no literal default: anything goes


def check_parameters(notebook, values, source="parameters"):
    """Check parameter values against a notebook's ``parameters`` cell.

    Parameters
    ----------
    notebook : path-like
    values : dict
    source : str
        Where the values came from, for messages (e.g. the YAML file).

    Returns
    -------
    dict
        The declared parameters (as :func:`notebook_parameters`).

    Raises
    ------
    ParameterError
        Naming every unknown parameter, or the first value of the wrong type.
    """
    declared = notebook_parameters(notebook)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ParameterError(
            f"{source}: unknown parameter(s) {', '.join(unknown)} for {Path(notebook).name} "
            f"(it declares: {', '.join(sorted(declared)) or 'none'})"
        )
    for name, value in values.items():
        info = declared[name]
        default = info["default"]
        if not _type_ok(info["type"], default, value):
            raise ParameterError(
                f"{source}: parameter {name} must be {info['type']}, got {value!r} ({type(value).__name__})"
            )
        if looks_like_quantity(default):
            expected = parse_quantity(default, name=name).unit
            parse_quantity(value, expected, name=f"{source}: parameter {name}")
    return declared
