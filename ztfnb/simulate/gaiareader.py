"""hats-import's FITS reader, reading its chunks from the file instead of a memory map.

hats-import's ``FitsReader`` maps the whole file and slices it: every page it
has read stays in the process's resident memory until the file is closed, so
importing a night's ``gaia.fits`` took as much memory as the file is large.
This reader reads each chunk's rows with a plain read and hands them on through
``FitsReader``'s own conversion, so the catalogue is the same, byte for byte
(tested), and memory holds a chunk.

Each chunk passes through an astropy ``Table``, whose columns and table point
at each other: the chunk's arrays are freed only by the cycle collector's
full collection, which counts objects, not bytes, and so came once in many
chunks; a night's memory grew with its Gaia file again (≈35 MB a chunk,
measured). The reader collects them before it hands a chunk on (≈0.2 s of a
chunk's seconds).

Imported only by `ztfnb.simulate.gaiahats` when it writes a catalogue: it
imports hats-import.
"""

import gc

import astropy.table
import numpy as np
from astropy.io import fits
from hats_import.catalog.file_readers.fits import FitsReader, _astropy_to_pyarrow_table

__all__ = ["ChunkedFitsReader"]


class ChunkedFitsReader(FitsReader):
    """``FitsReader`` for a file's first binary table, ``chunksize`` rows read at a time."""

    def read(self, input_file, read_columns=None):
        input_file = self.regular_file_exists(input_file)
        with fits.open(input_file, memmap=False, lazy_load_hdus=True) as hdus:
            header = hdus[1].header  # as write_gaia writes it: an empty primary, then the table
            offset = hdus.fileinfo(1)["datLoc"]
            # from the header (the data are not read); FITS is big-endian
            record = hdus[1].columns.dtype.newbyteorder(">")
        names = read_columns or self.column_names or list(record.names)
        rows = header["NAXIS2"]
        for start in range(0, rows, self.chunksize):
            count = min(self.chunksize, rows - start)
            data = np.fromfile(input_file, record, count, offset=offset + start * record.itemsize)
            table = astropy.table.Table.read(
                fits.BinTableHDU(data=data, header=header), **self.table_kwargs
            )
            chunk = _astropy_to_pyarrow_table(table[names], flatten_tensors=self.flatten_tensors)
            del data, table
            gc.collect()  # the chunk's astropy table, in reference cycles (module docstring)
            yield chunk
