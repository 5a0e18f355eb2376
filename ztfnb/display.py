"""Tables as a person reads them: units in the headers, a precision per unit, key columns first.

Every report shows its tables through `show`. Astropy's own HTML view of a
table prints a dtype row under the header and every float to seventeen
digits (an airmass of ``2.0688888888894015``); here each column is converted
to the unit an astronomer reads and given a precision that suits it:

- small angles (every value under 1″) in mas, larger ones in ″, degrees kept;
- a plate scale (``deg / pix``) in ″/px;
- fractions (``%``, ``1e-06``, or a bare column named in ``units`` as
  ``"ppm"``) in ppm when every value is under 0.1 %, in % otherwise;
- NaN, masked values and None as "—" (not measured), booleans as ✓.

The result is a `DisplayTable`: Jupyter shows its HTML (wrapped in a box that
scrolls sideways, so a wide table never pushes the page); its columns keep
their names (spaces for underscores) so they can be found in the ECSV files
the report writes. Nothing here imports matplotlib.
"""

import html
import math
import re

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from astropy.time import Time

__all__ = ["PPM", "DisplayTable", "format_column", "show"]

PPM = u.def_unit("ppm", 1e-6 * u.dimensionless_unscaled)

# the columns that lead a table when present, in this order
KEY_COLUMNS = (
    "exposure",
    "rcid",
    "line",
    "method",
    "concept",
    "software",
    "injected",
    "flag",
    "reason",
)
# fixed decimals per unit shown; other units get a precision from the values
_DECIMALS = {
    "mas": 1,
    "arcsec": 3,
    "deg": 4,
    "arcsec / pix": 4,
    "pix": 2,
    "ppm": 1,
    "%": 3,
    "um": 3,
    "s": 3,
    "ms": 2,
    "ns": 0,
    "mag": 3,
    "hPa": 1,
    "deg_C": 1,
    "K": 1,
    "d": 6,
    "km / s": 1,
}
_SCIENTIFIC = {"W / m2", "mJy", "W / Hz(1/2)", "Jy", "W", "solLum"}
# bare floats named like a date in days: enough decimals for seconds
_DAYS = re.compile(r"(^|_)(mjd|jd|hjd|bjd|obsmjd)(_|$)")
_WIDE_TEXT = ("reason", "note", "notes", "failures", "decision")


def _finite(values):
    values = np.asarray(values, float).ravel()
    return values[np.isfinite(values)]


def _choose_unit(unit, values, name):
    """The unit to show a column in, and the values converted to it."""
    if unit is None or unit == u.dimensionless_unscaled:
        return None, values
    quantity = u.Quantity(values, unit)
    if unit.physical_type == "angle":
        if unit == u.deg or unit == u.hourangle or unit == u.rad:
            return u.deg, quantity.to(u.deg)
        arcsec = quantity.to(u.arcsec)
        if np.max(np.abs(_finite(arcsec.value)), initial=0.0) < 1.0:
            return u.mas, quantity.to(u.mas)
        return u.arcsec, arcsec
    if unit.is_equivalent(u.deg / u.pix):
        return u.arcsec / u.pix, quantity.to(u.arcsec / u.pix)
    if unit.is_equivalent(u.dimensionless_unscaled):
        fraction = np.max(np.abs(_finite(quantity.to_value(u.one))), initial=0.0)
        if fraction < 1e-3:
            return PPM, quantity.to(PPM)
        return u.percent, quantity.to(u.percent)
    return unit, quantity


def _decimals_for(values):
    """Decimals giving about four significant figures to a typical value; None: scientific."""
    finite = np.abs(_finite(values))
    finite = finite[finite > 0]
    if not finite.size:
        return 3
    typical = float(np.median(finite))
    if typical >= 1e6 or typical < 1e-3:
        return None
    return int(min(max(3 - math.floor(math.log10(typical)), 0), 4))


def _unit_key(unit):
    return "" if unit is None else unit.to_string()


def _unit_label(unit):
    if unit is None:
        return ""
    if unit == u.arcsec:
        return "″"
    if unit == u.arcsec / u.pix:
        return "″/px"
    if unit == u.deg:
        return "deg"
    if unit == PPM:
        return "ppm"
    return unit.to_string("unicode").replace("pix", "px")


