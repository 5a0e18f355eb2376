"""Solve a simulated night from the prior, judge every solution, score the verdict against the truth.

Twin of ``notebooks/02_quality_review.ipynb``.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import QTable, Table, vstack

from ztfnb.analyses.night import catalog_paths, has_truth, night_catalogs, night_exposures
from ztfnb.analyses.prior import choose_calibration
from ztfnb.io import read_gaia
from ztfnb.io.atomic import atomic_path
from ztfnb.io.summary import write_summary
from ztfnb.prior import fit_prior
from ztfnb.prior.file import read_prior, write_prior
from ztfnb.project import project_path
from ztfnb.quality import MetricsConfig, QualityConfig, SolvedNight, night_metrics
from ztfnb.review import ReviewLog, ReviewSession
from ztfnb.simulate.failures import inject_solution_failures
from ztfnb.solve import SolveConfig, solve_night

__all__ = ["QualityReport", "quality_report", "score_verdict"]


@dataclass
class QualityReport:
    """Everything the quality notebook shows.

    Attributes
    ----------
    summary : `~astropy.table.QTable`
        ``ztfnb solve``'s summary.
    quadrants, exposures : `~astropy.table.QTable`
        Metrics and verdict; per exposure the scale models (prior → solution,
        relative to the zenith).
    coefficients : tuple
        The prior → solution refraction model ``(c0, c1)``.
    failures : `~astropy.table.Table`
        What was wrong, by the truth: the simulator's data failures and the
        solution failures injected here.
    score : dict
        How the verdict did against ``failures``.
    solved_dir : `~pathlib.Path`
    night : `~ztfnb.quality.SolvedNight`
    outputs : list of `~pathlib.Path`
    truth : bool
        Whether the night had the simulator's truth; without it the good
        quadrants are not known and only injected failures are scored.
    """

    summary: QTable
    quadrants: QTable
    exposures: QTable
    coefficients: tuple
    failures: Table
    score: dict
    solved_dir: Path
    night: SolvedNight
    outputs: list
    truth: bool = True

    @property
    def zenith(self):
        """The night's zenith-relative scale model: ``A`` fitted and predicted, ``c0`` (ppm), outliers."""
        return dict(self.exposures.meta.get("zenith_model", {}))

    def session(self, log_path):
        """A review session over this night, recording into ``log_path`` (relative: under the project root)."""
        return ReviewSession(
            self.quadrants,
            self.exposures,
            ReviewLog(project_path(log_path)),
            matches=self.night.matches,
            coefficients=self.coefficients,
        )

    def score_table(self):
        """The verdict against the truth, as a small table."""
        score = self.score
        by_kind = {}
        for row in self.failures:
            kind = str(row["kind"])
            flagged = bool(
                np.any(
                    self.quadrants["flag"][
                        (self.quadrants["exposure"] == row["exposure"])
                        & (self.quadrants["rcid"] == row["rcid"])
                    ]
                )
            )
            caught, total = by_kind.get(kind, (0, 0))
            by_kind[kind] = (caught + flagged, total + 1)
        rows = [(kind, total, caught) for kind, (caught, total) in sorted(by_kind.items())]
        if self.truth:
            rows.append(("good quadrants (false flags)", score["n_good"], score["false_positives"]))
        table = Table(
            rows=rows or None,
            names=["injected", "quadrants", "flagged"],
            dtype=[str, int, int],
        )
        if not self.truth:
            table.meta["note"] = (
                "no truth in this night's folder: the good quadrants are not known, so false flags "
                "are not counted" + ("" if rows else ", and no failures were injected to score")
            )
        return table

    def worst(self, count=4):
        """Up to ``count`` flagged quadrants with stars to show, one per kind of reason first.

        A quadrant's kind is the first words of its reason ("corner off", "offset",
        "pixel scale"...): the worst of each kind comes before a second of any.
        """
        flagged = self.quadrants[
            np.asarray(self.quadrants["flag"]) & (np.asarray(self.quadrants["n_matched"]) >= 30)
        ]
        flagged = flagged[np.argsort(-np.asarray(flagged["badness"]))]
        kinds = [
            " ".join(w for w in str(r).split(";")[0].split() if not any(c.isdigit() for c in w))
            for r in flagged["reason"]
        ]
        first = [i for i, kind in enumerate(kinds) if kind not in kinds[:i]]
        order = first + [i for i in range(len(flagged)) if i not in first]
        return flagged[order[:count]]


def score_verdict(quadrants, failures):
    """Compare flags with known failures.

    Parameters
    ----------
    quadrants : `~astropy.table.QTable`
        With ``exposure, rcid, flag``.
    failures : `~astropy.table.Table`
        With ``exposure, rcid, kind``.

    Returns
    -------
    dict
        ``n_failures, caught, detection_rate, n_good, false_positives,
        false_positive_rate, missed`` (list of (exposure, rcid, kind)) and
        ``false`` (list of (exposure, rcid, reason)).
    """
    bad = {(str(r["exposure"]), int(r["rcid"])): str(r["kind"]) for r in failures}
    flags = {
        (str(r["exposure"]), int(r["rcid"])): (bool(r["flag"]), str(r["reason"])) for r in quadrants
    }
    caught = [key for key in bad if flags.get(key, (False, ""))[0]]
    missed = [(*key, bad[key]) for key in bad if not flags.get(key, (False, ""))[0]]
    good = [key for key in flags if key not in bad]
    false = [(*key, flags[key][1]) for key in good if flags[key][0]]
    return {
        "n_failures": len(bad),
        "caught": len(caught),
        "detection_rate": len(caught) / len(bad) if bad else np.nan,
        "n_good": len(good),
        "false_positives": len(false),
        "false_positive_rate": len(false) / len(good) if good else np.nan,
        "missed": missed,
        "false": false,
    }


