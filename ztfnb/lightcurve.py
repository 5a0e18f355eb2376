"""HJD and BJD for a light-curve table: its columns found, checked and corrected.

`add_corrected_times` is what ``ztfnb ltt LIGHTCURVE.csv`` runs: it finds the
time and position columns under the names light curves use, refuses what it
cannot read (naming the file, column and row), and adds the heliocentric and
barycentric light-travel times and Julian dates, TDB, computed by
`ztfnb.timecorr` (one epoch and one source a row: a dot product a row).
"""

import re
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.table import QTable
from astropy.time import Time, TimeDelta

from ztfnb.io.errors import InputError, refuse_rows, row_name
from ztfnb.timecorr import _C, _location, _source_vectors, observatory_positions

__all__ = [
    "DEC_COLUMNS",
    "OUTPUT_COLUMNS",
    "RA_COLUMNS",
    "TIME_COLUMNS",
    "add_corrected_times",
]

_SCALES = tuple(Time.SCALES)
# the names light-curve tables use, looked up without regard to case, first found wins
TIME_COLUMNS = ("mjd", "jd", "time", "obsmjd", "obsjd", "mjd_obs", "jd_obs", "date_obs", "date-obs")
RA_COLUMNS = ("ra", "raj2000", "ra_icrs", "ra_deg", "alpha_j2000", "alphawin_j2000")
# the columns add_corrected_times writes
OUTPUT_COLUMNS = ("ltt_helio", "ltt_bary", "hjd_tdb", "bjd_tdb")
DEC_COLUMNS = ("dec", "dej2000", "decj2000", "de_icrs", "dec_deg", "delta_j2000", "deltawin_j2000")
# epochs a light curve can have; outside them the time format was surely misread
_PLAUSIBLE_YEARS = (1800, 2200)


def add_corrected_times(
    table,
    time_column=None,
    time_format="auto",
    time_scale="utc",
    ra_column=None,
    dec_column=None,
    position=None,
    location=None,
    source=None,
    overwrite=False,
):
    """Add heliocentric and barycentric Julian dates (TDB) to a light-curve table.

    Parameters
    ----------
    table : `~astropy.table.Table`
        One row per measurement.
    time_column : str, optional
        Column of observation times (a `~astropy.time.Time` column is used as
        it is). Default: the first of `TIME_COLUMNS` present, in any case.
    time_format : str
        Of the time column when it holds plain numbers or strings: an astropy
        format (``mjd``, ``jd``, ``isot``...) or ``"auto"``: numbers above
        2,000,000 are JD, others MJD; strings as astropy reads them.
    time_scale : str
        ``utc``, ``tai``, ``tt``, ``tdb``... (any case); ignored for a Time column.
    ra_column, dec_column : str, optional
        Positions per row: degrees unless the columns have units; sexagesimal
        strings are read as hours (RA) and degrees (Dec). Default: the first
        of `RA_COLUMNS` / `DEC_COLUMNS` present. Ignored when ``position`` is given.
    position : `~astropy.coordinates.SkyCoord`, optional
        One position for every row.
    location : `~astropy.coordinates.EarthLocation`, optional
        Where the times were taken (one, or one per row). Default: the time
        column's own location, else Palomar.
    source : str, optional
        The file the table came from, for error messages.
    overwrite : bool
        Replace columns of those names already in the table (default: refuse:
        a table corrected once, or a column of the user's own, is not
        silently replaced).

    Returns
    -------
    `~astropy.table.QTable`
        A copy with ``ltt_helio``, ``ltt_bary`` (s) and ``hjd_tdb``,
        ``bjd_tdb`` (JD, TDB). The seconds are exact to the method's
        nanosecond; a float64 JD near 2,460,000 resolves ≈40 µs, so work
        from the seconds column where that matters.

    Raises
    ------
    InputError
        A missing or empty column, an unknown time scale or format, NaN or
        infinite values, implausible epochs or out-of-range positions; an
        output column already there without ``overwrite``.
    """
    table = QTable(table, copy=True)
    if len(table) == 0:
        raise InputError("the table has no rows", path=source)
    # any case: a table with BJD_TDB already has what bjd_tdb would add
    present = [name for name in table.colnames if name.lower() in OUTPUT_COLUMNS]
    if present and not overwrite:
        raise InputError(
            "the table already has this column: give overwrite=True (ztfnb ltt --overwrite) "
            "to replace it",
            path=source,
            column=present[0],
        )
    # replaced, not doubled: BJD_TDB goes, bjd_tdb comes (unless it is the time column read)
    times = _times(table, time_column, time_format, time_scale, source)
    table.remove_columns([name for name in present if name in table.colnames])
    if position is None:
        coords = _positions(table, ra_column, dec_column, source)
    else:
        direction = SkyCoord(position).icrs
        if direction.size != 1:
            raise ValueError(f"position must be one sky position, got {direction.size}")
        if not (np.isfinite(direction.ra.deg) and np.isfinite(direction.dec.deg)):
            raise ValueError(
                f"position must be finite, got RA {direction.ra.deg}, Dec {direction.dec.deg}"
            )
        coords = SkyCoord(
            np.full(len(table), direction.ra.deg) * u.deg,
            np.full(len(table), direction.dec.deg) * u.deg,
        )
    location = _location(times, location)
    if location.size not in (1, len(table)):
        raise ValueError(f"{location.size} locations for {len(table)} rows: give one, or one a row")
    # TDB at the observatory, not at the geocentre: up to ≈2 µs apart
    tdb = Time(times, location=location).tdb
    vectors = _source_vectors(coords)
    for kind, name, date in (("heliocentric", "helio", "hjd"), ("barycentric", "bary", "bjd")):
        # one epoch per row, each with its own position: one dot product a row
        positions = observatory_positions(times, kind, location).to_value(u.m) / _C
        seconds = np.einsum("ij,ij->i", positions, vectors)
        table[f"ltt_{name}"] = seconds * u.s
        corrected = tdb + TimeDelta(seconds, format="sec", scale="tdb")
        table[f"{date}_tdb"] = corrected.jd1 + corrected.jd2
    return table


