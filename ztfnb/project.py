"""The project's folders, found from wherever a notebook or command runs.

A ztfnb checkout is the folder holding ``pyproject.toml`` and
``notebooks/``. ``ztfnb run`` starts its kernels there, so a parameter
``night_dir: "nights/default"`` means ``<root>/nights/default``; JupyterLab
starts a notebook's kernel in the notebook's own folder (``notebooks/``),
where the same text would name ``notebooks/nights/default``. The report
functions resolve relative paths with `project_path`, so a notebook finds
the same folders whichever way it is run.
"""

from pathlib import Path

__all__ = ["find_root", "project_path"]


def find_root(start):
    """The project root above ``start``: the first folder with ``pyproject.toml`` and ``notebooks/``.

    Falls back to ``start`` itself (a notebook outside a ztfnb checkout).

    Parameters
    ----------
    start : path-like

    Returns
    -------
    `~pathlib.Path`
        Absolute.
    """
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return start


def project_path(path, start=None):
    """A path as the notebooks' parameters mean it: relative ones under the project root.

    The root is found from ``start`` (default: the working folder) by
    `find_root`; outside a checkout a relative path stays relative to
    ``start``, as before.

    Parameters
    ----------
    path : path-like
    start : path-like, optional

    Returns
    -------
    `~pathlib.Path`
        ``path`` itself when absolute, else ``<root>/path``.

    Examples
    --------
    In ``notebooks/`` of a checkout, ``project_path("nights/default")`` is
    ``<checkout>/nights/default``.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return find_root(Path.cwd() if start is None else start) / path
