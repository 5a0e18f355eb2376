"""The review widget: a thin view over `ztfnb.review.ReviewSession`."""

import html

import ipywidgets as widgets
import numpy as np

from ztfnb.plots.quality import plot_metric_focal_plane, plot_quadrant_vectors, plot_scale_airmass
from ztfnb.widgets.figures import figure_png, figure_view

__all__ = ["ReviewWidget"]


#: Text cells read from the left (Jupyter right-aligns table cells, made for numbers).
_TEXT = " style='text-align:left'"


class ReviewWidget:
    """Quadrants sorted by badness, the selected one's figures, Accept/Reject with a reason.

    Parameters
    ----------
    session : `~ztfnb.review.ReviewSession`
    interactive : bool
        Zoomable ipympl figures (needs a Jupyter front end with ipympl).

    Attributes
    ----------
    queue : `ipywidgets.Select`
        Values are (exposure, rcid).
    metric : `ipywidgets.Dropdown`
    only_flagged : `ipywidgets.Checkbox`
    reason : `ipywidgets.Text`
    accept_button, reject_button, next_button : `ipywidgets.Button`
    status : `ipywidgets.HTML`
    log_note : `ipywidgets.HTML`
        Empty, or how many lines of the log could not be read as decisions
        (their numbers, and why each, under a disclosure).
    figures : dict
        The matplotlib figures now shown, by name.
    """

    def __init__(self, session, interactive=False):
        self.session = session
        self.interactive = interactive
        self.figures = {}
        self._updating = False
        self.only_flagged = widgets.Checkbox(value=True, description="flagged only", indent=False)
        self.queue = widgets.Select(rows=14, layout=widgets.Layout(width="100%"))
        self.queue.add_class("ztfnb-queue")
        self.metric = widgets.Dropdown(
            options=list(session.metrics), value=session.metric, description="colour by"
        )
        self.reason = widgets.Text(
            placeholder="reason (default: the verdict's)", layout=widgets.Layout(width="60%")
        )
        self.accept_button = widgets.Button(
            description="Accept", button_style="success", icon="check"
        )
        self.reject_button = widgets.Button(
            description="Reject", button_style="danger", icon="times"
        )
        self.next_button = widgets.Button(description="Next undecided")
        self.status = widgets.HTML()
        self.log_note = widgets.HTML()
        self.log_note.add_class("ztfnb-log-skipped")
        self.plots = widgets.HBox()
        self.scale_plot = widgets.Box()

        self._refresh_queue()
        self.queue.observe(self._on_select, names="value")
        self.metric.observe(self._on_metric, names="value")
        self.only_flagged.observe(lambda change: self._refresh_queue(), names="value")
        self.accept_button.on_click(lambda button: self._decide("accept"))
        self.reject_button.on_click(lambda button: self._decide("reject"))
        self.next_button.on_click(self._on_next)
        self._refresh_figures()
        self.container = widgets.VBox(
            [
                widgets.HTML(
                    "<b>Quadrants, worst first</b> (badness: how far past the verdict's bars, "
                    "significance and size; above 1 flagged)"
                ),
                self.log_note,
                widgets.HBox([self.only_flagged, self.metric]),
                self.queue,
                widgets.HBox(
                    [self.accept_button, self.reject_button, self.next_button, self.reason]
                ),
                self.status,
                self.plots,
                widgets.HTML(self._zenith_text()),
                self.scale_plot,
            ]
        )

    # -- model → view
    def _zenith_text(self):
        """The night's refraction constant, fitted and from the weather, as one line of HTML."""
        model = self.session.zenith
        if not model:
            return ""
        if model.get("note"):
            return f"<i>Pixel scale relative to the zenith: {html.escape(model['note'])}</i>"
        outliers = model.get("outliers") or []
        return (
            "<b>Pixel scale relative to the zenith</b> (right): refraction constant "
            f"A = {model['A']:.1f} ± {model['A_error']:.1f} ppm fitted, "
            f"{model['A_predicted']:.1f} ppm from the weather; "
            + (
                f"{len(outliers)} exposure(s) off the model: {html.escape(', '.join(outliers))}"
                if outliers
                else "no exposure off the model"
            )
        )

    def _label(self, row):
        mark = "⚑" if row["flag"] else " "
        decision = f" [{row['decision']}]" if row["decision"] else ""
        return f"{mark} {row['exposure']}  rcid {row['rcid']:2d}  badness {row['badness']:5.2f}  {row['reason'][:70]}{decision}"

    def _skipped_html(self):
        """The log's unreadable lines, counted, with why each under a disclosure; "" when none."""
        log = self.session.log
        note = log.skipped_note()
        if not note:
            return ""
        items = "".join(
            f"<li>line {number}: {html.escape(why)}</li>" for number, why in log.skipped[:50]
        )
        return (
            f"<details style='color:#a40'><summary>⚠ {html.escape(note)}; the decisions on "
            f"every other line are shown</summary><ul>{items}</ul></details>"
        )

    def _refresh_queue(self):
        self.log_note.value = self._skipped_html()  # the log is read again here anyway
        queue = self.session.queue(only_flagged=self.only_flagged.value)
        options = [(self._label(row), (str(row["exposure"]), int(row["rcid"]))) for row in queue]
        selected = self.session.selected
        values = [value for _, value in options]
        self._updating = True  # changing the options must not move the selection
        try:
            self.queue.options = options
            self.queue.value = selected if selected in values else None
        finally:
            self._updating = False
        if selected not in values and values:
            self.queue.value = values[0]

    def _refresh_figures(self):
        session = self.session
        if session.selected is None:
            return
        for figure in self.figures.values():
            figure.clear()
        self.figures = {
            "focal_plane": plot_metric_focal_plane(
                session.values(), session.metric, session.selected[0], highlight=session.selected[1]
            ),
            "quadrant": plot_quadrant_vectors(session.residuals(), session.row),
            "scale_airmass": plot_scale_airmass(
                session.exposures, session.coefficients, highlight=session.selected[0]
            ),
        }
        self.plots.children = [
            figure_view(self.figures["focal_plane"], self.interactive),
            figure_view(self.figures["quadrant"], self.interactive),
        ]
        self.scale_plot.children = [figure_view(self.figures["scale_airmass"], self.interactive)]
        row = session.row
        self.status.value = f"<b>{html.escape(session.selected[0])} rcid {session.selected[1]}</b>: {html.escape(str(row['reason']) or 'not flagged')}"

    # -- view → model
    def _on_select(self, change):
        if self._updating or change["new"] is None:
            return
        self.session.select(*change["new"])
        self._refresh_figures()

    def _on_metric(self, change):
        self.session.metric = change["new"]
        self._refresh_figures()

    def _decide(self, verdict):
        entry = self.session.decide(verdict, self.reason.value.strip())
        self.reason.value = ""
        # on to the worst quadrant still undecided, as a reviewer goes down the list
        moved = self.session.next(only_flagged=self.only_flagged.value)
        self._refresh_queue()
        if moved is not None:
            self._refresh_figures()
        then = (
            f"; now {html.escape(moved[0])} rcid {moved[1]}"
            if moved is not None
            else "; every quadrant in the list has a decision"
        )
        self.status.value = (
            f"{verdict}ed {html.escape(entry['exposure'])} rcid {entry['rcid']} — logged to "
            f"{html.escape(str(self.session.log.path))}{then}"
        )

    def _on_next(self, button=None):
        if self.session.next(only_flagged=self.only_flagged.value) is None:
            self.status.value = "every quadrant in the list has a decision"
            return
        self._refresh_queue()
        self._refresh_figures()

    # -- display
    def static_html(self, rows=15):
        """A static rendering: the worst quadrants and the selected exposure's map."""
        queue = self.session.queue(only_flagged=False)[:rows]
        cells = "".join(
            f"<tr><td>{html.escape(str(r['exposure']))}</td><td>{r['rcid']}</td><td>{'yes' if r['flag'] else ''}</td>"
            f"<td>{r['badness']:.2f}</td><td{_TEXT}>{html.escape(str(r['reason']))}</td><td{_TEXT}>{html.escape(str(r['decision']))}</td></tr>"
            for r in queue
        )
        image = figure_png(self.figures["focal_plane"]) if "focal_plane" in self.figures else ""
        zenith = self._zenith_text()
        return (
            "<div><p><i>Review widget (static view: the interactive one needs a live kernel).</i></p>"
            + self._skipped_html()
            + (f"<p>{zenith}</p>" if zenith else "")
            + f"<table><tr><th>exposure</th><th>rcid</th><th>flag</th><th>badness</th><th{_TEXT}>reason</th><th{_TEXT}>decision</th></tr>"
            f"{cells}</table>"
            + (f'<img src="data:image/png;base64,{image}"/>' if image else "")
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.container._repr_mimebundle_(**kwargs) or {}
        bundle = dict(bundle)
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = (
            f"ReviewWidget({len(self.session.quadrants)} quadrants, {int(np.sum(self.session.quadrants['flag']))} flagged)"
        )
        return bundle
