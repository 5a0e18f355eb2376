"""Images as archives deliver them, made readable by SExtractor and SWarp.

Archives deliver images tile-compressed (fpack's ``.fits.fz``: each image in a
``CompImageHDU``, a binary table) or gzipped (``.fits.gz``). astropy reads both;
SExtractor 2.25 and SWarp 2.41 as Debian builds them read neither ("Unknown
TFORM", "cannot open"). `plain_copy` writes an uncompressed copy, one
extension in memory at a time, into a private folder where the tools run, with
every header as it was (the compressed table's image header, not the table's).
"""

import gzip
import shutil
from pathlib import Path

from astropy.io import fits

from ztfnb.io.errors import InputError

__all__ = ["is_compressed", "plain_copy"]

_GZIP_MAGIC = b"\x1f\x8b"


def is_compressed(path):
    """Whether a FITS file is gzipped or holds a tile-compressed image.

    Raises
    ------
    InputError
        The file cannot be read as FITS.
    """
    return _gzipped(path) or _tiled(path)


def plain_copy(path, folder, name):
    """An uncompressed copy of a FITS image file, ``folder/name``; the file itself if plain.

    Parameters
    ----------
    path : path-like
    folder : path-like
        A private folder (the tools' working folder).
    name : str
        The copy's file name.

    Returns
    -------
    `~pathlib.Path`

    Raises
    ------
    InputError
        The file cannot be read as FITS.
    """
    path = Path(path)
    gzipped = _gzipped(path)
    if not (gzipped or _tiled(path)):
        return path
    target = Path(folder) / name
    # gzip: astropy would decompress the whole file in memory; a stream does not
    source = target.with_name(f".{name}.gunzipped") if gzipped else path
    if gzipped:
        with gzip.open(path, "rb") as packed, open(source, "wb") as plain:
            shutil.copyfileobj(packed, plain, 1 << 24)
    with fits.open(source, memmap=True) as hdul:
        fits.PrimaryHDU(hdul[0].data, hdul[0].header).writeto(target, overwrite=True)
        for hdu in hdul[1:]:  # one extension in memory at a time; a CompImageHDU's own header
            fits.append(target, hdu.data, hdu.header)
    if gzipped:
        source.unlink()
    return target


def _gzipped(path):
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _tiled(path):
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            return any(isinstance(hdu, fits.CompImageHDU) for hdu in hdul)
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"cannot read as FITS ({error})", path=path) from error
