"""Showing matplotlib figures in widgets: static images, or ipympl canvases where a person is present."""

import base64
import io

import ipywidgets as widgets
from IPython.display import display

__all__ = ["figure_png", "figure_view"]


def figure_png(figure, dpi=80):
    """The figure as base64-encoded PNG (for static HTML)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_view(figure, interactive=False):
    """A widget showing a figure: an ipympl canvas (zoom, pan) when asked and available, else an image."""
    if interactive:
        try:
            from ipympl.backend_nbagg import Canvas, FigureManager
        except ImportError:
            interactive = False
        else:
            canvas = Canvas(figure)
            FigureManager(canvas, 0)
            canvas.header_visible = False
            return canvas
    output = widgets.Output()
    with output:
        display(figure)
    return output
