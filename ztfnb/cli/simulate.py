"""``ztfnb simulate``: its options, read into `ztfnb.simulate.NightParameters`."""

import argparse
import sys
from pathlib import Path

from ztfnb.cli.options import _non_negative_int, _number_in_unit, _positive_int, _star_density


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
        "separated by commas, or 'all' (a full exposure is 3.0 GB: 2.4 of images, 0.6 of weights); OUT/images/<exposure>.fits "
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
