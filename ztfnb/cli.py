"""The ``ztfnb`` command: thin, it parses arguments and calls the package.

Every subcommand has ``--help``. Bad input ends with one line on standard
error, ``ztfnb <command>: error: …``, and exit status 2; a notebook run that
failed ends with status 1; an error that is ztfnb's own (a bug) with one line
too and status 3 (``ZTFNB_TRACEBACK=1`` shows its traceback).
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ztfnb._version import __version__

__all__ = ["lab_command", "main"]

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
        "--density",
        type=_star_density,
        default=1200.0,
        help="Gaia stars per deg² to G = 21: a number, or with its unit as the notebooks write it "
        "('1200 deg-2'); default 1200",
    )

    def night_date(text):
        # the simulator's own check, so that argparse names --date in its one-line error;
        # imported here because the simulator is heavy and only this command needs it
        from ztfnb.simulate.night import check_night_date

        try:
            return check_night_date(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument(
        "--date",
        default="2023-10-17",
        type=night_date,
        help="UT date of the night, YYYY-MM-DD, within astropy's bundled IERS table "
        "(default 2023-10-17)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output folder holding a previous simulated night (never other files)",
    )
    parser.add_argument(
        "--per-quadrant",
        action="store_true",
        help="write the catalogues as ZTF's archive does, instead of one FITS_LDAC per exposure: "
        "per quadrant <exposure>_c<CCD>_o_q<Q>_sexcat.fits (the detections) and "
        "..._sciimg.hdr (its image header as text); the same night otherwise",
    )

    def image_quadrants(text):
        from ztfnb.simulate.images import images_rule

        rule = images_rule(text)
        if rule is not None:
            raise argparse.ArgumentTypeError(rule)
        return text

    parser.add_argument(
        "--images",
        metavar="RCIDS",
        type=image_quadrants,
        default="",
        help="also draw these readout quadrants of every exposure as images: rcids 0-63 "
        "separated by commas, or 'all' (a full exposure is 2.4 GB); OUT/images/<exposure>.fits "
        "(one extension per quadrant, rcid order, the catalogue's header) and "
        "<exposure>.weight.fits (1 good, 0 saturated), and the true solutions "
        "OUT/truth/<exposure>.head for 'ztfnb coadd --heads'; the same catalogues otherwise",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    other = parser.add_argument_group(
        "options that make other nights",
        "the same camera layout, but a rough header written differently, a turned or mirrored "
        "camera, poorer centroids; all off by default, and then the night is byte for byte "
        "the one made without them; angles in degrees or with their unit ('18 arcmin'), "
        "fractions as numbers or percentages ('1.5 %')",
    )
    other.add_argument(
        "--header-scale-error",
        metavar="F",
        type=_night_option("header_scale_error"),
        default=0.0,
        help="the rough header's plate scale is (1+F) times the camera's for the whole exposure, "
        "quadrants placed about the boresight with it (a fraction within ±0.1, e.g. 0.015; "
        '-0.0119 is a header written with 1.0"/px for the 1.012"/px camera; default 0)',
    )
    other.add_argument(
        "--header-rotation-error",
        metavar="DEG",
        type=_night_option("header_rotation_error"),
        default=0.0,
        help="the rough header turned by DEG degrees about the boresight for the whole exposure "
        "(positive East towards North; within ±10; default 0)",
    )
    other.add_argument(
        "--header-quadrant-scale-error",
        metavar="F",
        type=_night_option("header_quadrant_scale_error"),
        default=0.0,
        help="rms fraction of a scale error drawn per exposure and quadrant for its header CD, "
        "about its CRPIX (0 to 0.1, e.g. 0.001; default 0)",
    )
    other.add_argument(
        "--header-quadrant-rotation-error",
        metavar="DEG",
        type=_night_option("header_quadrant_rotation_error"),
        default=0.0,
        help="rms degrees of a rotation drawn per exposure and quadrant for its header CD, "
        "about its CRPIX (0 to 10, e.g. 0.05; default 0)",
    )
    other.add_argument(
        "--header-crpix",
        choices=("boresight", "centre", "corner"),
        default="boresight",
        help="the rough header's reference pixel: the boresight (CRVAL TELRAD/TELDECD, ZTF's), "
        "the quadrant's centre pixel or its first pixel (1, 1), CRVAL the sky position the "
        "header puts there (default boresight)",
    )
    other.add_argument(
        "--mirrored",
        action="store_true",
        help="the camera reads every quadrant's pixel x axis out the other way (the other "
        "parity, det(CD) > 0); the rough header knows",
    )
    other.add_argument(
        "--field-rotation",
        metavar="DEG",
        type=_night_option("field_rotation"),
        default=0.0,
        help="the camera turned by DEG degrees relative to the mount on every exposure "
        "(a rotator offset), unknown to the rough header (within ±10, e.g. 0.3; default 0)",
    )
    other.add_argument(
        "--field-rotation-scatter",
        metavar="DEG",
        type=_night_option("field_rotation_scatter"),
        default=0.0,
        help="rms degrees of a further camera rotation drawn per exposure (flexure, polar "
        "misalignment), unknown to the rough header (0 to 10, e.g. 0.05; default 0)",
    )
    other.add_argument(
        "--centroid-noise",
        metavar="F",
        type=_night_option("centroid_noise"),
        default=1.0,
        help="factor on the centroid errors, reported and actual, image motion included, as "
        "poorer seeing would make them (0.1 to 10, e.g. 2-3; default 1, ZTF's)",
    )
    other.add_argument(
        "--no-weather",
        action="store_true",
        help="headers without PRESSURE, TEMPTURE, HUMIDITY (ztfnb then assumes Palomar's "
        "standard atmosphere)",
    )
    other.add_argument(
        "--revisits",
        type=_revisits,
        default=1,
        metavar="N",
        help="exposures of each field in a row (1 to 10; default 1): each of the --exposures "
        "visits is followed by N-1 more of the same field, each with its own time, airmass, "
        "seeing and pointing error",
    )
    parser.set_defaults(handler=_simulate)


_NIGHT_OPTION_UNITS = {
    "header_scale_error": "fraction",
    "header_quadrant_scale_error": "fraction",
    "header_rotation_error": "deg",
    "header_quadrant_rotation_error": "deg",
    "field_rotation": "deg",
    "field_rotation_scatter": "deg",
}


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


def _revisits(text):
    """``--revisits``: a whole number, checked by the simulator's own rule."""
    from ztfnb.simulate.night import option_rule

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    rule = option_rule("revisits", value)
    if rule is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: must be {rule}")
    return value


