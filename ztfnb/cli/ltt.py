"""``ztfnb ltt``: HJD and BJD for a light-curve table."""

from pathlib import Path

from ztfnb.cli.options import _add_overwrite, _finite_float, _refuse_existing


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
