"""Solving a night with the real SCAMP, from the prior, in parallel (``ztfnb solve``).

For each catalogue: the Gaia reference at the exposure's epoch in SCAMP's
LDAC format (from the prefetched table: never a network call), the
``.ahead`` from the prior (pointing measured first), then SCAMP with standard
input closed, ``CHECKPLOT_TYPE NONE`` and XML on. Success is judged from the
XML — ``NDeg_Reference``, ``AstromSigma_Reference``, ``Chi2_Reference``, the
pattern-matching contrasts and the warnings — never from the exit code.

Two ways to run SCAMP:

``fast`` (default)
    ``MATCH N`` straight from the refined prior, ``STABILITY_TYPE
    PRE-DISTORTED``: the prior's distortion is kept, SCAMP fits the rest.
``ztf``
    ZTF's two passes: pattern matching with little freedom in rotation and
    scale from the prior (``PRE-DISTORTED``), then ``MATCH N`` with a higher
    distortion degree from the first pass's header.

SCAMP is told which columns to read (``CENTROID_KEYS``, ``CENTROIDERR_KEYS``,
``DISTORT_KEYS``, ``PHOTFLUX_KEY``, ``PHOTFLUXERR_KEY``) from the columns
`ztfnb.io.sextractor` chose; a catalogue whose centroid errors are only
variances or whose photometry is only magnitudes is given to SCAMP as a copy
with the error-ellipse axes or fluxes added.

Outputs in ``DIR``: ``<stem>.ldac`` (a link to the catalogue, or that copy, or for
per-quadrant files the exposure's quadrants written as one, `ztfnb.catalogs`), ``<stem>.ahead``
(the prior), ``<stem>.gaia.ldac`` (the reference), ``<stem>.head`` and
``<stem>.xml`` (SCAMP's), and ``summary.ecsv``; with ``checkplots``, SCAMP's
own plots of the (last) pass, ``<stem>.<plot>.pdf`` (or ``.svg``, ``.ps``) for
each plot of `CHECKPLOTS`. Debian's SCAMP draws with PLplot's ps, psc, svg
and pdf devices only (no png): a device it lacks stops SCAMP, and the row's
reason quotes SCAMP's last lines.
"""

import glob
import os
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.catalogs import CatalogSource, checked_exposures, find_exposures
from ztfnb.io.atomic import atomic_path
from ztfnb.io.errors import InputError, no_such_file
from ztfnb.io.gaia import read_gaia
from ztfnb.io.headers import write_header_blocks
from ztfnb.io.ldac import write_ldac
from ztfnb.io.refcat import write_scamp_reference
from ztfnb.io.sextractor import scamp_extensions
from ztfnb.lifetime import die_with_parent
from ztfnb.prior import ahead_headers, refine_pointing
from ztfnb.prior.file import read_prior
from ztfnb.quality.night import judge_night, measure_exposure
from ztfnb.qualityfiles import check_quality_paths, write_quality
from ztfnb.reference import field_reference
from ztfnb.scamp import check_settings, find_scamp, run_scamp
from ztfnb.solvedfolder import METRICS, exposure_quality_path

__all__ = [
    "CHECKPLOTS",
    "CHECKPLOT_DEVICES",
    "SolveConfig",
    "judge_solution",
    "solve_exposure",
    "solve_night",
]

#: SCAMP's check plots written with ``checkplots``: ``CHECKPLOT_TYPE`` → the file's name part.
CHECKPLOTS = {
    "FGROUPS": "groups",  # the field groups on the sky
    "DISTORTION": "distortion",  # the pixel-scale map of the solution
    "ASTR_REFERROR2D": "referror2d",  # residuals against Gaia, in 2D
    "ASTR_REFERROR1D": "referror1d",  # residual histograms against Gaia
    "ASTR_CHI2": "chi2",  # chi2 per detection
}
#: ``checkplots`` formats → PLplot devices Debian's SCAMP has, and the files' extension.
CHECKPLOT_DEVICES = {"pdf": ("PDF", "pdf"), "svg": ("SVG", "svg"), "ps": ("PSC", "ps")}