def _night_option(name):
    """An argparse type for a number option of the simulator, checked by its own rule.

    Angles are degrees, or a quantity with its unit (``"18 arcmin"``);
    fractions a number or a percentage (``"1.5 %"``).
    """

    def number(text):
        from ztfnb.simulate.night import option_rule

        value = _number_in_unit(text, _NIGHT_OPTION_UNITS.get(name), name)
        rule = option_rule(name, value)
        if rule is not None:
            raise argparse.ArgumentTypeError(f"{text!r}: must be {rule}")
        return value

    number.__name__ = name  # argparse names the type in some messages
    return number


def _simulate(args):
    from ztfnb.simulate import NightParameters, simulate_night
    from ztfnb.termination import sigterm_raises_exit

    parameters = NightParameters(
        seed=args.seed,
        exposures=args.exposures,
        failures=args.failures,
        density=args.density,
        date=args.date,
        header_scale_error=args.header_scale_error,
        header_rotation_error=args.header_rotation_error,
        header_quadrant_scale_error=args.header_quadrant_scale_error,
        header_quadrant_rotation_error=args.header_quadrant_rotation_error,
        header_crpix=args.header_crpix,
        mirrored=args.mirrored,
        field_rotation=args.field_rotation,
        field_rotation_scatter=args.field_rotation_scatter,
        centroid_noise=args.centroid_noise,
        no_weather=args.no_weather,
        per_quadrant=args.per_quadrant,
        images=args.images,
        revisits=args.revisits,
    )
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    # a batch system's time limit or a kill sends SIGTERM: as an exception it unwinds
    # through the atomic writers, which remove the hidden temporary folder
    with sigterm_raises_exit():
        try:
            simulate_night(args.out, parameters, overwrite=args.overwrite, log=log)
        except SystemExit:
            print(f"ztfnb simulate: terminated; {args.out} was not written", file=sys.stderr)
            raise
    print(args.out)
    return 0


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


