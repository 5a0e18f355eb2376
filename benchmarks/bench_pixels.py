"""From pixels: SExtractor (``ztfnb extract``) and SWarp (``ztfnb coadd``) time per quadrant.

Four quadrants of one simulated exposure (density 800 stars/deg²) rendered
as one image; extraction is timed on 1 image of 4 quadrants, and the
co-add of the same quadrants through their rough header WCS (as ``.head``:
SWarp's work does not depend on the solution's accuracy). Each row times
the 4-quadrant run against the 1-quadrant run in the same process: the ratio
(4 over 1) says how close the time is to per quadrant (4 = linear).
"""

import shutil
import tempfile
from pathlib import Path

from astropy.io import fits

from benchmarks.nights import night
from benchmarks.timing import Comparison, best_time
from ztfnb.coadd import coadd_images
from ztfnb.extract import extract_images
from ztfnb.io.headers import write_header_blocks
from ztfnb.simulate.images import render_exposure

RCIDS = (0, 1, 2, 3)  # one CCD: the co-add stays one CCD's size
_WCS = (
    "CTYPE1",
    "CTYPE2",
    "CRVAL1",
    "CRVAL2",
    "CRPIX1",
    "CRPIX2",
    "CD1_1",
    "CD1_2",
    "CD2_1",
    "CD2_2",
)


def _image(folder, source, name, rcids):
    image = folder / f"{name}.fits"
    render_exposure(source, name, image, rcids, seed=1)
    (folder / "heads").mkdir(exist_ok=True)
    with fits.open(image) as hdul:
        blocks = [fits.Header([(k, hdu.header[k]) for k in _WCS]) for hdu in hdul[1:]]
    write_header_blocks(folder / "heads" / f"{name}.head", blocks)
    return image


def run():
    if shutil.which("source-extractor") is None or shutil.which("SWarp") is None:
        print("source-extractor or SWarp not installed: skipped")
        return []
    source = night(seed=22, exposures=1, density=800.0)
    name = sorted(p.stem for p in source.glob("*.ldac"))[0]
    work = Path(tempfile.mkdtemp(prefix="ztfnb-bench-pixels-"))
    try:
        one, four = work / "one", work / "four"
        one.mkdir(), four.mkdir()
        images = {1: _image(one, source, name, RCIDS[:1]), 4: _image(four, source, name, RCIDS)}
        extract = {
            n: best_time(lambda n=n: extract_images([images[n]], work / f"cat{n}", workers=1), 3)
            for n in images
        }
        coadd = {
            n: best_time(
                lambda n=n: coadd_images(
                    [images[n]],
                    images[n].parent / "heads",
                    work / f"coadd{n}.fits",
                    options={"NTHREADS": "1"},
                ),
                3,
            )
            for n in images
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        Comparison(
            f"{label}, per quadrant",
            "4 quadrants",
            "1 quadrant",
            times[4],
            times[1],
            f"{times[4] / 4:.2f} s per quadrant at 4 ({command}); ratio: 4 = linear",
        )
        for label, times, command in (
            ("extract (source-extractor)", extract, "ztfnb extract IMAGE --out DIR --workers 1"),
            (
                "coadd (SWarp, LANCZOS3, 1 thread)",
                coadd,
                "ztfnb coadd IMAGE --heads DIR --out C.fits --swarp NTHREADS=1",
            ),
        )
    ]
