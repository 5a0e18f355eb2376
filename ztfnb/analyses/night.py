"""What is in a simulated night (twin of ``notebooks/00_simulated_night.ipynb``)."""

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table, vstack

from ztfnb.camera import N_QUADRANTS, FocalPlane
from ztfnb.catalogs import read_catalogs
from ztfnb.io.atomic import atomic_path
from ztfnb.io.ldac import read_ldac
from ztfnb.io.sextractor import choose_columns
from ztfnb.io.summary import write_summary
from ztfnb.project import project_path
from ztfnb.quantity import parse_quantity
from ztfnb.simulate.night import NightParameters, ensure_night
from ztfnb.simulate.truth import TrueMapping
from ztfnb.site import airmass
from ztfnb.tangent import gnomonic

__all__ = [
    "NightOverview",
    "distortion_field",
    "has_truth",
    "night_exposures",
    "night_overview",
    "open_night",
    "quadrant_counts",
]


@dataclass
class NightOverview:
    """A night's contents.

    Attributes
    ----------
    night_dir : `~pathlib.Path`
    exposures : `~astropy.table.QTable`
        ``exposures.ecsv``.
    failures : `~astropy.table.Table`
        ``truth/failures.ecsv``.
    counts : `~astropy.table.Table`
        Detections per exposure and quadrant: ``exposure, rcid, n_detections, n_clean``.
    """

    night_dir: Path
    exposures: QTable
    failures: Table
    counts: Table

    def save(self, folder):
        """Write the exposure and per-quadrant tables to a report folder (ECSV)."""
        if not folder:
            return []
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in (
            ("exposures.ecsv", self.exposures),
            ("quadrant_counts.ecsv", self.counts),
        ):
            with atomic_path(folder / name) as temporary:
                table.write(temporary, format="ascii.ecsv", overwrite=True)
            written.append(folder / name)
        written.append(
            write_summary(
                folder,
                {
                    "exposures": len(self.exposures),
                    "detections": int(np.sum(self.counts["n_detections"])),
                    "failures": len(self.failures),
                },
            )
        )
        return written

    def counts_for(self, exposure):
        """Detections per quadrant of one exposure as an array of 64 (NaN where missing)."""
        values = np.full(N_QUADRANTS, np.nan)
        rows = self.counts[self.counts["exposure"] == exposure]
        values[np.asarray(rows["rcid"])] = rows["n_detections"]
        return values


def quadrant_counts(catalog):
    """Detections per quadrant of a FITS_LDAC catalogue: all, and unflagged.

    Unflagged: ``FLAGS``, ``FLAGS_WEIGHT`` and ``IMAFLAGS_ISO`` all zero, where
    present (`ztfnb.io.sextractor`); a catalogue without flags counts all.
    """
    rows = []
    for extension in read_ldac(catalog):
        objects = extension.objects
        where = f"{extension.index + 1} (LDAC_OBJECTS #{extension.index + 1})"
        clean = choose_columns(objects, path=catalog, extension=where).clean(objects, 0xFFFF)
        rows.append(
            (Path(catalog).stem, int(extension.header["RCID"]), len(objects), int(np.sum(clean)))
        )
    return Table(rows=rows, names=["exposure", "rcid", "n_detections", "n_clean"])


def has_truth(night_dir):
    """Whether a night's folder holds the simulator's truth (``truth/``)."""
    return (Path(night_dir) / "truth").is_dir()


#: A night's catalogue files: one FITS_LDAC per exposure, or ZTF's per-quadrant sexcat tables.
CATALOG_PATTERNS = ("*.ldac", "*_sexcat.fits", "*_sexcat.fits.gz")


def catalog_paths(night_dir):
    """A night folder's catalogue files (`CATALOG_PATTERNS`), sorted; `ztfnb.catalogs` groups them.

    Parameters
    ----------
    night_dir : path-like

    Returns
    -------
    list of `~pathlib.Path`
    """
    night_dir = Path(night_dir)
    return sorted({path for pattern in CATALOG_PATTERNS for path in night_dir.glob(pattern)})


def night_catalogs(night_dir):
    """Every exposure of a night folder, read: name → `~ztfnb.exposure.ExposureCatalog`.

    Raises
    ------
    FileNotFoundError
        When the folder holds no catalogue.
    InputError
        A catalogue that cannot be read, or per-quadrant files that do not group.
    """
    paths = catalog_paths(night_dir)
    if not paths:
        raise FileNotFoundError(
            f"{night_dir}: no catalogues ({', '.join(CATALOG_PATTERNS)}) in the folder"
        )
    return {catalog.name: catalog for catalog in read_catalogs(paths)}


