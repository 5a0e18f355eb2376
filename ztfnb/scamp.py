"""Running the real SCAMP binary and reading what it says.

SCAMP is run with standard input closed (Debian's build otherwise may wait at
a plot-device menu), ``CHECKPLOT_TYPE NONE``, an explicit empty configuration
and the reference catalogue from a file: it never touches the network.
SCAMP exits 0 even when it failed, so success is judged from its XML.
What it prints is read as bytes and decoded with errors replaced: SCAMP
writes UTF-8 and terminal control sequences, and PLplot, asked for a device
it lacks, echoes bytes that are no text at all; when SCAMP stops with an
error, `ScampRun.failure` quotes its last lines.
"""

import functools
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io.votable import parse
from astropy.table import Table

from ztfnb.io.errors import InputError, no_such_file
from ztfnb.tools import (
    TOOLS,
    ToolNotFoundError,
    ToolRun,
    decode_output,
    find_tool,
    last_lines,
    run_tool,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "ScampNotFoundError",
    "ScampRun",
    "check_settings",
    "decode_output",
    "find_scamp",
    "known_settings",
    "last_lines",
    "read_scamp_xml",
    "run_scamp",
    "scamp_version",
]

INSTALL_HINT = TOOLS["scamp"].install_hint

#: Options ztfnb always passes; callers add or override others.
DEFAULT_OPTIONS = {
    "ASTREF_CATALOG": "FILE",
    "CHECKPLOT_TYPE": "NONE",
    "WRITE_XML": "Y",
    "SOLVE_PHOTOM": "N",
    "PROJECTION_TYPE": "TPV",
    "VERBOSE_TYPE": "NORMAL",
    "NTHREADS": "1",
    # saturated (4) and truncated (8) objects carry biased centroids
    "FLAGS_MASK": "0x00fc",
}


class ScampNotFoundError(ToolNotFoundError):
    """The ``scamp`` executable is not on the PATH."""


def find_scamp():
    """Path of the ``scamp`` executable; raises `ScampNotFoundError` saying how to install it."""
    return find_tool("scamp", ScampNotFoundError)


