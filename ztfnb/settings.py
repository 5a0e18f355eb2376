"""Settings dataclasses that are the one home of their defaults, ranges and options.

A stage's ``Config`` (``QualityConfig``, ``PriorFitConfig``…) declares each
setting with `setting`: its default, the unit a bare number is in, its range,
and, when the command line offers it, its option and help. The dataclass
checks and parses every such field when it is made (a number, a Quantity or
text such as ``"0.2 arcsec"``; ``"off"`` for an optional limit), so a bad value
is refused where it is given, in one line naming the field; the command line
builds its options from `options`, and the notebooks' parameters cells are
compared with the defaults by a test. gammapy's analysis config does the same
for YAML (``gammapy/analysis/config.py``).
"""

import dataclasses
import numbers

import astropy.units as u
import numpy as np

from ztfnb.quantity import ParameterError, parse_quantity

__all__ = ["OFF", "PPM", "Settings", "setting"]

#: Text that turns an optional limit off.
OFF = "off"
#: Parts per million, a unit for bare numbers.
PPM = u.Unit(1e-6)

_RULES = {">0": "> 0", ">=0": "≥ 0", "0-1": "between 0 and 1"}


def setting(default, help, unit=None, option=None, optional=False, kind=float, rule=">0"):
    """A checked field of a `Settings` dataclass.

    Parameters
    ----------
    default : number, `~astropy.units.Quantity` or None
    help : str
        One line for ``--help`` and the docs.
    unit : `~astropy.units.UnitBase`, optional
        Of bare numbers. Settings in arcseconds are kept as Quantities; in
        percent, ppm or without unit as plain numbers in that unit.
    option : str, optional
        The command-line option, when there is one.
    optional : bool
        Whether ``None`` / ``"off"`` is allowed (a limit that can be turned off).
    kind : type
        ``float`` or ``int``.
    rule : str or tuple
        ``">0"``, ``">=0"``, ``"0-1"``, or ``(low, high)`` inclusive.
    """
    metadata = {
        "option": option,
        "unit": unit,
        "help": help,
        "optional": optional,
        "kind": kind,
        "rule": rule,
    }
    return dataclasses.field(default=default, metadata=metadata)


def _specs(cls_or_instance):
    return [spec for spec in dataclasses.fields(cls_or_instance) if "rule" in spec.metadata]


class Settings:
    """Mixin of frozen dataclasses whose `setting` fields are checked when made."""

    def __post_init__(self):
        for spec in _specs(self):
            value = _checked(spec.name, getattr(self, spec.name), spec.metadata)
            object.__setattr__(self, spec.name, value)

    @classmethod
    def options(cls):
        """The settings offered on the command line, in order.

        Returns
        -------
        list of dict
            ``name, option, unit, help, default`` (the default as text, ``off`` for none).
        """
        defaults = cls()
        return [
            {
                "name": spec.name,
                "option": spec.metadata["option"],
                "unit": spec.metadata["unit"],
                "help": spec.metadata["help"],
                "default": _text(getattr(defaults, spec.name), spec.metadata["unit"]),
            }
            for spec in _specs(cls)
            if spec.metadata["option"]
        ]

    def describe(self):
        """The settings as text, by name (for a table's metadata and a report)."""
        return {
            spec.name: _text(getattr(self, spec.name), spec.metadata["unit"])
            for spec in _specs(self)
        }


def _text(value, unit):
    if value is None:
        return OFF
    if isinstance(value, u.Quantity):
        return f"{value.value:g} {value.unit.to_string()}"
    if unit is u.percent:
        return f"{value:g} %"
    if unit == PPM:
        return f"{value:g} ppm"
    return f"{value:g}"


def _checked(name, value, spec):
    """A setting parsed into its stored form (Quantity in arcsec, else a number in its unit)."""
    unit, optional, kind, rule = spec["unit"], spec["optional"], spec["kind"], spec["rule"]
    given = value  # as given, for the messages
    if value is None or (isinstance(value, str) and value.strip().lower() in (OFF, "none", "")):
        if optional:
            return None
        raise ValueError(f"{name} must be given (it cannot be turned off), got {value!r}")
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a number, got {given!r}")
    if kind is int:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, got {given!r}") from None
        if not isinstance(value, numbers.Real) or not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number, got {given!r}")
        number = int(value)
    elif unit is None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {given!r}") from None
    else:
        if isinstance(value, str):
            text = value.strip().replace("ppm", "1e-6").replace("%", "percent")
            try:
                value = float(text)
            except ValueError:
                value = text
        try:
            quantity = parse_quantity(value, unit, name=name, default_unit=unit)
        except ParameterError as error:
            raise ValueError(str(error)) from None
        number = float(quantity.to_value(unit))
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {given!r}")
    if isinstance(rule, tuple):
        good, words = rule[0] <= number <= rule[1], f"{rule[0]} to {rule[1]}"
    else:
        good = {">0": number > 0, ">=0": number >= 0, "0-1": 0 <= number <= 1}[rule]
        words = _RULES[rule]
    if not good:
        raise ValueError(f"{name} must be {words}, got {given!r}")
    return number * unit if unit is u.arcsec else number
