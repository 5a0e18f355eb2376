"""Report figures read right (issue 13): keys inside the figure and off the data; colours that say what the verdict said."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.quiver import QuiverKey
from matplotlib.transforms import Bbox

from ztfnb.ost.simulator import detectability
from ztfnb.plots.camera import draw_vectors, new_axes
from ztfnb.plots.ost import plot_detectability
from ztfnb.plots.quality import plot_metric_focal_plane


def _drawn(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def test_detectability_key_is_in_the_figure_and_off_the_map():
    table = detectability(np.linspace(0.1, 8, 10))
    figure = plot_detectability(table)
    renderer = _drawn(figure)
    (ax, *_colourbar) = figure.axes
    assert figure.legends, "the crossing ticks are explained by a key"
    key = figure.legends[0].get_window_extent(renderer)
    whole = figure.bbox
    assert whole.x0 <= key.x0 and key.x1 <= whole.x1 and whole.y0 <= key.y0 and key.y1 <= whole.y1
    assert not Bbox.intersection(key, ax.get_window_extent(renderer)), "the key covers the map"


def test_vector_key_is_inside_the_axes_whatever_the_data():
    rng = np.random.default_rng(3)
    for spread in (0.01, 1.0, 50.0):  # arrows of mas, arcseconds and arcminutes
        figure, ax = new_axes()
        u, v = rng.uniform(-3.5, 3.5, (2, 200))
        draw_vectors(ax, u, v, *rng.normal(0, spread, (2, 200)))
        ax.set_xlim(4, -4)
        renderer = _drawn(figure)
        frame = ax.get_window_extent(renderer)
        key = next(a for a in ax.get_children() if isinstance(a, QuiverKey))
        label = key.text.get_window_extent(renderer)
        assert frame.x0 <= label.x0 and label.x1 <= frame.x1, spread
        assert frame.y0 <= label.y0 and label.y1 <= frame.y1, spread


def test_badness_map_sets_flagged_quadrants_apart_from_good_ones():
    # a good quadrant just under the verdict's bar must not look like a flagged one
    badness = np.linspace(0.0, 0.99, 64)
    badness[[7, 40]] = [1.01, 30.0]  # flagged, one barely, one far
    badness[12] = np.nan  # absent
    figure = plot_metric_focal_plane(badness, "badness", "exposure")
    _drawn(figure)
    collection = figure.axes[0].collections[0]
    colours = collection.get_facecolors()
    over = collection.get_cmap().get_over()
    assert np.allclose(colours[7], over) and np.allclose(colours[40], over)
    good = np.delete(np.arange(64), [7, 12, 40])
    distance = np.abs(colours[good, :3] - np.asarray(over)[:3]).sum(axis=1)
    assert distance.min() > 0.5, "a good quadrant is drawn in the flagged colour"
