"""A night's quality, end to end: metrics of every exposure, the refraction model, the verdict."""

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table, vstack

from ztfnb.exposure import check_unique_names
from ztfnb.quality.metrics import _unsolved_metrics, exposure_metrics
from ztfnb.quality.refraction import fit_refraction_model
from ztfnb.quality.verdict import QualityConfig, exposure_scale_change, verdict

__all__ = ["night_metrics"]


def night_metrics(catalogs, gaia, heads_dir, config=None, log=None):
    """Metrics, refraction model and verdict for a night (``ztfnb quality``).

    Parameters
    ----------
    catalogs : list of `~ztfnb.exposure.ExposureCatalog`
    gaia : `~astropy.table.QTable`
    heads_dir : path-like
        Holds ``<catalogue stem>.head`` (and ``.ahead``, ``.xml`` when there).
    config : `QualityConfig`, optional
    log : callable, optional

    Returns
    -------
    quadrants : `~astropy.table.QTable`
        Per exposure and quadrant, with the verdict.
    exposures : `~astropy.table.QTable`
        Per exposure: airmass, scale change, the refraction model and outliers.
    coefficients : tuple
    """
    config = config or QualityConfig()
    heads_dir = Path(heads_dir)
    tables = []
    exposure_rows = []
    check_unique_names([catalog.path for catalog in catalogs])
    for catalog in catalogs:
        head = heads_dir / f"{catalog.name}.head"
        if not head.is_file():
            # SCAMP failed on it: every quadrant is flagged, the night goes on
            if log:
                log(f"{catalog.name}: no solved header {head}: every quadrant flagged")
            tables.append(_unsolved_metrics(catalog))
            exposure_rows.append(
                (catalog.name, float(catalog.header.get("AIRMASS", np.nan)), np.nan, np.nan, 0)
            )
            continue
        ahead = heads_dir / f"{catalog.name}.ahead"
        xml = heads_dir / f"{catalog.name}.xml"
        metrics = exposure_metrics(
            catalog,
            gaia,
            head,
            ahead if ahead.is_file() else None,
            xml if xml.is_file() else None,
            config,
        )
        tables.append(metrics)
        present = ~np.asarray(metrics["absent"])
        exposure_rows.append(
            (
                catalog.name,
                float(catalog.header.get("AIRMASS", np.nan)),
                float(np.nanmedian(metrics["airmass"][present])),
                float(exposure_scale_change(metrics, config)[0]),
                int(metrics["n_matched"].sum()),
            )
        )
        if log:
            log(f"{catalog.name}: {int(present.sum())} quadrants measured")
    exposures = QTable(
        rows=exposure_rows,
        names=["exposure", "telescope_airmass", "airmass", "scale_change", "n_matched"],
    )
    exposures["scale_change"] = np.asarray(exposures["scale_change"], float) * u.percent
    exposures, coefficients = fit_refraction_model(exposures, config)
    quadrants = verdict(vstack(tables), config, exposures)
    flags = Table(
        {
            "exposure": exposures["exposure"],
            "n_flagged": [
                int(np.sum(quadrants["flag"][quadrants["exposure"] == e]))
                for e in exposures["exposure"]
            ],
        }
    )
    exposures["n_flagged"] = flags["n_flagged"]
    return quadrants, exposures, coefficients
