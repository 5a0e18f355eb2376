"""Option types, exit statuses and the one-line-error parser shared by the ``ztfnb`` subcommands."""

import argparse
from pathlib import Path

import numpy as np

EXIT_FAILED = 1


EXIT_USAGE = 2


EXIT_INTERNAL = 3  # not the input's fault: a bug to report


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, naming the command."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a finite number")
    return value


def _positive_int(text):
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _number_in_unit(text, unit, name):
    """A number from a plain number (in ``unit``) or a quantity (``"18 arcmin"``, ``"1.5 %"``)."""
    import astropy.units as u

    from ztfnb.quantity import ParameterError, parse_quantity

    try:
        return float(text)
    except ValueError:
        if unit is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    target = u.dimensionless_unscaled if unit == "fraction" else u.Unit(unit)
    try:
        quantity = parse_quantity(text.replace("ppm", "1e-6"), target, name=name)
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return float(quantity.to_value(target))


def _int_between(low, high, what):
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text):
        value = _positive_int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: {what} must be {low} to {high}")
        return value

    return parse


_degree = _int_between(2, 7, "the degree")


_port = _int_between(1, 65535, "a port")


def _add_settings(parser, config_class, names=None):
    """Options built from a settings dataclass (`ztfnb.settings`): its defaults, help and ranges.

    The value is checked by the dataclass itself, so the option's one-line
    error is the one the Python API gives.
    """
    for option in config_class.options():
        if names is not None and option["name"] not in names:
            continue
        parser.add_argument(
            option["option"],
            dest=option["name"],
            type=_setting_type(config_class, option["name"]),
            default=None,  # the dataclass's own default (`_settings_given`)
            metavar="VALUE",
            help=f"{option['help']} (default {option['default']})".replace("%", "%%"),
        )


def _settings_given(args, config_class):
    """The settings given on the command line, by name (the rest keep the dataclass's defaults)."""
    return {
        option["name"]: getattr(args, option["name"])
        for option in config_class.options()
        if getattr(args, option["name"], None) is not None
    }


def _setting_type(config_class, name):
    def parse(text):
        try:
            return getattr(config_class(**{name: text}), name)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


_CATALOGS_HELP = (
    "FITS_LDAC catalogues, one per exposure, or per-quadrant files as ZTF's archive delivers "
    "them (*_sexcat.fits with *_sciimg.fits or *_sciimg.hdr beside them; one-quadrant "
    "*_c<CCD>_o_q<Q>*.ldac), grouped into exposures by their headers"
)


def _add_overwrite(parser, what):
    parser.add_argument(
        "--overwrite", action="store_true", help=f"replace {what} if it exists (default: refuse)"
    )


def _refuse_existing(args, *paths):
    """Refuse, before any work, an output that cannot be written, or exists without --overwrite."""
    from ztfnb.io.atomic import check_writable

    for path in paths:
        check_writable(path)  # a folder, or under a file: --overwrite would not help
        if (Path(path).exists() or Path(path).is_symlink()) and not args.overwrite:
            raise FileExistsError(f"{path} exists: give --overwrite to replace it")


def _star_density(text):
    """Stars per square degree, from ``1200`` or ``"1200 deg-2"`` (the notebooks' form)."""
    import astropy.units as u

    from ztfnb.quantity import ParameterError, parse_quantity

    try:
        number = float(text)
    except ValueError:
        try:
            number = parse_quantity(text, u.deg**-2, name="--density").to_value(u.deg**-2)
        except ParameterError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return number


def _key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip().upper(), value.strip()


def _positive_float(text):
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return value
