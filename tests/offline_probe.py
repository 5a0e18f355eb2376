"""Open both apps in Chromium inside a network namespace with no route out; report what rendered.

Run by ``tests/test_browser_apps.py`` as ``unshare -n python -m tests.offline_probe OUT.json
NIGHT_DIR GAIA``: a fresh network namespace has only a loopback interface, which starts
down; it is brought up here, and nothing else exists, so any request for a CDN fails.
"""

import errno
import fcntl
import json
import socket
import struct
import sys

from playwright.sync_api import sync_playwright

from tests.browser import free_port, launch, screenshot
from tests.webapps import RunningApp, line_table, open_ost, outside, record_requests, step_redshift

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up():
    """``ip link set lo up``, without needing iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(control, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(control, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))


def route_out():
    """What connecting to a public address does here ("no route" when cut off)."""
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=3).close()
    except OSError as error:
        return "no route" if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else str(error)
    return "connected"


def _watch(page):
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    return record_requests(page), failed


def _icons_font(page):
    """Whether the Font Awesome face the buttons' icons use is loaded (from the local server)."""
    return page.evaluate(
        "async () => { await document.fonts.ready;"
        " return Array.from(document.fonts).some(f => /Font ?Awesome/i.test(f.family) && f.status === 'loaded'); }"
    )


def probe_ost(playwright):
    with RunningApp("ost", "--port", free_port()) as app:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        urls, failed = _watch(page)
        open_ost(page, app.url)
        before = line_table(page)
        step_redshift(page)
        after = line_table(page)
        screenshot(page, "app-ost-offline")
        result = {
            "lines": len(before),
            "moved": any(before[n]["observed"] != after[n]["observed"] for n in before),
            "image": page.eval_on_selector("img.ztfnb-spectrum", "i => i.naturalWidth"),
            "outside": outside(urls, app.url),
            "failed": failed,
        }
        browser.close()
    result["status"] = app.status
    return result


def probe_review(playwright, night, gaia):
    with RunningApp("review", night, "--gaia", gaia, "--port", free_port()) as app:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        urls, failed = _watch(page)
        page.goto(app.url)
        page.wait_for_selector("button:has-text('Reject')", timeout=120_000)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('img')).some(i => i.naturalWidth > 100)",
            timeout=60_000,
        )
        screenshot(page, "app-review-offline")
        result = {
            "quadrants": page.locator(".ztfnb-queue select option").count(),
            "images": page.evaluate(
                "Array.from(document.querySelectorAll('img')).filter(i => i.naturalWidth > 100).length"
            ),
            "icons_font": _icons_font(page),
            "outside": outside(urls, app.url),
            "failed": failed,
        }
        browser.close()
    result["status"] = app.status
    return result


def main(out, night, gaia):
    loopback_up()
    report = {"route_out": route_out()}
    with sync_playwright() as playwright:
        report["ost"] = probe_ost(playwright)
        report["review"] = probe_review(playwright, night, gaia)
    with open(out, "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:4])
