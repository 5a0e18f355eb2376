"""Checks of executed reports, shared by the notebook tests: readable tables, and a screenshot in Chromium."""

import re
from html.parser import HTMLParser
from pathlib import Path

from tests.browser import ARTIFACTS, CHROMIUM

# columns that are numbers without a unit: counts, indices, ratios, airmass, dates as numbers
DIMENSIONLESS = re.compile(
    r"^(n .*|rcid|ccdid|qid|source|corner|parity|airmass|telescope airmass|chi2|ndeg|snr|"
    r"as contrast|xy contrast|badness|quadrants|flagged|speed vs .*|mjd|obsmjd|hjd tdb|bjd tdb|"
    r"median ellipticity)$"
)
DTYPE = re.compile(r"^(str\d+|bytes\d+|float\d+|int\d+|uint\d+|bool|object)$")
NUMBER = re.compile(r"^[-+]?[\d\u2009]+(\.\d+)?([eE][-+]?\d+)?$")


class _Tables(HTMLParser):
    """Every <table> of an HTML fragment: header cells (text, data-unit) and body rows."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row, self._unit = [], None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._unit = [], dict(attrs).get("data-unit")
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append((tag, "".join(self._cell).strip(), self._unit))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if self._row and all(kind == "th" for kind, _, _ in self._row):
                self.tables[-1].setdefault("heads", []).append(self._row)
                self.tables[-1]["head"] = self._row
            else:
                self.tables[-1]["rows"].append([text for _, text, _ in self._row])
            self._row = None


def table_problems(executed):
    """What is wrong with the tables of an executed notebook: a list of sentences (empty: none).

    No table may carry a dtype row or print a number to more than six
    decimals; a table from `ztfnb.display.show` must give a unit to every
    numeric column not known to be dimensionless (a widget's own static table
    writes its units in its titles).
    """
    problems = []
    for index, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            fragment = output.get("data", {}).get("text/html", "")
            if "<table" not in fragment:
                continue
            parser = _Tables()
            parser.feed(fragment)
            for table in parser.tables:
                cells = [c for row in table["rows"] for c in row]
                cells += [text for row in table.get("heads", []) for _, text, _ in row]
                if any(DTYPE.match(c) for c in cells):
                    problems.append(f"cell {index}: a dtype row")
                own = "ztfnb-table" in fragment  # else a widget's static table: units in its titles
                for column, (_, title, unit) in enumerate(table["head"]):
                    name = title.split("\n")[0]
                    rows = [row for row in table["rows"] if len(row) == len(table["head"])]
                    values = [row[column] for row in rows if row[column] not in ("", "—")]
                    numeric = values and all(NUMBER.match(v) for v in values)
                    if own and numeric and not unit and not DIMENSIONLESS.match(name):
                        problems.append(f"cell {index}: column {name!r} has numbers and no unit")
                    long = [v for v in values if re.search(r"\.\d{7,}", v)]
                    if long:
                        problems.append(f"cell {index}: column {name!r} prints {long[0]}")
    return problems


def screenshot_report(html, name, width=1400):
    """A full-page screenshot of a report in Debian's Chromium, kept under test-artifacts/reports/.

    Returns the screenshot's path and the page's scroll width (wider than
    ``width``: something is off-screen), or None where Chromium or Playwright
    is missing.
    """
    if not Path(CHROMIUM).is_file():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    from tests.browser import launch

    folder = ARTIFACTS / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(Path(html).resolve().as_uri())
        page.wait_for_load_state("load")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    return path, scroll_width
