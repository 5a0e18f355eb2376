"""A person's review of a night's solutions: the session model over the decisions log.

`ReviewSession` is the model a review widget (or a script) drives: the
quadrants ordered by badness, a selection, the figures for it, and
accept/reject decisions into the log (`ztfnb.reviewlog.ReviewLog`, also
importable from here). It does no drawing of its own widgets.
"""

from functools import lru_cache

import numpy as np
from astropy.table import QTable

from ztfnb.camera import N_QUADRANTS
from ztfnb.reviewlog import VERDICTS, ReviewLog

__all__ = ["VERDICTS", "ReviewLog", "ReviewSession"]


class ReviewSession:
    """The state of a review: what is shown, what is selected, what was decided.

    Parameters
    ----------
    quadrants : `~astropy.table.QTable`
        Metrics with the verdict (`ztfnb.quality.night_metrics`).
    exposures : `~astropy.table.QTable`
        Per-exposure table with the scale models (``meta["refraction_model"]``,
        and ``meta["zenith_model"]`` when the night has a scale relative to
        the zenith).
    log : `ReviewLog` or path-like
    matches : callable, optional
        ``matches(exposure)`` → star-level pairs of that exposure
        (`ztfnb.quality.exposure_matches`), for the residual plots.
    coefficients : tuple, optional
        The refraction model ``(c0, c1)``.
    """

    METRICS = (
        "badness",
        "chi2",
        "rms_ra",
        "rms_dec",
        "offset",
        "corner_error",
        "scale_change",
        "zenith_scale",
        "corner_displacement",
        "matched_fraction",
        "airmass",
    )

    def __init__(self, quadrants, exposures, log, matches=None, coefficients=None):
        self.quadrants = quadrants
        self.exposures = exposures
        self.log = log if isinstance(log, ReviewLog) else ReviewLog(log)
        self._matches = lru_cache(maxsize=4)(matches) if matches else None
        self.coefficients = coefficients
        self.metric = "badness"
        self.selected = None
        queue = self.queue(only_flagged=True)
        if len(queue):
            self.select(queue["exposure"][0], queue["rcid"][0])
        elif len(self.quadrants):
            self.select(self.quadrants["exposure"][0], self.quadrants["rcid"][0])

    @property
    def metrics(self):
        """The metrics a map can be coloured by: those of `METRICS` the table has."""
        return tuple(name for name in self.METRICS if name in self.quadrants.colnames)

    @property
    def zenith(self):
        """The night's zenith-relative scale model (``A`` fitted and predicted, ppm), or None."""
        model = self.exposures.meta.get("zenith_model")
        return dict(model) if isinstance(model, dict) else None

    def queue(self, only_flagged=False, undecided=False):
        """Quadrants worst first, with the latest decision on each.

        Returns
        -------
        `~astropy.table.QTable`
        """
        table = QTable(self.quadrants, copy=True)
        decisions = {(row["exposure"], int(row["rcid"])): row for row in self.log.latest()}
        table["decision"] = [
            decisions[(e, int(r))]["verdict"] if (e, int(r)) in decisions else ""
            for e, r in zip(table["exposure"], table["rcid"], strict=True)
        ]
        table["decision_reason"] = [
            decisions[(e, int(r))]["reason"] if (e, int(r)) in decisions else ""
            for e, r in zip(table["exposure"], table["rcid"], strict=True)
        ]
        if only_flagged:
            table = table[np.asarray(table["flag"])]
        if undecided:
            table = table[np.asarray(table["decision"]) == ""]
        order = np.lexsort(
            (
                np.asarray(table["rcid"]),
                np.asarray(table["exposure"]),
                -np.asarray(table["badness"], float),
            )
        )
        return table[order]

    def select(self, exposure, rcid):
        """Choose the quadrant shown and decided on."""
        rows = (self.quadrants["exposure"] == exposure) & (self.quadrants["rcid"] == int(rcid))
        if not np.any(rows):
            raise KeyError(f"no quadrant rcid {rcid} of exposure {exposure} in the metrics")
        self.selected = (str(exposure), int(rcid))
        return self.selected

    def next(self, only_flagged=True):
        """Select the worst undecided quadrant (flagged ones by default); ``None`` when done."""
        queue = self.queue(only_flagged=only_flagged, undecided=True)
        if not len(queue):
            return None
        return self.select(queue["exposure"][0], queue["rcid"][0])

    @property
    def row(self):
        """The metrics row of the selected quadrant."""
        exposure, rcid = self.selected
        rows = np.flatnonzero(
            (self.quadrants["exposure"] == exposure) & (self.quadrants["rcid"] == rcid)
        )
        return self.quadrants[rows[0]]

    def decide(self, verdict, reason=""):
        """Record a decision on the selected quadrant."""
        if self.selected is None:
            raise RuntimeError("no quadrant selected")
        exposure, rcid = self.selected
        return self.log.record(exposure, rcid, verdict, reason or str(self.row["reason"]))

    def accept(self, reason=""):
        """Accept the selected quadrant's solution."""
        return self.decide("accept", reason)

    def reject(self, reason=""):
        """Reject the selected quadrant's solution."""
        return self.decide("reject", reason)

    def values(self, exposure=None, metric=None):
        """One value of a metric per quadrant (64, NaN where absent) for the focal-plane map."""
        exposure = exposure or self.selected[0]
        metric = metric or self.metric
        values = np.full(N_QUADRANTS, np.nan)
        rows = self.quadrants[self.quadrants["exposure"] == exposure]
        column = rows[metric]
        values[np.asarray(rows["rcid"], int)] = np.asarray(getattr(column, "value", column), float)
        return values

    def residuals(self):
        """Star-level residuals of the selected quadrant (needs ``matches``)."""
        if self._matches is None:
            return None
        exposure, rcid = self.selected
        pairs = self._matches(exposure)
        return pairs[np.asarray(pairs["rcid"]) == rcid]
