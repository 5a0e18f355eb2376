"""A night's quality, end to end: metrics of every exposure, the scale models, the verdict.

Two steps, so that a night streams: `measure_exposure` measures one exposure
(its per-quadrant metrics and its per-exposure numbers: small, the catalogue
can be dropped after it), `judge_night` fits the night's refraction models
and gives the verdict over those small results. `night_metrics` runs both
over a night; given `~ztfnb.catalogs.CatalogSource` it reads one catalogue
at a time. An `ExposureQuality` is kept on disk beside the solution
(`ExposureQuality.write`), so that ``ztfnb night`` can resume and ``ztfnb
solve --quality`` can measure in the solving worker.
"""

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack

from ztfnb.catalogs import CatalogSource, check_distinct
from ztfnb.exposure import check_unique_names
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError
from ztfnb.quality.metrics import (
    PPM,
    _metrics_config,
    _unsolved_metrics,
    exposure_consensus,
    exposure_metrics,
)
from ztfnb.quality.refraction import (
    NO_ZVACSCL,
    exposure_zenith_scale,
    fit_refraction_model,
    fit_zenith_model,
    refraction_constants,
)
from ztfnb.quality.verdict import _config, verdict
from ztfnb.site import has_weather

__all__ = ["ExposureQuality", "judge_night", "measure_exposure", "night_metrics"]

#: ``meta`` keys of a written `ExposureQuality` (removed before the night's tables are stacked).
_ROW_KEY = "ztfnb_exposure_row"
_MESSAGES_KEY = "ztfnb_messages"
_SOLVE_KEY = "ztfnb_solve_row"
#: Exposures' tables stacked at a time by `judge_night`: each is unpacked only for its block.
STACK = 64


@dataclass
class ExposureQuality:
    """One exposure measured: what the night step needs of it, nothing of its catalogue.

    Attributes
    ----------
    metrics : `~astropy.table.QTable`
        Per quadrant (`~ztfnb.quality.exposure_metrics`, or every quadrant
        flagged unsolved), 64 rows at most.
    row : dict
        The exposure's row of the per-exposure table (airmass, scale change...).
    messages : list of str
        What `night_metrics` logs for it, in order.
    solve : dict or None
        Its ``summary.ecsv`` row (`ztfnb.solve.solve_exposure`), when it was
        measured by the worker that solved it.
    """

    metrics: QTable
    row: dict
    messages: list = field(default_factory=list)
    solve: dict | None = None

    def write(self, path):
        """Write as one ECSV table (the row and messages in its metadata), whole or not at all."""
        table = self.metrics.copy(copy_data=False)
        table.meta = {
            **self.metrics.meta,
            _ROW_KEY: _plain(self.row),
            _MESSAGES_KEY: list(self.messages),
            _SOLVE_KEY: None if self.solve is None else _plain(self.solve),
        }
        with atomic_path(path) as temporary:
            table.write(temporary, format="ascii.ecsv", overwrite=True)

    def packed(self):
        """As bytes for this process's memory only (never a file): about 25 kB against 120 kB.

        A night holds every exposure's record until its verdict; astropy's
        columns cost more than the 64 rows of numbers they hold.
        """
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def unpacked(packed):
        """The `ExposureQuality` `packed` gave."""
        return pickle.loads(packed)

    @classmethod
    def read(cls, path):
        """The `ExposureQuality` `write` wrote.

        Raises
        ------
        InputError
            Not such a file.
        """
        try:
            table = QTable.read(path, format="ascii.ecsv")
        except Exception as error:  # astropy raises several types for a malformed ECSV
            raise InputError(f"cannot read as ECSV: {error}", path=path) from error
        if _ROW_KEY not in table.meta:
            raise InputError(f"not an exposure's quality record (no {_ROW_KEY})", path=path)
        row = table.meta.pop(_ROW_KEY)
        messages = list(table.meta.pop(_MESSAGES_KEY, []))
        solve = table.meta.pop(_SOLVE_KEY, None)
        return cls(table, dict(row), messages, None if solve is None else dict(solve))


