"""One OST configuration observed, its sensitivity per band, and detectability over redshift.

Twin of ``notebooks/03_ost_simulation.ipynb``.
"""

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ztfnb.io.summary import write_summary
from ztfnb.io.tables import write_table
from ztfnb.ost.background import Background
from ztfnb.ost.instrument import CONCEPTS
from ztfnb.ost.sensitivity import channel_nef, continuum_sensitivity, line_sensitivity
from ztfnb.ost.simulator import OSTSimulator, detectability

__all__ = ["OSTReport", "ost_report", "sensitivity_table"]


@dataclass
class OSTReport:
    """What the OST notebook shows.

    Attributes
    ----------
    simulator : `~ztfnb.ost.simulator.OSTSimulator`
    observation : `~ztfnb.ost.observe.Observation`
    sensitivity : `~astropy.table.QTable`
    detectability : `~astropy.table.QTable`
    outputs : list of `~pathlib.Path`
    """

    simulator: OSTSimulator
    observation: object
    sensitivity: QTable
    detectability: QTable
    outputs: list


def sensitivity_table(time=1 * u.h, background=None, resolving_power=300.0):
    """5σ line and continuum sensitivity at each band's centre, for both concepts.

    Returns
    -------
    `~astropy.table.QTable`
        ``concept, band, wavelength, nep, line_5sigma`` (W m⁻²), ``continuum_5sigma`` (mJy).
    """
    background = background or Background()
    rows = []
    for name, instrument in CONCEPTS.items():
        instrument = instrument.with_(resolving_power=resolving_power)
        for band in instrument.bands:
            centre = np.sqrt(band.short * band.long)
            noise = channel_nef(instrument, background, centre[None])
            rows.append(
                (
                    name,
                    band.name,
                    centre.to_value(u.um),
                    noise["nep"][0].value,
                    line_sensitivity(noise["nef"][0], time).to_value(u.W / u.m**2),
                    continuum_sensitivity(noise["nef"][0], noise["bandwidth"][0], time).to_value(
                        u.mJy
                    ),
                )
            )
    table = QTable(
        rows=rows, names=["concept", "band", "wavelength", "nep", "line_5sigma", "continuum_5sigma"]
    )
    table["wavelength"].unit = u.um
    table["nep"].unit = u.W / u.Hz**0.5
    table["line_5sigma"].unit = u.W / u.m**2
    table["continuum_5sigma"].unit = u.mJy
    for column, fmt in (
        ("wavelength", ".1f"),
        ("nep", ".3g"),
        ("line_5sigma", ".3g"),
        ("continuum_5sigma", ".3g"),
    ):
        table[column].info.format = fmt
    return table


def ost_report(
    redshift=2.0,
    luminosity=1e12 * u.Lsun,
    aperture=5.9 * u.m,
    integration_time=1 * u.h,
    resolving_power=300.0,
    background_scale=1.0,
    map_redshifts=None,
    output_dir="",
):
    """Observe one configuration; tabulate sensitivities; map detectability over redshift.

    Returns
    -------
    `OSTReport`
    """
    map_redshifts = np.linspace(0.1, 8, 80) if map_redshifts is None else map_redshifts
    simulator = OSTSimulator(
        redshift, integration_time, aperture, resolving_power, luminosity, background_scale
    )
    observation = simulator.result()
    sensitivity = sensitivity_table(
        background=simulator.background, resolving_power=resolving_power
    )
    table = detectability(
        map_redshifts, simulator.instrument, simulator.luminosity, simulator.background
    )
    outputs = []
    lines = observation.lines
    in_band = np.asarray(lines["in_band"])
    cii = lines[lines["line"] == "[CII]158"]
    summary = write_summary(
        output_dir,
        {
            "lines_detected": int(np.sum(lines["detected"])),
            "lines_in_band": int(in_band.sum()),
            "best_snr": float(np.nanmax(lines["snr"])) if in_band.any() else float("nan"),
            "cii_snr": float(cii["snr"][0]) if len(cii) else float("nan"),
        },
    )
    outputs += [summary] if summary else []
    if output_dir:
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (
            ("lines.ecsv", observation.lines),
            ("spectrum.ecsv", observation.spectrum),
            ("sensitivity.ecsv", sensitivity),
        ):
            write_table(folder / name, data)
            outputs.append(folder / name)
    return OSTReport(simulator, observation, sensitivity, table, outputs)