def _add_prior(commands):
    from ztfnb.prior import PriorFitConfig

    parser = commands.add_parser(
        "prior",
        help="fit the focal-plane prior; write SCAMP .ahead files",
        description="The astrometric prior for SCAMP: fit the camera once, write .ahead headers for any exposure.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=_Parser)

    def _prior(args):  # no action given: this command's help, not the top level's
        parser.print_help()
        return EXIT_USAGE

    parser.set_defaults(handler=_prior)

    fit = actions.add_parser(
        "fit",
        help="fit per-quadrant CRPIX/CD and the distortion polynomial",
        description="Match SExtractor FITS_LDAC catalogues (ZTF keywords, rough header WCS) to Gaia and fit, "
        "jointly over them, each quadrant's CRPIX and CD and the focal-plane distortion as TPV terms, "
        "in the refracted frame, with per-exposure pointing, rotation, scale and anisotropy.",
    )
    fit.add_argument(
        "catalogs",
        nargs="+",
        type=Path,
        metavar="CATALOG",
        help="calibration catalogues: " + _CATALOGS_HELP,
    )
    fit.add_argument(
        "--gaia",
        required=True,
        type=Path,
        help="Gaia table (archive column names), or a HATS catalogue folder",
    )
    fit.add_argument(
        "--out", required=True, type=Path, metavar="PRIOR.fits", help="the prior file to write"
    )
    _add_overwrite(fit, "the prior file")
    _add_settings(fit, PriorFitConfig, names=("degree", "clip"))
    fit.add_argument(
        "--no-refraction", action="store_true", help="fit without the refraction model (as ZTF did)"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress messages")
    fit.set_defaults(handler=_prior_fit)

    ahead = actions.add_parser(
        "ahead",
        help="write the .ahead for one catalogue",
        description="Measure the exposure's own pointing offset, rotation and scale from its detections against "
        "Gaia, then write one .ahead block per catalogue extension, in the catalogue's order: RA---TPV/DEC--TPV, "
        "CRVAL = boresight, the quadrant's CRPIX and CD, PV terms including the refraction predicted for the "
        "exposure's pointing, time and weather (TELRAD, TELDECD, OBSMJD and the weather keys of LDAC_IMHEAD).",
    )
    ahead.add_argument("prior", type=Path, metavar="PRIOR.fits")
    ahead.add_argument(
        "catalogs",
        nargs="+",
        type=Path,
        metavar="CATALOG",
        help="one exposure: its FITS_LDAC catalogue, or its per-quadrant files",
    )
    ahead.add_argument(
        "--gaia",
        required=True,
        type=Path,
        help="Gaia table (archive column names), or a HATS catalogue folder",
    )
    ahead.add_argument(
        "--out", required=True, type=Path, metavar="CATALOG.ahead", help="the .ahead file to write"
    )
    _add_overwrite(ahead, "the .ahead file")
    ahead.add_argument(
        "--degree",
        type=_setting_type(PriorFitConfig, "degree"),
        help="PV degree written (default: the prior's)",
    )
    ahead.add_argument(
        "--no-refine",
        action="store_true",
        help="skip the pointing measurement (use TELRAD/TELDECD)",
    )
    ahead.set_defaults(handler=_prior_ahead)


def _prior_fit(args):
    from ztfnb.camera import N_QUADRANTS
    from ztfnb.catalogs import read_catalogs
    from ztfnb.io import read_gaia
    from ztfnb.io.atomic import check_writable
    from ztfnb.prior import PriorFitConfig, fit_prior
    from ztfnb.prior.file import write_prior

    _refuse_existing(args, args.out)
    check_writable(args.out)
    catalogs = read_catalogs(args.catalogs)
    gaia = read_gaia(args.gaia)
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    config = PriorFitConfig(
        **_settings_given(args, PriorFitConfig), refraction=not args.no_refraction
    )
    fit = fit_prior(catalogs, gaia, config, log=log)
    write_prior(args.out, fit, provenance={"GAIAFILE": (args.gaia.name, "Gaia reference used")})
    quadrants = fit.model.quadrants
    rms = np.hypot(quadrants["rms_xi"], quadrants["rms_eta"]) / np.sqrt(2)
    worst = int(np.nanargmax(rms))
    missing = sorted(set(range(N_QUADRANTS)) - {int(r) for r in quadrants["rcid"]})
    print(
        f"{args.out}: {len(quadrants)} quadrants, {fit.model.meta['n_stars']} stars from {len(catalogs)} exposures; "
        f'residual rms per axis {fit.model.meta["rms_xi"]:.3f}" / {fit.model.meta["rms_eta"]:.3f}"; '
        f'worst quadrant rcid {quadrants["rcid"][worst]} ({rms[worst]:.3f}")'
        + (f"; no stars for rcid {', '.join(map(str, missing))}" if missing else "")
    )
    return 0


def _prior_ahead(args):
    from ztfnb.catalogs import find_exposures
    from ztfnb.io import read_gaia, write_header_blocks
    from ztfnb.io.atomic import check_writable
    from ztfnb.observed import ObservedPlane
    from ztfnb.prior import ExposureTerms, ahead_headers, refine_pointing
    from ztfnb.prior.file import read_prior

    _refuse_existing(args, args.out)
    check_writable(args.out)
    model = read_prior(args.prior)
    sources = find_exposures(args.catalogs)
    if len(sources) > 1:
        raise ValueError(
            f"{len(sources)} exposures given ({', '.join(s.name for s in sources)}): "
            "'prior ahead' writes the .ahead of one"
        )
    catalog = sources[0].read()
    if args.no_refine:
        terms = ExposureTerms(
            catalog.name, ObservedPlane.about(catalog.pointing, catalog.mid_time, catalog.weather)
        )
    else:
        terms = refine_pointing(model, catalog, read_gaia(args.gaia))
    headers = ahead_headers(model, catalog, terms, degree=args.degree)
    write_header_blocks(args.out, headers)
    dx, dy = terms.offset_arcsec
    print(
        f'{args.out}: {len(headers)} blocks; pointing offset ({dx:+.2f}", {dy:+.2f}"), '
        f'rotation {terms.rotation_arcsec:+.2f}" at 1°, scale {terms.scale * 1e6:+.0f} ppm, '
        f'{terms.n_stars} stars, rms {terms.rms:.3f}"'
    )
    return 0


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


def _add_solve(commands):
    parser = commands.add_parser(
        "solve",
        help="solve catalogues with the real SCAMP from the prior",
        description="For each catalogue: the Gaia reference at its epoch in SCAMP's LDAC format, the .ahead from the "
        "prior (pointing measured first), then the real scamp binary (stdin closed, XML on, no plots unless "
        "--checkplots), in parallel. Writes DIR/<exposure>.head, .xml, .ahead and summary.ecsv; success is judged "
        "from SCAMP's XML. When SCAMP stops with an error, its last lines are quoted.",
    )
    parser.add_argument("catalogs", nargs="+", type=Path, metavar="CATALOG", help=_CATALOGS_HELP)
    parser.add_argument(
        "--gaia",
        required=True,
        type=Path,
        help="Gaia table file (archive column names), or a HATS catalogue folder",
    )
    parser.add_argument(
        "--prior", required=True, type=Path, metavar="PRIOR.fits", help="from 'ztfnb prior fit'"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--workers", type=_positive_int, help="parallel SCAMP runs (default: the cores)"
    )
    parser.add_argument(
        "--mode",
        choices=["fast", "ztf"],
        default="fast",
        help="fast: MATCH N from the prior, PRE-DISTORTED (default); ztf: pattern matching, then MATCH N degree 4",
    )
    parser.add_argument(
        "--distort-degrees", type=_degree, default=3, help="DISTORT_DEGREES (default 3)"
    )
    parser.add_argument(
        "--scamp",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other SCAMP setting (repeatable)",
    )
    parser.add_argument(
        "--checkplots",
        nargs="?",
        const="pdf",
        default="",
        choices=("pdf", "svg", "ps"),
        metavar="FORMAT",
        help="also write SCAMP's own check plots of each solution: field groups, distortion (pixel-scale "
        "map), residuals against Gaia in 2D and as histograms, chi2 - DIR/<exposure>.<plot>.pdf; FORMAT "
        "pdf (default), svg (large files) or ps: the PLplot devices Debian's SCAMP has (it has no png)",
    )
    _add_solve_quality(parser)
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_solve)


def _add_solve_quality(parser):
    from ztfnb.quality import QualityConfig

    parser.add_argument(
        "--quality",
        action="store_true",
        help="also measure each solution in the worker that solved it (its catalogue read once) and "
        "judge the night, as 'ztfnb quality' does: DIR/metrics.ecsv, metrics.exposures.ecsv, "
        "metrics.html (and DIR/<exposure>.quality.ecsv, each exposure's measurement)",
    )
    thresholds = parser.add_argument_group(
        "verdict (with --quality)",
        "thresholds, as for 'ztfnb quality' (numbers in the unit shown, or quantities such as "
        "'0.2 arcsec'; 'off' turns an absolute limit off)",
    )
    _add_settings(thresholds, QualityConfig)


def _solve(args):
    from ztfnb.quality import QualityConfig
    from ztfnb.solve import SolveConfig, solve_night

    config = SolveConfig(
        mode=args.mode,
        distort_degrees=args.distort_degrees,
        scamp_options=dict(args.scamp),
        checkplots=args.checkplots,
    )
    quality = QualityConfig(**_settings_given(args, QualityConfig))
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    result = solve_night(
        args.catalogs,
        args.gaia,
        args.prior,
        args.out,
        config,
        workers=args.workers,
        log=log,
        quality=args.quality,
        quality_config=quality,
    )
    summary = result[0] if args.quality else result
    counts = {
        status: int(np.sum(summary["status"] == status))
        for status in ("solved", "suspect", "failed", "error")
    }
    print(
        f"{args.out / 'summary.ecsv'}: "
        + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    )
    if config.checkplots:
        from ztfnb.solve import CHECKPLOT_DEVICES, CHECKPLOTS

        extension = CHECKPLOT_DEVICES[config.checkplots][1]
        print(
            f"SCAMP's check plots: {args.out}/<exposure>.{{{','.join(CHECKPLOTS.values())}}}.{extension}"
        )
    if args.quality:
        from ztfnb.solvedfolder import METRICS

        _print_verdict(args.out / METRICS, *result[1:])
    bad = summary[np.isin(summary["status"], ["failed", "error"])]
    reasons = {}
    for reason in bad["reason"]:
        reasons[str(reason)] = reasons.get(str(reason), 0) + 1
    for reason, n in list(reasons.items())[:3]:  # one line each, SCAMP's own words included
        print(f"ztfnb solve: failed: {n} exposure(s): {reason}", file=sys.stderr)
    return 0 if counts["solved"] + counts["suspect"] == len(summary) else EXIT_FAILED


def _add_extract(commands):
    parser = commands.add_parser(
        "extract",
        help="catalogues from images with the real SExtractor, made for SCAMP",
        description="Runs source-extractor on each image (one exposure: its quadrants as image extensions) with "
        "ztfnb's configuration (ztfnb.extract.DEFAULT_OPTIONS; the columns SCAMP and ztfnb use) and writes "
        "DIR/<exposure>.ldac, FITS_LDAC with one LDAC_IMHEAD/LDAC_OBJECTS pair per image extension, the "
        "extension's header in LDAC_IMHEAD: what 'ztfnb prior', 'solve' and 'quality' read. Images without a "
        "WCS or the camera keywords (RCID or CCDID/QID, TELRAD/TELDECD, OBSMJD/MJD-OBS/DATE-OBS) are refused "
        "before anything is written.",
    )
    parser.add_argument(
        "images",
        nargs="+",
        type=Path,
        metavar="IMAGE",
        help="FITS image(s); a weight map <stem>.weight.fits beside one is used (MAP_WEIGHT) and, "
        "given too (images/*.fits), not measured itself",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--workers", type=_positive_int, help="parallel SExtractor runs (default: the cores)"
    )
    parser.add_argument(
        "--sextractor",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other SExtractor setting (repeatable)",
    )
    _add_overwrite(parser, "DIR/<exposure>.ldac")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_extract)