@dataclass(frozen=True)
class SolveConfig:
    """How SCAMP is run and judged.

    Attributes
    ----------
    mode : str
        ``"fast"`` or ``"ztf"`` (see the module's description).
    distort_degrees : int
        ``DISTORT_DEGREES`` of the (last) pass.
    ztf_second_degree : int
        ``DISTORT_DEGREES`` of the ``ztf`` mode's second pass.
    reference_mag_limit : `~astropy.units.Quantity`
        Faintest Gaia G in the reference catalogue.
    max_sigma : `~astropy.units.Quantity`
        Largest ``AstromSigma_Reference`` (either axis) of a good solution.
    max_chi2 : float
        Largest ``Chi2_Reference`` of a good solution.
    min_contrast : float
        Smallest pattern-matching contrast (``ztf`` mode's first pass).
    scamp_options : dict
        More SCAMP configuration keys and values, applied last.
    checkplots : str
        ``""`` (none), ``"pdf"``, ``"svg"`` or ``"ps"``: SCAMP's plots of
        `CHECKPLOTS` for each exposure, in that format (a ``CHECKPLOT_*`` key
        of ``scamp_options`` overrides them; ``CHECKPLOT_DEV`` alone also asks
        for the plots).
    """

    mode: str = "fast"
    distort_degrees: int = 3
    ztf_second_degree: int = 4
    reference_mag_limit: u.Quantity = 20.0 * u.mag
    max_sigma: u.Quantity = 0.3 * u.arcsec
    max_chi2: float = 30.0
    min_contrast: float = 3.0
    scamp_options: dict = field(default_factory=dict)
    checkplots: str = ""

    def __post_init__(self):
        if self.mode not in ("fast", "ztf"):
            raise ValueError(f"mode must be 'fast' or 'ztf', got {self.mode!r}")
        if self.checkplots and self.checkplots not in CHECKPLOT_DEVICES:
            raise ValueError(
                f"checkplots must be one of {', '.join(CHECKPLOT_DEVICES)} (the formats Debian's "
                f"SCAMP can draw), got {self.checkplots!r}"
            )

    def checkplot_options(self, stem):
        """SCAMP's ``CHECKPLOT_*`` settings for one exposure's plots (none when none are asked for).

        Parameters
        ----------
        stem : str
            The exposure's name: the plots are ``<stem>.<plot>``.

        Returns
        -------
        dict
        """
        given = self.scamp_options
        if not self.checkplots and "CHECKPLOT_DEV" not in given:
            return {}
        device = given.get("CHECKPLOT_DEV", CHECKPLOT_DEVICES[self.checkplots or "pdf"][0])
        extension = {"PSC": "ps", "PS": "ps"}.get(device.upper(), device.lower())
        types = given.get("CHECKPLOT_TYPE", ",".join(CHECKPLOTS)).split(",")
        # SCAMP replaces a name's extension by the device's and numbers it: <stem>.<plot>_1.pdf
        names = [f"{stem}.{CHECKPLOTS.get(kind, kind.lower())}.{extension}" for kind in types]
        return {
            "CHECKPLOT_DEV": device,
            "CHECKPLOT_TYPE": ",".join(types),
            "CHECKPLOT_NAME": given.get("CHECKPLOT_NAME", ",".join(names)),
        }

    def passes(self):
        """The SCAMP option sets, in order, with the header suffix each reads and writes."""
        if self.mode == "fast":
            options = {
                "MATCH": "N",
                "STABILITY_TYPE": "PRE-DISTORTED",
                "DISTORT_DEGREES": str(self.distort_degrees),
            }
            return [("", {**options, **self.scamp_options})]
        first = {
            "MATCH": "Y",
            "STABILITY_TYPE": "PRE-DISTORTED",
            "DISTORT_DEGREES": str(self.distort_degrees),
            "POSANGLE_MAXERR": "0.2",
            "PIXSCALE_MAXERR": "1.005",
            "POSITION_MAXERR": "1.0",
            "HEADER_SUFFIX": ".pass1.head",
        }
        second = {
            "MATCH": "N",
            "DISTORT_DEGREES": str(self.ztf_second_degree),
            "AHEADER_SUFFIX": ".pass1.head",
        }
        return [(".pass1", {**first, **self.scamp_options}), ("", {**second, **self.scamp_options})]


