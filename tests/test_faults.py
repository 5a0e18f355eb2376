"""Faults with real processes: SIGKILL, a full disk, what a killed writer leaves behind.

- ``ztfnb solve`` killed with SIGKILL: its pool workers and the SCAMP they run stop
  with it (Linux's parent-death signal), none is alive 5 s later.
- A full disk (a small tmpfs, mounted where the test may; skipped elsewhere, saying
  why): no file is left cut short under its final name, and the message names it.
- A writer killed with SIGKILL cannot remove its temporaries; the next writer of the
  same name on the host removes those whose process is gone, never a live one's.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import needs_scamp

pytestmark = pytest.mark.slow


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(scope="module")
def solvable(simulated, tmp_path_factory):
    """Three exposures and a prior fitted on one of them."""
    from ztfnb.exposure import read_exposure
    from ztfnb.io import read_gaia
    from ztfnb.prior import fit_prior
    from ztfnb.prior.file import write_prior

    night = simulated(exposures=3, density=300.0, seed=4)
    catalogs = sorted(night.glob("*.ldac"))
    prior = tmp_path_factory.mktemp("faults") / "prior.fits"
    write_prior(prior, fit_prior([read_exposure(catalogs[0])], read_gaia(night / "gaia.fits")))
    return catalogs, night / "gaia.fits", prior


@needs_scamp
def test_sigkill_of_solve_leaves_no_live_worker(solvable, tmp_path):
    catalogs, gaia, prior = solvable
    out = tmp_path / "solved"
    command = [sys.executable, "-m", "ztfnb", "solve", *map(str, catalogs), "--gaia", str(gaia)]
    process = subprocess.Popen(
        [*command, "--prior", str(prior), "--out", str(out), "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # wait until the workers are at work: a reference written, SCAMP started
        deadline = time.monotonic() + 120
        family = []
        while time.monotonic() < deadline:
            assert process.poll() is None, "solve ended before it could be killed"
            family = psutil.Process(process.pid).children(recursive=True)
            if any(p.name() == "scamp" for p in family if p.is_running()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("SCAMP never started")
        family = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        time.sleep(5)
        alive = [
            f"{p.pid} {p.name()}"
            for p in family
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        ]
        assert alive == [], f"still running 5 s after SIGKILL: {alive}"
    finally:
        for child in psutil.Process().children(recursive=True):
            if child.pid != process.pid:
                child.kill()
        if process.poll() is None:
            process.kill()


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs: a full disk, where this test may mount one (root on Linux)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@needs_scamp
def test_a_full_disk_leaves_no_cut_catalogue_under_its_name(solvable, small_disk, capsys):
    from ztfnb.cli import main

    catalogs, gaia, prior = solvable
    catalog = catalogs[0]  # ≈1 MB: larger than the disk, on another file system (no hard link)
    out = small_disk / "solved"
    arguments = ["solve", str(catalog), "--gaia", str(gaia), "--prior", str(prior)]
    status = main([*arguments, "--out", str(out), "--workers", "1", "--quiet"])
    error = capsys.readouterr().err
    assert status != 0
    assert "Traceback" not in error
    # what is there is whole: no catalogue cut short under its real name, no temporaries
    assert not (out / f"{catalog.stem}.ldac").exists()
    assert not [p.name for p in small_disk.rglob(".*partial*")]
    assert str(out) in error, error  # the message names a file it could not write


def test_a_full_disk_while_writing_a_table_names_it(small_disk, capsys, tmp_path):
    import numpy as np
    from astropy.table import Table

    from ztfnb.cli import main

    table = tmp_path / "lc.ecsv"
    n = 20_000  # its output, ≈1.5 MB as ECSV, does not fit
    Table({"mjd": np.linspace(60000, 60001, n), "ra": np.full(n, 10.0), "dec": np.full(n, 20.0)}).write(table)  # fmt: skip
    out = small_disk / "lc.ecsv"
    assert main(["ltt", str(table), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(out) in error and "No space left" in error, error
    assert os.listdir(small_disk) == []


def test_a_dead_writers_temporaries_are_removed_by_the_next_a_live_ones_kept(tmp_path):
    from ztfnb.io.atomic import atomic_path

    host = socket.gethostname()
    dead = tmp_path / f".x.fits.{host}-{_dead_pid()}-abc123.partial.fits"
    dead.write_bytes(b"cut short")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        live = tmp_path / f".x.fits.{host}-{sleeper.pid}-def456.partial.fits"
        live.write_bytes(b"being written")
        other = tmp_path / f".y.fits.{host}-{_dead_pid()}-abc123.partial.fits"
        other.write_bytes(b"another file's")
        with atomic_path(tmp_path / "x.fits") as temporary:
            temporary.write_bytes(b"whole")
        assert not dead.exists()
        assert live.exists() and other.exists()
        assert (tmp_path / "x.fits").read_bytes() == b"whole"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigkill_of_simulate_leaves_a_folder_the_next_run_removes(tmp_path):
    command = [sys.executable, "-m", "ztfnb", "simulate", "--out", "night", "--seed", "1"]
    process = subprocess.Popen(
        [*command, "--exposures", "40", "--density", "10", "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".night.*.tmp/*.ldac")):
            assert process.poll() is None
            assert time.monotonic() < deadline, "the simulation never started writing"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".night.")  # SIGKILL cannot be caught
    small = [*command, "--exposures", "1", "--density", "10", "--quiet", "--failures", "0"]
    subprocess.run(small, cwd=tmp_path, check=True, capture_output=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["night"]
    assert Path(tmp_path / "night" / "gaia.fits").is_file()
