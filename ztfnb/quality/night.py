"""A night's quality, end to end: metrics of every exposure, the scale models, the verdict."""

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack

from ztfnb.exposure import check_unique_names
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

__all__ = ["night_metrics"]

_WEATHER_KEYS = ("PRESSURE", "TEMPTURE", "OUTTEMP", "HUMIDITY", "OUTRELHU")


def night_metrics(catalogs, gaia, heads_dir, config=None, log=None, metrics_config=None):
    """Metrics, the night's scale models and the verdict (``ztfnb quality``).

    Parameters
    ----------
    catalogs : list of `~ztfnb.exposure.ExposureCatalog`
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
    tables = []
    rows = []
    for catalog in catalogs:
        a, b = refraction_constants(catalog.weather)
        row = {
            "exposure": catalog.name,
            "telescope_airmass": float(catalog.header.get("AIRMASS", np.nan)),
            "a_predicted": a,
            "b_predicted": b,
            "weather_in_header": any(key in catalog.header for key in _WEATHER_KEYS),
        }
        head = heads_dir / f"{catalog.name}.head"
        if not head.is_file():
            # SCAMP failed on it: every quadrant is flagged, the night goes on
            if log:
                log(f"{catalog.name}: no solved header {head}: every quadrant flagged")
            tables.append(_unsolved_metrics(catalog))
            rows.append(row)
            continue
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
        tables.append(metrics)
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
        rows.append(row)
        if log:
            for note in metrics.meta.get("notes", []):
                log(note)
            message = f"{catalog.name}: {int(present.sum())} quadrants measured"
            if np.isfinite(row["scale_change"]) and not np.isfinite(row["zenith_scale"]):
                message += f"; {ahead.name}: {NO_ZVACSCL}"
            log(message)
    exposures = _exposure_table(rows)
    exposures, coefficients = fit_refraction_model(exposures, config)
    exposures = fit_zenith_model(exposures, config)
    quadrants = verdict(vstack(tables, metadata_conflicts="silent"), config, exposures)
    quadrants.meta["metrics"] = metrics_config.describe()
    exposures["n_flagged"] = [
        int(np.sum(quadrants["flag"][quadrants["exposure"] == e])) for e in exposures["exposure"]
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
