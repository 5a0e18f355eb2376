"""The HTML index pages of reports: one writer for ``reports/index.html`` and a batch's ``index.html``.

`index_page` builds either page and `write_page` writes it whole;
`write_reports_index` lists every report under ``reports/`` from its
`ztfnb.manifest.Manifest`; a batch builds its own rows (`ztfnb.batchindex.write_index`).

Each report is a line with its status and time, its key numbers (the
``summary.json`` the notebook wrote) and links to the page, the manifest, the
log and the other files it wrote, so that a night's results can be compared
without opening every report.
"""

import html
from pathlib import Path

from ztfnb.io.atomic import atomic_path
from ztfnb.io.summary import SUMMARY, read_summary
from ztfnb.manifest import LOG, MANIFEST, Manifest

__all__ = ["index_page", "key_numbers", "report_files", "write_page", "write_reports_index"]

#: A report's own files, linked by name; the rest of its folder are its outputs.
_OWN = {MANIFEST: "manifest", LOG: "log", SUMMARY: "summary"}
_STYLE = (
    "body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}"
    "td,th{padding:3px 10px;vertical-align:top;border-bottom:1px solid #ddd;text-align:left}"
    ".failed{color:#b00}.complete{color:#070}.pending{color:#888}"
    ".numbers{font-size:90%;white-space:nowrap}.files{font-size:90%}"
)


def key_numbers(folder, limit=6):
    """A report's key numbers as short ``name value`` lines (``summary.json``), or ``[]``.

    Numbers are shown to 4 significant digits; at most ``limit`` are listed.
    """
    lines = []
    for name, value in read_summary(folder).items():
        if isinstance(value, bool):
            continue
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"{name} {shown}")
    return lines[:limit]


def report_files(folder, base):
    """Links to a report's files, relative to ``base``: (label, href) pairs.

    The manifest, the log and the summary by their role, then every other file
    the report wrote at its top (tables, figures, pages such as ``night.html``;
    the notebook and its own page excepted), then each folder it wrote as one
    link saying how many files it holds (a solved night's ``solved/`` has
    several per exposure).
    """
    folder, base = Path(folder), Path(base)
    links = []
    for name, label in _OWN.items():
        if (folder / name).is_file():
            links.append((label, (folder / name).relative_to(base).as_posix()))
    entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    notebooks = {p.stem for p in entries if p.suffix == ".ipynb"}
    for path in entries:
        if path.is_file() and path.name not in _OWN and path.suffix != ".ipynb":
            if not (path.suffix == ".html" and path.stem in notebooks):
                links.append((path.name, path.relative_to(base).as_posix()))
    for path in entries:
        if path.is_dir():
            count = sum(1 for p in path.rglob("*") if p.is_file())
            links.append((f"{path.name}/ ({count} files)", path.relative_to(base).as_posix() + "/"))
    return links


def index_page(title, intro, header, rows):
    """An index page.

    Parameters
    ----------
    title, intro : str
        Plain text.
    header : list of str
        Column titles.
    rows : list of list
        Cells: a string, or a list of ``(text, href or None)`` pieces shown one
        per line; a row may start with ``{"class": ...}`` for its status colour.

    Returns
    -------
    str
        The HTML.
    """
    body = []
    for row in rows:
        css = row[0].get("class", "") if row and isinstance(row[0], dict) else ""
        cells = row[1:] if row and isinstance(row[0], dict) else row
        out = []
        for position, cell in enumerate(cells):
            pieces = cell if isinstance(cell, list) else [(str(cell), None)]
            text = "<br>".join(
                f'<a href="{html.escape(href)}">{html.escape(str(label))}</a>'
                if href
                else html.escape(str(label))
                for label, href in pieces
            )
            kind = "status " + css if header[position] == "status" else ""
            kind += " numbers" if header[position] == "key numbers" else ""
            kind += " files" if header[position] == "files" else ""
            out.append(f'<td class="{kind.strip()}">{text}</td>' if kind else f"<td>{text}</td>")
        body.append("<tr>" + "".join(out) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(intro)}</p>\n<table><tr>{head}</tr>\n"
        + "\n".join(body)
        + "\n</table></body></html>\n"
    )


def _hidden(path, top):
    """Whether ``path`` lies in a hidden folder under ``top`` (a batch's ``.<name>.partial-<id>``)."""
    return any(part.startswith(".") for part in path.relative_to(top).parts[:-1])


def write_reports_index(reports):
    """Write ``reports/index.html`` listing every report under it, newest first.

    Each line: start, notebook (its page), status, seconds, key numbers
    (``summary.json``) and links to the manifest, log and outputs
    (`ztfnb.reportindex`). Reports in hidden folders (a batch's runs in
    progress, ``.<name>.partial-<id>``, renamed when whole) are left out:
    their links would die.
    """
    reports = Path(reports)
    rows = []
    for manifest_path in reports.rglob(MANIFEST):
        if _hidden(manifest_path, reports):
            continue
        folder = manifest_path.parent
        manifest = Manifest.read(folder)
        if manifest is None:
            continue
        pages = sorted(folder.glob("*.html"))
        link = (
            pages[0].relative_to(reports).as_posix()
            if pages
            else folder.relative_to(reports).as_posix()
        )
        status = str(manifest.status)
        duration = manifest.duration_s
        rows.append(
            (
                str(manifest.started),
                [
                    {"class": status},
                    str(manifest.started),
                    [(str(manifest.notebook), link)],
                    status,
                    f"{duration:.0f}" if isinstance(duration, int | float) else "",
                    [(line, None) for line in key_numbers(folder)],
                    report_files(folder, reports),
                ],
            )
        )
    rows.sort(key=lambda row: row[0], reverse=True)
    page = index_page(
        "ztfnb reports",
        f"{len(rows)} reports, newest first; key numbers from each report's summary.json",
        ["started (UTC)", "notebook", "status", "seconds", "key numbers", "files"],
        [row for _, row in rows],
    )
    write_page(reports / "index.html", page)


def write_page(path, page):
    """Write an index page whole (a temporary name, renamed): a reader never sees half of one."""
    with atomic_path(path) as temporary:
        Path(temporary).write_text(page, encoding="utf-8")
