"""Keep astropy offline, and read its Earth-orientation table once, not once a process.

Following ``desiutil.iers.freeze_iers``: a survey pipeline run at night, or a
batch of reports on a cluster node without a route out, must neither hang on
nor depend on a download. The tables of the ``astropy-iers-data`` package are
used as they are; dates past their predictions give a warning, not an error.

astropy parses those tables (IERS-A text, 20,000 fixed-width lines, merged
with IERS-B) the first time a process needs UT1 or polar motion: ≈1.4 s, in
every process of a night's batch. With downloads off the merged table depends
only on the installed astropy and astropy-iers-data, so ztfnb keeps it as plain
arrays (``.npz``, no pickle) in ``$XDG_CACHE_HOME/ztfnb`` (default
``~/.cache/ztfnb``; ``ZTFNB_CACHE_DIR`` overrides, an empty value turns the
cache off), keyed by both versions and the data files' sizes and times;
reading it back takes 10–40 ms. Importing ztfnb installs it as astropy's own table
when it is there; the first process that parses the table writes it.
"""

import atexit
import json
import os
import tempfile
from pathlib import Path

import astropy
import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn
from astropy.utils import iers

__all__ = ["earth_orientation_table", "freeze_iers"]


def freeze_iers():
    """Turn off every IERS download astropy could attempt.

    Idempotent; called when :mod:`ztfnb` is imported.
    """
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"
    _install_cached()


def _install_cached():
    """Give astropy the cached table now (≈10–40 ms), so that whatever in the process needs
    UT1 or polar motion — an AltAz in quality, light-travel time — skips the parse; with no
    cache yet, write one at exit if the process parsed the table anyway."""
    if iers.IERS_Auto.iers_table is not None:
        return
    path = _cache_file()
    if path is None:
        return
    if path.is_file():
        try:
            iers.IERS_Auto.iers_table = _read(path)
            return
        except (OSError, ValueError, KeyError):
            pass  # damaged or partial: astropy parses, and the exit hook rewrites it
    atexit.register(_write_if_parsed, path)


def _write_if_parsed(path):
    if iers.IERS_Auto.iers_table is not None and not path.is_file():
        _write(iers.IERS_Auto.iers_table, path)


def _cache_file():
    """Where the table for this astropy and astropy-iers-data lives; None: no cache."""
    folder = os.environ.get("ZTFNB_CACHE_DIR")
    if folder is None:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ztfnb"
    elif not folder:
        return None
    try:
        import astropy_iers_data

        stamps = [os.stat(f) for f in (iers.IERS_A_FILE, iers.IERS_B_FILE)]
        data_version = astropy_iers_data.__version__
    except (ImportError, OSError):
        return None
    stamp = "-".join(f"{s.st_size}.{int(s.st_mtime)}" for s in stamps)
    return Path(folder) / f"iers-auto-{astropy.__version__}-{data_version}-{stamp}.npz"


def _read(path):
    with np.load(path, allow_pickle=False) as stored:
        header = json.loads(str(stored["__header__"]))
        columns = {}
        for name, unit in zip(header["names"], header["units"], strict=True):
            data = stored[name]
            if f"{name}.mask" in stored:
                columns[name] = MaskedColumn(data, mask=stored[f"{name}.mask"])
            else:
                columns[name] = data if unit is None else u.Quantity(data, unit)
    return iers.IERS_Auto(columns, meta=header["meta"])


def _write(table, path):
    """Write atomically (a parallel batch may race to it); failure only costs the next parse."""
    arrays, units = {}, []
    for name in table.colnames:
        column = table[name]
        units.append(None if getattr(column, "unit", None) is None else column.unit.to_string())
        arrays[name] = np.asarray(getattr(column, "value", column))
        if isinstance(column, MaskedColumn):
            arrays[name] = np.asarray(column.data.data)
            arrays[f"{name}.mask"] = np.asarray(column.mask)
    meta = {
        key: value.item() if hasattr(value, "item") else value for key, value in table.meta.items()
    }
    arrays["__header__"] = np.array(
        json.dumps({"names": table.colnames, "units": units, "meta": meta})
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
            np.savez(handle, **arrays)
        os.replace(handle.name, path)
    except OSError:
        pass


def earth_orientation_table():
    """astropy's default Earth-orientation table, read from ztfnb's cache when it can be.

    Installs the table as astropy's own (``IERS_Auto.iers_table``), so every
    time scale and frame transformation of the process uses it; later calls
    cost nothing.

    Returns
    -------
    `~astropy.utils.iers.IERS_Auto`
        The merged IERS-A/B table astropy itself would read (the same values).
    """
    if iers.IERS_Auto.iers_table is not None:
        return iers.IERS_Auto.iers_table
    path = _cache_file()
    if path is not None and path.is_file():
        try:
            iers.IERS_Auto.iers_table = _read(path)
            return iers.IERS_Auto.iers_table
        except (OSError, ValueError, KeyError):
            pass  # damaged or partial: parse afresh and overwrite it
    table = iers.IERS_Auto.open()
    if path is not None:
        _write(table, path)
    return table
