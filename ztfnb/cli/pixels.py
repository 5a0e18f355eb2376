"""``ztfnb extract`` and ``ztfnb coadd``: SExtractor on images, SWarp with the solutions."""

import sys
from pathlib import Path

from ztfnb.cli.options import _add_overwrite, _key_value, _positive_int, _refuse_existing


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
