"""Write the binary and derived mimics in this folder from the hand-written text ones.

Run from the repository root: ``python tests/data/gaia/make_derived.py``. The
tests read the files written here; they do not run this script. See README.md
for what each file imitates.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.io.votable import from_table
from astropy.table import Table

HERE = Path(__file__).parent
DR3_VOT = HERE / "archive-dr3" / "1716255000252O-result.vot"
DR2_VOT = HERE / "archive-dr2-2018" / "1530187642837O-result.vot"
EDR3_BULK = HERE / "edr3-bulk" / "GaiaSource_000000-003111.csv.gz"
DR3_BULK = HERE / "dr3-bulk" / "GaiaSource_000000-003111.csv.gz"


def _gzip(path):
    """Replace ``path`` by ``path.gz`` (no name or time in the gzip header: reproducible)."""
    with open(path, "rb") as source, open(f"{path}.gz", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as target:
            shutil.copyfileobj(source, target)
    path.unlink()


def flatiron_mirror():
    """The DR3 bulk file as the Flatiron mirror serves it: ECSV with empty fields, not ``null``."""
    text = gzip.decompress(DR3_BULK.read_bytes()).decode()
    header = [line for line in text.splitlines() if line.startswith("#")]
    rows = [line for line in text.splitlines() if not line.startswith("#")]
    rows = [",".join("" if cell == "null" else cell for cell in row.split(",")) for row in rows]
    target = HERE / "flatiron-dr3" / "GaiaSource_000000-003111.csv"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(header + rows) + "\n")
    _gzip(target)


def edr3_binary_votable():
    """EDR3 archive result: VOTable 1.3, serialized BINARY2 (the archive's default), gzipped."""
    table = Table.read(EDR3_BULK, format="ascii.ecsv", fill_values=[("null", "0")])
    keep = ["source_id", "ra", "ra_error", "dec", "dec_error", "pmra", "pmdec", "ref_epoch"]
    table = table[[*keep, "phot_g_mean_mag"]]
    document = from_table(table)
    document.version = "1.3"  # as the archive wrote in 2020; its unit grammar (CDS) has no '**'
    votable = document.get_first_table()
    votable.name = "results"
    for field in votable.fields:
        field.ID = "SOURCE_ID" if field.name == "source_id" else None  # as the archive writes
        field.unit = {"pmra": "mas.yr**-1", "pmdec": "mas.yr**-1"}.get(field.name, field.unit)
    target = HERE / "archive-edr3" / "1608303600000O-result.vot"
    document.to_xml(str(target), tabledata_format="binary2")
    _gzip(target)


def dr3_archive_fits():
    """DR3 archive result as FITS: TUNITs as the VOTable's, NaN for null floats, TNULL for longs."""
    table = Table.read(DR3_VOT, format="votable", use_names_over_ids=True)
    units = {"ra": "deg", "dec": "deg", "ra_error": "mas", "dec_error": "mas"}
    units |= {"pmra": "mas.yr**-1", "pmdec": "mas.yr**-1", "ref_epoch": "yr"}
    units |= {"phot_g_mean_mag": "mag"}
    columns = [fits.Column("source_id", "K", array=np.asarray(table["source_id"]), null=-(2**63))]
    for name in ["ra", "ra_error", "dec", "dec_error", "pmra", "pmdec", "ref_epoch"]:
        form = "E" if table[name].dtype == np.float32 else "D"
        values = np.ma.filled(table[name].astype(float), np.nan)
        columns.append(fits.Column(name, form, unit=units[name], array=values))
    columns.append(
        fits.Column("phot_g_mean_mag", "E", unit="mag", array=np.asarray(table["phot_g_mean_mag"]))
    )
    designation = np.asarray(table["designation"], dtype="S28")
    columns.append(fits.Column("designation", "28A", array=designation))
    hdu = fits.BinTableHDU.from_columns(columns)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(
        HERE / "archive-dr3" / "1716255000252O-result.fits", overwrite=True
    )


def dr2_topcat_fits_plus():
    """DR2-era result saved by TOPCAT/STILTS as fits-plus: VOTable bytes in the primary HDU."""
    table = Table.read(DR2_VOT, format="votable")
    columns = [
        fits.Column("solution_id", "K", array=np.asarray(table["solution_id"])),
        fits.Column("designation", "28A", array=np.asarray(table["designation"], dtype="S28")),
        fits.Column("source_id", "K", array=np.asarray(table["source_id"])),
    ]
    spelled = {
        "ref_epoch": "Time[Julian Years]",
        "ra": "Angle[deg]",
        "ra_error": "Angle[mas]",
        "dec": "Angle[deg]",
        "dec_error": "Angle[mas]",
        "pmra": "Angular Velocity[mas/year]",
        "pmdec": "Angular Velocity[mas/year]",
        "phot_g_mean_mag": "Magnitude[mag]",
    }
    for name, unit in spelled.items():
        values = np.ma.filled(table[name].astype(float), np.nan)
        columns.append(fits.Column(name, "D", unit=unit, array=values))
    meta = np.frombuffer(DR2_VOT.read_bytes(), dtype=np.uint8)
    primary = fits.PrimaryHDU(meta)
    primary.header["VOTMETA"] = (True, "Table metadata in VOTable format")
    target = HERE / "archive-dr2-2018" / "1530187642837O-result.fits"
    fits.HDUList([primary, fits.BinTableHDU.from_columns(columns)]).writeto(target, overwrite=True)
    _gzip(target)


def astroquery_writes():
    """``Gaia.launch_job(...).get_results()`` (astropy's VOTable reader, IDs over names) written out."""
    folder = HERE / "astroquery"
    folder.mkdir(exist_ok=True)
    dr3 = Table.read(DR3_VOT, format="votable")  # SOURCE_ID, from the FIELD's ID
    # arraysize="*" strings come as objects, which FITS refuses: users convert them first
    dr3["designation"] = dr3["designation"].astype(str)
    dr3.write(folder / "dr3_launch_job.fits", overwrite=True)
    dr3.write(folder / "dr3_launch_job.ecsv", overwrite=True)
    _gzip(folder / "dr3_launch_job.ecsv")
    dr2 = Table.read(DR2_VOT, format="votable")  # units Angle[deg]... kept as unrecognized
    dr2.write(folder / "dr2_2018_launch_job.ecsv", overwrite=True)


if __name__ == "__main__":
    flatiron_mirror()
    edr3_binary_votable()
    dr3_archive_fits()
    dr2_topcat_fits_plus()
    astroquery_writes()
