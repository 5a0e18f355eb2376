"""The OST simulator widget: sliders, the spectrum, the line table — a view over `OSTSimulator`."""

import html

import astropy.units as u
import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from ztfnb.ost.simulator import APERTURE_PRESETS
from ztfnb.plots.ost import SpectrumPlot
from ztfnb.widgets.figures import figure_bytes, figure_image, figure_png

__all__ = ["OSTWidget", "lines_html"]


def lines_html(lines):
    """The line table as HTML (class ``ztfnb-lines``; one row per line, ``data-line`` its name)."""
    rows = []
    for row in lines:
        detected = "detected" if row["detected"] else ("outside" if not row["in_band"] else "")
        snr = f"{row['snr']:.1f}" if row["in_band"] else "—"
        sensitivity = (
            f"{row['sensitivity'].to_value(u.W / u.m**2):.3g}"
            if row["in_band"]
            else "outside the bands"
        )
        rows.append(
            f'<tr class="{detected}" data-line="{html.escape(str(row["line"]))}"><td>{html.escape(str(row["line"]))}</td>'
            f"<td>{html.escape(str(row['species']))}</td><td>{row['rest_wavelength'].to_value(u.um):.3f}</td>"
            f"<td>{row['observed_wavelength'].to_value(u.um):.2f}</td><td>{row['flux'].to_value(u.W / u.m**2):.3g}</td>"
            f"<td>{sensitivity}</td><td class='snr'>{snr}</td></tr>"
        )
    return (
        "<style>.ztfnb-lines td,.ztfnb-lines th{padding:1px 8px;text-align:right}.ztfnb-lines tr.detected{color:#b00}"
        ".ztfnb-lines tr.outside{color:#999}</style>"
        '<table class="ztfnb-lines"><tr><th>line</th><th>species</th><th>rest λ (µm)</th><th>observed λ (µm)</th>'
        "<th>flux (W m⁻²)</th><th>5σ sensitivity (W m⁻²)</th><th>S/N</th></tr>"
        + "".join(rows)
        + "</table>"
    )


