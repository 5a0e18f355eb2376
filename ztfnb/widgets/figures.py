"""Showing matplotlib figures in widgets: static images, or ipympl canvases where a person is present."""

import base64
import io

import ipywidgets as widgets

__all__ = ["figure_bytes", "figure_image", "figure_png", "figure_view"]

#: Resolution of figures shown as images in widgets (a 9-inch figure is 900 pixels wide).
VIEW_DPI = 100


def figure_bytes(figure, dpi=VIEW_DPI):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_png(figure, dpi=80):
    """The figure as base64-encoded PNG (for static HTML)."""
    return base64.b64encode(figure_bytes(figure, dpi)).decode("ascii")


def figure_view(figure, interactive=False):
    """A widget showing a figure: an ipympl canvas (zoom, pan) when asked and available, else an image.

    The image is an `ipywidgets.Image` holding PNG bytes, so it shows in any
    widget front end (JupyterLab, Voilà) whatever matplotlib backend the
    kernel has.
    """
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
    return figure_image(figure)


def figure_image(figure):
    """An `ipywidgets.Image` of the figure, shown at its own size (not stretched to the page)."""
    width = round(figure.get_figwidth() * VIEW_DPI)
    return widgets.Image(
        value=figure_bytes(figure),
        format="png",
        layout=widgets.Layout(width=f"{width}px", max_width="100%", height="auto"),
    )
