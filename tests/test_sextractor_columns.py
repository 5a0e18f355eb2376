"""SExtractor catalogues from other parameter files than the standard one (issue 12).

The catalogues in ``tests/data/sextractor/`` were made by the real
source-extractor 2.25 from the same two rendered quadrants, one run per
parameter file (README.md there): the detections are the same, only the
columns differ. The oracle of each set-up is what source-extractor itself
wrote in another set-up (the standard scalar one, or the columns a
conversion must reproduce), the truth of where the flag and weight images
mark pixels, and the real SCAMP's own verdict on the solution.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from tests.conftest import needs_scamp, needs_sextractor
from ztfnb.cli import main
from ztfnb.exposure import read_exposure
from ztfnb.io import read_gaia
from ztfnb.io.errors import InputError
from ztfnb.io.ldac import read_ldac, write_ldac
from ztfnb.io.sextractor import choose_columns, error_ellipse
from ztfnb.match import usable_detections

DATA = Path(__file__).parent / "data" / "sextractor"
EXPOSURE = "ztf_20231017212451_000744_zg"
#: Set-ups stored as source-extractor wrote them, and the one made here (positions as float32).
STORED = ("scalar", "vector", "vignet", "nowin", "variances", "flags")
SETUPS = (*STORED, "float32")
#: Set-ups with the standard windowed centroids and FLUX_AUTO: the same stars as the scalar one.
SAME_AS_SCALAR = ("vector", "vignet", "float32")


def _unpack(name, folder):
    """A stored catalogue, uncompressed, named after its exposure in a folder of its own."""
    target = folder / name / f"{EXPOSURE}.ldac"
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA / f"{name}.ldac.gz", "rb") as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    return target


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory):
    """Each set-up's catalogue file; ``float32`` is the scalar one with XWIN/YWIN stored as float32.

    A catalogue rewritten by another tool (or by astropy) often holds float32
    positions: that copy imitates one.
    """
    folder = tmp_path_factory.mktemp("sextractor")
    paths = {name: _unpack(name, folder) for name in STORED}
    extensions = read_ldac(paths["scalar"])
    for extension in extensions:
        for name in ("XWIN_IMAGE", "YWIN_IMAGE"):
            extension.objects[name] = extension.objects[name].astype(np.float32)
    paths["float32"] = folder / "float32" / f"{EXPOSURE}.ldac"
    paths["float32"].parent.mkdir()
    write_ldac(paths["float32"], extensions)
    return paths


@pytest.fixture(scope="module")
def objects(catalogs):
    """Per set-up, the LDAC_OBJECTS tables in file order."""
    return {name: [e.objects for e in read_ldac(path)] for name, path in catalogs.items()}


# --------------------------------------------------------------- which column for what

#: What each parameter file offers, and so what must be chosen (oracle: the .param files).
EXPECTED = {
    "scalar": ("XWIN_IMAGE", "axes", "ERRAWIN_IMAGE", "FLUX_AUTO", None, "FLUX_RADIUS", None),
    "vector": ("XWIN_IMAGE", "axes", "ERRAWIN_IMAGE", "FLUX_AUTO", None, "FLUX_RADIUS", 1),
    "vignet": ("XWIN_IMAGE", "axes", "ERRAWIN_IMAGE", "FLUX_AUTO", None, "FLUX_RADIUS", None),
    "nowin": ("X_IMAGE", "axes", "ERRA_IMAGE", "FLUX_ISO", None, "FWHM_IMAGE", None),
    "variances": ("X_IMAGE", "variances", "ERRX2_IMAGE", "MAG_APER", 1, "FLUX_RADIUS", None),
    "flags": ("XWIN_IMAGE", "axes", "ERRAWIN_IMAGE", "FLUX_AUTO", None, "FLUX_RADIUS", None),
    "float32": ("XWIN_IMAGE", "axes", "ERRAWIN_IMAGE", "FLUX_AUTO", None, "FLUX_RADIUS", None),
}


@pytest.mark.parametrize("setup", SETUPS)
def test_the_columns_chosen_are_those_the_parameter_file_offers(setup, objects):
    columns = choose_columns(objects[setup][0])
    x, kind, error, flux, flux_index, size, size_index = EXPECTED[setup]
    assert (columns.x.name, columns.error.kind, columns.error.major) == (x, kind, error)
    assert (columns.flux.name, columns.flux.index) == (flux, flux_index)
    assert (columns.size.name, columns.size.index) == (size, size_index)
    assert columns.magnitudes == flux.startswith("MAG_")
    assert columns.elongation == (("A_IMAGE", "B_IMAGE") if setup == "nowin" else ("ELONGATION",))
    assert columns.zero_flags == (("FLAGS_WEIGHT", "IMAFLAGS_ISO") if setup == "flags" else ())
    assert x in columns.describe()


def _rows_agree(ours, theirs):
    """The same source-extractor detections, row for row (same image, same thresholds)."""
    assert np.array_equal(ours["NUMBER"], theirs["NUMBER"])


@pytest.mark.parametrize("setup", SAME_AS_SCALAR)
def test_standard_columns_read_as_in_the_scalar_setup(setup, objects):
    """Centroid, errors, flux and size are source-extractor's scalar set-up's, as float64."""
    for ours, scalar in zip(objects[setup], objects["scalar"], strict=True):
        _rows_agree(ours, scalar)
        columns = choose_columns(ours)
        x, y = columns.centroid(ours)
        assert x.dtype == y.dtype == np.float64
        # float32 keeps 24 bits: 2.4e-4 px at x ≈ 3000 (0.25 mas)
        tolerance = 2.5e-4 if setup == "float32" else 0.0
        assert np.allclose(x, scalar["XWIN_IMAGE"], rtol=0, atol=tolerance)
        assert np.allclose(y, scalar["YWIN_IMAGE"], rtol=0, atol=tolerance)
        assert np.array_equal(columns.centroid_error(ours)[0], scalar["ERRAWIN_IMAGE"])
        flux, error = (
            np.asarray(scalar[name], np.float64) for name in ("FLUX_AUTO", "FLUXERR_AUTO")
        )
        assert np.array_equal(columns.snr(ours), flux / error)
        # the vector's middle column (PHOT_FLUXFRAC 0.25,0.5,0.75) is the half-light radius,
        # what the scalar set-up's FLUX_RADIUS holds (PHOT_FLUXFRAC 0.5, the default)
        assert np.array_equal(columns.sizes(ours), scalar["FLUX_RADIUS"])
        assert np.array_equal(usable_detections(ours), usable_detections(scalar))


def test_variances_become_the_axes_sextractor_writes(objects):
    """ERRX2/ERRY2/ERRXY_IMAGE → ERRA/ERRB_IMAGE as source-extractor computes them (oracle: its own)."""
    for ours, nowin in zip(objects["variances"], objects["nowin"], strict=True):
        _rows_agree(ours, nowin)
        major, minor = choose_columns(ours).centroid_error(ours)
        assert np.allclose(major, nowin["ERRA_IMAGE"], rtol=1e-5, atol=1e-7)
        assert np.allclose(minor, nowin["ERRB_IMAGE"], rtol=1e-4, atol=1e-6)
        _, _, theta = error_ellipse(ours["ERRX2_IMAGE"], ours["ERRY2_IMAGE"], ours["ERRXY_IMAGE"])
        turned = np.abs(((theta - nowin["ERRTHETA_IMAGE"]) + 90) % 180 - 90)
        round_ = np.asarray(nowin["ERRB_IMAGE"]) > 0.99 * np.asarray(nowin["ERRA_IMAGE"])
        assert np.all(turned[~round_] < 0.01)  # degrees; a round ellipse has no angle


def test_magnitudes_give_the_flux_and_snr_sextractor_measured(objects):
    """MAG_APER/MAGERR_APER alone: the S/N of FLUX_APER/FLUXERR_APER, middle aperture (oracle: vector run)."""
    for ours, vector in zip(objects["variances"], objects["vector"], strict=True):
        _rows_agree(ours, vector)
        columns = choose_columns(ours)
        flux, _ = columns.flux_and_error(ours)
        aperture = np.asarray(vector["FLUX_APER"])[:, 1]
        expected = aperture / np.asarray(vector["FLUXERR_APER"])[:, 1]
        positive = aperture > 0
        assert np.allclose(flux[positive], aperture[positive], rtol=1e-5)
        assert np.allclose(columns.snr(ours)[positive], expected[positive], rtol=1e-4)
        assert np.all(columns.snr(ours)[~positive] < 1e-3)  # MAG 99: no flux


def test_flagged_pixels_and_zero_weights_reject_detections(objects):
    """IMAFLAGS_ISO and FLAGS_WEIGHT nonzero reject; they mark where the flag and weight images do."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", DATA / "make_data.py")
    made = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(made)
    flagged_total = 0
    for ours in objects["flags"]:
        columns = choose_columns(ours)
        flagged = (np.asarray(ours["IMAFLAGS_ISO"]) != 0) | (np.asarray(ours["FLAGS_WEIGHT"]) != 0)
        flagged_total += flagged.sum()
        assert not np.any(usable_detections(ours, columns=columns)[flagged])
        # where the images put them (1-based centroids, 0-based slices; a star spans ±8 px)
        x, y = np.asarray(ours["XWIN_IMAGE"]) - 1, np.asarray(ours["YWIN_IMAGE"]) - 1
        near = np.zeros(len(ours), bool)
        for where in made.FLAGGED.values():
            rows, cols = where
            for centre, band in ((y, rows), (x, cols)):
                if band != slice(None):
                    near |= (centre > band.start - 8) & (centre < band.stop + 8)
        for column in made.DEAD_COLUMNS:
            near |= np.abs(x - column - 0.5) < 8
        assert np.all(near[flagged])
        # and nothing else: without those two columns the same detections are usable
        plain = ours.copy()
        plain.remove_columns(["IMAFLAGS_ISO", "FLAGS_WEIGHT"])
        assert np.array_equal(
            usable_detections(ours, columns=columns), usable_detections(plain) & ~flagged
        )
    assert flagged_total >= 10


