"""Gaia from a HATS catalogue, and the indexed cone of a Gaia file.

The oracle for every cone is astropy: ``SkyCoord.separation`` over the whole
table. The HATS catalogues are made here with hats-import
(`ztfnb.simulate.gaiahats.write_gaia_hats`) from a FITS table with stars
across RA = 0, around the north pole and elsewhere, cut into small partitions
so that every cone crosses several of them; one is a collection with a
margin cache, as Gaia DR3 is served.
"""

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table

from tests.refusals import refused
from ztfnb.cli import main
from ztfnb.gaiaindex import index_of
from ztfnb.io import read_gaia, write_gaia
from ztfnb.io.gaiahats import GaiaHats
from ztfnb.reference import select_cone
from ztfnb.simulate.gaiahats import write_gaia_hats

#: Cap centres (deg) and radii of the synthetic Gaia: across RA = 0, the pole, elsewhere.
CAPS = [((0.0, 20.0), 8.0), ((0.0, 90.0), 9.0), ((120.0, -30.0), 8.0)]
CONES = [
    (0.0, 20.0, 5.6),
    (359.8, 21.0, 5.6),
    (0.3, 18.0, 1.0),
    (45.0, 89.9, 5.6),  # the pole inside the cone
    (200.0, 85.0, 5.6),
    (120.0, -30.0, 5.6),
    (121.5, -31.0, 0.5),
    (250.0, 40.0, 5.6),  # no star
]