def _extract(args):
    from ztfnb.extract import catalog_path, extract_images
    from ztfnb.imagefiles import without_weight_maps

    images = without_weight_maps(args.images)  # images/*.fits names the weight maps too
    _refuse_existing(args, *(catalog_path(args.out, image) for image in images))
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    table = extract_images(
        images, args.out, workers=args.workers, options=dict(args.sextractor), log=log
    )
    print(
        f"{args.out}: {len(table)} catalogue(s), {int(table['quadrants'].sum())} quadrant(s), "
        f"{int(table['detections'].sum())} detections"
    )
    return 0


def _add_coadd(commands):
    parser = commands.add_parser(
        "coadd",
        help="resample images through their solutions and co-add them with the real SWarp",
        description="Runs SWarp on the images with the solutions SCAMP wrote (DIR/<exposure>.head, put beside "
        "each image in a private temporary folder, as SWarp expects), weighted mean, LANCZOS3 "
        "(ztfnb.coadd.DEFAULT_OPTIONS). Writes COADD.fits and COADD.weight.fits. With --exclude, the quadrants "
        "a 'ztfnb quality' table flags are left out.",
    )
    parser.add_argument(
        "images",
        nargs="+",
        type=Path,
        metavar="IMAGE",
        help="FITS image(s); a weight map <stem>.weight.fits beside one is used (MAP_WEIGHT)",
    )
    parser.add_argument(
        "--heads", required=True, type=Path, metavar="DIR", help="folder with the .head files"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="COADD.fits")
    parser.add_argument(
        "--exclude",
        type=Path,
        metavar="METRICS.ecsv",
        help="leave out the quadrants this 'ztfnb quality' table flags",
    )
    parser.add_argument(
        "--swarp",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other SWarp setting (repeatable)",
    )
    _add_overwrite(parser, "COADD.fits and COADD.weight.fits")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_coadd)