def _plain(row):
    """Python scalars (YAML writes numpy's as objects)."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}


def measure_exposure(catalog, gaia, heads_dir, metrics_config=None):
    """The per-exposure step: one exposure's metrics against its solution.

    Parameters
    ----------
    catalog : `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    heads_dir : path-like
        Holds ``<catalogue stem>.head`` (and ``.ahead``, ``.xml`` when there);
        without the ``.head`` (SCAMP failed) every quadrant is flagged.
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional

    Returns
    -------
    `ExposureQuality`
    """
    metrics_config = _metrics_config(metrics_config)
    heads_dir = Path(heads_dir)
    a, b = refraction_constants(catalog.weather)
    row = {
        "exposure": catalog.name,
        "telescope_airmass": float(catalog.header.get("AIRMASS", np.nan)),
        "a_predicted": a,
        "b_predicted": b,
        "weather_in_header": has_weather(catalog.header),
    }
    head = heads_dir / f"{catalog.name}.head"
    if not head.is_file():
        # SCAMP failed on it: every quadrant is flagged, the night goes on
        message = f"{catalog.name}: no solved header {head}: every quadrant flagged"
        return ExposureQuality(_unsolved_metrics(catalog), row, [message])
    ahead = heads_dir / f"{catalog.name}.ahead"
    xml = heads_dir / f"{catalog.name}.xml"
    metrics = exposure_metrics(
        catalog,
        gaia,
        head,
        ahead if ahead.is_file() else None,
        xml if xml.is_file() else None,
        metrics_config,
    )
    present = ~np.asarray(metrics["absent"])
    row.update(
        {
            "airmass": float(np.nanmedian(metrics["airmass"][present])),
            "extra_error": float(metrics["extra_error"][0].to_value(u.arcsec)),
            "scale_change": float(exposure_consensus(metrics, "scale_change")[0][0]),
            "zenith_scale": exposure_zenith_scale(metrics, a, b),
            "n_matched": int(metrics["n_matched"].sum()),
        }
    )
    message = f"{catalog.name}: {int(present.sum())} quadrants measured"
    if np.isfinite(row["scale_change"]) and not np.isfinite(row["zenith_scale"]):
        message += f"; {ahead.name}: {NO_ZVACSCL}"
    return ExposureQuality(metrics, row, [*metrics.meta.get("notes", []), message])


def judge_night(measured, config=None, metrics_config=None, log=None):
    """The night step: the scale models over the exposures and the verdict.

    Parameters
    ----------
    measured : iterable of `ExposureQuality` or of their `ExposureQuality.packed` bytes
        In the night's order, at least one; read once, `STACK` tables unpacked at a time.
    config : `~ztfnb.quality.QualityConfig`, optional
        The verdict's thresholds.
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional
        How the exposures were measured (recorded in the metadata).
    log : callable, optional

    Returns
    -------
    quadrants, exposures, coefficients
        As `night_metrics`.
    """
    config = _config(config)
    metrics_config = _metrics_config(metrics_config)
    rows = []
    stacked = _stack(_metrics_of(measured, rows))
    exposures = _exposure_table(rows)
    exposures, coefficients = fit_refraction_model(exposures, config)
    exposures = fit_zenith_model(exposures, config)
    quadrants = verdict(stacked, config, exposures)
    quadrants.meta["metrics"] = metrics_config.describe()
    rows_of = rows_by_exposure(quadrants)
    flags = np.asarray(quadrants["flag"], bool)
    exposures["n_flagged"] = [
        int(flags[rows_of.get(str(e), [])].sum()) for e in exposures["exposure"]
    ]
    exposures.meta["verdict"] = config.describe()
    if log:
        zenith = exposures.meta["zenith_model"]
        log(
            zenith["note"]
            or f"pixel scale relative to the zenith: A = {zenith['A']:.1f} ± {zenith['A_error']:.1f} ppm "
            f"fitted, {zenith['A_predicted']:.1f} ppm from the weather"
        )
    return quadrants, exposures, coefficients


def rows_by_exposure(quadrants):
    """Each exposure's row numbers in a quadrants table, in table order.

    One sort of the column, not one comparison of the whole column per
    exposure (48,000 rows × 750 exposures of string comparisons on a full night).

    Returns
    -------
    dict of str to `~numpy.ndarray` of int
    """
    names = np.asarray(quadrants["exposure"]).astype(str)
    order = np.argsort(names, kind="stable")
    unique, starts = np.unique(names[order], return_index=True)
    return dict(zip(unique.tolist(), np.split(order, starts[1:]), strict=True))


def _metrics_of(measured, rows):
    """Each exposure's metrics table, its row appended to ``rows`` on the way."""
    for one in measured:
        one = ExposureQuality.unpacked(one) if isinstance(one, bytes) else one
        rows.append(one.row)
        yield _own_units(one.metrics)


def _stack(tables, size=STACK):
    """``vstack`` of the tables, `size` at a time then the blocks: the same table, a block held.

    Stacking is associative (an outer join's columns in order of first
    appearance, missing ones masked, metadata merged left to right), so this
    is the table stacking them all at once gives, without every exposure's
    table in memory together.
    """
    blocks, block = [], []
    for table in tables:
        block.append(table)
        if len(block) == size:
            blocks.append(vstack(block, metadata_conflicts="silent"))
            block = []
    if block:
        blocks.append(vstack(block, metadata_conflicts="silent"))
    return blocks[0] if len(blocks) == 1 else vstack(blocks, metadata_conflicts="silent")


def _own_units(metrics):
    """The table with this process's unit objects: those of one measured in a worker are copies.

    Equal either way; but the ECSV writer names a unit object met twice by reference, so copies
    would make a verdict measured in workers differ in bytes from one measured here.
    """
    for column in metrics.itercols():
        unit = getattr(column, "unit", None)
        if isinstance(column, u.Quantity) and unit is not None:
            own = u.Unit(unit.to_string())
            if own is not unit:
                metrics[column.info.name] <<= own
    return metrics


def night_metrics(catalogs, gaia, heads_dir, config=None, log=None, metrics_config=None):
    """Metrics, the night's scale models and the verdict (``ztfnb quality``).

    Parameters
    ----------
    catalogs : list of `~ztfnb.exposure.ExposureCatalog` or `~ztfnb.catalogs.CatalogSource`
        Sources are read one at a time, each dropped once measured: the
        memory needed does not grow with the night.
    gaia : `~astropy.table.QTable`
    heads_dir : path-like
        Holds ``<catalogue stem>.head`` (and ``.ahead``, ``.xml`` when there).
    config : `~ztfnb.quality.QualityConfig`, optional
        The verdict's thresholds.
    log : callable, optional
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional
        How the solutions are measured.

    Returns
    -------
    quadrants : `~astropy.table.QTable`
        Per exposure and quadrant, with the verdict; ``meta["verdict"]`` and
        ``meta["metrics"]`` hold the thresholds and settings used.
    exposures : `~astropy.table.QTable`
        Per exposure: airmass, extra centroid error, scale change prior →
        solution with its refraction model, pixel scale relative to the
        zenith with its model and the ``A`` the weather predicts, outliers of
        each, flagged quadrants; both models in ``meta``.
    coefficients : tuple
        The prior → solution refraction model ``(c0, c1)``.
    """
    config = _config(config)
    metrics_config = _metrics_config(metrics_config)
    heads_dir = Path(heads_dir)
    check_unique_names([catalog.path for catalog in catalogs])
    _check_heads(heads_dir, catalogs)
    measured, seen = [], {}
    for catalog in catalogs:
        if isinstance(catalog, CatalogSource):
            path = catalog.path
            catalog = catalog.read()
            check_distinct(catalog, path, seen)
        one = measure_exposure(catalog, gaia, heads_dir, metrics_config)
        measured.append(one.packed())
        if log:
            for message in one.messages:
                log(message)
    return judge_night(measured, config, metrics_config, log)


def _exposure_table(rows):
    table = QTable()
    table["exposure"] = [r["exposure"] for r in rows]
    for name, unit in (
        ("telescope_airmass", None),
        ("airmass", None),
        ("extra_error", u.arcsec),
        ("scale_change", u.percent),
        ("zenith_scale", PPM),
        ("a_predicted", PPM),
        ("b_predicted", PPM),
    ):
        values = np.array([r.get(name, np.nan) for r in rows], float)
        table[name] = values * unit if unit is not None else values
    table["weather_in_header"] = np.array([r["weather_in_header"] for r in rows], bool)
    table["n_matched"] = np.array([r.get("n_matched", 0) for r in rows], np.int64)
    return table


def _check_heads(heads_dir, catalogs):
    """Refuse a folder that is not a solved night's: missing, or without a .head for any exposure.

    One exposure without its ``.head`` is a SCAMP failure (its quadrants are
    flagged); none at all is a wrong folder, and flagging every quadrant of
    the night would hide that.
    """
    if not heads_dir.is_dir():
        raise InputError("no such folder of SCAMP solutions", path=heads_dir)
    if catalogs and not any((heads_dir / f"{c.name}.head").is_file() for c in catalogs):
        raise InputError(
            f"no .head for any of the {len(catalogs)} exposures (expected "
            f"{catalogs[0].name}.head...): not a folder 'ztfnb solve' wrote for these catalogues",
            path=heads_dir,
        )
