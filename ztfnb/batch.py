"""Many runs of a notebook, in parallel, resumable: locally or on a Dask cluster (``ztfnb batch``).

A grid file (YAML) either maps parameter names to lists — their product is
run — or holds ``runs:``, a list of parameter mappings. Every run is checked
against the notebook's parameters before anything starts, then executed by
`ztfnb.runner.run_notebook` into ``DIR/.<name>.partial-<id>/`` and renamed to
``DIR/<name>/`` when its report is whole (executed notebook, HTML,
``manifest.json``). A run whose folder holds a complete manifest for the same
parameters, notebook and inputs is not run again, so a batch stopped in any
way (SIGKILL included) is finished by starting it again. A failing run is
recorded as failed with its error; the others go on. ``DIR/runs.ecsv`` and
``DIR/index.html`` list every run with its status and key numbers (a run may
write ``summary.json`` of scalars into its output folder).

Runs go to a local process pool by default, or to an existing Dask scheduler
(``--scheduler tcp://HOST:PORT``) — for a Slurm site, start one with
dask-jobqueue's ``SLURMCluster`` (see the README).
"""

import hashlib
import html
import itertools
import json
import os
import re
import shutil
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from astropy.table import Table

from ztfnb.io.atomic import atomic_path
from ztfnb.parameters import ParameterError, check_parameters, load_parameters
from ztfnb.provenance import sha256
from ztfnb.runner import MANIFEST, find_root, run_notebook

__all__ = ["BatchRun", "load_grid", "plan_batch", "run_batch", "run_name"]

_PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-[0-9a-f]+$")


def load_grid(path):
    """Parameter sets of a grid file.

    Returns
    -------
    list of dict

    Raises
    ------
    ParameterError
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such grid file")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(content, dict) or not content:
        raise ParameterError(f"{path}: expected a mapping of parameters to lists, or 'runs:'")
    if "runs" in content:
        runs = content["runs"]
        if (
            set(content) != {"runs"}
            or not isinstance(runs, list)
            or not all(isinstance(r, dict) for r in runs)
        ):
            raise ParameterError(
                f"{path}: 'runs' must be the only key and hold a list of parameter mappings"
            )
        return [dict(r) for r in runs]
    names = list(content)
    values = [content[n] if isinstance(content[n], list) else [content[n]] for n in names]
    if any(len(v) == 0 for v in values):
        raise ParameterError(
            f"{path}: empty list for {[n for n, v in zip(names, values, strict=True) if not v]}"
        )
    return [
        dict(zip(names, combination, strict=True)) for combination in itertools.product(*values)
    ]


def run_name(parameters):
    """A folder name from parameters: readable, and unique through a short hash."""
    canonical = json.dumps(parameters, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    readable = "_".join(f"{k}={v}" for k, v in sorted(parameters.items()))
    readable = re.sub(r"[^A-Za-z0-9=.+-]+", "-", readable).strip("-")[:80]
    return f"{readable}-{digest}" if readable else digest


@dataclass
class BatchRun:
    """One run of a batch."""

    name: str
    parameters: dict
    folder: Path
    notebook: Path
    parameters_file: Path | None
    reuse_kernels: bool = False


def plan_batch(notebook, parameter_sets, out, parameters_file=None):
    """Check every parameter set against the notebook and name its folder.

    Returns
    -------
    list of `BatchRun`
    """
    notebook = Path(notebook).resolve()
    base = load_parameters(parameters_file) if parameters_file else {}
    runs, names = [], set()
    for parameters in parameter_sets:
        check_parameters(notebook, {**base, **parameters}, source=f"grid run {parameters}")
        name = run_name(parameters)
        if name in names:
            raise ParameterError(f"two runs with the same parameters: {parameters}")
        names.add(name)
        runs.append(
            BatchRun(
                name,
                dict(parameters),
                Path(out).resolve() / name,
                notebook,
                Path(parameters_file).resolve() if parameters_file else None,
            )
        )
    return runs


def _manifest(folder):
    try:
        return json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_done(run):
    """Whether the run's folder holds a complete report for the same parameters, notebook and inputs."""
    manifest = _manifest(run.folder)
    if not manifest or manifest.get("status") != "complete":
        return False
    recorded = manifest.get("parameters", {})
    if any(recorded.get(k) != v for k, v in run.parameters.items()):
        return False
    root = find_root(run.notebook.parent)
    for name, digest in manifest.get("inputs", {}).items():
        path = Path(name) if Path(name).is_absolute() else root / name
        if not path.is_file() or sha256(path) != digest:
            return False
    return True


_KERNELS = {}


def _kernel(root):
    """A warm kernel for this process (and notebook root), stopped when the process ends."""
    from multiprocessing import util

    from ztfnb.runner import WarmKernel

    key = str(root)
    if key not in _KERNELS:
        kernel = WarmKernel(root)
        _KERNELS[key] = kernel
        util.Finalize(kernel, kernel.close, exitpriority=10)
    return _KERNELS[key]


