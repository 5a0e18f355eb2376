"""`ztfnb.io.ecsv.write_ecsv` writes the bytes astropy's ECSV writer writes for the whole table."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import MaskedColumn, QTable

from ztfnb.io.ecsv import _ecsv, _split, write_ecsv

N = 23


def _verdict_like():
    """A table of the verdict's kinds of column: strings a CSV must quote, units, NaN, bools."""
    rng = np.random.default_rng(5)
    table = QTable()
    table["exposure"] = [f"ztf_2023{i:04d}_000{i % 3}_zg" for i in range(N)]
    table["rcid"] = np.arange(N, dtype=np.int32)
    table["ccdid"] = (np.arange(N) // 4 + 1).astype(np.int16)
    table["rms_ra"] = rng.normal(0.05, 0.01, N) * u.arcsec
    table["scale_change"] = rng.normal(0, 1e-3, N) * u.percent
    table["zenith_scale"] = rng.normal(200, 3, N) * u.def_unit("ppm_test", 1e-6 * u.one)
    table["chi2"] = rng.chisquare(3, N)
    table["chi2"][[2, 17]] = [np.nan, np.inf]
    table["flag"] = rng.random(N) < 0.3
    reasons = ["", 'rms 0.21" (5σ), corner', "a, b; c", 'quote "x"', "#not a comment"]
    table["reason"] = [reasons[i % len(reasons)] for i in range(N)]
    table.meta["notes"] = ["one, two", "three"]
    table.meta["verdict"] = {"max_rms": "off", "significance": 5.0}
    return table


@pytest.mark.parametrize("rows", [1, 4, 7, N - 1, N, N + 5])
def test_blocks_give_astropys_bytes(tmp_path, rows):
    table = _verdict_like()
    table.write(tmp_path / "astropy.ecsv", format="ascii.ecsv")
    write_ecsv(table, tmp_path / "blocks.ecsv", rows=rows)
    assert (tmp_path / "blocks.ecsv").read_bytes() == (tmp_path / "astropy.ecsv").read_bytes()


def test_verdict_tables_are_written_by_blocks():
    """Every block of such a table has the first block's header: the blocked path is the one taken."""
    table = _verdict_like()
    headers = {_split(_ecsv(table[start : start + 4]))[0] for start in range(0, N, 4)}
    assert len(headers) == 1


def test_columns_that_serialise_by_block_fall_back_to_astropy(tmp_path):
    """Masked values in one block only, a 2-D column, an empty table: still astropy's bytes."""
    table = _verdict_like()
    table["corner"] = np.arange(2 * N, dtype=float).reshape(N, 2) * u.arcsec
    table["masked"] = MaskedColumn(np.arange(N, dtype=float), mask=np.arange(N) == 20)
    table["masked_q"] = np.ma.masked_array(np.arange(N, dtype=float), mask=np.arange(N) == 3)
    table["masked_q"].unit = u.arcsec
    for name, sample in (("full", table), ("empty", table[:0])):
        sample.write(tmp_path / f"{name}.astropy.ecsv", format="ascii.ecsv")
        write_ecsv(sample, tmp_path / f"{name}.ecsv", rows=4)
        expected = (tmp_path / f"{name}.astropy.ecsv").read_bytes()
        assert (tmp_path / f"{name}.ecsv").read_bytes() == expected


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "metrics.ecsv"
    path.write_text("old")
    table = _verdict_like()
    table["bad"] = [object()] * N  # astropy refuses object columns
    with pytest.raises(Exception):  # noqa: B017 - astropy's own error type
        write_ecsv(table, path, rows=4)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.ecsv"]
