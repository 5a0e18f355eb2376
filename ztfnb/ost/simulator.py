"""The state of an OST trade study: what the widget shows, without any widget.

`OSTSimulator` holds the choices (redshift, integration time, aperture,
resolving power, luminosity, background scale), builds the instrument, source
and background from them, and answers with an `~ztfnb.ost.observe.Observation`.
Tests and scripts drive it directly; `ztfnb.widgets.ost.OSTWidget` is a view.
"""

from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.ost.background import Background
from ztfnb.ost.instrument import CONCEPTS, Spectrometer
from ztfnb.ost.observe import observe
from ztfnb.ost.source import StarburstGalaxy
from ztfnb.quantity import check_range, parse_quantity

__all__ = ["APERTURE_PRESETS", "OSTSimulator", "detectability"]

#: Named apertures (the study's concepts).
APERTURE_PRESETS = {"Concept 2 (5.9 m)": 5.9 * u.m, "Concept 1 (9.1 m)": 9.1 * u.m}


@dataclass
class OSTSimulator:
    """A trade-study configuration and its observation.

    Attributes
    ----------
    redshift : float
    integration_time : `~astropy.units.Quantity`
    aperture : `~astropy.units.Quantity`
    resolving_power : float
    luminosity : `~astropy.units.Quantity`
        L_IR of the starburst.
    background_scale : float
    """

    redshift: float = 2.0
    integration_time: u.Quantity = 1 * u.h
    aperture: u.Quantity = 5.9 * u.m
    resolving_power: float = 300.0
    luminosity: u.Quantity = 1e12 * u.Lsun
    background_scale: float = 1.0
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.integration_time = parse_quantity(
            self.integration_time, "time", name="integration_time"
        )
        self.aperture = parse_quantity(self.aperture, "length", name="aperture", default_unit=u.m)
        self.luminosity = parse_quantity(self.luminosity, u.Lsun, name="luminosity")
        check_range(self.integration_time, "integration_time", 0 * u.s, low_open=True)
        check_range(self.aperture, "aperture", 0 * u.m, low_open=True)
        check_range(self.resolving_power, "resolving_power", 0, low_open=True)
        check_range(self.background_scale, "background_scale", 0)

    def set(self, **changes):
        """Change some choices (Quantities or strings such as ``"30 min"``)."""
        for name, value in changes.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise AttributeError(f"no setting {name!r}")
            setattr(self, name, value)
        self.__post_init__()
        return self

    @property
    def instrument(self):
        """The spectrometer: the concept nearest in aperture, resized, at this resolving power."""
        concept = CONCEPTS["concept1"] if self.aperture >= 7.5 * u.m else CONCEPTS["concept2"]
        return replace(concept, aperture=self.aperture, resolving_power=float(self.resolving_power))

    @property
    def source(self):
        return StarburstGalaxy(self.redshift, luminosity=self.luminosity)

    @property
    def background(self):
        return Background(scale=float(self.background_scale))

    def result(self):
        """The observation for the present choices (kept until a choice changes)."""
        key = (
            self.redshift,
            self.integration_time.to_value(u.s),
            self.aperture.to_value(u.m),
            self.resolving_power,
            self.luminosity.to_value(u.Lsun),
            self.background_scale,
        )
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = observe(
                self.source, self.instrument, self.integration_time, self.background
            )
        return self._cache[key]

    def line_info(self, name):
        """One line's row of the table, as a dict of strings for display."""
        lines = self.result().lines
        rows = np.flatnonzero(lines["line"] == name)
        if not rows.size:
            raise KeyError(f"no line {name!r}")
        row = lines[rows[0]]
        return {
            "line": str(row["line"]),
            "species": str(row["species"]),
            "rest wavelength": f"{row['rest_wavelength'].to_value(u.um):.3f} µm",
            "observed wavelength": f"{row['observed_wavelength'].to_value(u.um):.2f} µm",
            "flux": f"{row['flux'].to_value(u.W / u.m**2):.3g} W m⁻²",
            "5σ sensitivity": f"{row['sensitivity'].to_value(u.W / u.m**2):.3g} W m⁻²"
            if row["in_band"]
            else "outside the bands",
            "S/N": f"{row['snr']:.1f}" if row["in_band"] else "—",
        }


def detectability(
    redshifts, instrument=None, luminosity=1e12 * u.Lsun, background=None, reference_time=1 * u.h
):
    """Integration time each line needs for 5σ, over redshift.

    S/N grows as √t, so one observation per redshift gives the time for
    every line: ``t₅ = t_ref (5 / S/N)²``.

    Returns
    -------
    `~astropy.table.QTable`
        ``line`` and a ``time`` column of shape (lines, redshifts), hours
        (NaN where the line is outside the bands), with ``meta["redshift"]``.
    """
    instrument = instrument or Spectrometer()
    background = background or Background()
    reference_time = parse_quantity(reference_time, "time", name="reference_time")
    columns = []
    names = None
    for z in redshifts:
        lines = observe(
            StarburstGalaxy(z, luminosity=luminosity), instrument, reference_time, background
        ).lines
        names = lines["line"] if names is None else names
        with np.errstate(divide="ignore", invalid="ignore"):
            columns.append((reference_time * (5 / lines["snr"]) ** 2).to_value(u.h))
    table = QTable({"line": names, "time": np.column_stack(columns) * u.h})
    table.meta["redshift"] = list(map(float, redshifts))
    return table