def _coadd(args):
    from ztfnb.coadd import coadd_images, weight_path

    _refuse_existing(args, args.out, weight_path(args.out))
    run = coadd_images(
        args.images, args.heads, args.out, exclude=args.exclude, options=dict(args.swarp)
    )
    left_out = f", {len(run.excluded)} flagged left out" if args.exclude else ""
    print(
        f"{run.image} (weight {run.weight}): {run.quadrants} quadrant(s){left_out}, "
        f"SWarp {run.elapsed:.1f} s"
    )
    return 0


def _add_quality(commands):
    from ztfnb.quality import QualityConfig

    parser = commands.add_parser(
        "quality",
        help="measure solved headers against Gaia and flag the bad quadrants",
        description="For each exposure and quadrant, from DIR/<catalogue stem>.head (and .ahead, .xml when present): "
        "matches to Gaia through the solution (rms, offsets, matched fraction, each star's expected error: "
        "SExtractor's, Gaia's at the epoch, and the exposure's extra error), corners against the centre, "
        "pixel-scale change prior -> solution on ZTF's 23 x 25 grid, corner displacement, the pixel scale "
        "relative to the zenith (from the .ahead's ZVACSCL), SCAMP's statistics, the quadrant's own airmass; "
        "per night, the scale change and the scale relative to the zenith against airmass (the refraction "
        "constant A fitted beside the one the weather predicts); a verdict (columns exposure, rcid, flag, "
        "reason) that flags a quadrant significantly worse than its errors and its exposure predict AND by "
        "enough to matter. Writes METRICS.ecsv and METRICS.exposures.ecsv, the thresholds used in their "
        "metadata, and METRICS.html: the night on one page (per exposure SCAMP's sigma and chi2, flags, "
        "scale against airmass, the flagged quadrants).",
    )
    parser.add_argument("catalogs", nargs="+", type=Path, metavar="CATALOG", help=_CATALOGS_HELP)
    parser.add_argument(
        "--heads", required=True, type=Path, metavar="DIR", help="folder with the .head files"
    )
    parser.add_argument(
        "--gaia",
        required=True,
        type=Path,
        help="Gaia table (archive column names), or a HATS catalogue folder",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="METRICS.ecsv")
    _add_overwrite(parser, "METRICS.ecsv and its .exposures.ecsv and .html")
    thresholds = parser.add_argument_group(
        "verdict",
        "thresholds (numbers in the unit shown, or quantities such as '0.2 arcsec'; 'off' turns an "
        "absolute limit off)",
    )
    _add_settings(thresholds, QualityConfig)
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_quality)


