"""A solved night on one HTML page: per exposure SCAMP's σ and χ², the flags, the scale, the worst quadrants.

Written by ``ztfnb quality`` beside its tables (``METRICS.html``) and by the
quality notebook into its report, so a night can be looked at without a
kernel: it opens offline (figures embedded as PNG), and the report index
links it with the report's other outputs.
"""

import base64
import html
import io

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.display import PPM, show
from ztfnb.io.atomic import atomic_path
from ztfnb.plots.camera import new_axes
from ztfnb.plots.quality import plot_flags, plot_zenith_scale
from ztfnb.quality.night import rows_by_exposure

__all__ = ["WORST", "night_page", "write_night_page"]

#: Flagged quadrants listed on the page, worst first: a person reads a few hundred; a
#: night's every flag (tens of thousands on a bad night) is in ``METRICS.ecsv``.
WORST = 500

_STYLE = (
    "body{font-family:sans-serif;margin:1em 2em;max-width:1300px}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    "img{max-width:100%}.box{overflow-x:auto}"
)


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return (
        f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'
    )


def _medians(quadrants, rows_of, names, column):
    """The median of a column over each exposure's present quadrants (NaN where none)."""
    present = ~np.asarray(quadrants["absent"], bool)
    every = u.Quantity(quadrants[column]).value if len(quadrants) else np.array([])
    medians = []
    for name in names:
        rows = rows_of.get(name, np.array([], int))
        values = every[rows[present[rows]]]
        values = values[np.isfinite(values)]
        medians.append(float(np.median(values)) if values.size else np.nan)
    return medians


def exposure_summary(quadrants, exposures):
    """Per exposure: airmass, SCAMP's σ and χ² (median over quadrants), stars matched, flags, zenith scale."""
    table = QTable()
    names = [str(n) for n in exposures["exposure"]]
    table["exposure"] = names
    table["airmass"] = np.asarray(exposures["airmass"], float)
    rows_of = rows_by_exposure(quadrants)
    table["scamp_sigma"] = _medians(quadrants, rows_of, names, "scamp_sigma") * u.arcsec
    table["scamp_chi2"] = _medians(quadrants, rows_of, names, "scamp_chi2")
    table["rms_ra"] = _medians(quadrants, rows_of, names, "rms_ra") * u.arcsec
    table["n_matched"] = np.asarray(exposures["n_matched"], int)
    table["n_flagged"] = np.asarray(exposures["n_flagged"], int)
    table["zenith_scale"] = u.Quantity(exposures["zenith_scale"]).value * PPM
    return table


def _rms_histogram(quadrants):
    figure, ax = new_axes(6, 3.2)
    present = ~np.asarray(quadrants["absent"])
    flagged = np.asarray(quadrants["flag"]) & present
    for column, colour in (("rms_ra", "C0"), ("rms_dec", "C1")):
        values = u.Quantity(quadrants[column]).to_value(u.arcsec)
        good = present & ~flagged & np.isfinite(values)
        ax.hist(values[good], bins=30, histtype="step", color=colour, label=f"{column} (unflagged)")
        bad = flagged & np.isfinite(values)
        if bad.any():
            ax.hist(values[bad], bins=30, histtype="stepfilled", alpha=0.4, color=colour,
                    label=f"{column} (flagged)")  # fmt: skip
    ax.set_xlabel("rms of a quadrant's residuals against Gaia (″)")
    ax.set_ylabel("quadrants")
    ax.legend(fontsize=8)
    return figure


def night_page(quadrants, exposures, title="ztfnb quality"):
    """The HTML of a solved night's one-page summary.

    Parameters
    ----------
    quadrants, exposures : `~astropy.table.Table`
        ``ztfnb quality``'s two tables (as `ztfnb.quality.night_metrics` returns them).
    title : str

    Returns
    -------
    str
    """
    present = ~np.asarray(quadrants["absent"])
    flagged = np.asarray(quadrants["flag"])
    zenith = exposures.meta.get("zenith_model", {}) or {}
    if np.isfinite(zenith.get("A", np.nan)):
        refraction = (
            f"refraction constant A = {zenith['A']:.1f} ± {zenith['A_error']:.1f} ppm fitted, "
            f"{zenith['A_predicted']:.1f} ppm from the weather"
        )
    else:
        refraction = zenith.get("note") or "no zenith-relative scale model"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(exposures)} exposures, {int(present.sum())} quadrants measured, "
        f"<b>{int(flagged.sum())} flagged</b> ({int((flagged & ~present).sum())} absent from their "
        f"catalogue); {html.escape(refraction)}.</p>",
        "<h2>Exposures</h2>",
        '<div class="box">',
        show(exposure_summary(quadrants, exposures))._repr_html_(),
        "</div>",
        _png(plot_flags(quadrants)),
        _png(_rms_histogram(quadrants)),
    ]
    if np.isfinite(np.asarray(exposures["zenith_scale"], float)).any():
        parts.append(_png(plot_zenith_scale(exposures)))
    rows = quadrants[flagged]
    if len(rows):
        worst = np.argsort(-np.asarray(rows["badness"], float), kind="stable")[:WORST]
        heading = "Flagged quadrants, worst first"
        if len(rows) > WORST:
            heading += f" (the {WORST} worst of {len(rows)}; all are in the metrics table)"
        parts += [
            f"<h2>{heading}</h2>",
            '<div class="box">',
            show(
                rows[worst][["exposure", "rcid", "reason", "rms_ra", "rms_dec", "chi2"]]
            )._repr_html_(),
            "</div>",
        ]
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def write_night_page(path, quadrants, exposures, title="ztfnb quality"):
    """Write `night_page` to ``path`` (temporary file and rename)."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(night_page(quadrants, exposures, title))
    return path
