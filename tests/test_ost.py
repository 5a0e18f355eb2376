"""The OST simulator against analytic cases and scalings: every (1+z), units, noise, resampling."""

import itertools

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import Planck15
from astropy.table import QTable

from ztfnb.analyses.ost import sensitivity_table
from ztfnb.ost import Background, Spectrometer, StarburstGalaxy, TemplateSource, observe
from ztfnb.ost.resample import resample
from ztfnb.ost.sensitivity import occupation_number, photon_nep, signal_to_noise
from ztfnb.ost.simulator import OSTSimulator, detectability


@pytest.mark.parametrize("z", [0.5, 2.0, 6.0])
def test_lines_move_to_one_plus_z_and_keep_their_flux_law(z):
    galaxy = StarburstGalaxy(z, luminosity=1e12 * u.Lsun)
    lines = galaxy.lines()
    assert np.allclose(lines["observed_wavelength"] / lines["rest_wavelength"], 1 + z)
    distance = Planck15.luminosity_distance(z)
    cii = lines[lines["line"] == "[CII]158"][0]
    expected = (1.86e-3 * 1e12 * u.Lsun / (4 * np.pi * distance**2)).to(u.W / u.m**2)
    assert cii["flux"].to_value(u.W / u.m**2) == pytest.approx(expected.value, rel=1e-6)


def test_continuum_carries_one_plus_z_and_conserves_energy():
    galaxy = StarburstGalaxy(3.0, luminosity=1e12 * u.Lsun)
    distance = Planck15.luminosity_distance(3.0)
    nu_obs = 1e12 * u.Hz
    expected = (4.0 * galaxy.rest_luminosity_density(4.0 * nu_obs) / (4 * np.pi * distance**2)).to(
        u.mJy
    )
    assert galaxy.flux_density(nu_obs).to_value(u.mJy) == pytest.approx(expected.value, rel=1e-12)
    # ∫ f_ν dν_obs over the redshifted 8–1000 µm = L_IR / (4π D_L²): no (1+z) left over
    grid = (
        np.geomspace(
            *((np.array([1000.0, 8.0]) * 4.0 * u.um).to_value(u.Hz, u.spectral())), 200_000
        )
        * u.Hz
    )
    integral = (
        np.trapezoid(galaxy.flux_density(grid).to_value(u.W / u.m**2 / u.Hz), grid.value)
        * u.W
        / u.m**2
    )
    assert integral.to_value(u.W / u.m**2) == pytest.approx(
        (1e12 * u.Lsun / (4 * np.pi * distance**2)).to_value(u.W / u.m**2), rel=1e-3
    )


def test_a_flat_template_gives_the_analytic_flux_density():
    wavelength = np.geomspace(1, 2000, 50) * u.um
    source = TemplateSource(wavelength, np.full(50, 1e24) * u.W / u.Hz, redshift=1.0)
    distance = Planck15.luminosity_distance(1.0)
    expected = (2.0 * 1e24 * u.W / u.Hz / (4 * np.pi * distance**2)).to(u.mJy)
    assert source.flux_density(300 * u.um).to_value(u.mJy) == pytest.approx(
        expected.value, rel=1e-9
    )
    assert (
        source.flux_density((3000 * 2.0) * u.um).value == 0
    )  # beyond the template: zero, not extended


def test_line_width_is_constant_in_velocity():
    galaxy = StarburstGalaxy(4.0, line_width=400 * u.km / u.s)
    instrument = Spectrometer(resolving_power=3000)
    observation = observe(galaxy, instrument, 1 * u.h)
    spectrum = observation.spectrum
    line = galaxy.lines()
    centre = line[line["line"] == "[OIII]88"]["observed_wavelength"][0]
    near = np.abs(np.log(spectrum["wavelength"] / centre)) < 0.01
    excess = (spectrum["flux_density"] - spectrum["continuum"])[near].value
    wavelength = spectrum["wavelength"][near].to_value(u.um)
    mean = np.sum(excess * wavelength) / np.sum(excess)
    sigma = np.sqrt(np.sum(excess * (wavelength - mean) ** 2) / np.sum(excess))
    fwhm_velocity = 2.3548 * sigma / mean * const.c.to_value(u.km / u.s)
    channel = const.c.to_value(u.km / u.s) / 3000
    assert fwhm_velocity == pytest.approx(np.hypot(400, channel / np.sqrt(12) * 2.3548), rel=0.15)


