"""Gaia reference tables with the Gaia archive's column names and units.

Columns used: ``source_id, ra, dec`` (deg), ``ra_error, dec_error`` (mas),
``pmra, pmdec`` (mas/yr, ``pmra`` including cos δ), ``ref_epoch`` (yr),
``phot_g_mean_mag`` (mag). Names are matched case-insensitively (archive
exports differ); a column without a unit gets the archive's. Missing proper
motions (two-parameter Gaia solutions) are allowed as NaN; missing positions
are not.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError

__all__ = ["GAIA_COLUMNS", "read_gaia", "write_gaia"]

#: Required columns and the archive's units.
GAIA_COLUMNS = {
    "source_id": None,
    "ra": u.deg,
    "dec": u.deg,
    "ra_error": u.mas,
    "dec_error": u.mas,
    "pmra": u.mas / u.yr,
    "pmdec": u.mas / u.yr,
    "ref_epoch": u.yr,
    "phot_g_mean_mag": u.mag,
}
_MUST_BE_FINITE = ("ra", "dec", "ref_epoch")


def read_gaia(path):
    """Read and check a Gaia table (FITS, ECSV, VOTable or CSV).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    `~astropy.table.QTable`
        The required columns, with units.

    Raises
    ------
    InputError
        Unreadable file, missing column, incompatible unit, NaN position or epoch,
        or a declination outside ±90°.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        suffix = path.suffix.lower()
        if suffix in (".fits", ".fit", ".fts", ".gz"):
            table = Table.read(path, format="fits", unit_parse_strict="silent")
        elif suffix == ".csv":
            table = Table.read(path, format="ascii.csv")
        else:
            table = Table.read(path)
    except Exception as error:
        raise InputError(f"cannot read a table ({error})", path=path) from error
    by_lower = {name.lower(): name for name in table.colnames}
    result = QTable()
    for name, unit in GAIA_COLUMNS.items():
        if name not in by_lower:
            raise InputError("missing Gaia column", path=path, column=name)
        column = table[by_lower[name]]
        if unit is None:
            result[name] = np.asarray(column)
            continue
        values = np.ma.filled(np.ma.asarray(column).astype(float), np.nan)
        given = column.unit
        if given is None or str(given) in ("", "dimensionless"):
            result[name] = values * unit
        else:
            try:
                result[name] = (values * u.Unit(given)).to(unit)
            except (u.UnitConversionError, ValueError) as error:
                raise InputError(
                    f"unit {given} is not convertible to {unit}", path=path, column=name
                ) from error
    for name in _MUST_BE_FINITE:
        bad = ~np.isfinite(result[name])
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} row(s) with a non-finite value, first at row {int(np.flatnonzero(bad)[0])}",
                path=path,
                column=name,
            )
    outside = np.abs(result["dec"]) > 90 * u.deg
    if outside.any():
        raise InputError(
            "declination outside ±90°",
            path=path,
            column="dec",
            value=float(result["dec"][outside][0].value),
        )
    result["ra"] = result["ra"] % (360 * u.deg)
    result.meta["path"] = str(path)
    return result


def write_gaia(path, table):
    """Write a Gaia table as FITS with the archive's units, atomically."""
    with atomic_path(path) as temporary:
        Table(table).write(temporary, format="fits", overwrite=True)
