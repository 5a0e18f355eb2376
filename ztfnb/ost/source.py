"""Far-IR sources at a redshift: a starburst galaxy, or a spectrum of your own.

Rest-frame luminosities become observed fluxes with the Planck15 luminosity
distance, and every factor of (1+z) is written where it belongs (the
original tool's hardest lesson; each one is pinned by a test):

- λ_obs = (1+z) λ_rest; a line's width in velocity does not change;
- F_line = L_line / (4π D_L²);
- f_ν(ν_obs) = (1+z) L_ν(ν_rest) / (4π D_L²), with ν_rest = (1+z) ν_obs —
  so that ∫ f_ν dν_obs = L / (4π D_L²).
"""

import warnings
from functools import cache
from importlib import resources

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck15
from astropy.modeling.physical_models import BlackBody
from astropy.table import QTable, Table

from ztfnb.quantity import check_range, parse_quantity

__all__ = [
    "LINE_COLUMNS",
    "BadSampleWarning",
    "Source",
    "StarburstGalaxy",
    "TemplateSource",
    "line_table",
]

#: Columns of a source's line table.
LINE_COLUMNS = ("line", "species", "rest_wavelength", "luminosity", "width")
_IR_RANGE = (8 * u.um, 1000 * u.um)  # L_IR, as Bonato et al. define it
MAX_REDSHIFT = 30.0


def _read(name):
    with (resources.files("ztfnb") / "data" / "ost" / name).open() as handle:
        lines = [line for line in handle.read().splitlines() if not line.startswith("#")]
    return Table.read("\n".join(lines), format="ascii.csv")


@cache
def _line_list():
    return _read("farir_linelist_rest_um.csv")


def _precise(name, rest_um):
    """Species and vacuum wavelength from the line list, for a line known by a rough wavelength."""
    listing = _line_list()
    element = name.split("]")[0] + "]" if name.startswith("[") else name.split("(")[0]
    candidates = [
        row
        for row in listing
        if str(row["name"]).startswith(element) and abs(row["rest_um"] - rest_um) < 1.0
    ]
    if candidates:
        row = min(candidates, key=lambda row: abs(row["rest_um"] - rest_um))
        return str(row["species"]), float(row["rest_um"])
    return element.strip("[]"), float(rest_um)


@cache
def line_table(co=True):
    """Far-IR lines of star-forming galaxies: L_line / L_IR and rest wavelengths.

    Fine-structure lines from Bonato et al. (2014); with ``co``, the CO ladder
    from Kamenetzky et al. (2016) (``log L_FIR = a log L'_CO + b``, inverted,
    L_FIR taken as L_IR, ``L_CO = 3×10⁻¹¹ ν_rest[GHz]³ L'_CO`` L☉) evaluated
    per call of `StarburstGalaxy` since it is not linear.

    Returns
    -------
    `~astropy.table.Table`
        ``line, species, rest_um, ratio`` (NaN for CO) and for CO ``a, b``.
    """
    rows = []
    for row in _read("line_ratios_bonato2014_via_galspec.csv"):
        species, rest = _precise(str(row["line"]), float(row["rest_um"]))
        rows.append(
            (str(row["line"]), species, rest, float(row["ratio_L_line_over_L_IR"]), np.nan, np.nan)
        )
    if co:
        listing = {
            str(r["name"]): float(r["rest_um"]) for r in _line_list() if str(r["species"]) == "CO"
        }
        for row in _read("co_ladder_kamenetzky2016_via_galspec.csv"):
            name = f"CO({int(row['J_upper'])}-{int(row['J_upper']) - 1})"
            if name in listing:
                rows.append((name, "CO", listing[name], np.nan, float(row["a"]), float(row["b"])))
    return Table(rows=rows, names=["line", "species", "rest_um", "ratio", "a", "b"])


