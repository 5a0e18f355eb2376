"""A solved night is found from its folder in each layout the processing leaves, or refused clearly."""

import json
import shutil

import numpy as np
import pytest
from astropy.table import QTable

from ztfnb.analyses.quality import score_verdict
from ztfnb.io.errors import InputError
from ztfnb.review import ReviewLog
from ztfnb.solvedfolder import SolvedFolder

pytestmark = pytest.mark.scamp


def test_the_quality_notebook_output_opens_as_a_review(solved_night, prior_night):
    folder, report = solved_night
    found = SolvedFolder.find(folder, gaia=prior_night / "gaia.fits")
    assert found.metrics == folder / "metrics.ecsv" and found.exposures == folder / "exposures.ecsv"
    assert found.heads == folder / "solved" and found.log == folder / "review.jsonl"
    names = [str(n) for n in report.exposures["exposure"]]
    assert sorted(found.catalogs) == sorted(names)
    session = found.review_session()
    assert len(session.quadrants) == 64 * len(names)
    assert session.selected is not None and session.row["flag"]  # the worst flagged one first
    best = session.quadrants[np.argmax(session.quadrants["n_matched"])]
    session.select(best["exposure"], best["rcid"])
    pairs = session.residuals()  # star-level, through Gaia
    assert len(pairs) == best["n_matched"]
    # the refraction model read back from the table's metadata is the one fitted
    assert session.coefficients == pytest.approx(report.coefficients, rel=1e-12, abs=1e-15)


def test_a_decision_in_one_session_is_seen_by_another(solved_night, prior_night, tmp_path):
    folder, _ = solved_night
    log = tmp_path / "review.jsonl"
    analyst = SolvedFolder.find(folder, gaia=prior_night / "gaia.fits", log=log).review_session()
    exposure, rcid = analyst.selected
    analyst.reject("seen in JupyterLab")
    reviewer = SolvedFolder.find(folder, log=log).review_session()
    queue = reviewer.queue()
    row = queue[(queue["exposure"] == exposure) & (queue["rcid"] == rcid)][0]
    assert row["decision"] == "reject" and row["decision_reason"] == "seen in JupyterLab"


def test_gaia_and_catalogues_are_found_through_the_run_manifest(
    solved_night, prior_night, tmp_path, monkeypatch
):
    folder, _ = solved_night
    project = tmp_path / "project"
    (project / "nights").mkdir(parents=True)
    (project / "nights" / "tonight").symlink_to(prior_night)
    run = project / "reports" / "2026-11-24" / "02_quality_review-010203"
    run.mkdir(parents=True)
    for name in ("metrics.ecsv", "exposures.ecsv"):
        shutil.copy(folder / name, run / name)
    (run / "manifest.json").write_text(json.dumps({"parameters": {"night_dir": "nights/tonight"}}))
    monkeypatch.chdir(tmp_path)  # not the project: found from the run folder's parents
    found = SolvedFolder.find(run)
    assert found.gaia == project / "nights" / "tonight" / "gaia.fits"
    assert found.heads is None and len(found.catalogs) == len(QTable.read(run / "exposures.ecsv"))
    assert found.matches() is None  # no solutions here: the review shows the metrics only


def test_ztfnb_quality_output_is_found_by_its_name(solved_night, tmp_path):
    folder, report = solved_night
    shutil.copy(folder / "metrics.ecsv", tmp_path / "night.ecsv")
    shutil.copy(folder / "exposures.ecsv", tmp_path / "night.exposures.ecsv")
    found = SolvedFolder.find(tmp_path)
    assert found.metrics == tmp_path / "night.ecsv"
    quadrants, exposures, _ = found.load()
    assert list(quadrants["flag"]) == list(report.quadrants["flag"])
    assert list(exposures["exposure"]) == list(report.exposures["exposure"])
    shutil.copy(folder / "metrics.ecsv", tmp_path / "other.ecsv")
    shutil.copy(folder / "exposures.ecsv", tmp_path / "other.exposures.ecsv")
    with pytest.raises(InputError, match="more than one set of metrics"):
        SolvedFolder.find(tmp_path)


def test_a_night_with_solutions_only_is_measured_and_the_verdict_finds_the_truth(
    solved_night, prior_night, tmp_path
):
    folder, report = solved_night
    night = tmp_path / "night"
    night.mkdir()
    for path in prior_night.glob("*.ldac"):
        (night / path.name).symlink_to(path)
    (night / "gaia.fits").symlink_to(prior_night / "gaia.fits")
    (night / "solved").mkdir()
    for path in (folder / "solved").glob("*.head"):
        shutil.copy(path, night / "solved" / path.name)
    found = SolvedFolder.find(night)
    assert found.metrics is None and found.gaia == night / "gaia.fits"
    kept = found.measured(tmp_path / "measured")
    quadrants, _, _ = kept.load()
    # failures known from the simulation and the injection, found again from the files alone
    score = score_verdict(quadrants, report.failures)
    assert score["detection_rate"] >= 0.95, score["missed"]
    assert score["false_positive_rate"] <= 0.02, score["false"]
    assert (tmp_path / "measured" / "metrics.ecsv").is_file()
    assert not (night / "metrics.ecsv").exists()  # the night is read, not written
    ReviewLog(found.log)  # the log would go beside the night
    assert found.log == night / "review.jsonl"


def test_what_is_missing_is_named(solved_night, prior_night, tmp_path):
    folder, _ = solved_night
    with pytest.raises(InputError, match="not a folder"):
        SolvedFolder.find(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty: no metrics\.ecsv .* no solved \.head"):
        SolvedFolder.find(empty)

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / "metrics.ecsv", alone)
    with pytest.raises(InputError, match="no per-exposure table"):
        SolvedFolder.find(alone)

    broken = tmp_path / "broken"
    broken.mkdir()
    metrics = QTable.read(folder / "metrics.ecsv")
    metrics.remove_column("badness")
    metrics.write(broken / "metrics.ecsv")
    shutil.copy(folder / "exposures.ecsv", broken)
    with pytest.raises(InputError, match=r"metrics\.ecsv: column 'badness': missing column"):
        SolvedFolder.find(broken).load()

    metrics = QTable.read(folder / "metrics.ecsv")
    metrics["rcid"][3] = 64
    metrics.write(broken / "metrics.ecsv", overwrite=True)
    with pytest.raises(InputError, match=r"column 'rcid': rcid must be 0-63 \(got 64\)"):
        SolvedFolder.find(broken).load()

    heads_only = tmp_path / "heads_only"
    (heads_only / "solved").mkdir(parents=True)
    for path in (folder / "solved").glob("*.head"):
        shutil.copy(path, heads_only / "solved" / path.name)
        (heads_only / f"{path.stem}.ldac").symlink_to(prior_night / f"{path.stem}.ldac")
    with pytest.raises(InputError, match=r"no gaia\.fits .*--gaia"):
        SolvedFolder.find(heads_only)
    assert SolvedFolder.find(heads_only, gaia=prior_night / "gaia.fits").metrics is None
    with pytest.raises(InputError, match="no such Gaia table"):
        SolvedFolder.find(heads_only, gaia=tmp_path / "gaia.fits")
