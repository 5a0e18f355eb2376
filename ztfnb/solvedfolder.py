"""A solved night on disk: find its metrics, solutions, catalogues, Gaia and review log from its folder.

Three layouts are read, so that a review can open whatever the night's
processing left behind:

- the output folder of the quality notebook (``ztfnb run
  notebooks/02_quality_review.ipynb``): ``metrics.ecsv``, ``exposures.ecsv``,
  ``solved/`` with SCAMP's ``.head`` files (and the catalogues linked there);
- a folder where ``ztfnb quality --out DIR/NAME.ecsv`` wrote ``NAME.ecsv`` and
  ``NAME.exposures.ecsv``;
- a night with solutions and no metrics yet (``ztfnb simulate`` then
  ``ztfnb solve --out NIGHT/solved``): the catalogues, ``gaia.fits`` and the
  ``.head`` files are found and the metrics measured on opening.

The review log is ``review.jsonl`` in the folder unless told otherwise: the
one the quality notebook's review widget writes to by default, so that a
reviewer in the web app and an analyst in JupyterLab share decisions.
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.table import QTable

from ztfnb.camera import N_QUADRANTS
from ztfnb.io.errors import InputError

__all__ = ["METRICS", "METRICS_COLUMNS", "SolvedFolder", "exposure_quality_path"]

METRICS_COLUMNS = ("exposure", "rcid", "flag", "reason", "badness")
EXPOSURES_COLUMNS = ("exposure", "airmass", "scale_change")
REVIEW_LOG = "review.jsonl"
#: The verdict ``ztfnb solve --quality`` and ``ztfnb night`` write in their folder (with
#: ``metrics.exposures.ecsv`` and ``metrics.html`` beside it).
METRICS = "metrics.ecsv"


def exposure_quality_path(folder, name):
    """``<folder>/<exposure>.quality.ecsv``: one exposure measured, kept for the night's verdict.

    Written by the worker that solved and measured it (``ztfnb solve
    --quality``, ``ztfnb night``); ``ztfnb night`` counts an exposure with one
    newer than its catalogue as done.
    """
    return Path(folder) / f"{name}.quality.ecsv"


@dataclass(frozen=True)
class SolvedFolder:
    """The files of a solved night.

    Use `SolvedFolder.find` rather than building one by hand.

    Attributes
    ----------
    root : `~pathlib.Path`
    metrics, exposures : `~pathlib.Path` or None
        The verdict tables; None when they are to be measured on opening.
    heads : `~pathlib.Path` or None
        Folder of the ``.head`` solutions.
    catalogs : dict
        Exposure name → catalogue path, for the exposures found.
    gaia : `~pathlib.Path` or None
    log : `~pathlib.Path`
        The review decisions (`~ztfnb.review.ReviewLog`).
    """

    root: Path
    metrics: Path | None
    exposures: Path | None
    heads: Path | None
    catalogs: dict
    gaia: Path | None
    log: Path

    @classmethod
    def find(cls, night_dir, gaia=None, log=None, metrics=None):
        """Find a solved night's files, or say what is missing.

        Parameters
        ----------
        night_dir : path-like
        gaia : path-like, optional
            The Gaia table; default ``gaia.fits`` in the folder, or in the
            night the quality notebook ran on (its ``manifest.json``).
        log : path-like, optional
            Default ``review.jsonl`` in the folder.
        metrics : path-like, optional
            The metrics table, when not in the folder; its per-exposure table
            is beside it (``exposures.ecsv`` or ``NAME.exposures.ecsv``).

        Returns
        -------
        `SolvedFolder`

        Raises
        ------
        `~ztfnb.io.errors.InputError`
            When the folder holds neither metrics nor solutions that can be measured.
        """
        root = Path(night_dir)
        if not root.is_dir():
            raise InputError("not a folder", path=root)
        metrics, exposures = _given_metrics(Path(metrics)) if metrics else _metrics_pair(root)
        heads = next(
            (folder for folder in (root / "solved", root) if any(folder.glob("*.head"))), None
        )
        nights = _source_nights(root)
        gaia_path = Path(gaia) if gaia else _first_file([n / "gaia.fits" for n in nights])
        if gaia is not None and gaia_path is not None and not gaia_path.exists():
            raise InputError("no such Gaia table", path=gaia_path)
        names = _exposure_names(exposures, heads)
        catalogs = {}
        for name in names:
            places = ([heads] if heads else []) + nights
            found = _first_file([place / f"{name}.ldac" for place in places])
            if found:
                catalogs[name] = found
        folder = cls(
            root, metrics, exposures, heads, catalogs, gaia_path, Path(log or root / REVIEW_LOG)
        )
        if metrics is None:
            folder._check_measurable(names)
        return folder

    def _check_measurable(self, names):
        where = self.root
        if self.heads is None:
            raise InputError(
                "no metrics.ecsv (from the quality notebook or 'ztfnb quality') and no solved "
                ".head files here or in solved/",
                path=where,
            )
        missing = [name for name in names if name not in self.catalogs]
        if missing:
            raise InputError(
                f"no metrics.ecsv, and no catalogue to measure the solution of {missing[0]} "
                f"(looked for {missing[0]}.ldac in {self.heads} and the night folder)",
                path=where,
            )
        if self.gaia is None:
            raise InputError(
                "no metrics.ecsv, and no gaia.fits to measure the solutions against (give --gaia)",
                path=where,
            )

    def load(self, config=None, log=None, metrics_config=None):
        """The verdict tables: read, or measured when the folder has none.

        Parameters
        ----------
        config : `~ztfnb.quality.QualityConfig`, optional
            Thresholds, when measuring.
        log : callable, optional
        metrics_config : `~ztfnb.quality.MetricsConfig`, optional
            How to measure, when measuring.

        Returns
        -------
        quadrants, exposures : `~astropy.table.QTable`
        coefficients : tuple
            The refraction model ``(c0, c1)``.
        """
        from ztfnb.quality import refraction_coefficients

        if self.metrics is None:
            return self._measure(config, log, metrics_config)
        quadrants = _read_table(self.metrics, METRICS_COLUMNS)
        exposures = _read_table(self.exposures, EXPOSURES_COLUMNS)
        return quadrants, exposures, refraction_coefficients(exposures)

    def measured(self, folder, config=None, log=None, metrics_config=None):
        """Measure the solutions now and keep the tables in ``folder``.

        Returns
        -------
        `SolvedFolder`
            The same night, reading ``folder/metrics.ecsv`` and ``folder/exposures.ecsv``.
        """
        from ztfnb.io.atomic import atomic_path

        quadrants, exposures, _ = self._measure(config, log, metrics_config)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in (("metrics.ecsv", quadrants), ("exposures.ecsv", exposures)):
            with atomic_path(folder / name) as temporary:
                table.write(temporary, format="ascii.ecsv", overwrite=True)
        return replace(self, metrics=folder / "metrics.ecsv", exposures=folder / "exposures.ecsv")

    def _measure(self, config, log, metrics_config=None):
        from ztfnb.exposure import read_exposure
        from ztfnb.io import read_gaia
        from ztfnb.quality import night_metrics

        catalogs = [read_exposure(path) for path in self.catalogs.values()]
        return night_metrics(
            catalogs,
            read_gaia(self.gaia),
            self.heads,
            config,
            log=log,
            metrics_config=metrics_config,
        )

    def matches(self, config=None):
        """``matches(exposure)`` → star-level pairs, or None without Gaia or catalogues.

        ``config``: a `~ztfnb.quality.MetricsConfig` (how to match), optional.
        """
        from ztfnb.io import read_gaia
        from ztfnb.quality import SolvedNight

        if self.gaia is None or not self.catalogs or self.heads is None:
            return None
        night = SolvedNight(list(self.catalogs.values()), self.heads, read_gaia(self.gaia), config)
        return night.matches

    def review_session(self, config=None, log=None, metrics_config=None):
        """A `~ztfnb.review.ReviewSession` over this night, recording into `log`.

        ``config`` (`~ztfnb.quality.QualityConfig`) and ``metrics_config``
        (`~ztfnb.quality.MetricsConfig`) are used when the night is measured
        on opening.
        """
        from ztfnb.review import ReviewLog, ReviewSession

        quadrants, exposures, coefficients = self.load(config, log, metrics_config)
        return ReviewSession(
            quadrants,
            exposures,
            ReviewLog(self.log),
            matches=self.matches(metrics_config),
            coefficients=coefficients,
        )


def _given_metrics(metrics):
    if not metrics.is_file():
        raise InputError("no such metrics table", path=metrics)
    for name in ("exposures.ecsv", metrics.name.replace(".ecsv", ".exposures.ecsv")):
        if name != metrics.name and (metrics.parent / name).is_file():
            return metrics, metrics.parent / name
    raise InputError(
        "no per-exposure table beside it (exposures.ecsv or NAME.exposures.ecsv)", path=metrics
    )


def _metrics_pair(root):
    """``metrics.ecsv`` + ``exposures.ecsv``, or ``NAME.ecsv`` + ``NAME.exposures.ecsv``."""
    if (root / "metrics.ecsv").is_file():
        for name in ("exposures.ecsv", "metrics.exposures.ecsv"):
            if (root / name).is_file():
                return root / "metrics.ecsv", root / name
        raise InputError(
            "metrics.ecsv has no per-exposure table beside it (exposures.ecsv or "
            "metrics.exposures.ecsv)",
            path=root,
        )
    pairs = [
        (path.with_name(path.name.replace(".exposures.ecsv", ".ecsv")), path)
        for path in sorted(root.glob("*.exposures.ecsv"))
    ]
    pairs = [(metrics, exposures) for metrics, exposures in pairs if metrics.is_file()]
    if len(pairs) > 1:
        raise InputError(
            "more than one set of metrics here ("
            + ", ".join(metrics.name for metrics, _ in pairs)
            + "); give a folder with one",
            path=root,
        )
    return pairs[0] if pairs else (None, None)


def _source_nights(root):
    """The folder itself, and the night a quality-notebook run read (from its manifest)."""
    nights = [root]
    manifest = root / "manifest.json"
    if manifest.is_file():
        try:
            night = json.loads(manifest.read_text())["parameters"]["night_dir"]
        except (ValueError, KeyError, TypeError):
            night = None
        if night:
            night = Path(night)
            # a relative night is relative to where the report ran: the project, above the run folder
            places = [Path.cwd(), *root.resolve().parents]
            nights += [night] if night.is_absolute() else [place / night for place in places]
    return nights


def _first_file(paths):
    return next((Path(path) for path in paths if Path(path).is_file()), None)


def _exposure_names(exposures, heads):
    if exposures is not None:  # the small per-exposure table, not the per-quadrant one
        table = _read_table(exposures, ("exposure",))
        return list(dict.fromkeys(str(name) for name in table["exposure"]))
    if heads is None:
        return []
    return sorted(path.stem for path in heads.glob("*.head"))


def _read_table(path, columns):
    try:
        table = QTable.read(path, format="ascii.ecsv")
    except Exception as error:  # astropy raises several types for a malformed ECSV
        # astropy's first line says what is wrong; the next ones dump whole rows
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"cannot read as ECSV (cut or edited?): {first}", path=path) from error
    for column in columns:
        if column not in table.colnames:
            raise InputError("missing column", path=path, column=column)
    if "rcid" in columns:
        rcid = np.asarray(table["rcid"])
        bad = (rcid < 0) | (rcid >= N_QUADRANTS)
        if np.any(bad):
            raise InputError(
                f"rcid must be 0-{N_QUADRANTS - 1}",
                path=path,
                column="rcid",
                value=int(rcid[bad][0]),
            )
    return table
