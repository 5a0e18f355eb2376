"""Remake the files of this folder (see README.md): ``python tests/data/sextractor/make_data.py``.

Needs ``source-extractor`` and ztfnb; takes about half a minute. The
catalogues are made by the real source-extractor from images of two quadrants
of a simulated exposure, one run per parameter file beside this script.
"""

import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

HERE = Path(__file__).resolve().parent
EXPOSURE = "ztf_20231017212451_000744_zg"
RCIDS = (20, 21)
#: Options of every run; the images have no PSF model, so the filter is off.
COMMON = ["-FILTER", "N", "-DETECT_THRESH", "5", "-ANALYSIS_THRESH", "5", "-VERBOSE_TYPE", "QUIET"]
#: Each parameter file, with the options its run adds.
RUNS = {
    "scalar": [],
    "vector": ["-PHOT_FLUXFRAC", "0.25,0.5,0.75", "-PHOT_APERTURES", "4,8,12"],
    "vignet": [],
    "nowin": [],
    "variances": ["-PHOT_APERTURES", "4,8,12"],
    "flags": [
        "-FLAG_IMAGE",
        "{flag}",
        "-FLAG_TYPE",
        "OR",
        "-WEIGHT_TYPE",
        "MAP_WEIGHT",
        "-WEIGHT_IMAGE",
        "{weight}",
    ],
}
#: Flag-image values and where (0-based numpy slices), and the zero-weight columns.
FLAGGED = {1: (slice(None), slice(1000, 1040)), 4: (slice(2000, 2040), slice(None))}
DEAD_COLUMNS = range(300, 3072, 600)


def _python(*arguments, cwd):
    subprocess.run([sys.executable, "-m", "ztfnb", *arguments], cwd=cwd, check=True)


def _flag_and_weight(image, flag_path, weight_path):
    """A flag image (two bands) and a weight map (dead columns at zero weight) for ``image``."""
    flags, weights = [fits.PrimaryHDU()], [fits.PrimaryHDU()]
    with fits.open(image) as hdul:
        for hdu in hdul[1:]:
            flag = np.zeros(hdu.data.shape, np.int32)
            for value, where in FLAGGED.items():
                flag[where] |= value
            weight = np.ones(hdu.data.shape, np.float32)
            for column in DEAD_COLUMNS:
                weight[:, column : column + 2] = 0.0
            flags.append(fits.ImageHDU(flag, header=hdu.header))
            weights.append(fits.ImageHDU(weight, header=hdu.header))
    fits.HDUList(flags).writeto(flag_path)
    fits.HDUList(weights).writeto(weight_path)


def _gaia_subset(night, image, out, margin_deg=0.02, faintest=20.5):
    """The night's Gaia stars on the rendered quadrants (their rough WCS, with a margin).

    Only as faint as any step of ztfnb uses (G 20.5), in the archive's own types.
    """
    from astropy.wcs import WCS

    from ztfnb.io import read_gaia, write_gaia

    gaia = read_gaia(night / "gaia.fits")
    ra = np.asarray(gaia["ra"].to_value("deg"))
    dec = np.asarray(gaia["dec"].to_value("deg"))
    keep = np.zeros(len(gaia), bool)
    with fits.open(image) as hdul:
        for hdu in hdul[1:]:
            wcs = WCS(hdu.header)
            x, y = wcs.all_world2pix(ra, dec, 1)
            pad = margin_deg / abs(hdu.header["CD1_1"])
            keep |= (
                (x > -pad)
                & (x < hdu.header["NAXIS1"] + pad)
                & (y > -pad)
                & (y < hdu.header["NAXIS2"] + pad)
            )
    keep &= np.asarray(gaia["phot_g_mean_mag"].to_value("mag")) <= faintest
    table = Table(gaia[keep])
    for name in ("ra_error", "dec_error", "phot_g_mean_mag"):
        table[name] = table[name].astype(np.float32)
    write_gaia(out, table)


def main():
    from ztfnb.simulate.images import render_exposure

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        _python("simulate", "--out", "night", "--seed", "3", "--exposures", "2", cwd=work)
        night = work / "night"
        catalogs = sorted(str(path) for path in night.glob("*.ldac"))
        _python(
            "prior", "fit", *catalogs, "--gaia", "night/gaia.fits", "--out", "prior.fits", cwd=work
        )
        shutil.copy(work / "prior.fits", HERE / "prior.fits")
        image = render_exposure(night, EXPOSURE, work / "image.fits", RCIDS, seed=3)
        _flag_and_weight(image, work / "flag.fits", work / "weight.fits")
        _gaia_subset(night, image, HERE / "gaia.fits")
        for name, options in RUNS.items():
            catalog = work / f"{name}.ldac"
            options = [
                o.format(flag=work / "flag.fits", weight=work / "weight.fits") for o in options
            ]
            subprocess.run(
                [
                    "source-extractor",
                    str(image),
                    "-c",
                    "/dev/null",
                    "-CATALOG_TYPE",
                    "FITS_LDAC",
                    "-CATALOG_NAME",
                    str(catalog),
                    "-PARAMETERS_NAME",
                    str(HERE / f"{name}.param"),
                    *COMMON,
                    *options,
                ],
                check=True,
                cwd=work,
            )
            # gzip only for the repository's size: the bytes inside are source-extractor's
            with (
                open(catalog, "rb") as source,
                gzip.GzipFile(HERE / f"{name}.ldac.gz", "wb", mtime=0) as target,
            ):
                shutil.copyfileobj(source, target)
            sizes = [len(Table.read(catalog, hdu=2 * i + 2)) for i in range(len(RCIDS))]
            print(f"{name}: {sizes} detections")


if __name__ == "__main__":
    main()
