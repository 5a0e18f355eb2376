"""Pixels to verdict: SExtractor, SCAMP, the verdict, SWarp and the doubling measure on one small night.

One field visited three times, two quadrants drawn; after solving, one quadrant's corner is made to
take off by 1″. The co-add that includes it doubles the stars of that corner and of no other; the
co-add without the quadrants the verdict flagged doubles none; and the verdict flags exactly the
spoiled quadrant. Truth: the simulator's true solutions (``truth/<exposure>.head``) co-added the
same way, against which each star is measured.
"""

import astropy.units as u
import pytest

from tests.conftest import needs_scamp, needs_sextractor, needs_swarp

pytestmark = [pytest.mark.slow, needs_scamp, needs_sextractor, needs_swarp]


@pytest.fixture(scope="module")
def report(simulated, fitted_prior, tmp_path_factory):
    from ztfnb.analyses.coadd import coadd_report
    from ztfnb.prior.file import write_prior

    night = simulated(seed=3, exposures=1, revisits=3, images="0,1", density=3000.0, failures=0)
    out = tmp_path_factory.mktemp("coadd-report")
    write_prior(out / "prior.fits", fitted_prior[1])
    return coadd_report(
        night,
        out / "run",
        prior_path=out / "prior.fits",
        spoil=1,
        amplitude=1 * u.arcsec,
        seed=0,
        swarp={"RESAMPLING_TYPE": "BILINEAR"},
    )


def _doubled(report, which):
    """rcid -> set of corners doubled in a co-add."""
    found = {}
    for region in report.doubling[which].doubled_regions:
        name, corner = region.split(":")
        found.setdefault(int(name[2:]), set()).add(int(corner))
    return found


def test_the_verdict_flags_exactly_the_spoiled_quadrant(report):
    table = report.agreement
    assert len(table) == 6 and sum(table["spoiled"]) == 1
    assert list(table["flagged"]) == list(table["spoiled"]), table


def test_the_spoiled_corner_doubles_in_the_coadd_that_includes_it_and_nothing_else(report):
    expected = {}
    for row in report.spoiled:
        expected.setdefault(int(row["rcid"]), set()).add(int(row["corner"]))
    assert _doubled(report, "all") == expected, report.doubling["all"].regions


def test_the_coadd_without_the_flagged_quadrants_shows_no_doubled_star(report):
    assert _doubled(report, "flagged left out") == {}, report.doubling["flagged left out"].regions


def test_the_spoiled_corners_and_most_others_have_stars_enough_to_judge(report):
    """A corner with too few bright isolated stars cannot be judged: not the spoiled ones, nor most."""
    regions = report.doubling["all"].regions
    judged = {str(r["region"]): str(r["verdict"]) != "too few stars" for r in regions}
    for row in report.spoiled:
        assert judged[f"rc{int(row['rcid']):02d}:{int(row['corner'])}"], regions
    assert sum(judged.values()) >= 0.75 * len(judged), regions[["region", "n_stars", "verdict"]]


def test_the_key_numbers_for_the_report_index_count_what_the_tables_show(report):
    import json

    numbers = json.loads((report.output_dir / "summary.json").read_text())
    table = report.agreement
    assert numbers["quadrant_solutions"] == len(table) == 6
    assert numbers["spoiled"] == numbers["flagged"] == numbers["spoiled_and_flagged"] == 1
    assert numbers["doubled_corners_all"] == sum(len(c) for c in _doubled(report, "all").values())
    assert numbers["doubled_corners_flagged_left_out"] == 0
