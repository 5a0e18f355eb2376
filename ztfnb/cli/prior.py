"""``ztfnb prior fit`` and ``ztfnb prior ahead``."""

import sys
from pathlib import Path

import numpy as np

from ztfnb.cli.options import (
    _CATALOGS_HELP,
    EXIT_USAGE,
    _add_overwrite,
    _add_settings,
    _Parser,
    _refuse_existing,
    _setting_type,
    _settings_given,
)


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
    from ztfnb.site import weather_note

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
    note = weather_note(catalog.header)
    if note:
        print(f"{catalog.name}: {note}", file=sys.stderr)
    return 0