def _data_failures(night_dir):
    """The simulator's data failures (``truth/failures.ecsv``); an empty table for a real night."""
    if has_truth(night_dir):
        table = Table.read(Path(night_dir) / "truth" / "failures.ecsv")
        return Table(table[["exposure", "rcid", "kind", "amplitude"]], copy=True)
    return Table(names=["exposure", "rcid", "kind", "amplitude"], dtype=[str, int, str, float])


def quality_report(
    night_dir,
    output_dir,
    prior_path="",
    calibration_count=3,
    mode="fast",
    workers=2,
    inject=8,
    seed=0,
    config=None,
    log=None,
    metrics_config=None,
):
    """Solve a night with SCAMP from the prior, measure and judge every solution.

    Parameters
    ----------
    night_dir : path-like
        From ``ztfnb simulate`` (its truth scores the verdict), or a real
        night: catalogues (``*.ldac``) and ``gaia.fits`` only. Without
        ``exposures.ecsv`` the calibration exposures are chosen from the
        catalogues' headers; without ``truth/`` only the injected solution
        failures (if any) score the verdict.
    output_dir : path-like
        ``solved/`` (SCAMP's files), ``metrics.ecsv``, ``exposures.ecsv`` go here.
    prior_path : path-like, optional
        A prior file; default: fitted here on the lowest-airmass exposures.
    calibration_count : int
    mode : str
        ``ztfnb solve`` mode.
    workers : int
    inject : int
        Solutions to spoil after solving (corner take-offs, shifts, scale), to
        measure the verdict on ZTF's failure modes; 0 for none.
    seed : int
        For the injection.
    config : `~ztfnb.quality.QualityConfig`, optional
        The verdict's thresholds.
    log : callable, optional
    metrics_config : `~ztfnb.quality.MetricsConfig`, optional
        How the solutions are measured.

    Returns
    -------
    `QualityReport`
    """
    # relative paths: under the project root, wherever the notebook runs
    night_dir = project_path(night_dir)
    output_dir = project_path(output_dir)
    every = night_catalogs(night_dir)
    exposures = night_exposures(night_dir, every)
    names = [str(n) for n in exposures["exposure"]]
    catalogs = catalog_paths(night_dir)  # per exposure or per quadrant: solve groups them
    gaia = read_gaia(night_dir / "gaia.fits")
    outputs = []
    if prior_path:
        prior_path = project_path(prior_path)
        read_prior(prior_path)  # refuse a bad prior before solving
    # made once the inputs are read: a refused night leaves no folder behind
    output_dir.mkdir(parents=True, exist_ok=True)
    if not prior_path:
        calibration = choose_calibration(exposures, calibration_count)
        fit = fit_prior([every[n] for n in calibration], gaia)
        prior_path = output_dir / "prior.fits"
        write_prior(prior_path, fit)
        outputs.append(prior_path)
    solved = output_dir / "solved"
    summary = solve_night(
        catalogs,
        night_dir / "gaia.fits",
        prior_path,
        solved,
        SolveConfig(mode=mode),
        workers=workers,
        log=log,
    )

    failures = _data_failures(night_dir)
    data_failures = Table(failures, copy=True)
    if inject:
        injected = inject_solution_failures(
            solved,
            names,
            inject,
            np.random.default_rng(seed),
            avoid={(r["exposure"], int(r["rcid"])) for r in data_failures},
        )
        failures = vstack([failures, injected[["exposure", "rcid", "kind", "amplitude"]]])
    config = config or QualityConfig()
    metrics_config = metrics_config or MetricsConfig()
    catalog_objects = [every[n] for n in names]
    quadrants, exposure_table, coefficients = night_metrics(
        catalog_objects, gaia, solved, config, log=log, metrics_config=metrics_config
    )
    truth = has_truth(night_dir)
    score = score_verdict(quadrants, failures)
    if not truth:
        score.update(n_good=np.nan, false_positives=np.nan, false_positive_rate=np.nan, false=[])
    written = [("metrics.ecsv", quadrants), ("exposures.ecsv", exposure_table)]
    if truth or len(failures):  # on a real night with nothing spoiled on purpose there are none
        written.append(("failures.ecsv", failures))
    for name, table in written:
        with atomic_path(output_dir / name) as temporary:
            table.write(temporary, format="ascii.ecsv", overwrite=True)
        outputs.append(output_dir / name)
    outputs.append(solved / "summary.ecsv")
    outputs.append(
        write_summary(
            output_dir,
            {
                "quadrants": len(quadrants),
                "flagged": int(np.sum(quadrants["flag"])),
                "detection_rate": score["detection_rate"],
                "false_positive_rate": score["false_positive_rate"],
                "refraction_a_fitted_ppm": exposure_table.meta["zenith_model"]["A"],
                "refraction_a_predicted_ppm": exposure_table.meta["zenith_model"]["A_predicted"],
            },
        )
    )
    return QualityReport(
        summary,
        quadrants,
        exposure_table,
        coefficients,
        failures,
        score,
        solved,
        SolvedNight(catalogs, solved, gaia, metrics_config),
        outputs,
        truth,
    )
