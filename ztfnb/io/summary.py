"""A report's key numbers, ``summary.json``, for batch indexes and quick comparisons."""

import json
import math
from pathlib import Path

from ztfnb.io.atomic import atomic_path

__all__ = ["SUMMARY", "read_summary", "write_summary"]

#: The key numbers' file in a report's folder.
SUMMARY = "summary.json"


def write_summary(folder, numbers):
    """Write scalar key numbers to ``folder/summary.json`` (atomically); nothing without a folder.

    Parameters
    ----------
    folder : path-like or ""
    numbers : dict
        Names to ints, floats (NaN becomes null), strings or booleans.
    """
    if not folder:
        return None
    clean = {}
    for key, value in numbers.items():
        value = getattr(value, "item", lambda v=value: v)()
        clean[str(key)] = None if isinstance(value, float) and math.isnan(value) else value
    path = Path(folder) / SUMMARY
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        Path(temporary).write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return path


def read_summary(folder):
    """A report's key numbers (``folder/summary.json``): names to scalars, ``{}`` when unreadable.

    What is not a number, string or boolean (a list, a nested mapping, null) is left out:
    an index shows scalars only.
    """
    try:
        values = json.loads((Path(folder) / SUMMARY).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(v, int | float | str | bool)}