def night_exposures(night_dir, catalogs=None):
    """One row per exposure of a night: ``exposures.ecsv``, or the catalogues' own headers.

    A simulated night lists its exposures in ``exposures.ecsv``; a real one is
    only its catalogues (``*.ldac``), and each exposure's time, boresight and
    airmass come from the catalogue's header (the airmass of the boresight at
    mid-exposure, from TELRAD/TELDECD and the shutter time, at Palomar).

    Parameters
    ----------
    night_dir : path-like
    catalogs : dict, optional
        The night's catalogues already read (`night_catalogs`), so as not to read them twice.

    Returns
    -------
    `~astropy.table.QTable`
        At least ``exposure`` (the catalogue's stem), ``kind`` and ``airmass``;
        from headers also ``obsmjd``, ``exptime`` (s), ``telrad``, ``teldecd`` (deg).

    Raises
    ------
    FileNotFoundError
        When the folder holds neither ``exposures.ecsv`` nor a catalogue.
    """
    night_dir = Path(night_dir)
    listed = night_dir / "exposures.ecsv"
    if listed.is_file():
        return QTable.read(listed)
    if not catalog_paths(night_dir):
        raise FileNotFoundError(
            f"{night_dir}: no exposures.ecsv and no catalogues ({', '.join(CATALOG_PATTERNS)}) "
            "to read the exposures from"
        )
    catalogs = list((catalogs or night_catalogs(night_dir)).values())
    table = QTable()
    table["exposure"] = [c.name for c in catalogs]
    table["kind"] = ["catalogue"] * len(catalogs)
    table["obsmjd"] = [c.start.mjd for c in catalogs]
    table["exptime"] = u.Quantity([c.exptime for c in catalogs]).to(u.s)
    table["telrad"] = u.Quantity([c.pointing.ra for c in catalogs]).to(u.deg)
    table["teldecd"] = u.Quantity([c.pointing.dec for c in catalogs]).to(u.deg)
    table["airmass"] = [float(airmass(c.pointing, c.mid_time)) for c in catalogs]
    table.meta["description"] = "exposures read from the catalogues' headers"
    return table


def open_night(night_dir, seed=1, exposures=10, failures=6, density="1200 deg-2"):
    """The folder of a night: a real one as it is, a simulated one simulated first when needed.

    A folder holding catalogues (``*.ldac``) and no simulator's marker
    (``simulation.json``) is a real night and is used as it is; the
    simulation parameters are then ignored.

    Parameters
    ----------
    night_dir : path-like
    seed, exposures, failures : int
        Simulation parameters, used only when the night must be made.
    density : str or `~astropy.units.Quantity`
        Gaia stars per solid angle, e.g. ``"1200 deg-2"``.

    Returns
    -------
    `~pathlib.Path`
    """
    folder = project_path(night_dir)  # under the project root, from notebooks/ (JupyterLab) too
    if catalog_paths(folder) and not (folder / "simulation.json").exists():
        return folder
    per_deg2 = parse_quantity(density, u.deg**-2, name="density").to_value(u.deg**-2)
    return ensure_night(
        folder,
        NightParameters(seed=seed, exposures=exposures, failures=failures, density=per_deg2),
    )


def night_overview(night_dir, seed=1, exposures=10, failures=6, density="1200 deg-2"):
    """Open a simulated night (simulating it first when the folder has none).

    Parameters
    ----------
    night_dir : path-like
    seed, exposures, failures : int
        Simulation parameters, used only when the night must be made.
    density : str or `~astropy.units.Quantity`
        Gaia stars per solid angle, e.g. ``"1200 deg-2"``.

    Returns
    -------
    `NightOverview`
    """
    night_dir = open_night(night_dir, seed, exposures, failures, density)
    exposure_table = QTable.read(night_dir / "exposures.ecsv")
    failure_table = Table.read(night_dir / "truth" / "failures.ecsv")
    counts = [quadrant_counts(night_dir / f"{name}.ldac") for name in exposure_table["exposure"]]
    return NightOverview(night_dir, exposure_table, failure_table, vstack(counts))


def distortion_field(night_dir, exposure):
    """The true mapping's departure from an affine map of the nominal focal plane.

    What a prior must model beyond a linear WCS: optical distortion, the
    CCDs' offsets from the layout table and the non-linear part of
    differential refraction, evaluated on the truth grid.

    Parameters
    ----------
    night_dir : path-like
    exposure : str

    Returns
    -------
    `~astropy.table.QTable`
        ``rcid, u, v`` (deg, nominal focal plane) and ``du, dv`` (arcsec, towards East and North).
    """
    truth = TrueMapping.read(project_path(night_dir) / "truth" / f"{exposure}.fits")
    grid = truth.grid
    nominal = FocalPlane.nominal()
    u_deg = np.empty(len(grid))
    v_deg = np.empty(len(grid))
    for rcid in truth.rcids:
        rows = np.asarray(grid["rcid"]) == rcid
        u_deg[rows], v_deg[rows] = nominal[rcid].pixel_to_focal(
            np.asarray(grid["x"])[rows], np.asarray(grid["y"])[rows]
        )
    xi, eta = gnomonic(
        np.asarray(grid["ra"]),
        np.asarray(grid["dec"]),
        truth.boresight.ra.deg,
        truth.boresight.dec.deg,
    )
    design = np.column_stack([np.ones_like(u_deg), u_deg, v_deg])
    coefficients_xi, *_ = np.linalg.lstsq(design, xi, rcond=None)
    coefficients_eta, *_ = np.linalg.lstsq(design, eta, rcond=None)
    result = QTable()
    result["rcid"] = np.asarray(grid["rcid"])
    result["u"] = u_deg * u.deg
    result["v"] = v_deg * u.deg
    result["du"] = (xi - design @ coefficients_xi) * 3600 * u.arcsec
    result["dv"] = (eta - design @ coefficients_eta) * 3600 * u.arcsec
    return result
