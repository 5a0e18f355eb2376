"""Reading and writing the files ztfnb works with.

FITS_LDAC catalogues (:mod:`ztfnb.io.ldac`), SCAMP's text headers
(:mod:`ztfnb.io.headers`), Gaia tables (:mod:`ztfnb.io.gaia`) and atomic
writes (:mod:`ztfnb.io.atomic`). Every reader raises :class:`InputError`
naming the file, extension and column at fault.
"""

from ztfnb.io.atomic import atomic_directory, atomic_path
from ztfnb.io.errors import InputError
from ztfnb.io.gaia import read_gaia, write_gaia
from ztfnb.io.headers import read_header_blocks, write_header_blocks
from ztfnb.io.ldac import LdacExtension, read_ldac, write_ldac

__all__ = [
    "InputError",
    "LdacExtension",
    "atomic_directory",
    "atomic_path",
    "read_gaia",
    "read_header_blocks",
    "read_ldac",
    "write_gaia",
    "write_header_blocks",
    "write_ldac",
]
