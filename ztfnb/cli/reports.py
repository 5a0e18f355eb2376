"""``ztfnb run`` and ``ztfnb batch``: notebooks run by papermill, their parameters as papermill's CLI takes them."""

import argparse
import sys
from pathlib import Path

import numpy as np

from ztfnb.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, _positive_int

_PARAMETERS_HELP = (
    "parameters, as papermill's own command line takes them: -f FILE.yaml (repeatable, each over "
    "the ones before; default parameters/<notebook stem>.yaml), then -y YAML, then -p NAME VALUE "
    "(typed as papermill types them: True, False, None, whole numbers, numbers, else text), then "
    "-r NAME VALUE (text as written). -p FILE.yaml, one argument naming a .yaml or .yml file, "
    "is -f FILE.yaml. Every name and value is checked against the notebook's parameters cell "
    "before a kernel starts."
)


def _add_parameter_options(parser):
    """papermill's ``-p``, ``-r``, ``-f``, ``-y`` (``-b`` aside), with its names and precedence."""
    group = parser.add_argument_group("parameters", _PARAMETERS_HELP)
    group.add_argument(
        "-p",
        "--parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter, its value typed as papermill types it (repeatable); "
        "or -p FILE.yaml, as -f",
    )
    group.add_argument(
        "-r",
        "--parameters-raw",
        "--parameters_raw",
        dest="parameters_raw",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter whose value is kept as text (repeatable)",
    )
    group.add_argument(
        "-f",
        "--parameters-file",
        "--parameters_file",
        dest="parameters_file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="YAML file of parameters (repeatable; default parameters/<notebook stem>.yaml)",
    )
    group.add_argument(
        "-y",
        "--parameters-yaml",
        "--parameters_yaml",
        dest="parameters_yaml",
        action="append",
        default=[],
        metavar="YAML",
        help="parameters as YAML text, e.g. -y 'redshift: 3' (repeatable)",
    )


def _given_parameters(args):
    """The command line's values over the files': -y, then -p, then -r (papermill's order)."""
    from ztfnb.parameters import command_line_value, shown, yaml_parameters

    values = {}
    for text in args.parameters_yaml:
        values.update(yaml_parameters(text, source=f"-y {shown(text)}"))
    for name, text in args.parameters:
        values[name] = command_line_value(text)
    for name, text in args.parameters_raw:
        values[name] = text
    return values


def _is_yaml_file_name(text):
    return text.lower().endswith((".yaml", ".yml"))


def _yaml_after_p(argv):
    """``-p FILE.yaml`` (ztfnb's form before papermill's ``-p NAME VALUE``) read as ``-f FILE.yaml``.

    A parameter name is a Python name, never ending in ``.yaml``: the one
    argument after ``-p`` says which form is meant. Only for ``run`` and
    ``batch``; the two values after ``-p NAME`` or ``-r NAME`` are left alone.
    """
    argv = list(argv)
    if not argv or argv[0] not in ("run", "batch"):
        return argv
    result, i = argv[:1], 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            result += argv[i:]
            break
        if arg in ("-p", "--parameters") and i + 1 < len(argv):
            if _is_yaml_file_name(argv[i + 1]):
                result += ["-f", argv[i + 1]]
                i += 2
            else:
                result += argv[i : i + 3]
                i += 3
            continue
        if arg.startswith("--parameters=") and _is_yaml_file_name(arg.split("=", 1)[1]):
            result += ["-f", arg.split("=", 1)[1]]
        elif arg in ("-r", "--parameters-raw", "--parameters_raw"):
            result += argv[i : i + 3]
            i += 3
            continue
        else:
            result.append(arg)
        i += 1
    return result