def _quality(args):
    from ztfnb.catalogs import checked_exposures
    from ztfnb.io import read_gaia
    from ztfnb.quality import QualityConfig, night_metrics
    from ztfnb.qualityfiles import check_quality_paths, quality_paths, write_quality

    config = QualityConfig(**_settings_given(args, QualityConfig))
    _refuse_existing(args, *quality_paths(args.out))
    check_quality_paths(args.out)
    sources = checked_exposures(args.catalogs)  # read one at a time as measured
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    quadrants, exposures, _ = night_metrics(
        sources, read_gaia(args.gaia), args.heads, config, log=log
    )
    write_quality(args.out, quadrants, exposures)
    _print_verdict(args.out, quadrants, exposures)
    return 0


def _print_verdict(path, quadrants, exposures):
    flagged = int(quadrants["flag"].sum())
    outliers = int(exposures["refraction_outlier"].sum())
    off_zenith = int(exposures["zenith_outlier"].sum())
    print(
        f"{path}: {flagged} of {len(quadrants)} quadrants flagged; {outliers} exposure(s) off the "
        f"refraction model, {off_zenith} off the zenith-relative scale model"
    )


def _add_night(commands):
    from ztfnb.quality import QualityConfig

    parser = commands.add_parser(
        "night",
        help="solve and judge a whole night as its exposures arrive (resumable)",
        description="Finds the catalogues in NIGHT_DIR (*.ldac, one per exposure, or the archive's "
        "*_sexcat.fits per quadrant), skips those already done in DIR (DIR/<exposure>.quality.ecsv newer "
        "than the catalogue), and solves each new one with SCAMP from the prior and measures it in the same "
        "worker (its catalogue read once), on local processes or a Dask scheduler's workers; then judges "
        "the night (refraction models, verdict). Writes what 'ztfnb solve --quality' writes - DIR/<exposure>"
        ".head..., summary.ecsv, metrics.ecsv, metrics.exposures.ecsv, metrics.html ('ztfnb app review "
        "DIR' opens it) - and DIR/latency.ecsv (per exposure: the catalogue's time, the worker's start, end "
        "and seconds). Killed, it resumes where it stopped; one run at a time holds DIR.",
    )
    parser.add_argument("night_dir", type=Path, metavar="NIGHT_DIR", help="the night's catalogues")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--prior", required=True, type=Path, metavar="PRIOR.fits", help="from 'ztfnb prior fit'"
    )
    parser.add_argument(
        "--gaia",
        type=Path,
        help="Gaia reference, as for 'ztfnb solve' (default NIGHT_DIR/gaia.fits)",
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=2, help="local processes (default 2)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler, e.g. tcp://127.0.0.1:8786 (its workers must see the same paths)",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--watch",
        type=_positive_float,
        metavar="SECONDS",
        help="keep watching NIGHT_DIR, scanning it every SECONDS, until Ctrl-C (a file is taken once "
        "unchanged between two scans)",
    )
    when.add_argument(
        "--once", action="store_true", help="what is there now, then stop (the default)"
    )
    parser.add_argument(
        "--mode", choices=["fast", "ztf"], default="fast", help="as for 'ztfnb solve'"
    )
    thresholds = parser.add_argument_group(
        "verdict", "thresholds, as for 'ztfnb quality' ('off' turns an absolute limit off)"
    )
    _add_settings(thresholds, QualityConfig)
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: on a terminal)",
    )
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_night)


def _positive_float(text):
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return value


def _night(args):
    from ztfnb.nightrun import NightInterrupted, run_night
    from ztfnb.quality import QualityConfig
    from ztfnb.solve import SolveConfig
    from ztfnb.solvedfolder import METRICS

    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    try:
        run = run_night(
            args.night_dir,
            args.out,
            args.prior,
            gaia=args.gaia,
            workers=args.workers,
            scheduler=args.scheduler,
            watch=args.watch,
            config=SolveConfig(mode=args.mode),
            quality_config=QualityConfig(**_settings_given(args, QualityConfig)),
            progress=args.progress,
            log=log,
        )
    except NightInterrupted:
        print(f"ztfnb night: interrupted; what was done is in {args.out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = {
        status: int(np.sum(run.summary["status"] == status))
        for status in ("solved", "suspect", "failed", "error")
    }
    seconds = run.latency["seconds"].value[-run.new :] if run.new else []
    print(
        f"{args.out / 'summary.ecsv'}: {len(run.summary)} exposures ({run.new} new, {run.skipped} "
        "already done): "
        + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        + (f"; median {np.median(seconds):.1f} s per exposure" if len(seconds) else "")
    )
    if run.quadrants is not None:
        _print_verdict(args.out / METRICS, run.quadrants, run.exposures)
    return 0 if counts["solved"] + counts["suspect"] == len(run.summary) else EXIT_FAILED


