"""Where a report came from: software versions, git commit, file checksums.

Every report ends with a software-versions table and is accompanied by a
``manifest.json`` that records the parameters and the sha256 of its inputs
and outputs, so that a result can be traced and its inputs verified.
"""

import hashlib
import importlib.metadata
import platform
import subprocess
from functools import cache
from pathlib import Path

from astropy.table import Table

__all__ = ["git_state", "hash_paths", "sha256", "software_versions", "versions_table"]

_PACKAGES = (
    "ztfnb",
    "numpy",
    "scipy",
    "astropy",
    "astropy-iers-data",
    "matplotlib",
    "papermill",
    "ipykernel",
)


@cache
def software_versions():
    """Versions of Python, the scientific stack, papermill and SCAMP (read once per process).

    Returns
    -------
    dict
        name → version string (``"not installed"`` where absent).
    """
    from ztfnb.scamp import scamp_version

    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["scamp"] = scamp_version() or "not installed"
    return versions


def versions_table():
    """The software versions as a two-column table, for the end of a report."""
    versions = dict(software_versions())
    return Table({"software": list(versions), "version": list(versions.values())})


def git_state(root):
    """Commit and dirtiness of the git work tree at ``root`` (``None`` values outside git)."""

    def git(*args):
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def sha256(path, chunk=1 << 20):
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_paths(paths, relative_to=None):
    """sha256 of files, and of every file under folders.

    Parameters
    ----------
    paths : iterable of path-like
    relative_to : path-like, optional
        Keys are relative to this folder where possible.

    Returns
    -------
    dict
        path → sha256, sorted by path.
    """
    digests = {}
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or file.name.startswith("."):
                continue
            key = file.resolve()
            if relative_to is not None:
                try:
                    key = key.relative_to(Path(relative_to).resolve())
                except ValueError:
                    pass
            digests[str(key)] = sha256(file)
    return dict(sorted(digests.items()))