def _find_column(table, given, candidates, what, source):
    if given is not None:
        if given not in table.colnames:
            raise InputError(
                f"no {what} column (columns: {', '.join(table.colnames)})",
                path=source,
                column=given,
            )
        return given
    by_lower = {name.lower(): name for name in table.colnames}
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    raise InputError(
        f"no {what} column: none of {', '.join(candidates)} (columns: {', '.join(table.colnames)}); "
        "name it",
        path=source,
    )


def _check_filled(column, name, source):
    """Empty cells (masked in CSV, FITS nulls) and NaN are refused, naming the first row."""
    data = getattr(column, "value", column)
    bad = np.ma.getmaskarray(data).copy()
    values = np.ma.getdata(data)
    if values.dtype.kind == "f":
        bad |= ~np.isfinite(values)
    elif values.dtype.kind in "US":
        bad |= np.char.strip(values.astype(str)) == ""
    masked = np.ma.getmaskarray(data)
    # an empty cell has no value to echo: the first bad row's is shown only if it is not one
    refuse_rows(
        bad, "empty, NaN or infinite value(s)", path=source, column=name,
        values=None if masked[bad].any() and masked[np.argmax(bad)] else values,
    )  # fmt: skip
    return values


def _times(table, column, time_format, time_scale, source):
    column = _find_column(table, column, TIME_COLUMNS, "time", source)
    values = table[column]
    if isinstance(values, Time):
        return values
    scale = str(time_scale).lower()
    if scale not in _SCALES:
        raise InputError(
            f"unknown time scale; one of {', '.join(_SCALES)}",
            path=source,
            column=column,
            value=time_scale,
        )
    data = _check_filled(values, column, source)
    time_format = _time_format(data, time_format, column, source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=UserWarning)
            times = Time(data, format=time_format, scale=scale)
    except (ValueError, UserWarning) as error:
        raise InputError(
            f"cannot read times as {time_format!r} ({error})", path=source, column=column
        ) from error
    # the Julian year from the JD itself: no erfa call that would warn about a dubious year
    years = np.atleast_1d(2000.0 + (times.jd1 - 2451545.0 + times.jd2) / 365.25)
    implausible = (years < _PLAUSIBLE_YEARS[0]) | (years > _PLAUSIBLE_YEARS[1])
    if np.any(implausible):
        first = int(np.flatnonzero(implausible)[0])
        raise InputError(
            f"read as {time_format!r}, {row_name(first)} falls in the year {years[first]:.0f}: "
            "give the right time format",
            path=source,
            column=column,
        )
    return times


def _time_format(data, time_format, column, source):
    time_format = str(time_format).lower()
    if time_format != "auto":
        return time_format
    if data.dtype.kind in "US":
        return None  # astropy recognises ISO, ISOT, year-day... strings
    if data.dtype.kind not in "iuf":
        raise InputError(f"cannot read times of type {data.dtype}", path=source, column=column)
    # each value votes (JD of 1760–2500 or MJD of 1858–2400): one absurd value cannot turn the
    # column's reading, and is then named by the plausibility check
    jd = int(np.count_nonzero((data > 2_364_000) & (data < 2_634_000)))
    mjd = int(np.count_nonzero((data > 0) & (data < 200_000)))
    if jd > mjd:
        return "jd"
    if mjd > jd:
        return "mjd"
    raise InputError(
        f"cannot tell JD from MJD ({jd} value(s) read as JD, {mjd} as MJD): give --time-format",
        path=source,
        column=column,
    )


def _positions(table, ra_column, dec_column, source):
    ra_column = _find_column(table, ra_column, RA_COLUMNS, "RA", source)
    dec_column = _find_column(table, dec_column, DEC_COLUMNS, "Dec", source)
    ra = _angles(table, ra_column, u.hourangle, source)
    dec = _angles(table, dec_column, u.deg, source)
    outside = np.abs(dec) > 90 * u.deg
    if outside.any():
        raise InputError(
            "declination outside ±90°",
            path=source,
            column=dec_column,
            value=float(dec[outside][0].to_value(u.deg)),
        )
    return SkyCoord(ra, dec)


_SEXAGESIMAL = re.compile(r"[:hdms°'\"]|\d\s+\d")


def _angles(table, name, sexagesimal_unit, source):
    """A column of angles: degrees unless it has a unit; text as numbers, or sexagesimal
    (``12:30:00``, ``12h30m``, ``12 30 00``) in ``sexagesimal_unit`` (hours for RA)."""
    column = table[name]
    values = _check_filled(column, name, source)
    if values.dtype.kind not in "US":
        return u.Quantity(column, u.deg) if getattr(column, "unit", None) else values * u.deg
    text = np.char.strip(values.astype(str))
    sexagesimal = np.array([bool(_SEXAGESIMAL.search(t)) for t in text])
    try:
        if not sexagesimal.any():
            return text.astype(float) * u.deg
        if not sexagesimal.all():
            raise ValueError("some values are sexagesimal and some are not")
        return Angle(text, unit=sexagesimal_unit).to(u.deg)
    except ValueError as error:
        raise InputError(f"cannot read angles ({error})", path=source, column=name) from error
