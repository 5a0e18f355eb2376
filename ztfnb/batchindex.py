"""A batch's index: ``runs.ecsv`` and ``index.html``, one row per run.

The batch's own columns come first, then the grid's parameters and each run's
key numbers (``summary.json``) under their own names — prefixed ``param.`` or
``summary.`` only where a name would overwrite a column before it.
"""

import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from ztfnb.io.atomic import atomic_path
from ztfnb.io.summary import read_summary
from ztfnb.manifest import Manifest
from ztfnb.reportindex import index_page, report_files, write_page

__all__ = ["COLUMNS", "run_row", "write_index"]

#: The batch's own columns of ``runs.ecsv``; parameters and key numbers come after, prefixed.
COLUMNS = ("name", "status", "error", "duration_s")


def run_row(run, manifest):
    """The batch's own columns for a run whose report has a manifest (``runs.ecsv``)."""
    return {
        "name": run.name,
        "status": manifest.status,
        "error": manifest.error or "",
        "duration_s": np.nan if manifest.duration_s is None else manifest.duration_s,
        "parameters": run.parameters,
    }


def _pending(run):
    return {"name": run.name, "status": "pending", "error": "", "duration_s": np.nan}


def _record(run, row, parameter_names):
    """One line of the index: the batch's columns, the run's parameters, then its key numbers.

    A parameter or key keeps its own name (``redshift``, ``cii_snr``) unless it
    would overwrite a column before it — a batch column, or for a key any
    parameter of the batch (``parameter_names``, over all runs, so that one
    column never holds parameters in one row and key numbers in another):
    then it is ``param.<name>`` or ``summary.<key>``.
    """
    record = {column: row[column] for column in COLUMNS}
    for key, value in run.parameters.items():
        record[f"param.{key}" if key in COLUMNS else key] = value
    taken = set(COLUMNS) | set(parameter_names)
    for key, value in read_summary(run.folder).items():
        record[f"summary.{key}" if key in taken else key] = value
    return record


def write_index(out, runs, rows):
    """``runs.ecsv`` and ``index.html`` for the runs so far.

    Columns: ``name, status, error, duration_s`` (the batch's own), then each
    grid parameter and each key of the runs' ``summary.json`` under its own
    name (prefixed ``param.`` or ``summary.`` where it would overwrite one).
    """
    out = Path(out)
    parameter_names = {name for run in runs for name in run.parameters}
    records = []
    for run in runs:
        row = rows.get(run.name)
        if row is None:
            manifest = Manifest.read(run.folder)
            row = run_row(run, manifest) if manifest else _pending(run)
        records.append(_record(run, row, parameter_names))
    columns = list(dict.fromkeys(k for r in [dict.fromkeys(COLUMNS), *records] for k in r))
    table = Table({c: _column([r.get(c) for r in records]) for c in columns})
    with atomic_path(out / "runs.ecsv") as temporary:
        table.write(temporary, format="ascii.ecsv", overwrite=True)
    rows = []
    for record in records:
        cells = [{"class": str(record["status"])}]
        for column in columns:
            value = str(_cell(record.get(column)))
            if column == "name" and (out / record["name"]).is_dir():
                pages = sorted((out / record["name"]).glob("*.html"))
                link = f"{record['name']}/{pages[0].name}" if pages else f"{record['name']}/"
                value = [(value, link)]
            cells.append(value)
        folder = out / record["name"]
        cells.append(report_files(folder, out) if folder.is_dir() else "")
        rows.append(cells)
    counts = {s: sum(r["status"] == s for r in records) for s in ("complete", "failed", "pending")}
    page = index_page(
        "ztfnb batch",
        f"{counts['complete']} complete, {counts['failed']} failed, {counts['pending']} pending",
        [*columns, "files"],
        rows,
    )
    write_page(out / "index.html", page)
    return table


def _column(values):
    """Numbers stay numbers (missing ones masked); anything else becomes text."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if present and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present
    ):
        missing = [v is None or (isinstance(v, float) and np.isnan(v)) for v in values]
        return np.ma.array(
            [0 if m else v for v, m in zip(values, missing, strict=True)], mask=missing
        )
    return [str(_cell(v)) for v in values]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value