def judge_solution(fields, warnings, config, pattern_matched=False):
    """Whether SCAMP's XML describes a good solution, and why not.

    Parameters
    ----------
    fields : `~astropy.table.Table` or None
        The XML's ``Fields`` table.
    warnings : list of str
    config : `SolveConfig`
    pattern_matched : bool
        Whether SCAMP matched patterns (then the contrasts count).

    Returns
    -------
    status : str
        ``"solved"``, ``"suspect"`` or ``"failed"``.
    reason : str
    """
    if fields is None or len(fields) == 0:
        said = [f": {w}" for w in warnings if w.startswith("*Error*")][:1]
        return "failed", f"no XML statistics (SCAMP stopped early{''.join(said)})"
    row = fields[0]
    ndeg = int(row["NDeg_Reference"])
    if ndeg == 0:
        return "failed", "no detection matched the reference (NDeg_Reference 0)"
    sigma = np.atleast_1d(np.asarray(row["AstromSigma_Reference"], float))
    reasons = []
    if np.max(sigma) > config.max_sigma.to_value(u.arcsec):
        reasons.append(f'AstromSigma {np.max(sigma):.3f}" > {config.max_sigma.to_value(u.arcsec)}"')
    chi2 = float(row["Chi2_Reference"])
    if chi2 > config.max_chi2:
        reasons.append(f"chi2 {chi2:.1f} > {config.max_chi2}")
    if pattern_matched and "AS_Contrast" in fields.colnames:
        contrasts = float(row["AS_Contrast"]), float(row["XY_Contrast"])
        if min(contrasts) < config.min_contrast:
            reasons.append(
                f"pattern-matching contrast {min(contrasts):.1f} < {config.min_contrast}"
            )
    unmatched = [w for w in warnings if "Not enough matched detections" in w]
    if unmatched:
        reasons.append(f"{len(unmatched)} quadrant(s) without enough matches")
    if reasons:
        return "suspect", "; ".join(reasons)
    return "solved", ""


_RANK = {"solved": 0, "suspect": 1, "failed": 2}


@dataclass
class _Job:
    catalog: CatalogSource
    prior: Path
    gaia: Path
    out: Path
    config: SolveConfig
    measure: bool = False  # and measure the solution (``solve --quality``, ``night``)
    metrics_config: object = None


_GAIA = {}


def _gaia(path):
    """The Gaia table, read once per worker process."""
    key = str(path)
    if key not in _GAIA:
        _GAIA.clear()
        _GAIA[key] = read_gaia(path)
    return _GAIA[key]