def _add_ltt(commands):
    parser = commands.add_parser(
        "ltt",
        help="add heliocentric and barycentric Julian dates (TDB) to a light-curve table",
        description="Read a table (ECSV, FITS or CSV, by extension) of times and positions (or give one position), "
        "add ltt_helio, ltt_bary (seconds) and hjd_tdb, bjd_tdb (JD, TDB) for Palomar, write it.",
    )
    parser.add_argument("table", type=Path, metavar="TABLE")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="TABLE",
        help="output table (.ecsv, .fits or .csv)",
    )
    parser.add_argument(
        "--time-column",
        help="column of times (default: the first of mjd, jd, time, obsmjd... in any case)",
    )
    parser.add_argument(
        "--time-format",
        default="auto",
        help="astropy time format of that column: mjd, jd, isot... (default auto: "
        "numbers above 2,000,000 are JD, others MJD)",
    )
    parser.add_argument("--time-scale", default="utc", help="its time scale (default utc)")
    parser.add_argument(
        "--ra-column", help="RA column, degrees or sexagesimal hours (default: ra, raj2000...)"
    )
    parser.add_argument(
        "--dec-column", help="Dec column, degrees or sexagesimal (default: dec, dej2000...)"
    )
    parser.add_argument(
        "--ra", type=_finite_float, help="one RA for every row, degrees (with --dec)"
    )
    parser.add_argument(
        "--dec", type=_finite_float, help="one Dec for every row, degrees (with --ra)"
    )
    _add_overwrite(parser, "the output table, and columns of those names in the input")
    parser.set_defaults(handler=_ltt)


def _ltt(args):
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from ztfnb.io.tables import read_table, write_table
    from ztfnb.lightcurve import add_corrected_times

    if (args.ra is None) != (args.dec is None):
        raise ValueError("give both --ra and --dec, or neither")
    _refuse_existing(args, args.out)
    if args.dec is not None and not -90 <= args.dec <= 90:
        raise ValueError(f"--dec must be within ±90, got {args.dec}")
    position = SkyCoord(args.ra * u.deg, args.dec * u.deg) if args.ra is not None else None
    table = add_corrected_times(
        read_table(args.table),
        time_column=args.time_column,
        time_format=args.time_format,
        time_scale=args.time_scale,
        ra_column=args.ra_column,
        dec_column=args.dec_column,
        position=position,
        source=str(args.table),
        overwrite=args.overwrite,
    )
    write_table(args.out, table)
    print(f"{args.out}: {len(table)} rows with hjd_tdb, bjd_tdb")
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


def _add_app(commands):
    parser = commands.add_parser(
        "app",
        help="serve the OST simulator or a night's review as a web app (Voilà)",
        description="Start a Voilà server showing one of ztfnb's apps, print its URL, and run until Ctrl-C. "
        "It binds to 127.0.0.1 unless --host says otherwise. A token is required on every interface, "
        "127.0.0.1 too: a random one, printed in the URL, unless --token or the environment variable "
        "ZTFNB_APP_TOKEN gives it; an empty token is refused. --no-token serves with no authentication, "
        "on 127.0.0.1 only. Pages load nothing from outside the server.",
    )
    apps = parser.add_subparsers(title="apps", metavar="APP", parser_class=_Parser, required=True)
    ost = apps.add_parser("ost", help="the OST far-infrared spectrometer simulator")
    review = apps.add_parser(
        "review",
        help="review a solved night's solutions; decisions go to its review.jsonl",
        description="NIGHT_DIR: the output folder of the quality notebook (metrics.ecsv, exposures.ecsv, "
        "solved/), a folder with 'ztfnb quality' output (NAME.ecsv, NAME.exposures.ecsv), or a night with "
        "solved .head files (here or in solved/), its catalogues and gaia.fits (measured on opening).",
    )
    review.add_argument("night_dir", type=Path, metavar="NIGHT_DIR")
    review.add_argument(
        "--gaia",
        type=Path,
        help="the Gaia table or HATS catalogue folder, when not found from NIGHT_DIR",
    )
    review.add_argument(
        "--log", type=Path, metavar="FILE", help="decisions file (default NIGHT_DIR/review.jsonl)"
    )
    for sub in (ost, review):
        sub.add_argument("--port", type=_port, help="default 8866, or the next free port")
        sub.add_argument(
            "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)"
        )
        sub.add_argument(
            "--token",
            help="access token (default: $ZTFNB_APP_TOKEN, else a random one; a command line is "
            "visible to other local users, the environment is not)",
        )
        sub.add_argument(
            "--no-token",
            action="store_true",
            help="no authentication: anyone who can reach the port can decide in your name "
            "(refused off the loopback: 127.0.0.0/8, ::1, localhost)",
        )
        sub.add_argument(
            "--base-url", default="/", help="path prefix behind a reverse proxy (default /)"
        )
        sub.set_defaults(handler=_app, app=sub.prog.split()[-1])


