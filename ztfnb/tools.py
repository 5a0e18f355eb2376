"""The AstrOmatic programs ztfnb runs (SCAMP, SExtractor, SWarp): found or refused, run alike.

Each is a Debian package whose binary has its own name (``scamp``,
``source-extractor``, ``SWarp``); a missing one is refused before any work
with the line that installs it. All are run the same way: standard input
closed (Debian's SCAMP may otherwise wait at a plot-device menu), output
captured as bytes and decoded with errors replaced (they write UTF-8 and
terminal control sequences, PLplot bytes that are no text at all), and
killed with the process that started them (`ztfnb.lifetime.dies_with_us`),
so that nothing goes on writing for a command already stopped.
"""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from ztfnb.lifetime import dies_with_us

__all__ = [
    "TOOLS",
    "Tool",
    "ToolNotFoundError",
    "ToolRun",
    "decode_output",
    "find_tool",
    "last_lines",
    "run_tool",
]


@dataclass(frozen=True)
class Tool:
    """An external program: its binary, the Debian package and the conda one that install it."""

    label: str
    binary: str
    debian: str
    conda: str

    @property
    def install_hint(self):
        """The one line saying how to install it."""
        return (
            f"{self.label} is not installed: on Debian or Ubuntu run "
            f"'sudo apt-get install {self.debian}' (or 'make test' as root, which does it); "
            f"with conda, 'conda install -c conda-forge {self.conda}'"
        )


#: The programs ztfnb runs, by the name ztfnb calls them.
TOOLS = {
    "scamp": Tool("SCAMP", "scamp", "scamp", "astromatic-scamp"),
    "sextractor": Tool(
        "SExtractor", "source-extractor", "source-extractor", "astromatic-source-extractor"
    ),
    "swarp": Tool("SWarp", "SWarp", "swarp", "astromatic-swarp"),
}


class ToolNotFoundError(RuntimeError):
    """An external program ztfnb needs is not on the PATH."""


def find_tool(name, error=ToolNotFoundError):
    """Path of one of `TOOLS`' executables.

    Parameters
    ----------
    name : str
        A key of `TOOLS`.
    error : type
        The `ToolNotFoundError` subclass to raise (`ztfnb.scamp.ScampNotFoundError`).

    Returns
    -------
    str

    Raises
    ------
    ToolNotFoundError
        Saying how to install it.
    """
    tool = TOOLS[name]
    path = shutil.which(tool.binary)
    if path is None:
        raise error(tool.install_hint)
    return path


@dataclass
class ToolRun:
    """What one run of an external program did.

    Attributes
    ----------
    command : list of str
    returncode : int
    elapsed : float
        Seconds.
    stdout, stderr : str
        Decoded with errors replaced (`decode_output`).
    """

    command: list = field(default_factory=list)
    returncode: int = 0
    elapsed: float = 0.0
    stdout: str = ""
    stderr: str = ""

    def failure(self, label):
        """Why the program stopped, in one line quoting its last messages; ``""`` when it exited with 0."""
        if self.returncode == 0:
            return ""
        said = last_lines(self.stderr) or last_lines(self.stdout)
        return f"{label} stopped (exit status {self.returncode})" + (
            f": {' / '.join(said)}" if said else ""
        )


def run_tool(command, cwd, timeout=600):
    """Run an external program as ztfnb runs them all (see the module's notes).

    Parameters
    ----------
    command : list of str
    cwd : path-like
        Where it runs (and writes whatever it writes by default): a private folder.
    timeout : float
        Seconds before it is stopped (`subprocess.TimeoutExpired`).

    Returns
    -------
    `ToolRun`
    """
    start = time.perf_counter()
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,  # bytes: see decode_output
        timeout=timeout,
        preexec_fn=dies_with_us,  # none left running for a command killed with SIGKILL
    )
    return ToolRun(
        command=[str(part) for part in command],
        returncode=result.returncode,
        elapsed=time.perf_counter() - start,
        stdout=decode_output(result.stdout),
        stderr=decode_output(result.stderr),
    )


# cursor moves and colours the programs draw their progress with, and other control characters
_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def decode_output(data):
    """A program's output as text: UTF-8 with undecodable bytes replaced, never an error."""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else (data or "")


def last_lines(text, count=4):
    """The last ``count`` lines of a program's messages, control sequences and repeats removed.

    From its last ``*Error*`` line when there is one (the AstrOmatic programs'
    common way of saying why they stopped).

    Parameters
    ----------
    text : str
    count : int

    Returns
    -------
    list of str
    """
    lines = []
    for line in _CONTROL.sub("", text).splitlines():
        line = line.strip().removeprefix(">").strip()
        if line and (not lines or lines[-1] != line):
            lines.append(line)
    errors = [i for i, line in enumerate(lines) if line.startswith("*Error*")]
    if errors:  # the program's own error and what follows it, not the warnings before
        return lines[errors[-1] :][:count]
    return lines[-count:]
