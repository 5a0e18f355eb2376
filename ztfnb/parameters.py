"""Notebook parameters: the ``parameters`` cell holds every default, YAML files override.

One mechanism, papermill's. :func:`notebook_parameters` reads the declared
parameters (with ``papermill.inspect_notebook``); :func:`check_parameters`
refuses a name the notebook does not declare, a value of the wrong type, and
a quantity string of the wrong physical type, before any kernel starts.
"""

import ast
import copy
import difflib
import math
import numbers
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from ztfnb.quantity import ParameterError, looks_like_quantity, parse_quantity, shown

#: The largest parameters file or grid read: more is not a set of parameters.
MAX_YAML_BYTES = 1024**2
#: The most values (nested ones included, each alias counted where it is used) a document may hold.
MAX_VALUES = 100_000

__all__ = [
    "ParameterError",
    "check_parameters",
    "command_line_value",
    "load_parameters",
    "notebook_parameters",
    "parse_yaml",
    "read_yaml",
    "shown",
    "yaml_parameters",
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


def read_yaml(path, what="parameters file"):
    """Read a YAML file of parameter values as papermill's own command line does.

    papermill reads YAML with a safe loader that does not turn dates into
    ``datetime.date`` (its ``NoDatesSafeLoader``): ``night: 2023-10-17``
    reaches the notebook as the string ``'2023-10-17'``. The same loader is
    used here, and a date given an explicit ``!!timestamp`` tag is kept as
    written too. Values that YAML can hold but JSON cannot (``!!binary``
    bytes, ``!!set``) are refused: a report's manifest records every value
    as JSON, and it must be the value the notebook received.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages.

    Returns
    -------
    object
        The document: mappings, lists, str, int, float, bool and None only.

    Raises
    ------
    ParameterError
        Missing file, not YAML, or a value that is not a JSON type, naming the
        file and where the value is (e.g. ``night`` or ``start[1]``).
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such {what}")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ParameterError(
            f"{path}: {size} bytes, more than a {what} holds (at most {MAX_YAML_BYTES})"
        )
    try:
        text = path.read_text()
    except UnicodeDecodeError as error:
        raise ParameterError(f"{path}: not valid YAML (not UTF-8 text: {_cut(error)})") from error
    return parse_yaml(text, path)


def _cut(error, limit=200):
    """An error's text on one line, cut to ``limit`` characters (YAML quotes the offending line)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_yaml(text, source):
    """Read YAML text as `read_yaml` reads a file (papermill's loader, JSON types only).

    Parameters
    ----------
    text : str
    source : str or path-like
        Where the text came from, for messages (a file, ``-y``).

    Returns
    -------
    object

    Raises
    ------
    ParameterError
    """
    if len(text) > MAX_YAML_BYTES:
        raise ParameterError(f"{source}: {len(text)} characters, more than parameters hold")
    try:
        content = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as error:
        raise ParameterError(f"{source}: not valid YAML ({_cut(error)})") from error
    except RecursionError:
        raise ParameterError(f"{source}: nested too deeply to be parameters") from None
    _check_size(content, source)
    _check_json_types(content, source, "")
    return content


def _check_size(content, source):
    """Refuse a document of more than `MAX_VALUES` values, counting each alias where it is used.

    PyYAML builds an alias as a second reference to one object, so a 300-byte
    "billion laughs" loads at once; but every later walk (type checks, the
    JSON manifest, a message showing the value) would visit 10⁹ values. The
    count stops as soon as the budget is spent.
    """
    budget, stack = MAX_VALUES, [content]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise ParameterError(
                f"{source}: more than {MAX_VALUES} values (YAML aliases repeating a list "
                "count once per use): not a set of parameters"
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


@lru_cache(maxsize=1)
def _loader():
    from papermill.iorw import NoDatesSafeLoader  # papermill's own YAML reading

    class Loader(NoDatesSafeLoader):
        pass

    # an explicit '!!timestamp' would still make a date: keep its text, as the implicit ones
    Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    return Loader


def _check_json_types(value, path, where):
    """Refuse what the JSON manifest could not record as the notebook received it."""
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_types(item, path, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, str | bool | int | float)):
                raise ParameterError(
                    f"{path}: key {shown(key)} of {_cut(where, 120) or 'the document'} is a "
                    f"{type(key).__name__}: a key must be a string or a number"
                )
            _check_json_types(item, path, f"{where}.{key}" if where else str(key))
        return
    kinds = {bytes: "binary data (!!binary)", set: "a set (!!set)"}
    kind = next((text for cls, text in kinds.items() if isinstance(value, cls)), None)
    raise ParameterError(
        f"{path}: {_cut(where, 120) or 'the document'} is {kind or type(value).__name__}, which a "
        "notebook parameter cannot be (JSON types only: write a string or a list)"
    )


def load_parameters(path):
    """Read a YAML mapping of parameter values (see `read_yaml` for how values are read).

    Raises
    ------
    ParameterError
        The file is missing, not YAML, not a mapping, or holds a value that is
        not a JSON type.
    """
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ParameterError(
            f"{path}: expected a mapping of parameter names to values, got {type(values).__name__}"
        )
    return values


def yaml_parameters(text, source="-y"):
    """A YAML mapping of parameter values given as text (``ztfnb run -y 'redshift: 3'``).

    Raises
    ------
    ParameterError
        Not YAML, not a mapping, or a value that is not a JSON type.
    """
    values = parse_yaml(text, source) or {}
    if not isinstance(values, dict):
        raise ParameterError(
            f"{source}: expected a mapping of parameter names to values, got {type(values).__name__}"
        )
    return values


def command_line_value(text):
    """A ``-p NAME VALUE`` value typed as papermill's command line types it.

    ``True``, ``False`` and ``None`` as those; then a whole number if
    ``int()`` reads it, a number if ``float()`` does; else the text itself
    (papermill's ``cli._resolve_type``; ``-r NAME VALUE`` keeps the text).

    Parameters
    ----------
    text : str

    Returns
    -------
    bool, None, int, float or str
    """
    if text in _WORDS:
        return _WORDS[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


_WORDS = {"True": True, "False": False, "None": None}


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
    odd = [name for name in values if not isinstance(name, str)]
    if odd:  # YAML makes 1, true or null of an unquoted key
        raise ParameterError(f"{source}: a parameter name must be a word, got {shown(odd[0])}")
    unknown = sorted(set(values) - set(declared))
    if unknown:
        # a misspelling is named with its likely meaning; otherwise the declared names, cut
        # at a name (not mid-word) when there are many
        close = {name: difflib.get_close_matches(name, declared, n=1) for name in unknown}
        named = [f"{n} (did you mean {close[n][0]}?)" if close[n] else n for n in unknown]
        names = sorted(declared)
        listed = ", ".join(names)
        if len(listed) > 200:
            kept = []
            for name in names:
                if len(", ".join([*kept, name])) > 190:
                    break
                kept.append(name)
            listed = ", ".join(kept) + f" and {len(names) - len(kept)} more"
        raise ParameterError(
            f"{source}: unknown parameter(s) {_cut(', '.join(named), 200)} for {Path(notebook).name}"
            f" (it declares: {listed or 'none'})"
        )
    for name, value in values.items():
        info = declared[name]
        default = info["default"]
        if not _type_ok(info["type"], default, value):
            raise ParameterError(
                f"{source}: parameter {name} must be {info['type']}, got {shown(value)} ({type(value).__name__})"
            )
        # NaN and infinities are never a setting: refused here, before a kernel starts, rather
        # than at whichever cell first computes with them (ranges are the notebook's own code's)
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{source}: parameter {name} must be a finite number, got {value}")
        if looks_like_quantity(default):
            expected = parse_quantity(default, name=name).unit
            quantity = parse_quantity(value, expected, name=f"{source}: parameter {name}")
            if not np.all(np.isfinite(quantity.value)):
                raise ParameterError(
                    f"{source}: parameter {name} must be finite, got {shown(value)}"
                )
    return declared