def execute_run(run):
    """Execute one run into a temporary folder and rename it when whole. Never raises.

    Returns
    -------
    dict
        A row of ``runs.ecsv``.
    """
    partial = run.folder.parent / f".{run.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        executor = _kernel(find_root(run.notebook.parent)) if run.reuse_kernels else None
        result = run_notebook(
            run.notebook,
            parameters_file=run.parameters_file,
            output_dir=partial,
            overrides=run.parameters,
            executor=executor,
            record_output_dir=run.folder,
        )
        if run.folder.exists():
            stale = run.folder.parent / f".{run.name}.stale-{uuid.uuid4().hex[:12]}"
            os.replace(run.folder, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(partial, run.folder)
        return _row(run, result.manifest)
    except Exception as error:  # a run that cannot even start is recorded, not raised
        shutil.rmtree(partial, ignore_errors=True)
        return {
            "name": run.name,
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "duration_s": np.nan,
            "parameters": run.parameters,
        }


def _row(run, manifest):
    return {
        "name": run.name,
        "status": manifest.get("status", "unknown"),
        "error": manifest.get("error") or "",
        "duration_s": manifest.get("duration_s", np.nan),
        "parameters": run.parameters,
    }


def _summary(folder):
    try:
        values = json.loads((Path(folder) / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in values.items() if isinstance(v, int | float | str | bool)}


def write_index(out, runs, rows):
    """``runs.ecsv`` and ``index.html`` for the runs so far."""
    out = Path(out)
    records = []
    for run in runs:
        row = rows.get(run.name)
        if row is None:
            manifest = _manifest(run.folder)
            row = (
                _row(run, manifest)
                if manifest
                else {
                    "name": run.name,
                    "status": "pending",
                    "error": "",
                    "duration_s": np.nan,
                    "parameters": run.parameters,
                }
            )
        records.append(
            {
                **{
                    "name": run.name,
                    "status": row["status"],
                    "error": row["error"],
                    "duration_s": row["duration_s"],
                },
                **run.parameters,
                **_summary(run.folder),
            }
        )
    columns = list(dict.fromkeys(k for r in records for k in r))
    table = Table({c: _column([r.get(c) for r in records]) for c in columns})
    with atomic_path(out / "runs.ecsv") as temporary:
        table.write(temporary, format="ascii.ecsv", overwrite=True)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = ""
    for record in records:
        cells = []
        for column in columns:
            value = html.escape(str(_cell(record.get(column))))
            if column == "name" and (out / record["name"]).is_dir():
                pages = sorted((out / record["name"]).glob("*.html"))
                link = f"{record['name']}/{pages[0].name}" if pages else f"{record['name']}/"
                value = f'<a href="{html.escape(link)}">{value}</a>'
            cells.append(
                f'<td class="{html.escape(str(record["status"]))}">{value}</td>'
                if column == "status"
                else f"<td>{value}</td>"
            )
        body += "<tr>" + "".join(cells) + "</tr>\n"
    counts = {s: sum(r["status"] == s for r in records) for s in ("complete", "failed", "pending")}
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>ztfnb batch</title><style>body{font-family:sans-serif}'
        "td,th{padding:2px 8px}.failed{color:#b00}.complete{color:#070}.pending{color:#888}</style></head><body>"
        f"<h1>ztfnb batch</h1><p>{counts['complete']} complete, {counts['failed']} failed, {counts['pending']} pending</p>"
        f"<table><tr>{head}</tr>\n{body}</table></body></html>\n"
    )
    with atomic_path(out / "index.html") as temporary:
        Path(temporary).write_text(page, encoding="utf-8")
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


def _clean_partials(out):
    for path in Path(out).glob(".*"):
        if path.is_dir() and (_PARTIAL.match(path.name) or ".stale-" in path.name):
            shutil.rmtree(path, ignore_errors=True)


def run_batch(
    notebook,
    parameter_sets,
    out,
    workers=2,
    scheduler=None,
    parameters_file=None,
    reuse_kernels=False,
    progress=True,
):
    """Run a notebook over parameter sets; finish what a previous batch left.

    Parameters
    ----------
    notebook : path-like
    parameter_sets : list of dict
        From `load_grid`.
    out : path-like
    workers : int
        Local processes (ignored with ``scheduler``).
    scheduler : str, optional
        A Dask scheduler's address (``tcp://host:port``).
    parameters_file : path-like, optional
        Base values under the grid's.
    reuse_kernels : bool
        One kernel per worker for several runs (`ztfnb.runner.WarmKernel`).
    progress : bool

    Returns
    -------
    `~astropy.table.Table`
        ``runs.ecsv``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = plan_batch(notebook, parameter_sets, out, parameters_file)
    for run in runs:
        run.reuse_kernels = reuse_kernels
    _clean_partials(out)
    rows = {}
    todo = [run for run in runs if not is_done(run)]
    skipped = len(runs) - len(todo)
    bar = _progress(len(runs), skipped, progress)
    write_index(out, runs, rows)
    try:
        for row in _results(todo, workers, scheduler):
            rows[row["name"]] = row
            bar.update(1)
            failed = sum(r["status"] != "complete" for r in rows.values())
            bar.set_postfix_str(
                f"done {len(rows) - failed + skipped}, failed {failed}, remaining {len(todo) - len(rows)}"
            )
            write_index(out, runs, rows)
    finally:
        bar.close()
    return write_index(out, runs, rows)


def _progress(total, skipped, enabled):
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=skipped,
        desc="runs",
        unit="run",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    bar.set_postfix_str(f"done {skipped}, failed 0, remaining {total - skipped}")
    return bar


def _results(runs, workers, scheduler):
    """Yield each run's row as it finishes."""
    if not runs:
        return
    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, timeout="30s") as client:
            futures = client.map(
                execute_run,
                runs,
                pure=False,
                key=[f"ztfnb-{run.name}-{uuid.uuid4().hex[:6]}" for run in runs],
            )
            for future in dask_completed(futures):
                yield future.result()
        return
    if workers <= 1:
        for run in runs:
            yield execute_run(run)
        return
    import multiprocessing

    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = [pool.submit(execute_run, run) for run in runs]
        for future in as_completed(futures):
            yield future.result()
