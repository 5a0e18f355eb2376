"""The two web apps' pages: the OST simulator and a night's review, each a title over its widget.

What Voilà shows for ``ztfnb app ost`` and ``ztfnb app review`` (the app
notebooks in `ztfnb.webapp` call these); JupyterLab shows the same thing.
"""

import html

import ipywidgets as widgets

from ztfnb.widgets.ost import OSTWidget
from ztfnb.widgets.review import ReviewWidget

__all__ = ["OSTApp", "ReviewApp"]


def _heading(title, subtitle):
    return widgets.HTML(
        f"<h2 class='ztfnb-app-title' style='margin:0.2em 0'>{html.escape(title)}</h2>"
        f"<div class='ztfnb-app-subtitle' style='color:#555'>{subtitle}</div>"
    )


class OSTApp:
    """The OST spectrometer simulator as a page.

    Parameters
    ----------
    model : `~ztfnb.ost.simulator.OSTSimulator`, optional
        Default: the simulator's defaults.

    Attributes
    ----------
    view : `~ztfnb.widgets.ost.OSTWidget`
    container : `ipywidgets.VBox`
    """

    def __init__(self, model=None):
        from ztfnb.ost.simulator import OSTSimulator

        self.view = OSTWidget(model or OSTSimulator())
        self.container = widgets.VBox(
            [
                _heading(
                    "Origins Space Telescope: far-infrared line spectroscopy",
                    "A starburst galaxy at redshift z (Planck15 distances), resampled to the "
                    "spectrometer's resolving power; 5σ line sensitivity and S/N of each line for "
                    "the aperture, integration time and background chosen. Lines in red are "
                    "detected.",
                ),
                self.view.container,
            ],
            layout=widgets.Layout(padding="0 1em"),
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.container._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.view.static_html()
        return bundle


class ReviewApp:
    """A solved night's review as a page.

    Parameters
    ----------
    session : `~ztfnb.review.ReviewSession`
    title : str, optional
        Shown above the review, e.g. the night's folder.

    Attributes
    ----------
    view : `~ztfnb.widgets.review.ReviewWidget`
    container : `ipywidgets.VBox`
    """

    def __init__(self, session, title=""):
        self.view = ReviewWidget(session)
        flagged = int(sum(bool(flag) for flag in session.quadrants["flag"]))
        self.container = widgets.VBox(
            [
                _heading(
                    f"Astrometric solutions of {title}" if title else "Astrometric solutions",
                    f"{len(session.quadrants)} quadrants, {flagged} flagged. Decisions are "
                    f"appended to <code>{html.escape(str(session.log.path))}</code>, shared with "
                    "every other review of this night (JupyterLab or this app).",
                ),
                self.view.container,
            ],
            layout=widgets.Layout(padding="0 1em"),
        )

    @classmethod
    def from_folder(cls, night_dir, gaia=None, log=None, metrics=None):
        """The review of a solved night's folder (see `ztfnb.solvedfolder.SolvedFolder.find`)."""
        from ztfnb.solvedfolder import SolvedFolder

        folder = SolvedFolder.find(night_dir, gaia=gaia, log=log, metrics=metrics)
        return cls(folder.review_session(), title=str(folder.root))

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.container._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.view.static_html()
        return bundle