def format_column(column, name=None, unit=None):
    """A column's values as strings, and the unit they are shown in.

    Parameters
    ----------
    column : `~astropy.table.Column`, `~astropy.units.Quantity`, `~astropy.time.Time` or sequence
    name : str, optional
        The column's name (dates in days named ``mjd``, ``bjd``... get six decimals).
    unit : str or `~astropy.units.UnitBase`, optional
        The unit of a bare numeric column (e.g. ``"ppm"``).

    Returns
    -------
    strings : list of str
    label : str
        The unit shown, "" for none.
    """
    name = name or getattr(column, "name", "") or ""
    if isinstance(column, Time):
        return [
            "—" if bool(np.ma.is_masked(t)) else t.utc.iso[:23] for t in np.atleast_1d(column)
        ], "UTC"
    mask = np.asarray(np.ma.getmaskarray(column)) if np.ma.isMaskedArray(column) else None
    if isinstance(unit, str) and unit.strip() == "ppm":
        given = PPM
    else:
        given = unit if unit is None else u.Unit(unit, parse_strict="raise")
    own = getattr(column, "unit", None)
    data = column.value if isinstance(column, u.Quantity) else np.asarray(column)
    if data.dtype.kind == "b":
        return ["✓" if v else "" for v in data], ""
    if data.dtype.kind in "US" or data.dtype.kind == "O":
        strings = []
        for value in data:
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                strings.append("—")
            else:
                strings.append(str(value))
        return strings, ""
    if data.dtype.kind in "iu":
        strings = [f"{int(v):d}" for v in data]
        if mask is not None:
            strings = ["—" if m else s for s, m in zip(strings, mask, strict=True)]
        return strings, _unit_label(given or own)
    shown_unit, values = _choose_unit(given or own, np.asarray(data, float), name)
    values = np.asarray(getattr(values, "value", values), float)
    days = shown_unit is None and bool(_DAYS.search(name.lower()))
    decimals = _DECIMALS.get(_unit_key(shown_unit), "auto")
    if _unit_key(shown_unit) in _SCIENTIFIC:
        decimals = None
    if decimals == "auto":
        decimals = 6 if days else _decimals_for(values)
    strings = []
    for i, value in enumerate(values):
        if (mask is not None and mask[i]) or not np.isfinite(value):
            strings.append("—")
        elif decimals is None:
            strings.append(f"{value:.3g}" if value != 0 else "0")
        else:
            text = (
                f"{value:.{decimals}f}" if days else f"{value:,.{decimals}f}".replace(",", "\u2009")
            )
            # a value rounded to zero is shown as 0, not -0.000
            strings.append(text.lstrip("-") if not text.strip("-0.\u2009") else text)
    return strings, _unit_label(shown_unit)


class DisplayTable:
    """A table formatted for reading: `show` makes one; Jupyter displays its HTML.

    Attributes
    ----------
    names : list of str
        Column titles (underscores as spaces).
    units : list of str
        The unit each column is shown in ("" for none).
    rows : list of list of str
    note : str
        A caption: what the table is, or why it is empty.
    """

    def __init__(self, names, units, rows, note="", wide=()):
        self.names = list(names)
        self.units = list(units)
        self.rows = rows
        self.note = note
        self.wide = set(wide)

    def __len__(self):
        return len(self.rows)

    def _repr_html_(self):
        head = "".join(
            f'<th data-unit="{html.escape(unit)}" style="text-align:left;vertical-align:bottom">'
            f"{html.escape(name)}"
            + (
                f'<br><span style="font-weight:normal;color:#555">{html.escape(unit)}</span>'
                if unit
                else ""
            )
            + "</th>"
            for name, unit in zip(self.names, self.units, strict=True)
        )
        body = []
        for row in self.rows:
            cells = []
            for name, value in zip(self.names, row, strict=True):
                style = (
                    "text-align:left;white-space:normal;min-width:16em;max-width:36em"
                    if name in self.wide
                    else "text-align:right;white-space:nowrap"
                )
                cells.append(f'<td style="{style}">{html.escape(value)}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        caption = (
            f'<caption style="caption-side:bottom;text-align:left;color:#555">{html.escape(self.note)}</caption>'
            if self.note
            else ""
        )
        empty = (
            f'<tr><td colspan="{len(self.names)}" style="text-align:left">— (no rows)</td></tr>'
            if not self.rows
            else ""
        )
        return (
            '<div class="ztfnb-table" style="max-width:100%;overflow-x:auto">'
            f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}{empty}</tbody></table></div>"
        )

    def __repr__(self):
        titles = [f"{n} ({u_})" if u_ else n for n, u_ in zip(self.names, self.units, strict=True)]
        widths = [max([len(t)] + [len(r[i]) for r in self.rows]) for i, t in enumerate(titles)]
        lines = ["  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in self.rows]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def show(table, columns=None, units=None, first=KEY_COLUMNS, note=None):
    """A table as a person reads it (see the module's note).

    Parameters
    ----------
    table : `~astropy.table.Table`, `~astropy.table.QTable` or dict
    columns : list of str, optional
        Which columns, in this order (default: all, key columns first).
    units : dict, optional
        Units of bare numeric columns, e.g. ``{"anisotropy": "ppm"}``.
    first : sequence of str
        Columns moved to the front when ``columns`` is not given.
    note : str, optional
        A caption; default the table's ``meta["note"]``.

    Returns
    -------
    `DisplayTable`
    """
    if isinstance(table, dict):
        table = QTable({k: np.atleast_1d(v) for k, v in table.items()})
    if not isinstance(table, Table):
        raise TypeError(f"show wants a Table, not {type(table).__name__}")
    units = dict(units or {})
    names = list(columns) if columns is not None else list(table.colnames)
    if columns is None:
        names = [n for n in first if n in names] + [n for n in names if n not in first]
    missing = [n for n in names if n not in table.colnames]
    if missing:
        raise KeyError(f"no column {', '.join(missing)} in the table ({', '.join(table.colnames)})")
    formatted, shown = [], []
    for name in names:
        strings, label = format_column(table[name], name, units.get(name))
        formatted.append(strings)
        shown.append(label)
    rows = [list(values) for values in zip(*formatted, strict=True)] if formatted else []
    titles = [n.replace("_", " ") for n in names]
    wide = [t for t, n in zip(titles, names, strict=True) if n in _WIDE_TEXT]
    return DisplayTable(
        titles,
        shown,
        rows,
        note=str(table.meta.get("note", "")) if note is None else note,
        wide=wide,
    )