def _add_run(commands):
    parser = commands.add_parser(
        "run",
        help="execute a notebook headless into a report",
        description="Execute a parameterised notebook with papermill (kernel python3 of this interpreter, "
        "started in the project root) and write the executed notebook, its HTML and manifest.json into a "
        "dated folder under reports/. Examples: ztfnb run notebooks/03_ost_simulation.ipynb -p redshift 3; "
        "ztfnb run NB.ipynb -f parameters/ci/NB.yaml -y 'aperture: 9.1 m' -r label 007.",
    )
    parser.add_argument("notebook", type=Path, help="the notebook (.ipynb)")
    _add_parameter_options(parser)
    parser.add_argument(
        "-o", "--output", type=Path, help="report folder (default reports/<date>/<stem>-<time>)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an -o folder that holds files other than a report's (they may be replaced)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="cells done and time elapsed on standard error (default: on when it is a terminal)",
    )
    parser.set_defaults(handler=_run)


def _run(args):
    from ztfnb.runner import run_notebook, stop_kernels

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        result = run_notebook(
            args.notebook,
            parameters_file=args.parameters_file or None,
            output_dir=args.output,
            overrides=_given_parameters(args),
            overrides_source="the command line",
            progress=progress,
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt:
        stop_kernels()  # papermill had no chance to shut its kernel down
        print("ztfnb run: interrupted (the report folder has no manifest.json)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(result.output_dir)
    if not result.ok:
        print(
            f"ztfnb run: failed: {result.error} (partial report kept in {result.output_dir})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def _add_batch(commands):
    parser = commands.add_parser(
        "batch",
        help="run a notebook over a grid of parameters, in parallel, resumably",
        description="Run NOTEBOOK for every parameter set of GRID.yaml (a mapping of names to lists, whose product "
        "is run, or 'runs:' with a list of mappings), over base values given as for 'ztfnb run' (-f, -y, -p, -r; the grid's come last). Each run's report goes to DIR/<name>/ (written under a "
        "temporary name, renamed when whole); DIR/runs.ecsv and DIR/index.html list them. Runs already complete "
        "for the same parameters and inputs are skipped, so starting a stopped batch again finishes it. One batch "
        "at a time in DIR: a second one waits for the first (naming its process), then skips what it made. Local "
        "processes by default, or an existing Dask scheduler with --scheduler.",
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--grid", required=True, type=Path, metavar="GRID.yaml")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--workers", type=_positive_int, default=2, help="local processes (default 2)"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://127.0.0.1:8786"
    )
    _add_parameter_options(parser)
    parser.add_argument(
        "--reuse-kernels", action="store_true", help="one kernel per worker for several runs"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="when another batch is running in DIR, stop (status 2) instead of waiting for it",
    )
    parser.set_defaults(handler=_batch)


def _batch(args):
    from ztfnb.batch import BatchInterrupted, load_grid, run_batch

    try:
        table = run_batch(
            args.notebook,
            load_grid(args.grid),
            args.out,
            grid=args.grid,
            workers=args.workers,
            scheduler=args.scheduler,
            parameters_file=args.parameters_file or None,
            reuse_kernels=args.reuse_kernels,
            progress=not args.no_progress,
            base=_given_parameters(args),
            wait=not args.no_wait,
            on_wait=lambda holder: print(
                f"ztfnb batch: {args.out} is in use by {holder}; waiting for it (--no-wait to stop instead)",
                file=sys.stderr,
                flush=True,
            ),
        )
    except BatchInterrupted as interrupted:
        status = interrupted.table["status"]
        print(
            f"ztfnb batch: interrupted: {int(np.sum(status == 'complete'))} complete, "
            f"{int(np.sum(status == 'failed'))} failed, {int(np.sum(status == 'pending'))} not run "
            f"({args.out / 'index.html'}); run the same command again to finish",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # before any run started
        print("ztfnb batch: interrupted before any run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = int(np.sum(table["status"] == "failed"))
    print(
        f"{args.out / 'index.html'}: {int(np.sum(table['status'] == 'complete'))} complete, {failed} failed"
    )
    return EXIT_FAILED if failed else 0
