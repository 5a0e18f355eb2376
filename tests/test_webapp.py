"""The web apps (``ztfnb app``): served by the real Voilà, stopped cleanly, nothing loaded from outside.

Who may open them, over HTTP against the real server, one server per access mode:
a token chosen in the environment on 127.0.0.1, a random one on 0.0.0.0, and
``--no-token`` on 127.0.0.1. (The refusals are in ``test_bad_app_access.py``.)
"""

import http.client
import re
import secrets
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
    token = secrets.token_urlsafe(16)
    with RunningApp("ost", "--port", free_port(), env={"ZTFNB_APP_TOKEN": token}) as app:
        root = urllib.parse.urljoin(app.url, "/")
        assert (
            app.url == f"{root}?token={token}"
        )  # 127.0.0.1, no prefix, the token as Jupyter prints it
        assert not app_processes(token)  # on no command line, which every local user can read
        _assert_refused(root)  # the loopback is no exception: a token is required there too
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
        _assert_kernel_needs_the_token(root, _kernel_id(page), token)
        running = app_processes()
        assert len(running) >= 2  # Voilà and the page's kernel
        assert app.stop() == 0
    assert "ztfnb app ost: stopping" in app.output
    assert wait_gone(running) == set()


def _kernel_id(page):
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)


def _assert_refused(url, method="GET", headers=None):
    """Not served: 403, or a redirect to the login page."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=60)
    location = refused.value.headers.get("Location") or "login"
    refused.value.close()
    assert refused.value.code in (302, 403) and "login" in location, (url, refused.value.code)


def _assert_kernel_needs_the_token(root, kernel, token):
    """The page's kernel, its websocket and its shutdown refuse a request without the token."""
    api = f"{root}api/kernels/{kernel}"
    _assert_refused(api)
    _assert_refused(api, method="DELETE")
    _assert_refused(f"{root}voila/api/shutdown/{kernel}", method="POST")
    _assert_refused(f"{api}?token=not-{token}")
    parts = urllib.parse.urlparse(root)
    header = {"Authorization": f"token {token}"}  # as the README's proxy passes it
    for query, extra, expected in (
        ("", {}, 403),
        (f"?token=not-{token}", {}, 403),
        (f"?token={token}", {}, 101),
        ("", header, 101),
    ):
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        connection.request(
            "GET",
            f"/api/kernels/{kernel}/channels{query}",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
                **extra,
            },
        )
        assert connection.getresponse().status == expected, (query, extra)
        connection.close()
    # a proxy that authenticates people can pass the token as a header (README, Shared machines)
    request = urllib.request.Request(api, headers=header)
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200 and kernel in response.read().decode()


def test_off_the_loopback_a_token_is_required_and_a_prefix_is_honoured():
    port = free_port()
    with RunningApp("ost", "--host", "0.0.0.0", "--port", port, "--base-url", "/ztfnb/ost") as app:
        parts = urllib.parse.urlparse(app.url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        assert parts.path == "/ztfnb/ost/" and len(token) >= 24
        # not on any command line, which every local user can read
        assert not [pid for pid in app_processes(token)]
        local = f"http://127.0.0.1:{port}/ztfnb/ost/"
        _assert_refused(local)
        _assert_refused(f"{local}?token=")
        status, page = _get(f"{local}?token={token}")
        assert status == 200 and 'src="/ztfnb/ost/voila/static/voila.js"' in page
    assert app.status == 0


def test_no_token_serves_the_loopback_without_one():
    with RunningApp("ost", "--no-token", "--port", free_port()) as app:
        assert "token" not in app.url
        status, page = _get(app.url)
        assert status == 200 and "ztfnb-lines" in page
        with urllib.request.urlopen(
            f"{app.url}api/kernels/{_kernel_id(page)}", timeout=60
        ) as response:
            assert response.status == 200
    assert app.status == 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