def test_a_vignet_or_any_other_vector_column_is_ignored(objects):
    table = objects["vignet"][0]
    assert np.shape(table["VIGNET"])[1:] == (5, 5)
    columns = choose_columns(table)
    assert "VIGNET" not in columns.names
    extra = table.copy()
    extra["SOMETHING_ELSE"] = np.zeros((len(table), 2, 3), np.float32)
    extra["FLUX_MAX"] = np.zeros((len(table), 4), np.float32)
    assert choose_columns(extra) == columns


# --------------------------------------------------------------- prior ahead, the user's path


def _ahead_argv(catalog, gaia, out):
    """``ztfnb prior ahead`` with the stored prior."""
    prior = str(DATA / "prior.fits")
    return ["prior", "ahead", prior, str(catalog), "--gaia", str(gaia), "--out", str(out)]


def _ahead(catalog, capsys):
    """``ztfnb prior ahead`` on a catalogue: (stars, rms″) from its summary line."""
    code = main(_ahead_argv(catalog, DATA / "gaia.fits", catalog.parent / "x.ahead"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    line = captured.out.strip()
    assert "2 blocks" in line
    stars = int(line.split(" stars")[0].rsplit(" ", 1)[1])
    rms = float(line.split("rms ")[1].rstrip('"'))
    return stars, rms


@pytest.fixture(scope="module")
def scalar_ahead(catalogs):
    """The standard set-up's result (oracle of the others), through the same functions."""
    from ztfnb.prior import refine_pointing
    from ztfnb.prior.file import read_prior

    terms = refine_pointing(
        read_prior(DATA / "prior.fits"),
        read_exposure(catalogs["scalar"]),
        read_gaia(DATA / "gaia.fits"),
    )
    return terms.n_stars, round(terms.rms, 3)


@pytest.mark.parametrize("setup", SETUPS)
def test_prior_ahead_works_for_every_setup(setup, catalogs, scalar_ahead, capsys):
    stars, rms = _ahead(catalogs[setup], capsys)
    scalar_stars, scalar_rms = scalar_ahead
    assert scalar_stars > 400 and scalar_rms < 0.06
    if setup in SAME_AS_SCALAR:
        assert (stars, rms) == (scalar_stars, scalar_rms)
    elif setup == "flags":
        # the flagged bands and dead columns take their stars away, nothing else
        assert 0.8 * scalar_stars < stars < scalar_stars and abs(rms - scalar_rms) <= 0.005
    else:
        # isophotal centroids (X_IMAGE) are noisier than windowed ones (≈1.7×, as the real
        # SCAMP also finds: test_scamp_solves_every_setup), and other fluxes choose a few
        # other stars
        assert stars > 0.85 * scalar_stars and rms < 2 * scalar_rms


# --------------------------------------------------------------- refusals


def _variant(catalogs, folder, drop, extensions=None):
    """The scalar catalogue without some columns (in all extensions, or those listed)."""
    items = read_ldac(catalogs["scalar"])
    for position, item in enumerate(items):
        if extensions is None or position in extensions:
            item.objects.remove_columns(drop)
    path = folder / f"{EXPOSURE}.ldac"
    write_ldac(path, items)
    return path


@pytest.mark.parametrize(
    ("drop", "words"),
    [
        (["XWIN_IMAGE", "YWIN_IMAGE"], ["no centroid column", "XWIN_IMAGE/YWIN_IMAGE", "X_IMAGE"]),
        (
            ["ERRAWIN_IMAGE", "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE"],
            ["no centroid error column", "ERRAWIN_IMAGE", "ERRX2_IMAGE"],
        ),
        (["FLUXERR_AUTO"], ["no flux with its error", "FLUX_AUTO/FLUXERR_AUTO", "MAG_"]),
    ],
)
def test_what_cannot_work_is_refused_in_one_line(drop, words, catalogs, tmp_path, capsys):
    path = _variant(catalogs, tmp_path, drop)
    with pytest.raises(InputError) as raised:
        read_exposure(path)
    message = str(raised.value)
    assert str(path) in message and "extension 1 (LDAC_OBJECTS #1)" in message
    assert all(word in message for word in words), message
    code = main(_ahead_argv(path, DATA / "gaia.fits", tmp_path / "x.ahead"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and words[0] in err


def test_an_extension_without_a_column_the_first_has_is_refused(catalogs, tmp_path):
    path = _variant(catalogs, tmp_path, ["ERRAWIN_IMAGE"], extensions=[1])
    with pytest.raises(InputError, match=r"extension 2 .*column 'ERRAWIN_IMAGE': missing column"):
        read_exposure(path)


def test_nan_in_a_chosen_element_is_refused_naming_it(objects, tmp_path):
    table = objects["vector"][0].copy()
    table["FLUX_RADIUS"][3, 0] = np.nan  # not the element used: fine
    assert np.isfinite(choose_columns(table).sizes(table)).all()
    items = read_ldac(_unpack("variances", tmp_path))
    items[0].objects["MAG_APER"][5, 1] = np.nan
    path = tmp_path / "nan" / f"{EXPOSURE}.ldac"
    path.parent.mkdir()
    write_ldac(path, items)
    with pytest.raises(InputError, match=r"column 'MAG_APER #2 of 3': 1 NaN"):
        read_exposure(path)


# --------------------------------------------------------------- the real SCAMP


@pytest.fixture(scope="module")
def solved(catalogs, tmp_path_factory):
    """Each set-up solved by the real SCAMP through `solve_exposure` (MATCH N from the prior)."""
    from ztfnb.solve import solve_exposure

    if shutil.which("scamp") is None:
        pytest.skip("scamp is not installed")
    results = {}
    for setup, path in catalogs.items():
        out = tmp_path_factory.mktemp(f"solve-{setup}")
        results[setup] = (solve_exposure(path, DATA / "prior.fits", DATA / "gaia.fits", out), out)
    return results


@needs_scamp
@pytest.mark.scamp
@pytest.mark.parametrize("setup", SETUPS)
def test_scamp_solves_every_setup(setup, solved, catalogs):
    """The real SCAMP solves each set-up; its own scatter against Gaia is the oracle."""
    row, out = solved[setup]
    scalar, _ = solved["scalar"]
    sigma, scalar_sigma = (np.array([r["sigma_1"], r["sigma_2"]]) for r in (row, scalar))
    assert row["status"] == "solved", row["reason"]
    assert row["ndeg"] > 400 and sigma.max() < 0.07
    if setup in ("vector", "vignet"):
        # SCAMP reads the very same columns: the very same solution
        assert row["ndeg"] == scalar["ndeg"] and np.array_equal(sigma, scalar_sigma)
    elif setup == "float32":
        assert row["ndeg"] == scalar["ndeg"] and np.allclose(sigma, scalar_sigma, atol=2e-4)
    elif setup == "flags":
        assert row["ndeg"] < scalar["ndeg"] and abs(sigma.max() - scalar_sigma.max()) < 0.005
    else:
        # isophotal centroids: SCAMP's own scatter against Gaia grows as prior ahead's does
        assert sigma.max() < 2 * scalar_sigma.max()
    given = out / f"{EXPOSURE}.ldac"
    if setup == "variances":
        # variances and magnitudes only: SCAMP reads a copy with the axes and fluxes added,
        # the axes as source-extractor writes them (oracle: the nowin run's ERRA_IMAGE)
        assert given.stat().st_ino != catalogs[setup].stat().st_ino
        added = read_ldac(given)[0].objects
        reference = read_ldac(catalogs["nowin"])[0].objects
        assert np.allclose(added["ERRA_IMAGE"], reference["ERRA_IMAGE"], rtol=1e-5, atol=1e-7)
        assert "FLUX_APER" in added.colnames and added["FLUX_APER"].ndim == 1
    else:
        assert given.stat().st_ino == catalogs[setup].stat().st_ino  # a hard link


@needs_scamp
@pytest.mark.scamp
def test_scamp_is_told_which_columns_to_read(solved, catalogs, tmp_path):
    """The SCAMP keys name the chosen columns; without them SCAMP stops (it wants XWIN_IMAGE)."""
    from ztfnb.scamp import run_scamp

    _, out = solved["nowin"]
    catalog = tmp_path / f"{EXPOSURE}.ldac"
    shutil.copy(catalogs["nowin"], catalog)
    keys = read_exposure(catalog).extensions[0].columns.scamp_options()
    assert keys == {
        "CENTROID_KEYS": "X_IMAGE,Y_IMAGE",
        "CENTROIDERR_KEYS": "ERRA_IMAGE,ERRB_IMAGE,ERRTHETA_IMAGE",
        "DISTORT_KEYS": "X_IMAGE,Y_IMAGE",
        "PHOTFLUX_KEY": "FLUX_ISO",
        "PHOTFLUXERR_KEY": "FLUXERR_ISO",
    }
    bare = run_scamp(catalog, out / f"{EXPOSURE}.gaia.ldac", {"MATCH": "N"}, workdir=tmp_path)
    assert bare.fields is None and "XWIN_IMAGE parameter not found" in bare.warnings[0]
    vector = read_exposure(catalogs["vector"]).extensions[0].columns
    assert vector.scamp_options() == {}
    flags = read_exposure(catalogs["flags"]).extensions[0].columns
    assert flags.scamp_options() == {"IMAFLAGS_MASK": "0x7fffffff"}


@needs_scamp
@pytest.mark.scamp
@pytest.mark.parametrize("setup", SAME_AS_SCALAR)
def test_quality_measures_as_for_the_scalar_setup(setup, solved, catalogs, tmp_path, capsys):
    """``ztfnb quality`` on SCAMP's solutions: the same metrics as the scalar set-up's."""
    tables = {}
    for name in ("scalar", setup):
        metrics = tmp_path / f"{name}.ecsv"
        argv = [str(catalogs[name]), "--heads", str(solved[name][1]), "--out", str(metrics)]
        code = main(["quality", *argv, "--gaia", str(DATA / "gaia.fits"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        table = Table.read(metrics)
        tables[name] = table[np.isin(table["rcid"], [20, 21])]
    ours, scalar = tables[setup], tables["scalar"]
    assert len(scalar) == 2 and np.all(scalar["n_matched"] > 200)
    for name in scalar.colnames:
        if ours[name].dtype.kind == "f" and setup == "float32":
            # positions rounded to 0.25 mas move the metrics by less than 0.5 mas (and the
            # ratios to their uncertainties, of a few mas, by less than 0.1)
            atol = 5e-4 if scalar[name].unit == "arcsec" else 0.1
            assert np.allclose(ours[name], scalar[name], rtol=1e-2, atol=atol, equal_nan=True), name
        elif ours[name].dtype.kind == "f":
            assert np.allclose(ours[name], scalar[name], rtol=0, atol=0, equal_nan=True), name
        else:
            assert np.array_equal(ours[name], scalar[name]), name


# --------------------------------------------------------------- more parameter files, live


#: Parameter files beyond the stored ones: (extra source-extractor options, columns).
FAMILY = {
    "radius5_aper4": (
        ["-PHOT_FLUXFRAC", "0.1,0.3,0.5,0.7,0.9", "-PHOT_APERTURES", "3,6,9,12"],
        "XWIN_IMAGE YWIN_IMAGE ERRAWIN_IMAGE ERRBWIN_IMAGE ERRTHETAWIN_IMAGE FLUX_AUTO "
        "FLUXERR_AUTO FLUX_RADIUS(5) FLUX_APER(4) FLUXERR_APER(4) MAG_APER(4) MAGERR_APER(4) "
        "ELONGATION FLAGS",
    ),
    "radius2": (
        ["-PHOT_FLUXFRAC", "0.5,0.9"],
        "XWIN_IMAGE YWIN_IMAGE ERRAWIN_IMAGE FLUX_AUTO FLUXERR_AUTO FLUX_RADIUS(2) FLAGS",
    ),
    "win_variances_mag_auto": (
        [],
        "XWIN_IMAGE YWIN_IMAGE ERRX2WIN_IMAGE ERRY2WIN_IMAGE ERRXYWIN_IMAGE MAG_AUTO MAGERR_AUTO "
        "FLUX_RADIUS ELONGATION FLAGS VIGNET(7,7)",
    ),
    "plain_no_flags": (
        ["-PHOT_APERTURES", "5"],
        "X_IMAGE Y_IMAGE ERRX2_IMAGE ERRY2_IMAGE FLUX_APER(1) FLUXERR_APER(1) A_IMAGE B_IMAGE",
    ),
    "double_positions_iso": (
        [],
        "X_IMAGE_DBL Y_IMAGE_DBL ERRA_IMAGE FLUX_ISOCOR FLUXERR_ISOCOR FLUX_BEST FLUXERR_BEST "
        "FWHM_IMAGE FLAGS",
    ),
}


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """Quadrants of a simulated exposure, measured by source-extractor with each FAMILY file."""
    import subprocess

    from ztfnb.simulate import NightParameters, simulate_night
    from ztfnb.simulate.images import render_exposure

    folder = tmp_path_factory.mktemp("family")
    night = simulate_night(folder / "night", NightParameters(seed=3, exposures=2, density=1200.0))
    image = render_exposure(night, EXPOSURE, folder / "image.fits", (20, 21), seed=3)
    standard = (
        "XWIN_IMAGE YWIN_IMAGE ERRAWIN_IMAGE ERRBWIN_IMAGE ERRTHETAWIN_IMAGE FLUX_AUTO "
        "FLUXERR_AUTO FLUX_RADIUS ELONGATION FLAGS"
    )
    paths = {}
    for name, (options, columns) in {"standard": ([], standard), **FAMILY}.items():
        (folder / f"{name}.param").write_text("\n".join(columns.split()) + "\n")
        paths[name] = folder / name / f"{EXPOSURE}.ldac"
        paths[name].parent.mkdir()
        subprocess.run(
            ["source-extractor", str(image), "-c", "/dev/null", "-CATALOG_TYPE", "FITS_LDAC",
             "-CATALOG_NAME", str(paths[name]), "-PARAMETERS_NAME", str(folder / f"{name}.param"),
             "-FILTER", "N", "-DETECT_THRESH", "5", "-ANALYSIS_THRESH", "5",
             "-VERBOSE_TYPE", "QUIET", *options],
            check=True, cwd=folder,
        )  # fmt: skip
    return night, paths


@needs_sextractor
@needs_scamp
@pytest.mark.slow
@pytest.mark.scamp
@pytest.mark.parametrize("setup", sorted(FAMILY))
def test_more_parameter_files_ahead_and_solve(setup, family, tmp_path, capsys):
    """Each file gives the standard set-up's accuracy in ``prior ahead`` and in the real SCAMP."""
    from ztfnb.solve import solve_exposure

    night, paths = family
    gaia = night / "gaia.fits"
    results = {}
    for name in ("standard", setup):
        out = tmp_path / name
        out.mkdir()
        code = main(_ahead_argv(paths[name], gaia, out / "x.ahead"))
        line = capsys.readouterr().out.strip()
        assert code == 0
        stars = int(line.split(" stars")[0].rsplit(" ", 1)[1])
        rms = float(line.split("rms ")[1].rstrip('"'))
        row = solve_exposure(paths[name], DATA / "prior.fits", gaia, out)
        results[name] = stars, rms, row
    stars, rms, row = results[setup]
    standard_stars, standard_rms, standard_row = results["standard"]
    assert standard_stars > 400 and standard_row["status"] == "solved"
    # isophotal centroids (X_IMAGE) are ≈1.7× noisier than windowed ones, in SCAMP's eyes too
    windowed = choose_columns(read_ldac(paths[setup])[0].objects).x.name == "XWIN_IMAGE"
    noisier = 1.1 if windowed else 2.0
    assert stars > 0.85 * standard_stars and rms < noisier * standard_rms
    assert row["status"] == "solved", row["reason"]
    sigma, standard_sigma = (max(r["sigma_1"], r["sigma_2"]) for r in (row, standard_row))
    assert sigma < noisier * standard_sigma


def test_the_stored_files_are_what_the_readme_says(catalogs):
    """Every stored catalogue is source-extractor's (its own header says so) and is described."""
    readme = (DATA / "README.md").read_text()
    for name in STORED:
        assert f"{name}.param" in readme and f"{name}.ldac.gz" in readme
        first = read_ldac(catalogs[name])[0]
        assert first.header["SEXVERS"].startswith("Source Extractor 2.25")
        wanted = (DATA / f"{name}.param").read_text().split()
        assert [c.split("(")[0] for c in wanted] == first.objects.colnames


@needs_scamp
@pytest.mark.scamp
@pytest.mark.parametrize("setup", ["scalar", "variances"])
def test_solving_into_the_catalogues_own_folder_keeps_it(setup, catalogs, tmp_path):
    """SCAMP reads the catalogue in place; one that needs a converted copy is refused, untouched."""
    from ztfnb.solve import solve_exposure

    catalog = tmp_path / f"{EXPOSURE}.ldac"
    shutil.copy(catalogs[setup], catalog)
    before = catalog.read_bytes()
    if setup == "scalar":
        row = solve_exposure(catalog, DATA / "prior.fits", DATA / "gaia.fits", tmp_path)
        assert row["status"] == "solved"
    else:
        with pytest.raises(InputError, match="choose another output folder"):
            solve_exposure(catalog, DATA / "prior.fits", DATA / "gaia.fits", tmp_path)
    assert catalog.read_bytes() == before
