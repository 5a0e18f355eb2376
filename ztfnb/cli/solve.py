"""``ztfnb solve``, ``ztfnb quality`` and ``ztfnb night``: SCAMP from the prior, and the verdict."""

import argparse
import sys
from pathlib import Path

import numpy as np

from ztfnb.cli.options import (
    _CATALOGS_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    _add_overwrite,
    _add_settings,
    _degree,
    _key_value,
    _positive_float,
    _positive_int,
    _refuse_existing,
    _settings_given,
)


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
        help="fast: MATCH N from the prior, PRE-DISTORTED - the prior's camera kept, the exposure adjusted as a whole (default); ztf: pattern matching, then MATCH N degree 4 - every quadrant refitted",
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


def _add_quality(commands):
    from ztfnb.quality import QualityConfig

    parser = commands.add_parser(
        "quality",
        help="measure solved headers against Gaia and flag the bad quadrants",
        description="For each exposure and quadrant, from DIR/<exposure>.head (the catalogue's stem, or the exposure's name for per-quadrant files; and .ahead, .xml when present): "
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