def solve_exposure(catalog, prior, gaia, out, config=None, exposure=None):
    """Prepare and solve one exposure.

    Parameters
    ----------
    catalog : path-like or `~ztfnb.catalogs.CatalogSource`
        The exposure's FITS_LDAC catalogue, or its per-quadrant files
        (`ztfnb.catalogs.find_exposures`), which SCAMP gets as one FITS_LDAC
        ``<exposure>.ldac`` written into ``out``.
    prior, gaia, out : path-like
        The prior file, the Gaia table, the output folder.
    config : `SolveConfig`, optional
    exposure : `~ztfnb.exposure.ExposureCatalog`, optional
        ``catalog`` already read (by a caller that measures it afterwards).

    Returns
    -------
    dict
        One summary row (see `solve_night`).
    """
    config = config or SolveConfig()
    out = Path(out).resolve()  # SCAMP runs in it: relative names would resolve twice
    if not isinstance(catalog, CatalogSource):
        (catalog,) = find_exposures([Path(catalog).absolute()])
    source = catalog.path.absolute()
    exposure = exposure if exposure is not None else catalog.read()
    stem = exposure.name
    columns = exposure.extensions[0].columns
    # quadrants from several files reach SCAMP as one catalogue ztfnb writes
    layout_read = not catalog.per_quadrant and all(
        extension.scamp_reads for extension in exposure.extensions
    )
    link = out / f"{stem}.ldac"
    # solving into the catalogue's own folder: SCAMP reads the catalogue itself, which must
    # be neither removed nor overwritten
    in_place = not catalog.per_quadrant and link.resolve() == source.resolve()
    if in_place and not (columns.scamp_reads_directly and layout_read):
        raise InputError(
            f"SCAMP needs a copy named {link.name} in the output folder ("
            + ("converted columns" if layout_read else "its header tables rewritten")
            + "), which is the catalogue's own: choose another output folder",
            path=source,
        )
    # an earlier run's answers must not outlive this run
    for suffix, _ in config.passes():
        for kind in (".head", ".xml"):
            (out / f"{stem}{suffix}{kind}").unlink(missing_ok=True)
    plots = config.checkplot_options(stem)
    for name in plots.get("CHECKPLOT_NAME", "").split(",") if plots else []:
        base = Path(name).with_suffix("").name
        for stale in out.glob(f"{glob.escape(base)}*.*"):
            if stale.suffix in (".pdf", ".svg", ".ps", ".png"):
                stale.unlink()
    if not in_place:
        if link.exists() or link.is_symlink():
            link.unlink()
        if columns.scamp_reads_directly and layout_read:
            try:
                # SCAMP follows symbolic links and would write beside the original: a hard
                # link, or a copy (whole or not at all: a full disk leaves no cut catalogue)
                os.link(source, link)
            except OSError:
                with atomic_path(link) as temporary:
                    shutil.copy2(source, temporary)
        else:
            # SCAMP reads errors as the ellipse's axes and fluxes as fluxes: a catalogue with
            # only variances or magnitudes gets a copy with those columns added (a refusal
            # would turn away a common SExtractor set-up that carries all SCAMP needs); a
            # header layout SCAMP crashes on or misreads (another writer's) is rewritten too
            write_ldac(link, scamp_extensions(exposure.extensions, columns))
    # SCAMP's keys naming the columns chosen (its defaults are XWIN_IMAGE, ERRAWIN_IMAGE...,
    # FLUX_AUTO); the user's own settings still come last
    scamp_keys = columns.scamp_options()
    model = read_prior(prior)
    table = _gaia(gaia)
    terms = refine_pointing(model, exposure, table)
    write_header_blocks(out / f"{stem}.ahead", ahead_headers(model, exposure, terms))
    write_scamp_reference(
        out / f"{stem}.gaia.ldac", field_reference(table, exposure, config.reference_mag_limit)
    )
    elapsed = 0.0
    runs = []
    passes = config.passes()
    for number, (suffix, options) in enumerate(passes, 1):
        last = number == len(passes)  # check plots of the final solution only
        run = run_scamp(
            link,
            out / f"{stem}.gaia.ldac",
            {
                **scamp_keys,
                **(plots if last else {}),
                **options,
                "XML_NAME": str(out / f"{stem}{suffix}.xml"),
            },
            workdir=out,
        )
        elapsed += run.elapsed
        runs.append((options, run))
    head = out / f"{stem}.head"
    status, reason = "solved", ""
    for options, pass_run in runs:  # the worst verdict of the passes stands
        verdict = judge_solution(
            pass_run.fields, pass_run.warnings, config, pattern_matched=options.get("MATCH") == "Y"
        )
        if _RANK[verdict[0]] > _RANK[status]:
            status, reason = verdict
    stopped = [pass_run.failure for _, pass_run in runs if pass_run.failure]
    if stopped:  # SCAMP's own message, e.g. PLplot lacking the device asked for
        status, reason = "failed", stopped[0]
    elif not head.is_file():
        status, reason = "failed", f"SCAMP wrote no header (exit status {run.returncode})"
    if plots:
        _name_checkplots(out, plots["CHECKPLOT_NAME"].split(","))
    row = run.fields[0] if run.fields is not None and len(run.fields) else None
    sigma = (
        np.atleast_1d(np.asarray(row["AstromSigma_Reference"], float))
        if row is not None
        else np.full(2, np.nan)
    )
    return {
        "exposure": stem,
        "status": status,
        "reason": reason,
        "n_quadrants": len(exposure.extensions),
        "pointing_offset": float(np.hypot(*terms.offset_arcsec)),
        "ndeg": int(row["NDeg_Reference"]) if row is not None else 0,
        "sigma_1": float(sigma[0]),
        "sigma_2": float(sigma[-1]),
        "chi2": float(row["Chi2_Reference"]) if row is not None else np.nan,
        # the contrasts come from the pass that matched patterns (ztf mode's first)
        "as_contrast": _contrast(runs, "AS_Contrast"),
        "xy_contrast": _contrast(runs, "XY_Contrast"),
        "n_warnings": len(run.warnings),
        "scamp_seconds": elapsed,
    }