def _app(args):
    import shutil
    import signal

    from ztfnb.webapp.server import AppServer, access_token

    # refused before a night is read or measured
    token = access_token(args.host, args.token, args.no_token)
    parameters = {}
    measured = None
    if args.app == "review":
        import tempfile

        from ztfnb.reviewlog import ReviewLog
        from ztfnb.solvedfolder import SolvedFolder

        folder = SolvedFolder.find(args.night_dir, gaia=args.gaia, log=args.log)
        if folder.metrics is None:
            # measured once here, not by every page's kernel
            print(f"ztfnb app review: measuring the solutions in {folder.heads}", flush=True)
            measured = Path(tempfile.mkdtemp(prefix="ztfnb-app-metrics-"))
            folder = folder.measured(measured)
        folder.load()  # refuse bad tables here rather than in the page
        parameters = {
            "night_dir": str(folder.root.resolve()),
            "gaia": str(folder.gaia.resolve()) if folder.gaia else "",
            "review_log": str(folder.log.resolve()),
            "metrics": str(folder.metrics.resolve()),
        }
    server = AppServer(
        args.app,
        parameters,
        host=args.host,
        port=args.port,
        token=token or None,
        base_url=args.base_url,
        no_token=not token,
    )

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C, kill and a closed terminal all stop Voilà and its kernels first
    stopping = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stopping:
        signal.signal(signum, interrupt)
    started = False
    try:
        url = server.start()
        started = True
        print(f"ztfnb app {args.app}: serving {url}", flush=True)
        if args.app == "review":
            print(f"ztfnb app review: decisions go to {parameters['review_log']}", flush=True)
            skipped = ReviewLog(parameters["review_log"]).skipped_note()
            if skipped:
                print(f"ztfnb app review: warning: {skipped}", file=sys.stderr, flush=True)
        print("ztfnb app: Ctrl-C stops it", flush=True)
        status = server.wait()
    except KeyboardInterrupt:
        status = 0
    finally:
        for signum in stopping:  # a second Ctrl-C must not leave Voilà behind
            signal.signal(signum, signal.SIG_IGN)
        if started:
            print(f"ztfnb app {args.app}: stopping", flush=True)
        server.stop()
        if measured is not None:
            shutil.rmtree(measured, ignore_errors=True)
    return 0 if status == 0 else EXIT_FAILED


def _add_lab(commands):
    parser = commands.add_parser(
        "lab",
        help="open JupyterLab on the project's notebooks/ with this interpreter's kernel",
        description="Start JupyterLab (this interpreter's, so its python3 kernel is the one ztfnb is "
        "installed in) on the project root, opening on notebooks/. The project root is the ztfnb "
        "checkout holding the working folder, else the one this package was installed from. "
        "Relative paths in the notebooks' parameters (nights/default, parameters/...) mean the same "
        "as for 'ztfnb run': under the project root. Ctrl-C stops it (JupyterLab asks first).",
    )
    parser.add_argument(
        "--port", type=_port, help="JupyterLab's port (default 8888, or the next free)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser (print the URL only)"
    )
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="let JupyterLab run as root (it refuses otherwise; a container's user may be root)",
    )
    parser.add_argument(
        "--print-command",
        action="store_true",
        help="print the command line and its folder, and start nothing",
    )
    parser.add_argument(
        "jupyter_options",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER_OPTION",
        help="further options for JupyterLab, after '--' (e.g. -- --ServerApp.ip=0.0.0.0)",
    )
    parser.set_defaults(handler=_lab)


def lab_command(root, port=None, no_browser=False, options=(), allow_root=False):
    """The command line that starts JupyterLab on ``root``, opening on ``notebooks/``.

    Parameters
    ----------
    root : path-like
        The project root.
    port : int, optional
    no_browser : bool
    options : sequence of str
        Further JupyterLab options.
    allow_root : bool

    Returns
    -------
    list of str
        ``sys.executable -m jupyterlab ...``: this interpreter's JupyterLab,
        whose ``python3`` kernel runs this interpreter.
    """
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        "--ContentsManager.preferred_dir=notebooks",
    ]
    if port is not None:
        command.append(f"--port={port}")
    if no_browser:
        command.append("--no-browser")
    if allow_root:
        command.append("--allow-root")
    return command + list(options)


def _lab_root():
    """The checkout holding the working folder, else the one this package comes from."""
    from ztfnb.project import find_root

    for start in (Path.cwd(), Path(__file__).resolve().parent):
        root = find_root(start)
        if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file():
            return root
    raise ValueError(
        "no ztfnb checkout here or where ztfnb is installed from (a folder with pyproject.toml "
        "and notebooks/): run it in a clone of the project"
    )


def _lab(args):
    import importlib.util
    import os
    import shlex

    root = _lab_root()
    options = (
        args.jupyter_options[1:] if args.jupyter_options[:1] == ["--"] else args.jupyter_options
    )
    command = lab_command(root, args.port, args.no_browser, options, args.allow_root)
    if args.print_command:
        print(f"cd {shlex.quote(str(root))} && {shlex.join(command)}")
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        raise RuntimeError(
            f"JupyterLab is not installed for {sys.executable}: pip install jupyterlab"
        )
    print(
        f"ztfnb lab: JupyterLab on {root / 'notebooks'}, kernel python3 = {sys.executable}",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    os.chdir(root)
    os.execv(sys.executable, command)  # JupyterLab takes this process over: Ctrl-C is its own


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