class Source:
    """A source at a redshift: rest-frame luminosities, observed through Planck15.

    Subclasses give `rest_luminosity_density` and `rest_lines`.

    Parameters
    ----------
    redshift : float
    distance : `~astropy.units.Quantity`, optional
        Luminosity distance; default Planck15's for the redshift (give it for
        very nearby sources, where the Hubble flow is not the distance).
    """

    def __init__(self, redshift, distance=None):
        # beyond z ≈ 30 there are no galaxies to observe (and Planck15 is no guide)
        self.redshift = float(check_range(redshift, "redshift", 0, MAX_REDSHIFT))
        if distance is None:
            if self.redshift == 0:
                raise ValueError("at redshift 0 give the distance")
            distance = Planck15.luminosity_distance(self.redshift)
        self.distance = parse_quantity(distance, "length", name="distance").to(u.Mpc)
        check_range(self.distance, "distance", 0 * u.Mpc, low_open=True)

    @property
    def _dilution(self):
        return 4 * np.pi * self.distance**2

    def rest_luminosity_density(self, frequency):
        """L_ν in the source's frame (W/Hz) at rest frequencies."""
        raise NotImplementedError

    def rest_lines(self):
        """Lines in the source's frame: a table with :data:`LINE_COLUMNS`."""
        raise NotImplementedError

    def flux_density(self, frequency):
        """Observed f_ν(ν_obs) = (1+z) L_ν((1+z) ν_obs) / (4π D_L²), in mJy.

        ``frequency`` may be any spectral coordinate (a wavelength too).
        """
        frequency = u.Quantity(frequency).to(u.Hz, u.spectral())
        one_plus_z = 1 + self.redshift
        return (
            one_plus_z * self.rest_luminosity_density(one_plus_z * frequency) / self._dilution
        ).to(u.mJy)

    def lines(self):
        """The lines as observed: ``observed_wavelength = (1+z) rest_wavelength``, ``flux = L / (4π D_L²)``.

        Returns
        -------
        `~astropy.table.QTable`
            :data:`LINE_COLUMNS` plus ``observed_wavelength`` and ``flux`` (W m⁻²).
        """
        table = QTable(self.rest_lines(), copy=True)
        table["observed_wavelength"] = (1 + self.redshift) * table["rest_wavelength"]
        table["flux"] = (table["luminosity"] / self._dilution).to(u.W / u.m**2)
        return table


@cache
def _dust_table(temperatures, beta, fractions, points=20000):
    """ln ν and ln of L_ν / L_IR (per Hz) of the dust model, tabulated once for every redshift.

    Each component is ν^β B_ν(T) (astropy's BlackBody) normalised to its share of
    L_IR over 8–1000 µm rest.
    """
    grid = np.geomspace(1e9, 3e15, points) * u.Hz  # 0.1 µm to 30 cm
    ir = (grid >= _IR_RANGE[1].to(u.Hz, u.spectral())) & (
        grid <= _IR_RANGE[0].to(u.Hz, u.spectral())
    )
    total = np.zeros(points)
    for temperature, fraction in zip(temperatures, fractions, strict=True):
        blackbody = BlackBody(temperature=temperature * u.K, scale=1.0 * u.W / u.m**2 / u.Hz / u.sr)
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter(
                "ignore", RuntimeWarning
            )  # Wien tail of cold dust underflows to zero
            emission = blackbody(grid).value
        shape = emission * (grid / (100 * u.um).to(u.Hz, u.spectral())).to_value(u.one) ** beta
        total += fraction * shape / np.trapezoid(shape[ir], grid.value[ir])
    with np.errstate(divide="ignore"):
        return np.log(grid.value), np.log(total)