class OSTWidget:
    """Sliders for redshift, time, aperture, resolving power, luminosity and background; spectrum and lines.

    Parameters
    ----------
    model : `~ztfnb.ost.simulator.OSTSimulator`
    interactive : bool
        Zoomable ipympl spectrum, lines clickable (needs a Jupyter front end with ipympl).

    Attributes
    ----------
    redshift, hours, aperture_preset, aperture, resolving_power, log_luminosity, background_scale
        The controls.
    line : `ipywidgets.Dropdown`
        Choose a line to see its details (as clicking it on the spectrum does).
    table, detail : `ipywidgets.HTML`
    figure : `~matplotlib.figure.Figure`
    """

    def __init__(self, model, interactive=False):
        self.model = model
        self.interactive = interactive
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="460px")
        self.redshift = widgets.FloatSlider(
            value=model.redshift,
            min=0.01,
            max=8.0,
            step=0.01,
            description="redshift",
            style=style,
            layout=layout,
            continuous_update=True,
        )
        self.hours = widgets.FloatLogSlider(
            value=model.integration_time.to_value(u.h),
            base=10,
            min=-0.78,  # 10 min, and 1 h on the slider's grid: a browser snaps a value onto it
            max=1.0,
            step=0.01,
            description="integration time (h)",
            style=style,
            layout=layout,
        )
        self.aperture_preset = widgets.Dropdown(
            options=[*APERTURE_PRESETS, "free"],
            value=self._preset(model.aperture),
            description="aperture",
            style=style,
        )
        self.aperture = widgets.FloatSlider(
            value=model.aperture.to_value(u.m),
            min=1.0,
            max=15.0,
            step=0.1,
            description="aperture (m)",
            style=style,
            layout=layout,
        )
        self.resolving_power = widgets.IntSlider(
            value=int(model.resolving_power),
            min=100,
            max=1000,
            step=50,
            description="resolving power",
            style=style,
            layout=layout,
        )
        self.log_luminosity = widgets.FloatSlider(
            value=float(np.log10(model.luminosity.to_value(u.Lsun))),
            min=10.0,
            max=14.0,
            step=0.1,
            description="log L_IR (L☉)",
            style=style,
            layout=layout,
        )
        self.background_scale = widgets.FloatLogSlider(
            value=model.background_scale,
            base=10,
            min=-1,
            max=1,
            step=0.05,
            description="background × ",
            style=style,
            layout=layout,
        )
        self.line = widgets.Dropdown(options=[], description="line", style=style)
        self.table = widgets.HTML()
        self.detail = widgets.HTML()
        # fixed margins: a layout engine would measure every label at each redraw
        self.figure = Figure(figsize=(9, 4.2))
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.91)
        self.ax = self.figure.add_subplot()
        self.spectrum = SpectrumPlot(self.ax)
        self._canvas = None
        self.plot = figure_image(self.figure)
        self.plot.add_class("ztfnb-spectrum")
        if interactive:
            try:
                from ipympl.backend_nbagg import Canvas, FigureManager
            except ImportError:
                self.interactive = False
            else:
                self._canvas = Canvas(self.figure)
                FigureManager(self._canvas, 0)
                self._canvas.header_visible = False
                self._canvas.mpl_connect("pick_event", self._on_pick)
                self.plot = self._canvas
        for control in (
            self.redshift,
            self.hours,
            self.aperture,
            self.resolving_power,
            self.log_luminosity,
            self.background_scale,
        ):
            control.observe(self._on_change, names="value")
        self.aperture_preset.observe(self._on_preset, names="value")
        self.line.observe(lambda change: self.show_line(change["new"]), names="value")
        self.refresh()
        controls = widgets.VBox(
            [
                self.redshift,
                self.hours,
                widgets.HBox([self.aperture_preset]),
                self.aperture,
                self.resolving_power,
                self.log_luminosity,
                self.background_scale,
            ]
        )
        self.container = widgets.VBox(
            [controls, self.plot, widgets.HBox([self.line, self.detail]), self.table]
        )

    @staticmethod
    def _preset(aperture):
        for name, value in APERTURE_PRESETS.items():
            if abs((aperture - value).to_value(u.m)) < 1e-6:
                return name
        return "free"

    def _on_preset(self, change):
        if change["new"] in APERTURE_PRESETS:
            self.aperture.value = APERTURE_PRESETS[change["new"]].to_value(u.m)

    def _on_change(self, change=None):
        self.model.set(
            redshift=float(self.redshift.value),
            integration_time=float(self.hours.value) * u.h,
            aperture=float(self.aperture.value) * u.m,
            resolving_power=float(self.resolving_power.value),
            luminosity=10 ** float(self.log_luminosity.value) * u.Lsun,
            background_scale=float(self.background_scale.value),
        )
        preset = self._preset(self.model.aperture)
        if self.aperture_preset.value != preset:
            self.aperture_preset.value = preset
        self.refresh()

    def refresh(self):
        """Redraw the spectrum and the table for the model's present state."""
        result = self.model.result()
        self.table.value = lines_html(result.lines)
        self.spectrum.update(result)
        self.ax.set_title(
            f"starburst L_IR = 10^{np.log10(self.model.luminosity.to_value(u.Lsun)):.1f} L☉ at z = {self.model.redshift:.2f}; "
            f"{self.model.aperture.to_value(u.m):.1f} m, R = {self.model.resolving_power:.0f}, {self.model.integration_time.to(u.h):.2f}",
            fontsize=9,
        )
        names = [str(name) for name in result.lines["line"]]
        chosen = self.line.value if self.line.value in names else None
        self.line.options = names
        self.line.value = chosen
        if chosen:
            self.show_line(chosen)
        if self._canvas is not None:
            self._canvas.draw_idle()
        else:
            self.plot.value = figure_bytes(self.figure)

    def show_line(self, name):
        """Show one line's details (what hovering or clicking it on the spectrum shows)."""
        if not name:
            self.detail.value = ""
            return
        info = self.model.line_info(name)
        self.detail.value = (
            "<span class='ztfnb-line-detail'>"
            + "; ".join(f"<b>{html.escape(k)}</b> {html.escape(v)}" for k, v in info.items())
            + "</span>"
        )
        if self.line.value != name:
            self.line.value = name

    def _on_pick(self, event):
        gid = event.artist.get_gid()
        if gid:
            self.show_line(gid)

    def static_html(self):
        """A static rendering for reports: the spectrum and the line table."""
        return (
            "<div><p><i>OST simulator (static view: the sliders need a live kernel).</i></p>"
            f'<img src="data:image/png;base64,{figure_png(self.figure)}"/>'
            + lines_html(self.model.result().lines)
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.container._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = (
            f"OSTWidget(z={self.model.redshift}, {self.model.aperture}, R={self.model.resolving_power})"
        )
        return bundle
