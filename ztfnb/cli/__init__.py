"""The ``ztfnb`` command: thin, it parses arguments and calls the package.

Every subcommand has ``--help``. Bad input ends with one line on standard
error, ``ztfnb <command>: error: …``, and exit status 2; a notebook run that
failed ends with status 1; an error that is ztfnb's own (a bug) with one line
too and status 3 (``ZTFNB_TRACEBACK=1`` shows its traceback).
"""

import os
import sys

from ztfnb._version import __version__
from ztfnb.cli.apps import _add_app, _add_lab, lab_command
from ztfnb.cli.ltt import _add_ltt
from ztfnb.cli.options import EXIT_INTERNAL, EXIT_USAGE, _Parser
from ztfnb.cli.pixels import _add_coadd, _add_extract
from ztfnb.cli.prior import _add_prior
from ztfnb.cli.reports import _add_batch, _add_run, _yaml_after_p
from ztfnb.cli.simulate import _add_simulate
from ztfnb.cli.solve import _add_night, _add_quality, _add_solve

__all__ = ["build_parser", "lab_command", "main"]


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


_SUBCOMMANDS = [
    _add_simulate,
    _add_run,
    _add_prior,
    _add_extract,
    _add_solve,
    _add_quality,
    _add_coadd,
    _add_night,
    _add_ltt,
    _add_batch,
    _add_app,
    _add_lab,
]


def _one_line(error, limit=500):
    """A message on one line, cut short: a library's (wcslib's, astropy's ECSV reader's) can
    span lines and dump whole rows."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv=None):
    """Entry point of the ``ztfnb`` console script."""
    from ztfnb.io.errors import InputError
    from ztfnb.quantity import ParameterError, shown

    parser = build_parser()
    args = parser.parse_args(_yaml_after_p(sys.argv[1:] if argv is None else argv))
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    command = f"ztfnb {args.handler.__name__.strip('_').replace('_', ' ')}"
    try:
        return args.handler(args)
    except (InputError, ParameterError, FileExistsError, ValueError) as error:
        print(f"{command}: error: {_one_line(error)}", file=sys.stderr)
    except OSError as error:
        where = (
            f"{error.filename}: "
            if error.filename and str(error.filename) not in str(error.strerror)
            else ""
        )
        print(f"{command}: error: {where}{_one_line(error.strerror or error)}", file=sys.stderr)
    except RuntimeError as error:
        print(f"{command}: error: {_one_line(error)}", file=sys.stderr)
    except (RecursionError, MemoryError) as error:  # a pathological input, not our bug
        print(
            f"{command}: error: the input is too deep or too large ({type(error).__name__})",
            file=sys.stderr,
        )
    except Exception as error:
        # a bug of ours: one line still, and the traceback for the report when asked for
        if os.environ.get("ZTFNB_TRACEBACK"):
            raise
        what = shown(str(error), 200)
        print(
            f"{command}: internal error: {type(error).__name__}: {what} (a bug in ztfnb: "
            "run again with ZTFNB_TRACEBACK=1 and report the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_USAGE