def test_resampling_conserves_energy_and_constants():
    rng = np.random.default_rng(0)
    edges_in = np.sort(rng.uniform(0, 100, 500))
    density = rng.uniform(0, 10, 499)
    edges_out = np.linspace(edges_in[0], edges_in[-1], 37)
    out = resample(edges_in, density, edges_out)
    assert np.sum(out * np.diff(edges_out)) == pytest.approx(
        np.sum(density * np.diff(edges_in)), rel=1e-12
    )
    assert np.allclose(resample(edges_in, np.full(499, 3.0), edges_out), 3.0)
    with pytest.raises(ValueError):
        resample(edges_in[::-1], density, edges_out)


def test_observed_spectrum_keeps_the_line_fluxes():
    galaxy = StarburstGalaxy(2.0)
    observation = observe(galaxy, Spectrometer(), 1 * u.h)
    spectrum = observation.spectrum
    nu = spectrum["frequency"]
    width = nu / 300 * (np.exp(np.log1p(1 / 300)) - 1) * 300  # channel widths follow the log grid
    excess = ((spectrum["flux_density"] - spectrum["continuum"]) * width).to_value(u.W / u.m**2)
    in_band = observation.lines[observation.lines["in_band"]]
    assert np.sum(excess) == pytest.approx(np.sum(in_band["flux"].to_value(u.W / u.m**2)), rel=0.02)


def test_units_are_checked_and_snr_is_dimensionless():
    with pytest.raises(u.UnitsError):
        occupation_number(1 * u.Jy, 1e12 * u.Hz)  # a flux density is not an intensity
    n = occupation_number(1 * u.MJy / u.sr, 1.9e12 * u.Hz)
    assert n.unit == u.dimensionless_unscaled
    nep = photon_nep(n, 1.9e12 * u.Hz, 300)
    assert nep.unit.is_equivalent(u.W / u.Hz**0.5)
    snr = signal_to_noise(1e-21 * u.W / u.m**2, 1e-20 * u.W / u.m**2 / u.Hz**0.5, 1 * u.h)
    assert isinstance(snr, float | np.floating)
    with pytest.raises(u.UnitsError):
        signal_to_noise(1 * u.mJy, 1e-20 * u.W / u.m**2 / u.Hz**0.5, 1 * u.h)


def test_snr_grows_as_the_square_root_of_time():
    galaxy = StarburstGalaxy(3.0, luminosity=1e11 * u.Lsun)
    one = observe(galaxy, Spectrometer(), 1 * u.h).lines
    four = observe(galaxy, Spectrometer(), 4 * u.h).lines
    ok = np.asarray(one["in_band"])
    assert np.allclose(four["snr"][ok] / one["snr"][ok], 2.0, rtol=1e-12)


def test_background_limited_sensitivity_scales_as_one_over_d_squared():
    galaxy = StarburstGalaxy(2.0)
    quiet = 1e-25 * u.W / u.Hz**0.5  # detectors far below the photon noise
    small = observe(galaxy, Spectrometer(aperture=5.9 * u.m, detector_nep=quiet), 1 * u.h).lines
    large = observe(galaxy, Spectrometer(aperture=9.1 * u.m, detector_nep=quiet), 1 * u.h).lines
    ok = np.asarray(small["in_band"])
    assert np.allclose(
        small["sensitivity"][ok] / large["sensitivity"][ok], (9.1 / 5.9) ** 2, rtol=1e-9
    )


def test_sensitivity_is_in_the_published_range():
    """5σ, 1 h line sensitivity near 100–200 µm, 5.9 m: a few × 10⁻²² to ≈10⁻²¹ W m⁻²."""
    table = sensitivity_table()
    baseline = table[
        (table["concept"] == "concept2")
        & (table["wavelength"] > 90 * u.um)
        & (table["wavelength"] < 210 * u.um)
    ]
    assert len(baseline) == 2
    assert np.all(
        (baseline["line_5sigma"] > 2e-22 * u.W / u.m**2)
        & (baseline["line_5sigma"] < 1.5e-21 * u.W / u.m**2)
    )


