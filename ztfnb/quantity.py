"""Quantities given as text (``"30 min"``, ``"158 um"``), parsed once and checked.

Parameters files hold quantities as strings; this is the one place they are
turned into `~astropy.units.Quantity` objects, with their physical type
checked, so that ``"30 m"`` given for a time fails at once and says why.
"""

import numbers
import reprlib

import astropy.units as u
import numpy as np

__all__ = ["ParameterError", "check_range", "looks_like_quantity", "parse_quantity", "shown"]

#: How much of a value a message echoes.
SHOWN = 80

# bounded at every level: a YAML alias bomb's repr would be gigabytes
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = (
    3,
    6,
    6,
    SHOWN,
    SHOWN,
)


#: Characters of the longest text read as a quantity.
_LONGEST = 200


class ParameterError(ValueError):
    """A parameter value that cannot be used; the message names the parameter."""


def shown(value, limit=SHOWN):
    """A value as a message echoes it: its ``repr`` cut to about ``limit`` characters.

    Never builds the whole ``repr`` (nested and shared values are cut at each
    level), so a value of any size costs little to show.
    """
    text = _REPR.repr(value)
    text = " ".join(text.split())  # one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_range(value, name, low=None, high=None, low_open=False, high_open=False):
    """Refuse NaN, infinities and values outside the range physics allows.

    Parameters
    ----------
    value : float or `~astropy.units.Quantity`
        One value (a Quantity is compared in its own unit: give ``low`` and
        ``high`` as Quantities of a compatible unit, or as plain numbers for a
        plain value).
    name : str
        The parameter's name, for the message.
    low, high : float or `~astropy.units.Quantity`, optional
        Bounds; ``None`` for none.
    low_open, high_open : bool
        Exclude the bound itself (a luminosity must be > 0, a redshift ≥ 0).

    Returns
    -------
    The value, unchanged.

    Raises
    ------
    ParameterError
        Naming the parameter, the value (cut short) and the range.
    """
    echo = str(value) if isinstance(value, u.Quantity) and value.size == 1 else shown(value)
    try:
        number = u.Quantity(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {shown(value)}") from None
    if number.size != 1 or not np.isfinite(number.value):
        raise ParameterError(f"{name}: expected one finite number, got {echo}")
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if below or above:
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        bounds = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ParameterError(f"{name}: {echo} is outside {bounds}")
    return value


def _target_unit(physical_type):
    if physical_type is None:
        return None
    if isinstance(physical_type, u.UnitBase | u.Quantity):
        return u.Unit(physical_type)
    return u.get_physical_type(physical_type)


def _compatible(unit, target):
    if target is None:
        return True
    if isinstance(target, u.UnitBase):
        return unit.is_equivalent(target)
    return unit.physical_type == target


def parse_quantity(value, physical_type=None, name="value", default_unit=None):
    """Turn a string, number or Quantity into a Quantity of the expected kind.

    Parameters
    ----------
    value : str, number or `~astropy.units.Quantity`
        ``"30 min"``, ``"1.012 arcsec"``, ``"1e-21 W m-2"``...
    physical_type : str or `~astropy.units.UnitBase`, optional
        ``"time"``, ``"length"``, ``"angle"``..., or a unit the value must convert to.
    name : str
        The parameter's name, for messages.
    default_unit : `~astropy.units.UnitBase`, optional
        Unit given to a bare number; without it a bare number for a
        dimensional parameter is refused as ambiguous.

    Returns
    -------
    `~astropy.units.Quantity`

    Raises
    ------
    ParameterError
    """
    target = _target_unit(physical_type)
    if isinstance(value, u.Quantity):
        quantity = value
    elif isinstance(value, bool):
        raise ParameterError(f"{name}: expected a quantity such as '30 min', got {shown(value)}")
    elif isinstance(value, numbers.Number):
        if default_unit is not None:
            quantity = value * u.Unit(default_unit)
        elif target is None or target == u.get_physical_type("dimensionless"):
            quantity = value * u.dimensionless_unscaled
        else:
            raise ParameterError(
                f"{name}: give a unit, e.g. '{shown(value)} {_example_unit(target)}', got the bare number {value!r}"
            )
    elif isinstance(value, str) and len(value) > _LONGEST:
        # no quantity is this long; astropy's parser would take long to say so
        raise ParameterError(f"{name}: {shown(value)} ({len(value)} characters) is not a quantity")
    elif isinstance(value, str):
        try:
            quantity = u.Quantity(value.strip())
        except (TypeError, ValueError) as error:
            reason = shown(" ".join(str(error).split()), 160).strip("'\"")
            raise ParameterError(
                f"{name}: cannot read {shown(value)} as a quantity ({reason})"
            ) from error
    else:
        raise ParameterError(f"{name}: expected a quantity such as '30 min', got {shown(value)}")
    if not _compatible(quantity.unit, target):
        expected = target if isinstance(target, u.UnitBase) else f"a {target}"
        if isinstance(target, u.UnitBase) and target.physical_type == "dimensionless":
            expected = "a plain number or a fraction such as '1.5 %'"
        raise ParameterError(
            f"{name}: {shown(value)} has unit {quantity.unit or 'dimensionless'} ({quantity.unit.physical_type}), expected {expected}"
        )
    return quantity


def _example_unit(target):
    examples = {
        "time": "min",
        "length": "m",
        "angle": "deg",
        "temperature": "deg_C",
        "pressure": "hPa",
    }
    if isinstance(target, u.UnitBase):
        return target.to_string()
    return examples.get(str(target), "<unit>")


def looks_like_quantity(text):
    """Whether a string reads as a number with a unit (``"30 min"`` yes, ``"zr"`` or ``"12"`` no)."""
    if not isinstance(text, str):
        return False
    try:
        quantity = u.Quantity(text.strip())
    except (TypeError, ValueError):
        return False
    return quantity.unit != u.dimensionless_unscaled