class StarburstGalaxy(Source):
    """A dusty star-forming galaxy: two modified blackbodies and far-IR lines.

    Parameters
    ----------
    redshift : float
    luminosity : `~astropy.units.Quantity`
        L_IR (8–1000 µm rest); default 10¹² L☉ (an ultraluminous starburst).
    temperatures : tuple of `~astropy.units.Quantity`
        Cold and warm dust (default 20 K and 44 K).
    warm_fraction : float
        Share of L_IR in the warm component.
    beta : float
        Dust emissivity index.
    line_width : `~astropy.units.Quantity`
        FWHM in velocity (default 300 km/s).
    co : bool
        Include the CO ladder.
    distance : `~astropy.units.Quantity`, optional
    """

    def __init__(
        self,
        redshift,
        luminosity=1e12 * u.Lsun,
        temperatures=(20 * u.K, 44 * u.K),
        warm_fraction=0.6,
        beta=2.0,
        line_width=300 * u.km / u.s,
        co=True,
        distance=None,
    ):
        super().__init__(redshift, distance)
        self.luminosity = parse_quantity(luminosity, u.Lsun, name="luminosity").to(u.Lsun)
        check_range(self.luminosity, "luminosity", 0 * u.Lsun, low_open=True)
        self.temperatures = tuple(parse_quantity(t, u.K, name="temperature") for t in temperatures)
        for temperature in self.temperatures:
            check_range(temperature, "temperature", 0 * u.K, low_open=True)
        warm_fraction = float(check_range(warm_fraction, "warm_fraction", 0, 1))
        self.fractions = (1 - warm_fraction, warm_fraction)
        # dust emissivity indices are measured between 0 and ≈3 (opacity ∝ ν^β)
        self.beta = float(check_range(beta, "beta", -1, 5))
        self.line_width = parse_quantity(line_width, u.km / u.s, name="line_width")
        check_range(self.line_width, "line_width", 0 * u.km / u.s, low_open=True)
        self.co = co

    def rest_luminosity_density(self, frequency):
        frequency = u.Quantity(frequency).to(u.Hz, u.spectral())
        log_nu, log_shape = _dust_table(
            tuple(t.to_value(u.K) for t in self.temperatures), self.beta, self.fractions
        )
        shape = np.exp(
            np.interp(np.log(frequency.value), log_nu, log_shape, left=-np.inf, right=-np.inf)
        )
        return (self.luminosity * shape / u.Hz).to(u.W / u.Hz)

    def rest_lines(self):
        table = line_table(self.co)
        luminosity = np.asarray(table["ratio"], float) * self.luminosity.value
        co = np.isnan(np.asarray(table["ratio"], float))
        if co.any():
            log_lprime = (
                np.log10(self.luminosity.value) - np.asarray(table["b"])[co]
            ) / np.asarray(table["a"])[co]
            frequency_ghz = (np.asarray(table["rest_um"])[co] * u.um).to_value(u.GHz, u.spectral())
            luminosity[co] = 3.0e-11 * frequency_ghz**3 * 10**log_lprime
        return QTable(
            {
                "line": table["line"],
                "species": table["species"],
                "rest_wavelength": np.asarray(table["rest_um"], float) * u.um,
                "luminosity": (luminosity * u.Lsun).to(u.W),
                "width": np.full(len(table), self.line_width.to_value(u.km / u.s)) * u.km / u.s,
            }
        )


class BadSampleWarning(UserWarning):
    """A template holds NaN, infinite or masked samples."""


