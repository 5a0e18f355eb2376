"""The OST web app: redrawing the spectrum in place, and a redshift-slider move measured in Chromium."""

import time

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

from benchmarks.timing import Comparison, best_time
from ztfnb.ost.simulator import OSTSimulator
from ztfnb.plots.ost import SpectrumPlot
from ztfnb.widgets.figures import figure_bytes
from ztfnb.widgets.ost import OSTWidget

GOAL_MS = 200
MOVES = 30

#: Select a line in the "line" dropdown; resolves with ms until its details show (a round trip
#: through the kernel with almost no computation: the baseline of a slider move).
_CHOOSE_LINE = """(name) => new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('no detail for ' + name + ' in 10 s')), 10000);
  const select = Array.from(document.querySelectorAll('.widget-dropdown select'))
    .find(s => Array.from(s.options).some(o => o.text === name));
  const start = performance.now();
  const observer = new MutationObserver(() => {
    const detail = document.querySelector('.ztfnb-line-detail');
    if (detail && detail.innerText.includes(name)) { observer.disconnect(); resolve(performance.now() - start); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  select.value = name;
  select.dispatchEvent(new Event('change', {bubbles: true}));
})"""


def _redraw_from_scratch(model, redshifts):
    """What a slider move cost before: a new layout-managed figure, mathtext tick labels."""
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    ax = figure.add_subplot()

    def move():
        model.set(redshift=float(next(redshifts)))
        SpectrumPlot(ax).update(model.result())
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(LogFormatterSciNotation())
            axis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))
        figure_bytes(figure)

    return move


def _kernel_side():
    redshifts = iter(np.linspace(1.0, 6.0, 10_000))
    baseline = best_time(_redraw_from_scratch(OSTSimulator(), redshifts), repeat=10)
    widget = OSTWidget(OSTSimulator())

    def move():
        widget.redshift.value = float(next(redshifts))  # model, table and image, as in the app

    candidate = best_time(move, repeat=20)
    return Comparison(
        "OST app: one redshift move, in the kernel",
        "figure redrawn from scratch",
        "artists moved in place",
        baseline,
        candidate,
        "model + table + spectrum PNG",
    )


def _in_browser():
    try:
        from playwright.sync_api import sync_playwright

        from tests.browser import free_port, launch, require_browser
        from tests.webapps import RunningApp, open_ost, step_redshift
    except ImportError as missing:
        return None, f"skipped: {missing}"
    try:
        require_browser()
    except BaseException as skipped:  # pytest's Skipped
        return None, f"skipped: {skipped}"
    with RunningApp("ost", "--port", free_port()) as app, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        open_ost(page, app.url)
        round_trips = [
            page.evaluate(_CHOOSE_LINE, name)
            for name in ["[CII]158", "[OIII]88", "[OI]63", "[NII]122"] * 5
        ]
        moves = []
        for index in range(MOVES):
            moves.append(max(step_redshift(page, "ArrowRight" if index % 2 == 0 else "ArrowLeft")))
            time.sleep(0.05)
        browser.close()
    return (np.array(round_trips), np.array(moves)), ""


def run():
    rows = [_kernel_side()]
    measured, note = _in_browser()
    if measured is None:
        print(f"   browser measurement {note}")
        return rows
    round_trips, moves = measured
    rows.append(
        Comparison(
            "OST app: slider → plot and table, Chromium",
            "line detail round trip (median)",
            "redshift move (median)",
            float(np.median(round_trips)) / 1000,
            float(np.median(moves)) / 1000,
            f"goal ≤ {GOAL_MS} ms: median {np.median(moves):.0f} ms, 90% {np.percentile(moves, 90):.0f} ms, "
            f"max {moves.max():.0f} ms over {MOVES} moves",
        )
    )
    return rows