def test_lines_outside_the_bands_are_marked_not_dropped():
    lines = observe(StarburstGalaxy(0.05), Spectrometer(), 1 * u.h).lines
    ci = lines[lines["line"] == "[CI]609"][0]
    assert (
        not ci["in_band"] and not ci["detected"] and np.isnan(ci["snr"]) and ci["band"] == "outside"
    )
    assert len(lines) == len(StarburstGalaxy(0.05).lines())


def test_background_scale_matters():
    galaxy = StarburstGalaxy(1.0)
    clean = observe(galaxy, Spectrometer(), 1 * u.h, Background(scale=1.0)).lines
    dusty = observe(galaxy, Spectrometer(), 1 * u.h, Background(scale=10.0)).lines
    ok = np.asarray(clean["in_band"])
    assert np.all(dusty["snr"][ok] < clean["snr"][ok])


def test_simulator_and_detectability():
    model = OSTSimulator()
    model.set(redshift=4.0, integration_time="30 min", aperture="9.1 m")
    result = model.result()
    assert result.integration_time == 1800 * u.s and model.instrument.aperture == 9.1 * u.m
    assert model.result() is result  # kept until something changes
    assert model.line_info("[CII]158")["line"] == "[CII]158"
    with pytest.raises(AttributeError):
        model.set(colour="red")
    table = detectability([1.0, 3.0], luminosity=1e11 * u.Lsun)
    assert table["time"].shape == (len(table), 2)
    snr = observe(StarburstGalaxy(1.0, luminosity=1e11 * u.Lsun), Spectrometer(), 1 * u.h).lines[
        "snr"
    ]
    assert np.allclose(table["time"][:, 0].to_value(u.h), (5 / snr) ** 2, equal_nan=True)


def test_widget_drives_the_model_without_a_browser():
    from ztfnb.widgets.ost import OSTWidget

    widget = OSTWidget(OSTSimulator(redshift=2.0))
    before = widget.table.value
    widget.redshift.value = 5.5
    assert widget.model.redshift == 5.5 and widget.table.value != before
    widget.aperture_preset.value = "Concept 1 (9.1 m)"
    assert widget.model.aperture == 9.1 * u.m
    widget.aperture.value = 7.0
    assert widget.aperture_preset.value == "free"
    widget.hours.value = 4.0
    assert widget.model.integration_time == 4 * u.h
    widget.line.value = "[OIII]88"
    assert "[OIII]88" in widget.detail.value and "S/N" in widget.detail.value
    bundle = widget._repr_mimebundle_()
    assert "static view" in bundle["text/html"] and "ztfnb-lines" in bundle["text/html"]


def test_every_slider_starts_on_its_own_grid():
    """A browser snaps a slider onto min + k·step: a default off the grid would change the model unseen."""
    import ipywidgets

    from ztfnb.widgets.ost import OSTWidget

    widget = OSTWidget(OSTSimulator())
    for control in (
        widget.redshift,
        widget.hours,
        widget.aperture,
        widget.resolving_power,
        widget.log_luminosity,
        widget.background_scale,
    ):
        log = isinstance(control, ipywidgets.FloatLogSlider)
        position = np.log10(control.value) if log else control.value
        steps = (position - control.min) / control.step
        assert steps == pytest.approx(round(steps), abs=1e-6), control.description


def test_presets_and_bad_values():
    assert Spectrometer.concept("Concept 1").aperture == 9.1 * u.m
    assert Spectrometer.concept("concept2").area.to_value(u.m**2) == pytest.approx(25)
    with pytest.raises(ValueError):
        Spectrometer(resolving_power=0)
    with pytest.raises(ValueError, match="redshift"):
        StarburstGalaxy(-1)
    with pytest.raises(Exception, match="time"):
        OSTSimulator(integration_time="3 m")
    table = QTable(StarburstGalaxy(1.0).rest_lines())
    assert {"line", "species", "rest_wavelength", "luminosity", "width"} <= set(table.colnames)


def test_the_noise_cache_knows_the_detector_nep_in_any_unit():
    galaxy = StarburstGalaxy(2.0, luminosity=1e12 * u.Lsun)
    noisy = observe(galaxy, Spectrometer(detector_nep=3e-19 * u.W / u.Hz**0.5), 1 * u.h)
    quiet = observe(galaxy, Spectrometer(detector_nep=3e-19 * u.aW / u.Hz**0.5), 1 * u.h)
    same = observe(galaxy, Spectrometer(detector_nep=0.3 * u.aW / u.Hz**0.5), 1 * u.h)
    cii = np.flatnonzero(noisy.lines["line"] == "[CII]158")[0]
    assert quiet.lines["sensitivity"][cii] < noisy.lines["sensitivity"][cii] / 2
    assert same.lines["sensitivity"][cii] == noisy.lines["sensitivity"][cii]