class TemplateSource(Source):
    """A source from your own rest-frame spectrum.

    Parameters
    ----------
    rest_wavelength : `~astropy.units.Quantity`
        Increasing or decreasing wavelengths of the template.
    luminosity_density : `~astropy.units.Quantity`
        L_ν at those wavelengths (e.g. W/Hz, or L☉/Hz).
    redshift : float
    lines : `~astropy.table.QTable`, optional
        With :data:`LINE_COLUMNS` (``width`` may be omitted: 300 km/s).
    distance : `~astropy.units.Quantity`, optional

    Warns
    -----
    BadSampleWarning
        When samples of ``luminosity_density`` are NaN, infinite or masked
        (naming the first ones): the spectrum is NaN between their neighbours
        and every instrument channel that overlaps that span is NaN; all
        other channels are exact.

    Raises
    ------
    ValueError
        Wavelengths that are not finite, positive and distinct, a negative
        luminosity density, or arrays of different lengths.

    Notes
    -----
    Outside the template the continuum is zero — never extended with its end
    values (synphot's silent behaviour).
    """

    def __init__(self, rest_wavelength, luminosity_density, redshift, lines=None, distance=None):
        super().__init__(redshift, distance)
        wavelength = u.Quantity(rest_wavelength)
        frequency = wavelength.to(u.Hz, u.spectral())
        if frequency.ndim != 1 or not np.all(np.isfinite(frequency.value) & (frequency.value > 0)):
            raise ValueError("template wavelengths must be finite and positive, in one dimension")
        order = np.argsort(frequency)
        self._log_frequency = np.log(frequency.value[order])
        repeated = np.flatnonzero(np.diff(self._log_frequency) <= 0)
        if repeated.size:
            first, second = sorted(int(k) for k in order[repeated[0] : repeated[0] + 2])
            raise ValueError(
                f"template wavelengths must be distinct: samples {first} and {second} "
                f"(counting from 0) are both {wavelength[first]}"
            )
        density = np.ma.filled(np.ma.asarray(luminosity_density), np.nan)
        density = u.Quantity(density, getattr(luminosity_density, "unit", None)).to(u.W / u.Hz)
        if density.shape != frequency.shape:
            raise ValueError(
                f"{frequency.size} wavelengths but luminosity_density has shape {density.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(density.value))
        if bad.size:
            listed = ", ".join(f"{i} ({wavelength[i].to_value(u.um):.4g} um)" for i in bad[:5])
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            warnings.warn(
                f"template sample(s) {listed}{more} not finite: the channels that overlap "
                "them will be NaN",
                BadSampleWarning,
                stacklevel=2,
            )
        negative = np.flatnonzero(density.value < 0)
        if negative.size:  # a luminosity density is never negative: a sky-subtracted template?
            i = int(negative[0])
            raise ValueError(
                f"template sample {i} (counting from 0; {wavelength[i].to_value(u.um):.4g} um) "
                f"is negative ({density[i]:.3g}), as {negative.size} sample(s) are: a luminosity "
                "density cannot be; mask them (NaN) or clip them to 0"
            )
        self._density = density.value[order]
        self._lines = None if lines is None else _checked_lines(lines)

    def rest_luminosity_density(self, frequency):
        x = np.log(u.Quantity(frequency).to_value(u.Hz, u.spectral()))
        values = np.interp(x, self._log_frequency, self._density, left=0.0, right=0.0)
        return values * u.W / u.Hz

    def rest_lines(self):
        if self._lines is None:
            return QTable(
                {name: [] for name in LINE_COLUMNS},
                units={"rest_wavelength": u.um, "luminosity": u.W, "width": u.km / u.s},
            )
        return QTable(self._lines, copy=True)


_LINE_UNITS = {"rest_wavelength": u.um, "luminosity": u.W, "width": u.km / u.s}


def _checked_lines(lines):
    """A user's line table with its columns present and in units of the right kind."""
    table = QTable(lines, copy=True)
    if "width" not in table.colnames:
        table["width"] = np.full(len(table), 300.0) * u.km / u.s
    for name in LINE_COLUMNS:
        if name not in table.colnames:
            raise ValueError(f"the line table lacks column {name!r}")
    for name, unit in _LINE_UNITS.items():
        column = table[name]
        if getattr(column, "unit", None) is None:
            raise u.UnitsError(
                f"line table column {name!r} has no unit; give it in {unit.physical_type} "
                f"units, e.g. {unit}"
            )
        try:
            table[name] = column.to(unit)
        except u.UnitConversionError as error:
            raise u.UnitsError(
                f"line table column {name!r} is in {column.unit}, not a {unit.physical_type}"
            ) from error
        # one NaN line would spoil every channel (its flux is summed over all of them)
        values = np.ma.filled(np.ma.asarray(table[name].value, float), np.nan)
        bad = ~np.isfinite(values) | ((values <= 0) if name != "luminosity" else False)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"line table row {row} ({table['line'][row]}): {name} is {table[name][row]}"
                + ("" if name == "luminosity" else "; it must be finite and positive")
            )
    return table
