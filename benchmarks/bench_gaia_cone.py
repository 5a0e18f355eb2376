"""Gaia cone per exposure: the full scan against the file read a cone at a time and the HATS catalogue.

A synthetic all-sky Gaia of ``ZTFNB_BENCH_GAIA_ROWS`` rows (default 20 M) is
built once, in chunks, under ``~/.cache/ztfnb-bench/`` (outside the
repository): a FITS table and a HATS catalogue of it (hats-import). Its rows
are in random order, the worst case for a file read a cone at a time (Gaia's
own files are in sky order). Each method runs in its own process, so that its
peak memory (``VmHWM``, imports included) is its own: the full scan (the file
read whole, `select_cone` on a copy whose positions can change, so never
indexed), the file read whole and indexed at its second cone (as below
`ztfnb.io.gaiafits.LAZY_ROWS` rows), the file (`read_gaia`: from `ztfnb.io.gaiafits.LAZY_ROWS` rows a
`GaiaFits`, checked and indexed when opened, its cones read from the file)
and the HATS catalogue (`read_gaia` of the folder). Times are medians of a
ZTF field's cone (`FIELD_RADIUS`, 5.6°) at positions spread over the sky,
after two warm-up cones.

Run alone: ``python -m benchmarks gaia_cone``; a smaller catalogue:
``ZTFNB_BENCH_GAIA_ROWS=2000000 python -m benchmarks gaia_cone``.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import Comparison

ROWS = int(os.environ.get("ZTFNB_BENCH_GAIA_ROWS", 20_000_000))
CHUNK = 1_000_000
#: Most rows in one HATS partition: 26 k-row cells of order 3 at 20 M rows.
PIXEL_THRESHOLD = 100_000
CACHE = Path(os.environ.get("ZTFNB_BENCH_CACHE", Path.home() / ".cache" / "ztfnb-bench"))
#: Cone centres (deg): the equator, RA = 0, near the pole, the south.
CENTRES = [(10.0, 0.0), (359.9, 20.0), (80.0, 86.0), (200.0, -45.0), (120.0, 35.0), (300.0, -70.0)]


def _chunk(seed, n):
    """``n`` rows of an all-sky Gaia: archive columns, dtypes and units."""
    from astropy.table import Table

    rng = np.random.default_rng(seed)
    table = Table()
    table["source_id"] = rng.integers(1, 2**62, n)
    table["ra"] = rng.uniform(0, 360, n)
    table["dec"] = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    for name in ("ra_error", "dec_error"):
        table[name] = rng.uniform(0.02, 1.5, n).astype(np.float32)
    for name in ("pmra", "pmdec"):
        table[name] = rng.normal(0, 6, n)
    table["ref_epoch"] = np.full(n, 2016.0)
    table["phot_g_mean_mag"] = rng.uniform(12, 20.5, n).astype(np.float32)
    units = {"ra": "deg", "dec": "deg", "ra_error": "mas", "dec_error": "mas"}
    units |= {"pmra": "mas / yr", "pmdec": "mas / yr", "ref_epoch": "yr", "phot_g_mean_mag": "mag"}
    for name, unit in units.items():
        table[name].unit = unit
    return table


def build(rows=ROWS):
    """The cached FITS file and HATS catalogue of ``rows`` rows; built once, a chunk at a time."""
    from astropy.io import fits

    from ztfnb.simulate.gaiahats import write_gaia_hats

    folder = CACHE / f"gaia-{rows}-{PIXEL_THRESHOLD}"
    fits_path, hats_path = folder / "gaia.fits", folder / "gaia_hats"
    if (folder / "done").is_file():
        return fits_path, hats_path
    folder.mkdir(parents=True, exist_ok=True)
    chunks = []
    for k, start in enumerate(range(0, rows, CHUNK)):
        chunks.append(folder / f"chunk{k:03d}.fits")
        _chunk(k, min(CHUNK, rows - start)).write(chunks[-1], overwrite=True)
    # one FITS table: the first chunk's header with NAXIS2 for every row, then the rows
    with fits.open(chunks[0]) as first:
        header = first[1].header.copy()
    header["NAXIS2"] = rows
    with open(fits_path, "wb") as out:
        fits.PrimaryHDU().writeto(out)
        out.write(header.tostring().encode("ascii"))
        for path in chunks:
            with fits.open(path, memmap=True) as hdus:
                out.write(hdus[1].data.tobytes())
        out.write(b"\0" * (-out.tell() % 2880))
    for path in chunks:
        path.unlink()
    write_gaia_hats(fits_path, hats_path, pixel_threshold=PIXEL_THRESHOLD, highest_order=7)
    (folder / "done").write_text("")
    return fits_path, hats_path


def measure(method, path):
    """In this process: open, warm up, time the cones; print JSON with times and peak memory."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    import ztfnb.io.gaiafits
    from ztfnb.io import read_gaia
    from ztfnb.reference import FIELD_RADIUS, select_cone

    if method in ("scan", "whole"):
        ztfnb.io.gaiafits.LAZY_ROWS = 2**62  # read the file whole, as below LAZY_ROWS
    start = time.perf_counter()
    gaia = read_gaia(path)
    if method == "scan":
        for name in ("ra", "dec"):  # positions that can change: never indexed
            gaia[name] = gaia[name].copy()
    opened = time.perf_counter() - start
    centres = [SkyCoord(ra * u.deg, dec * u.deg) for ra, dec in CENTRES]
    start = time.perf_counter()
    for centre in centres[:2]:  # a table read whole is indexed at its second cone
        select_cone(gaia, centre, FIELD_RADIUS)
    warm = time.perf_counter() - start
    times, rows = [], []
    for _ in range(3):
        for centre in centres:
            start = time.perf_counter()
            rows.append(len(select_cone(gaia, centre, FIELD_RADIUS)))
            times.append(time.perf_counter() - start)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024
    result = {"open": opened, "warm": warm, "median": float(np.median(times))}
    print(json.dumps(result | {"rows": int(np.median(rows)), "peak_mb": peak}))


def _in_process(method, path):
    out = subprocess.run(
        [sys.executable, "-c", f"from benchmarks.bench_gaia_cone import measure; measure({method!r}, {str(path)!r})"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run():
    start = time.perf_counter()
    fits_path, hats_path = build()
    built = time.perf_counter() - start
    scan = _in_process("scan", fits_path)
    rows = []
    for label, method, path in (
        ("file read whole, indexed", "whole", fits_path),
        ("file, a cone at a time", "file", fits_path),
        ("HATS catalogue", "hats", hats_path),
    ):
        got = _in_process(method, path)
        rows.append(
            Comparison(
                f"5.6° cone, {ROWS / 1e6:g} M-row Gaia",
                f"full scan ({scan['peak_mb']:.0f} MB peak)",
                f"{label} ({got['peak_mb']:.0f} MB peak)",
                scan["median"],
                got["median"],
                f"~{got['rows']} rows a cone; open {got['open']:.1f} s, first 2 cones "
                f"{got['warm']:.1f} s (scan: open {scan['open']:.1f} s); cache built in {built:.0f} s",
            )
        )
    return rows