def scamp_version():
    """SCAMP's version string (``None`` when it is not installed)."""
    path = shutil.which("scamp")
    if path is None:
        return None
    result = subprocess.run(
        [path, "-v"],
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    words = (result.stdout + result.stderr).split()
    return words[words.index("version") + 1] if "version" in words else None


@functools.cache
def known_settings():
    """The configuration keywords this SCAMP knows, from its own ``scamp -dd``.

    SCAMP only warns about an unknown keyword and goes on without it, so a
    misspelt setting would pass unnoticed.

    Returns
    -------
    frozenset of str
    """
    result = subprocess.run(
        [find_scamp(), "-dd"],
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    return frozenset(re.findall(r"^([A-Z][A-Z0-9_]*)\s", result.stdout, flags=re.MULTILINE))


def check_settings(options):
    """Refuse SCAMP settings this SCAMP does not know, naming them.

    Raises
    ------
    ValueError
    """
    unknown = sorted(set(options) - known_settings())
    if unknown:
        raise ValueError(
            f"unknown SCAMP setting(s) {', '.join(unknown)} ('scamp -dd' lists those it knows)"
        )


@dataclass
class ScampRun:
    """What one SCAMP run produced.

    Attributes
    ----------
    head : `~pathlib.Path`
        The solved header file (may not exist when SCAMP failed outright).
    xml : `~pathlib.Path`
    fields : `~astropy.table.Table` or None
        The XML's ``Fields`` table (one row per catalogue).
    warnings : list of str
        SCAMP's warnings, from the XML.
    returncode : int
    elapsed : float
        Seconds.
    stderr : str
        What SCAMP wrote there (its messages), decoded with errors replaced.
    command : list of str
    stdout : str
        The same for standard output (PLplot's device menu, when it had to ask).
    """

    head: Path
    xml: Path
    fields: Table | None
    warnings: list = field(default_factory=list)
    returncode: int = 0
    elapsed: float = 0.0
    stderr: str = ""
    command: list = field(default_factory=list)
    stdout: str = ""

    @property
    def solved(self):
        """Whether SCAMP found an astrometric solution for every catalogue (``NDeg_Reference`` > 0)."""
        return (
            self.fields is not None
            and len(self.fields) > 0
            and bool(np.all(np.asarray(self.fields["NDeg_Reference"]) > 0))
        )

    @property
    def failure(self):
        """Why SCAMP stopped, in one line quoting its last messages; ``""`` when it exited with 0."""
        return ToolRun(
            self.command, self.returncode, self.elapsed, self.stdout, self.stderr
        ).failure("SCAMP")


def run_scamp(catalog, reference, options=None, workdir=None, timeout=600):
    """Run SCAMP on one catalogue against a reference file.

    An ``.ahead`` file beside the catalogue (same stem) is used by SCAMP as the prior.

    Parameters
    ----------
    catalog : path-like
        FITS_LDAC catalogue.
    reference : path-like
        Reference catalogue in SCAMP's LDAC format (`ztfnb.io.refcat`).
    options : dict, optional
        SCAMP configuration keys and values, over :data:`DEFAULT_OPTIONS`.
    workdir : path-like, optional
        Where SCAMP runs and writes (default: the catalogue's folder).
    timeout : float
        Seconds before the run is stopped.

    Returns
    -------
    `ScampRun`
    """
    executable = find_scamp()
    catalog = Path(catalog).resolve()
    reference = Path(reference).resolve()
    for path in (catalog, reference):
        if not path.is_file():
            raise no_such_file(path)
    workdir = Path(workdir).resolve() if workdir else catalog.parent
    options = dict(options or {})
    # SCAMP runs in workdir: a relative XML name means a file there, for it and for us
    xml = workdir / options.pop("XML_NAME", f"{catalog.stem}.xml")
    # SCAMP writes the header beside the catalogue, whatever its working folder
    head = catalog.parent / f"{catalog.stem}{options.get('HEADER_SUFFIX', '.head')}"
    settings = {
        **DEFAULT_OPTIONS,
        **options,
        "ASTREFCAT_NAME": str(reference),
        "XML_NAME": str(xml),
    }
    # what an earlier run left must not pass for this run's answer
    for stale in (head, xml):
        stale.unlink(missing_ok=True)
    command = [executable, str(catalog), "-c", "/dev/null"]
    for key, value in settings.items():
        command += [f"-{key}", str(value)]
    result = run_tool(command, workdir, timeout)
    fields, scamp_warnings = (None, [])
    if xml.is_file():
        fields, scamp_warnings = read_scamp_xml(xml)
    return ScampRun(
        head=head,
        xml=xml,
        fields=fields,
        warnings=scamp_warnings,
        returncode=result.returncode,
        elapsed=result.elapsed,
        stderr=result.stderr,
        command=result.command,
        stdout=result.stdout,
    )


def read_scamp_xml(path):
    """The ``Fields`` table and the warnings of SCAMP's XML output.

    Returns
    -------
    fields : `~astropy.table.Table` or None
        None when SCAMP stopped before measuring any field (its XML then
        holds an empty table and an ``Error_Msg``).
    warnings : list of str
        SCAMP's error message first, when it gave one.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SCAMP's VOTable has non-standard units and datatypes
        try:
            votable = parse(str(path), verify="ignore")
        except Exception as error:
            raise InputError(f"cannot read SCAMP's XML ({error})", path=path) from error
        tables = {table.ID or table.name: table for table in votable.iter_tables()}
        if "Fields" not in tables:
            raise InputError("no Fields table in SCAMP's XML", path=path)
        # an empty table (SCAMP stopped early) is one numpy's masked arrays cannot convert
        fields = tables["Fields"].to_table() if tables["Fields"].nrows else None
        messages = [
            str(param.value)
            for param in votable.iter_fields_and_params()
            if param.name == "Error_Msg" and param.value
        ]
        if "Warnings" in tables and tables["Warnings"].nrows:
            warning_table = tables["Warnings"].to_table()
            if "Text" in warning_table.colnames:
                messages += [str(text) for text in warning_table["Text"]]
    return fields, messages
