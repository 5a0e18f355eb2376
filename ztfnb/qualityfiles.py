"""A judged night's files: ``METRICS.ecsv``, ``METRICS.exposures.ecsv`` and ``METRICS.html``.

One writer for what ``ztfnb quality --out METRICS.ecsv``, ``ztfnb solve
--quality`` and ``ztfnb night`` leave (the two latter as ``DIR/metrics.ecsv``,
which `ztfnb.solvedfolder.SolvedFolder` and ``ztfnb app review DIR`` read).
"""

from pathlib import Path

from ztfnb.io.atomic import check_writable
from ztfnb.io.ecsv import write_ecsv

__all__ = ["check_quality_paths", "quality_paths", "write_quality"]


def quality_paths(metrics):
    """``METRICS.ecsv`` → the three paths written: per quadrant, per exposure, the page.

    Parameters
    ----------
    metrics : path-like

    Returns
    -------
    tuple of `~pathlib.Path`
    """
    metrics = Path(metrics)
    return (
        metrics,
        metrics.with_name(f"{metrics.stem}.exposures.ecsv"),
        metrics.with_suffix(".html"),
    )


def check_quality_paths(metrics):
    """Refuse, before any work, a place where the three files cannot be written."""
    for path in quality_paths(metrics):
        check_writable(path)


def write_quality(metrics, quadrants, exposures, title=None):
    """Write the verdict tables and the night's page, each whole or not at all.

    Parameters
    ----------
    metrics : path-like
        ``METRICS.ecsv``.
    quadrants, exposures : `~astropy.table.QTable`
        From `~ztfnb.quality.night_metrics` or `~ztfnb.quality.night.judge_night`.
    title : str, optional
        The page's title (default ``ztfnb quality: METRICS``).

    Returns
    -------
    tuple of `~pathlib.Path`
        The files written.
    """
    paths = quality_paths(metrics)
    for path, table in zip(paths[:2], (quadrants, exposures), strict=True):
        write_ecsv(table, path)  # a block of rows at a time: a night's verdict is 48,000 rows
    from ztfnb.plots.nightpage import write_night_page  # matplotlib: only once measured

    write_night_page(
        paths[2], quadrants, exposures, title=title or f"ztfnb quality: {paths[0].stem}"
    )
    return paths