def _name_checkplots(out, names):
    """``<stem>.<plot>_1.pdf`` (SCAMP numbers a plot by field group) as ``<stem>.<plot>.pdf``.

    An exposure is one field group; a plot SCAMP drew for several keeps its numbers.
    """
    for name in names:
        base = Path(name).with_suffix("").name
        drawn = sorted(out.glob(f"{glob.escape(base)}_*.*"))
        if len(drawn) == 1 and drawn[0].stem == f"{base}_1":
            os.replace(drawn[0], out / f"{base}{drawn[0].suffix}")


def _contrast(runs, name):
    """A pattern-matching contrast from the passes' Fields rows, NaN where none wrote it (MATCH N)."""
    for _, run in runs:
        if run.fields is not None and len(run.fields) and name in run.fields.colnames:
            value = float(run.fields[0][name])
            if np.isfinite(value):
                return value
    return np.nan


def _run_job(job):
    """One exposure solved (and measured, for a job that asks): its summary row, never an exception.

    With ``job.measure`` the row's ``"quality"`` is the `~ztfnb.quality.night.ExposureQuality`
    (None when the catalogue could not be read), also written beside the solution: the
    catalogue read for SCAMP is measured, not read again.
    """
    started = time.time()
    exposure = None
    try:
        exposure = job.catalog.read()
        row = solve_exposure(job.catalog, job.prior, job.gaia, job.out, job.config, exposure)
    except Exception as error:  # one bad exposure must not stop the night
        row = _error_row(job, error)
    if job.measure:
        row["quality"] = None
        if exposure is not None:
            try:
                measured = measure_exposure(exposure, _gaia(job.gaia), job.out, job.metrics_config)
                measured.solve = {k: v for k, v in row.items() if k in _COLUMNS}
                measured.write(exposure_quality_path(job.out, exposure.name))
                row["quality"] = measured
            except Exception as error:
                row = _error_row(job, error)
                row["quality"] = None
    row["started"], row["ended"] = started, time.time()
    return row


def _error_row(job, error):
    return {
        "exposure": job.catalog.name,
        "status": "error",
        "reason": f"{type(error).__name__}: {error}".splitlines()[0],
        "traceback": traceback.format_exc(),
    }


_COLUMNS = {
    "exposure": str,
    "status": str,
    "reason": str,
    "n_quadrants": int,
    "pointing_offset": float,
    "ndeg": int,
    "sigma_1": float,
    "sigma_2": float,
    "chi2": float,
    "as_contrast": float,
    "xy_contrast": float,
    "n_warnings": int,
    "scamp_seconds": float,
}
_UNITS = {
    "pointing_offset": u.arcsec,
    "sigma_1": u.arcsec,
    "sigma_2": u.arcsec,
    "scamp_seconds": u.s,
}