def _cap(rng, center, radius, n):
    """``n`` random positions uniform in a cap, degrees."""
    cos_r = np.cos(np.radians(radius))
    z = rng.uniform(cos_r, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    local = np.stack([z, s * np.cos(phi), s * np.sin(phi)])  # about the x axis
    ra0, dec0 = np.radians(center)
    east = np.array([-np.sin(ra0), np.cos(ra0), 0])
    axis = np.array([np.cos(dec0) * np.cos(ra0), np.cos(dec0) * np.sin(ra0), np.sin(dec0)])
    north = np.cross(axis, east)
    xyz = axis[:, None] * local[0] + east[:, None] * local[1] + north[:, None] * local[2]
    return np.degrees(np.arctan2(xyz[1], xyz[0])) % 360, np.degrees(np.arcsin(xyz[2]))


def _synthetic_gaia(rng, per_cap=8000):
    ra, dec = np.concatenate(
        [np.stack(_cap(rng, c, r, per_cap)) for c, r in CAPS], axis=1
    )  # fmt: skip
    n = ra.size
    table = QTable()
    table["source_id"] = np.arange(1, n + 1, dtype=np.int64) * 4096
    table["ra"] = ra * u.deg
    table["dec"] = dec * u.deg
    table["ra_error"] = rng.uniform(0.02, 1.0, n) * u.mas
    table["dec_error"] = rng.uniform(0.02, 1.0, n) * u.mas
    pm = rng.normal(0, 5, (2, n))
    pm[:, rng.random(n) < 0.05] = np.nan  # two-parameter solutions
    table["pmra"] = pm[0] * u.mas / u.yr
    table["pmdec"] = pm[1] * u.mas / u.yr
    table["ref_epoch"] = np.full(n, 2016.0) * u.yr
    table["phot_g_mean_mag"] = rng.uniform(12, 20.5, n) * u.mag
    return table


@pytest.fixture(scope="module")
def catalogues(tmp_path_factory):
    """The FITS table, a HATS catalogue of small partitions, and a collection with a margin cache."""
    folder = tmp_path_factory.mktemp("gaia-hats")
    write_gaia(folder / "gaia.fits", _synthetic_gaia(np.random.default_rng(7)))
    write_gaia_hats(folder / "gaia.fits", folder / "hats", pixel_threshold=800, highest_order=6)
    write_gaia_hats(
        folder / "gaia.fits", folder / "collection", pixel_threshold=3000, margin=20 * u.arcsec
    )
    return folder


def _oracle(table, center, radius):
    inside = SkyCoord(table["ra"], table["dec"]).separation(center) <= radius
    return np.asarray(table["source_id"][inside])


def test_the_catalogues_are_cut_as_asked(catalogues):
    hats = GaiaHats(catalogues / "hats")
    assert hats.meta["rows"] == 24000 and hats.meta["partitions"] > 20
    assert (catalogues / "collection" / "collection.properties").is_file()
    assert any(p.name.endswith("arcs") for p in (catalogues / "collection").iterdir())


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_cones_from_hats_and_the_indexed_file_are_astropys(catalogues, ra, dec, radius):
    center, radius = SkyCoord(ra * u.deg, dec * u.deg), radius * u.deg
    table = read_gaia(catalogues / "gaia.fits")
    expected = _oracle(table, center, radius)
    scanned = select_cone(table, center, radius)  # the first cone scans
    indexed = select_cone(table, center, radius)
    assert index_of(table, radius) is not None
    assert list(scanned["source_id"]) == list(indexed["source_id"]) == list(expected)
    for column in table.colnames:  # the same rows, in the table's order
        assert np.array_equal(scanned[column], indexed[column], equal_nan=True)
    by_id = {s: k for k, s in enumerate(expected)}
    for name in ("hats", "collection"):
        cone = select_cone(read_gaia(catalogues / name), center, radius)
        ids = np.asarray(cone["source_id"])
        assert len(ids) == len(set(ids))  # the margin cache's copies never come back
        assert set(ids) == set(expected), name
        rows = [by_id[s] for s in ids]
        for column in table.colnames:
            assert cone[column].unit == table[column].unit
            assert np.array_equal(
                np.asarray(cone[column]), np.asarray(indexed[column])[rows], equal_nan=True
            ), column
        assert cone.meta["format"] == "hats" and cone.meta["path"] == str(catalogues / name)


def test_tables_not_read_by_read_gaia_are_scanned(catalogues):
    table = QTable(read_gaia(catalogues / "gaia.fits"), copy=True)  # writable positions
    center = SkyCoord(0 * u.deg, 20 * u.deg)
    for _ in range(2):
        cone = select_cone(table, center, 2 * u.deg)
    assert index_of(table, 2 * u.deg) is None
    assert list(cone["source_id"]) == list(_oracle(table, center, 2 * u.deg))


@pytest.fixture(scope="module")
def one_exposure(prior_night, fitted_prior, tmp_path_factory):
    """The prior, one exposure of ``prior_night`` and its .ahead written with gaia.fits."""
    from ztfnb.prior.file import write_prior

    folder = tmp_path_factory.mktemp("hats-cli")
    write_prior(folder / "prior.fits", fitted_prior[1])
    catalog = sorted(prior_night.glob("*.ldac"))[0]
    return folder, catalog


@pytest.mark.slow
def test_prior_ahead_and_quality_give_the_same_with_gaia_hats(prior_night, one_exposure):
    folder, catalog = one_exposure
    outputs = {}
    for label, gaia in (("file", "gaia.fits"), ("hats", "gaia_hats")):
        out = folder / label
        heads = out / "heads"
        heads.mkdir(parents=True)
        ahead = heads / f"{catalog.stem}.ahead"
        argv = ["prior", "ahead", folder / "prior.fits", catalog, "--gaia", prior_night / gaia]
        assert main([str(a) for a in [*argv, "--out", ahead]]) == 0
        # the prior's own prediction stands in for SCAMP's solution: quality measures it against Gaia
        shutil.copy(ahead, heads / f"{catalog.stem}.head")
        quality = ["quality", catalog, "--heads", heads, "--gaia", prior_night / gaia]
        assert main([str(a) for a in [*quality, "--out", out / "m.ecsv", "--quiet"]]) == 0
        outputs[label] = out
    file, hats = outputs["file"], outputs["hats"]
    name = f"heads/{catalog.stem}.ahead"
    assert (hats / name).read_text() == (file / name).read_text()
    for name in ("m.ecsv", "m.exposures.ecsv"):
        a, b = Table.read(file / name), Table.read(hats / name)
        assert a.colnames == b.colnames and len(a) == len(b) > 0
        for column in a.colnames:
            if a[column].dtype.kind == "f":
                np.testing.assert_allclose(a[column], b[column], rtol=1e-9, atol=1e-12)
            else:
                assert np.array_equal(a[column], b[column]), column


def test_a_folder_without_hats_properties_is_refused(catalogues, one_exposure, tmp_path, capsys):
    folder, catalog = one_exposure
    bad = tmp_path / "not_hats"
    shutil.copytree(catalogues / "hats", bad)
    for name in ("hats.properties", "properties"):
        (bad / name).unlink()
    out = tmp_path / "one.ahead"
    refused(
        ["prior", "ahead", folder / "prior.fits", catalog, "--gaia", bad, "--out", out],
        names=[bad, "not a HATS catalogue"],
        watch=[tmp_path],
        capsys=capsys,
    )


def test_a_catalogue_without_a_gaia_column_is_refused(catalogues, one_exposure, tmp_path, capsys):
    folder, catalog = one_exposure
    table = Table.read(catalogues / "gaia.fits")
    table.remove_column("pmdec")
    table.write(tmp_path / "partial.fits")
    bad = write_gaia_hats(tmp_path / "partial.fits", tmp_path / "partial")
    out = tmp_path / "one.ahead"
    refused(
        ["prior", "ahead", folder / "prior.fits", catalog, "--gaia", bad, "--out", out],
        names=[bad, "pmdec"],
        watch=[tmp_path],
        capsys=capsys,
    )
