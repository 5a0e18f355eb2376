"""Driving ztfnb's web apps in a browser: shared by the browser tests and the offline probe."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
SERVING = re.compile(r"serving (\S+)")

#: Records when the redshift table and the spectrum image change after a key press.
_WATCH = """() => {
  const table = document.querySelector('table.ztfnb-lines').closest('.widget-html-content');
  const image = document.querySelector('img.ztfnb-spectrum');
  window.__ztfnb = {down: null, table: null, image: null};
  document.addEventListener('keydown', () => { window.__ztfnb.down = performance.now(); },
                            {capture: true, once: true});
  new MutationObserver((records, observer) => {
    window.__ztfnb.table = performance.now(); observer.disconnect();
  }).observe(table, {childList: true});
  new MutationObserver((records, observer) => {
    window.__ztfnb.image = performance.now(); observer.disconnect();
  }).observe(image, {attributes: true, attributeFilter: ['src']});
}"""


def start_app(arguments, timeout=120, env=None):
    """Run ``ztfnb app ...`` as its own process group; returns (process, url) once it serves.

    The URL is the one printed, with its ``?token=`` (every app requires one unless
    ``--no-token``). ``env``: variables added to this process's environment.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "ztfnb", "app", *arguments],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # unbuffered bytes: a buffered reader would take lines past "serving" into its buffer,
        # where communicate(), reading the pipe itself, never sees them
        bufsize=0,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode(errors="replace")
        if not line:
            break
        lines.append(line)
        found = SERVING.search(line)
        if found:
            process.output = lines
            return process, found.group(1)
    process.kill()
    rest, _ = process.communicate()
    raise RuntimeError(
        "ztfnb app did not start:\n" + "".join(lines) + rest.decode(errors="replace")
    )


def interrupt(process, timeout=30):
    """Ctrl-C, as a person at the terminal: SIGINT to the command; returns its exit status and output."""
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, "".join(process.output) + rest.decode(errors="replace")


def app_processes(marker="ztfnb-app-", own=False):
    """PIDs of processes whose command line names an app's private folder (Voilà, its kernels).

    With ``own``, only this process's descendants: other test workers may start and stop
    apps of their own meanwhile.
    """
    found = set()
    if own:
        import psutil

        entries = [Path(f"/proc/{p.pid}") for p in psutil.Process().children(recursive=True)]
    else:
        entries = list(Path("/proc").iterdir())
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command:
            found.add(int(entry.name))
    return found


def record_requests(page):
    """Every URL the page asks for, in a list that fills as it loads."""
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def outside(urls, url):
    """The URLs not served by the app's own server."""
    own = urlparse(url).netloc
    return [
        u
        for u in urls
        if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != own
    ]


def open_ost(page, url, timeout=120_000):
    page.goto(url)
    page.wait_for_selector(".ztfnb-lines", timeout=timeout)
    page.wait_for_selector("img.ztfnb-spectrum", timeout=timeout)


def redshift_slider(page):
    return page.locator(".widget-slider", has_text="redshift").first


def redshift(page):
    return float(redshift_slider(page).locator(".widget-readout").inner_text())


def line_table(page):
    """The line table as a dict by line name: observed wavelength (µm) and S/N (None outside the bands)."""
    rows = page.eval_on_selector_all(
        ".ztfnb-lines tr[data-line]",
        "rows => rows.map(r => [r.dataset.line, ...Array.from(r.cells).map(c => c.innerText)])",
    )
    table = {}
    for name, _line, _species, rest, observed, _flux, _sensitivity, snr in rows:
        table[name] = {
            "rest": float(rest),
            "observed": float(observed),
            "snr": None if snr.strip() == "—" else float(snr),
        }
    return table


def step_redshift(page, key="ArrowRight", timeout=10_000):
    """Press a key on the redshift slider; milliseconds until the table and the image changed."""
    handle = redshift_slider(page).locator(".noUi-handle").first
    handle.focus()
    page.evaluate(_WATCH)
    page.keyboard.press(key)
    page.wait_for_function(
        "() => window.__ztfnb.table !== null && window.__ztfnb.image !== null",
        timeout=timeout,
        polling="raf",
    )
    marks = page.evaluate("window.__ztfnb")
    return marks["table"] - marks["down"], marks["image"] - marks["down"]


class RunningApp:
    """``ztfnb app ...`` for a ``with`` block; stopped at the end by Ctrl-C to its own PID.

    ``env``: variables added to the environment (``ZTFNB_APP_TOKEN``).

    Attributes
    ----------
    process, url
    status, output : set once stopped
    """

    def __init__(self, *arguments, env=None):
        self.arguments = [str(a) for a in arguments]
        self.env = env
        self.status = self.output = None

    def __enter__(self):
        self.process, self.url = start_app(self.arguments, env=self.env)
        return self

    def stop(self):
        if self.status is None:
            self.status, self.output = interrupt(self.process)
        return self.status

    def __exit__(self, *exc):
        self.stop()


def wait_gone(pids, timeout=20):
    """The PIDs still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
        time.sleep(0.2)
    return alive


def _zombie(pid):
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return True