def test_channels_cover_every_band_edge_to_edge_at_the_resolving_power():
    for resolving_power in (100, 300, 1000):
        instrument = Spectrometer(resolving_power=resolving_power)
        for band, edges in zip(instrument.bands, instrument.channels["edges"], strict=True):
            assert edges[0].to_value(u.um) == pytest.approx(band.short.to_value(u.um), rel=1e-12)
            assert edges[-1].to_value(u.um) == pytest.approx(band.long.to_value(u.um), rel=1e-12)
            power = edges[:-1] / np.diff(edges)  # λ/Δλ of each channel
            assert np.allclose(power, resolving_power, rtol=0.01)


def test_a_line_at_a_band_edge_counts_only_the_flux_its_band_catches():
    instrument = Spectrometer()
    edge = instrument.bands[3].long
    lines = QTable(
        {
            "line": ["inside", "edge"],
            "species": ["X", "X"],
            "rest_wavelength": [0.97, 1.0] * edge,
            "luminosity": [1e35, 1e35] * u.W,
            "width": [300, 300] * u.km / u.s,
        }
    )
    # no continuum: the lines alone, at z = 0 and 10 Mpc
    source = TemplateSource(
        [10, 1000] * u.um, [0, 0] * u.W / u.Hz, 0.0, lines=lines, distance=10 * u.Mpc
    )
    result = observe(source, instrument, 1 * u.h).lines
    inside, at_edge = result
    # same flux and channel noise (within a channel's change); the edge line loses half
    assert at_edge["snr"] / inside["snr"] == pytest.approx(0.5, rel=0.05)


def test_bad_parameters_name_themselves():
    from ztfnb.quantity import ParameterError

    galaxy = StarburstGalaxy(2.0, luminosity=1e12 * u.Lsun)
    with pytest.raises(ParameterError, match="integration_time"):
        observe(galaxy, Spectrometer(), 3600)
    assert observe(galaxy, Spectrometer(), "60 min").lines["snr"][0] == pytest.approx(
        observe(galaxy, Spectrometer(), 3600 * u.s).lines["snr"][0], rel=1e-12
    )
    no_units = QTable(
        {"line": ["a"], "species": ["X"], "rest_wavelength": [158.0], "luminosity": [1e35]}
    )
    with pytest.raises(u.UnitsError, match="rest_wavelength"):
        TemplateSource([10, 1000] * u.um, [0, 0] * u.W / u.Hz, 1.0, lines=no_units)
    wrong = QTable(no_units)
    wrong["rest_wavelength"] = [158.0] * u.um
    wrong["luminosity"] = [1e35] * u.Jy
    with pytest.raises(u.UnitsError, match="luminosity"):
        TemplateSource([10, 1000] * u.um, [0, 0] * u.W / u.Hz, 1.0, lines=wrong)