def solve_night(
    catalogs,
    gaia,
    prior,
    out,
    config=None,
    workers=None,
    log=None,
    quality=False,
    quality_config=None,
    metrics_config=None,
):
    """Solve catalogues with SCAMP in parallel and write the summary.

    Parameters
    ----------
    catalogs : list of path-like
        FITS_LDAC catalogues and per-quadrant files (`ztfnb.catalogs`).
    gaia, prior : path-like
    out : path-like
        Output folder (created).
    config : `SolveConfig`, optional
    workers : int, optional
        Processes (default: the machine's cores).
    log : callable, optional
    quality : bool
        Also measure each solution in its worker, from the catalogue read for
        SCAMP (`~ztfnb.quality.night.measure_exposure`, kept as
        ``DIR/<exposure>.quality.ecsv``), then judge the night: ``DIR/metrics.ecsv``,
        ``metrics.exposures.ecsv`` and ``metrics.html``, as ``ztfnb quality``
        writes them.
    quality_config : `~ztfnb.quality.QualityConfig`, optional
        The verdict's thresholds, with ``quality``.
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional
        How the solutions are measured, with ``quality``.

    Returns
    -------
    summary : `~astropy.table.QTable`
        ``summary.ecsv``: one row per exposure with ``status`` (``solved``,
        ``suspect``, ``failed`` or ``error``), ``reason``, SCAMP's statistics
        and run time.
    quadrants, exposures : `~astropy.table.QTable`
        With ``quality`` only (then a tuple of three is returned): the verdict
        tables (`~ztfnb.quality.night_metrics`).
    """
    find_scamp()  # clear errors before any work
    # a damaged catalogue is refused before any work, not left to become one more failed
    # exposure in the summary
    sources = checked_exposures(catalogs)
    config = config or SolveConfig()
    for _, options in config.passes():
        check_settings(options)
    read_prior(prior)
    if not Path(gaia).exists():  # a file, or a HATS catalogue's folder (read_gaia checks it)
        raise no_such_file(gaia, "Gaia file")
    # read here, before the output folder is made: a bad reference is refused with nothing
    # written, and forked workers inherit the table instead of each reading it again
    _gaia(gaia)
    out = Path(out).resolve()
    if quality:
        check_quality_paths(out / METRICS)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [_Job(c, Path(prior), Path(gaia), out, config, quality, metrics_config) for c in sources]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        rows = [_packed(_run_job(job)) for job in jobs]
    else:
        # the workers (and the SCAMP each runs) stop with this process, even killed by SIGKILL
        with ProcessPoolExecutor(
            max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            rows = list(map(_packed, pool.map(_run_job, jobs)))
    for row in rows:
        if log:
            log(f"{row['exposure']}: {row['status']} {row.get('reason', '')}".rstrip())
    summary = write_summary(out, rows, config)
    if not quality:
        return summary
    measured = [row["quality"] for row in rows if row.get("quality") is not None]
    if log:
        for row in rows:
            for message in row.get("quality_messages", ()):
                log(message)
    quadrants, exposures, _ = judge_night(measured, quality_config, metrics_config, log)
    write_quality(out / METRICS, quadrants, exposures)
    return summary, quadrants, exposures


def _packed(row):
    """The row with its exposure's quality packed: a night's rows are held until the verdict.
    Its messages are kept apart, to be logged without unpacking it again."""
    if row.get("quality") is not None:
        row["quality_messages"] = tuple(row["quality"].messages)
        row["quality"] = row["quality"].packed()
    return row


def write_summary(out, rows, config):
    """``DIR/summary.ecsv`` from the exposures' rows (`solve_exposure`); the table written."""
    summary = QTable(
        {name: [row.get(name, _missing(kind)) for row in rows] for name, kind in _COLUMNS.items()}
    )
    for name, unit in _UNITS.items():
        summary[name] = np.asarray(summary[name], float) * unit
    summary.meta = {"config": {k: str(v) for k, v in asdict(config).items()}}
    with atomic_path(out / "summary.ecsv") as temporary:
        summary.write(temporary, format="ascii.ecsv", overwrite=True)
    return summary


def _missing(kind):
    return {str: "", int: 0, float: np.nan}[kind]
