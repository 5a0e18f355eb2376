"""The ``ztfnb`` command: thin, it parses arguments and calls the package.

Every subcommand has ``--help``. Bad input ends with one line on standard
error, ``ztfnb <command>: error: …``, and exit status 2; a notebook run that
failed ends with status 1.
"""

import argparse
import sys
from pathlib import Path

from ztfnb._version import __version__

__all__ = ["main"]

EXIT_FAILED = 1
EXIT_USAGE = 2


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


def _positive_int(text):
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _add_simulate(commands):
    parser = commands.add_parser(
        "simulate",
        help="write a simulated ZTF night (catalogues, Gaia, truth)",
        description="Simulate a ZTF night: SExtractor FITS_LDAC catalogues with the telescope's rough WCS, "
        "a Gaia-like reference, exposures.ecsv and the truth. The same seed gives byte-identical files.",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder (must be new or empty)"
    )
    parser.add_argument(
        "--seed", required=True, type=_non_negative_int, help="random seed (a whole number)"
    )
    parser.add_argument(
        "--exposures", type=_positive_int, default=10, help="number of exposures (default 10)"
    )
    parser.add_argument(
        "--failures", type=_non_negative_int, default=0, help="bad quadrants to inject (default 0)"
    )
    parser.add_argument(
        "--density", type=float, default=1200.0, help="Gaia stars per deg² to G = 21 (default 1200)"
    )
    parser.add_argument(
        "--date", default="2023-10-17", help="UT date of the night (default 2023-10-17)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a non-empty output folder"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    parser.set_defaults(handler=_simulate)


def _simulate(args):
    from ztfnb.simulate import NightParameters, simulate_night

    parameters = NightParameters(
        seed=args.seed,
        exposures=args.exposures,
        failures=args.failures,
        density=args.density,
        date=args.date,
    )
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    simulate_night(args.out, parameters, overwrite=args.overwrite, log=log)
    print(args.out)
    return 0


def _add_run(commands):
    parser = commands.add_parser(
        "run",
        help="execute a notebook headless into a report",
        description="Execute a parameterised notebook with papermill (kernel python3 of this interpreter) and "
        "write the executed notebook, its HTML and manifest.json into a dated folder under reports/.",
    )
    parser.add_argument("notebook", type=Path, help="the notebook (.ipynb)")
    parser.add_argument(
        "-p",
        "--parameters",
        type=Path,
        help="YAML parameters (default parameters/<notebook stem>.yaml)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="report folder (default reports/<date>/<stem>-<time>)"
    )
    parser.add_argument("--progress", action="store_true", help="show papermill's progress bar")
    parser.set_defaults(handler=_run)


def _run(args):
    from ztfnb.runner import run_notebook

    result = run_notebook(
        args.notebook,
        parameters_file=args.parameters,
        output_dir=args.output,
        progress=args.progress,
    )
    print(result.output_dir)
    if not result.ok:
        print(
            f"ztfnb run: failed: {result.error} (partial report kept in {result.output_dir})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def build_parser():
    """The ``ztfnb`` argument parser with all subcommands."""
    parser = _Parser(
        prog="ztfnb",
        description="Jupyter-first astrometry, timing and spectrometer-simulation reports for survey astronomers.",
    )
    parser.add_argument("--version", action="version", version=f"ztfnb {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for add in _SUBCOMMANDS:
        add(commands)
    return parser


_SUBCOMMANDS = [_add_simulate, _add_run]


def main(argv=None):
    """Entry point of the ``ztfnb`` console script."""
    from ztfnb.io.errors import InputError
    from ztfnb.quantity import ParameterError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    command = f"ztfnb {args.handler.__name__.strip('_').replace('_', ' ')}"
    try:
        return args.handler(args)
    except (InputError, ParameterError, FileExistsError, ValueError) as error:
        print(f"{command}: error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"{command}: error: {error.strerror or error}", file=sys.stderr)
    except RuntimeError as error:
        print(f"{command}: error: {error}", file=sys.stderr)
    return EXIT_USAGE