def _exact_mean(edges_in, density, edges_out):
    """Independent oracle: each output bin's overlap with each input bin, summed."""
    out = np.empty(edges_out.size - 1)
    for j, (lo, hi) in enumerate(itertools.pairwise(edges_out)):
        overlap = np.clip(np.minimum(edges_in[1:], hi) - np.maximum(edges_in[:-1], lo), 0, None)
        touched = overlap > 0
        out[j] = np.sum(density[touched] * overlap[touched]) / (hi - lo)
    return out


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf, "masked"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_bad_input_bin_spoils_only_the_output_bins_it_overlaps(bad_value, seed):
    rng = np.random.default_rng(seed)
    edges_in = np.sort(rng.uniform(0, 100, 300))
    density = rng.uniform(0, 10, edges_in.size - 1)
    edges_out = np.sort(rng.uniform(-5, 105, 40))
    bad = rng.choice(density.size, 3, replace=False)
    spoiled = density.copy()
    if bad_value == "masked":
        spoiled = np.ma.masked_array(spoiled, mask=np.isin(np.arange(density.size), bad))
    else:
        spoiled[bad] = bad_value
    out = resample(edges_in, spoiled, edges_out)
    expected = _exact_mean(
        edges_in, np.where(np.isin(np.arange(density.size), bad), np.nan, density), edges_out
    )
    assert np.array_equal(np.isnan(out), np.isnan(expected))
    assert np.isnan(out).sum() <= 2 * bad.size  # each bad bin is narrow against the output bins
    assert np.allclose(out, expected, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_the_issue_case_one_nan_in_ten_bins():
    density = np.ones(10)
    density[2] = np.nan
    out = resample(np.arange(0, 11.0), density, np.arange(0, 11.0, 2.0))
    assert np.array_equal(out, [1, np.nan, 1, 1, 1], equal_nan=True)


def test_a_template_with_a_masked_sample_spoils_only_the_channels_over_it():
    from astropy.modeling.physical_models import BlackBody

    from ztfnb.ost.source import BadSampleWarning

    wavelength = np.geomspace(5, 1000, 400) * u.um
    nu = wavelength.to(u.Hz, u.spectral())
    shape = BlackBody(40 * u.K)(nu).value * (nu / (1e12 * u.Hz)).value ** 1.5
    clean = shape * 1e25 * u.W / u.Hz
    k = int(np.argmin(np.abs(wavelength.value - 59.9)))
    spoiled = clean.copy()
    spoiled[k] = np.nan
    redshift = 1.0
    instrument = Spectrometer(aperture=5.9 * u.m)
    with pytest.warns(BadSampleWarning, match=rf"sample\(s\) {k} \(59.9 um\)"):
        source = TemplateSource(wavelength, spoiled, redshift)
    got = observe(source, instrument, 1 * u.h).spectrum
    want = observe(TemplateSource(wavelength, clean, redshift), instrument, 1 * u.h).spectrum
    nan = np.isnan(got["continuum"].value)
    # the template is linear between samples: the bad one reaches its neighbours, observed at (1+z)λ
    lo, hi = (1 + redshift) * wavelength[[k - 1, k + 1]].to_value(u.um)
    centre = got["wavelength"].to_value(u.um)
    half_channel = centre / instrument.resolving_power  # generous: a channel is λ/R wide
    assert 0 < nan.sum() <= 12  # round 1: 159 of 948
    assert np.all((centre[nan] > lo - half_channel[nan]) & (centre[nan] < hi + half_channel[nan]))
    inside = (centre > lo + half_channel) & (centre < hi - half_channel)
    assert nan[inside].all()
    assert np.allclose(got["continuum"][~nan], want["continuum"][~nan], rtol=1e-12, atol=0)


def test_a_template_with_a_negative_sample_is_refused_naming_it():
    # a sky-subtracted template may dip below zero; a luminosity density cannot
    wavelength = np.geomspace(5, 1000, 50) * u.um
    density = np.full(50, 1e25) * u.W / u.Hz
    density[[17, 30]] = -1e22 * u.W / u.Hz
    with pytest.raises(
        ValueError, match=r"sample 17 \(counting from 0; .* um\) is negative .* 2 sample"
    ):
        TemplateSource(wavelength, density, 1.0)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("luminosity", np.nan, r"row 1 \(b\): luminosity is nan W"),
        ("width", np.nan, r"row 1 \(b\): width is nan km / s; it must be finite and positive"),
        ("width", 0.0, r"row 1 \(b\): width is 0.0 km / s"),
        ("rest_wavelength", np.inf, r"row 1 \(b\): rest_wavelength is inf um"),
    ],
)
def test_a_bad_line_is_refused_naming_its_row(column, value, message):
    """One NaN line would make every channel NaN: its flux is summed over all of them."""
    lines = QTable(
        {
            "line": ["a", "b", "c"],
            "species": ["x", "y", "z"],
            "rest_wavelength": [50.0, 60.0, 70.0] * u.um,
            "luminosity": [1e35, 1e35, 1e35] * u.W,
            "width": [300.0, 300.0, 300.0] * u.km / u.s,
        }
    )
    lines[column][1] = value * lines[column].unit
    wavelength = np.geomspace(5, 1000, 400) * u.um
    with pytest.raises(ValueError, match=message):
        TemplateSource(wavelength, np.full(400, 1e22) * u.W / u.Hz, 1.0, lines=lines)
