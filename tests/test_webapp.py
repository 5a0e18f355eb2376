"""The web apps (``ztfnb app``): served by the real Voilà, stopped cleanly, nothing loaded from outside."""

import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest

from tests.browser import free_port
from tests.webapps import RunningApp, app_processes, wait_gone
from ztfnb.cli import main

pytestmark = pytest.mark.slow


class _References(HTMLParser):
    """Every URL a page's tags load (src, href) and every module it imports."""

    def __init__(self):
        super().__init__()
        self.urls = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
        self._script = tag == "script"

    def handle_data(self, data):
        if self._script:
            self.urls += re.findall(r"""import\(\s*["']([^"']+)["']""", data)
            self.urls += re.findall(r"""\bfrom\s+["'](https?:[^"']+)["']""", data)

    def handle_endtag(self, tag):
        self._script = False


def _get(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.status, response.read().decode()


def test_bad_input_is_refused_before_anything_is_served(tmp_path, capsys):
    before = app_processes()
    assert main(["app", "review", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert error.startswith(f"ztfnb app: error: {tmp_path}: no metrics.ecsv")
    assert main(["app", "review", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    for arguments in (["app"], ["app", "nothing"], ["app", "ost", "--port", "70000"]):
        with pytest.raises(SystemExit) as stopped:
            main(arguments)
        assert stopped.value.code == 2
    assert app_processes() == before


def test_a_busy_port_is_an_error_not_another_port(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["app", "ost", "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_the_page_loads_nothing_from_outside_and_ctrl_c_stops_voila_and_its_kernels():
    with RunningApp("ost", "--port", free_port()) as app:
        assert app.url == urllib.parse.urljoin(app.url, "/")  # 127.0.0.1, no token, no prefix
        status, page = _get(app.url)  # renders the page: a kernel runs the app
        assert status == 200 and "ztfnb-lines" in page
        parser = _References()
        parser.feed(page)
        assert parser.urls, "no scripts or styles found in the page"
        own = urllib.parse.urlparse(app.url).netloc
        for url in parser.urls:
            parts = urllib.parse.urlparse(urllib.parse.urljoin(app.url, url))
            assert parts.scheme in ("http", "data") and (
                parts.scheme == "data" or parts.netloc == own
            ), url
            if parts.scheme == "http":
                assert _get(parts.geturl())[0] == 200, url  # and the server has it
        running = app_processes()
        assert len(running) >= 2  # Voilà and the page's kernel
        assert app.stop() == 0
    assert "ztfnb app ost: stopping" in app.output
    assert wait_gone(running) == set()


def test_off_the_loopback_a_token_is_required_and_a_prefix_is_honoured():
    port = free_port()
    with RunningApp("ost", "--host", "0.0.0.0", "--port", port, "--base-url", "/ztfnb/ost") as app:
        parts = urllib.parse.urlparse(app.url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        assert parts.path == "/ztfnb/ost/" and len(token) >= 24
        # not on any command line, which every local user can read
        assert not [pid for pid in app_processes(token)]
        local = f"http://127.0.0.1:{port}/ztfnb/ost/"
        request = urllib.request.Request(local)
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=30)
        location = refused.value.headers.get("Location", "login")
        refused.value.close()
        assert refused.value.code in (302, 403) and "login" in location
        status, page = _get(f"{local}?token={token}")
        assert status == 200 and 'src="/ztfnb/ost/voila/static/voila.js"' in page
    assert app.status == 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
