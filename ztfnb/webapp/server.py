"""Start and stop a Voilà server for one of ztfnb's apps, and who may open it.

The access model, here and nowhere else (`access_token`): every app requires
a token, on the loopback interface too, because any local user of a shared
machine can reach 127.0.0.1 and would otherwise decide in the owner's name.
The token is random unless given (``--token``, or ``ZTFNB_APP_TOKEN`` in the
environment, which unlike a command line other users cannot read); an empty
one is refused, not taken to mean "no authentication". Only ``--no-token``
turns authentication off, and only on the loopback interface (behind a proxy
that authenticates, on a machine of one's own). The token reaches Voilà
through its environment, never its command line, and the printed URL carries
it (``?token=…``, as Jupyter prints it).
"""

import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import nbformat

__all__ = ["APPS", "DEFAULT_PORT", "TOKEN_VARIABLE", "AppServer", "access_token", "is_loopback"]

HERE = Path(__file__).resolve().parent
APPS = {"ost": HERE / "ost.ipynb", "review": HERE / "review.ipynb"}
TEMPLATE = "ztfnb-app"
TEMPLATES_ROOT = HERE / "share"  # holds voila/templates/ztfnb-app, found through JUPYTER_PATH
DEFAULT_PORT = 8866  # Voilà's own default
_PORTS_TRIED = 20
TOKEN_VARIABLE = "ZTFNB_APP_TOKEN"
_TOKEN_BYTES = 24  # 32 URL-safe characters, as Jupyter's own tokens are long


def is_loopback(host):
    """Whether ``host`` is this machine's loopback interface only (not ``0.0.0.0``, not ``""``)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a host name other than localhost may resolve to anything
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def access_token(host, token=None, no_token=False, environ=None):
    """The token an app on ``host`` requires; ``""`` only for ``no_token`` on the loopback.

    Parameters
    ----------
    host : str
        The interface the server binds.
    token : str, optional
        Chosen by the user (``--token``). Default: ``ZTFNB_APP_TOKEN`` from
        ``environ``, else a random one.
    no_token : bool
        No authentication (``--no-token``): allowed on the loopback only.
    environ : mapping, optional
        Default: `os.environ`.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        One line saying why: an empty or blank token, a token and ``no_token``
        together, or ``no_token`` off the loopback.
    """
    environ = os.environ if environ is None else environ
    if no_token:
        if token is not None:
            raise ValueError("--token and --no-token contradict each other; give one")
        if not is_loopback(host):
            raise ValueError(
                f"--no-token is refused on --host {host or '(every interface)'}: anyone who can "
                "reach the port would act as you; use a token or bind 127.0.0.1"
            )
        return ""
    source = "--token"
    if token is None and environ.get(TOKEN_VARIABLE) is not None:
        token, source = environ[TOKEN_VARIABLE], TOKEN_VARIABLE
    if token is None:
        return secrets.token_urlsafe(_TOKEN_BYTES)
    if not token.strip():
        raise ValueError(
            f"an empty {source} would turn authentication off; give a token, leave it out for a "
            "random one, or (on 127.0.0.1 only) give --no-token"
        )
    if not token.isprintable() or any(c.isspace() for c in token):
        raise ValueError(f"{source} must be printable characters without spaces")
    return token


def _port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class AppServer:
    """A Voilà server for one app, in its own process group.

    Parameters
    ----------
    app : str
        ``"ost"`` or ``"review"``.
    parameters : dict, optional
        Injected into the app notebook's parameters cell (papermill's
        mechanism), e.g. ``{"night_dir": "/abs/path"}``.
    host : str
        Interface to bind; ``127.0.0.1`` by default.
    port : int, optional
        Default: 8866, or the next free port.
    token : str, optional
        Required to open the app (in the URL, a cookie or an ``Authorization:
        token …`` header). Default: ``ZTFNB_APP_TOKEN``, else a random one.
    no_token : bool
        Serve with no authentication: refused off the loopback interface.
    base_url : str
        Path prefix, for serving behind a reverse proxy (``/ztfnb/ost/``).
    log_level : str
        Voilà's (``WARN`` shows only problems).

    Attributes
    ----------
    url : str
        Where the app is, token included (after `start`).
    process : `subprocess.Popen`
        The Voilà server (after `start`).
    """

    def __init__(
        self,
        app,
        parameters=None,
        host="127.0.0.1",
        port=None,
        token=None,
        base_url="/",
        log_level="WARN",
        no_token=False,
    ):
        if app not in APPS:
            raise ValueError(f"no app {app!r}; there are {', '.join(APPS)}")
        self.app = app
        self.parameters = dict(parameters or {})
        self.host = host
        self.port = port
        self.token = access_token(host, token, no_token)  # refuses before anything starts
        self.base_url = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        self.log_level = log_level
        self.process = None
        self.url = None
        self._folder = None

    # -- set-up
    def _choose_port(self):
        if self.port is not None:
            if not _port_free(self.host, self.port):
                raise OSError(f"port {self.port} on {self.host} is in use (give another --port)")
            return self.port
        for port in range(DEFAULT_PORT, DEFAULT_PORT + _PORTS_TRIED):
            if _port_free(self.host, port):
                return port
        raise OSError(
            f"ports {DEFAULT_PORT}-{DEFAULT_PORT + _PORTS_TRIED - 1} on {self.host} are all in use "
            "(give --port)"
        )

    def _write_notebook(self, folder):
        """The app notebook with this run's parameters, in a private folder."""
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        notebook = load_notebook_node(str(APPS[self.app]))
        if self.parameters:
            notebook = parameterize_notebook(notebook, self.parameters)
        path = folder / f"{self.app}.ipynb"
        nbformat.write(notebook, path)
        return path

    def command(self, notebook, port):
        """The Voilà command line."""
        return [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.port_retries=0",
            f"--Voila.ip={self.host}",
            f"--Voila.base_url={self.base_url}",
            # a token goes by the environment: a command line is visible to every local user
            "--Voila.auto_token=True" if self.token else "--Voila.token=",
            f"--template={TEMPLATE}",
            "--theme=light",
            "--strip_sources=True",
            f"--Voila.log_level={self.log_level}",
            # kernels on Unix sockets in the private folder: on a shared machine no one
            # else can reach them (TCP on 127.0.0.1 is open to every local user)
            f"--Voila.connection_dir_root={self._folder / 'runtime'}",
            "--KernelManager.transport=ipc",
            f"--KernelManager.ip={self._folder / 'kernels' / 'kernel'}",
        ]

    def environment(self):
        """Voilà's environment: our template on the Jupyter path, private runtime files, the token."""
        env = dict(os.environ)
        env["JUPYTER_PATH"] = os.pathsep.join(
            [str(TEMPLATES_ROOT), *filter(None, [env.get("JUPYTER_PATH")])]
        )
        env["JUPYTER_RUNTIME_DIR"] = str(self._folder / "runtime")
        env.pop("JUPYTER_TOKEN_FILE", None)
        if self.token:
            env["JUPYTER_TOKEN"] = self.token
        else:
            env.pop("JUPYTER_TOKEN", None)
        return env

    # -- life
    def start(self, timeout=120):
        """Start Voilà and wait until it listens; returns the URL."""
        port = self._choose_port()
        self._folder = Path(tempfile.mkdtemp(prefix=f"ztfnb-app-{self.app}-"))
        try:
            notebook = self._write_notebook(self._folder)
            for private in ("kernels", "runtime"):
                (self._folder / private).mkdir(mode=0o700)
            self.process = subprocess.Popen(
                self.command(notebook, port),
                cwd=self._folder,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop Voilà and its kernels
            )
            local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
            self._wait_until_up((local, port), timeout)
        except BaseException:
            self.stop()
            raise
        shown = self.host if is_loopback(self.host) else socket.gethostname()
        if ":" in shown:
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{port}{self.base_url}" + (
            f"?token={urllib.parse.quote(self.token, safe='')}" if self.token else ""
        )
        self.port = port
        return self.url

    def _wait_until_up(self, address, timeout):
        """Until Voilà accepts connections on its (local) address; its requests queue until it serves."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Voilà stopped at start with status {self.process.returncode} (its messages are above)"
                )
            try:
                socket.create_connection(address, timeout=2).close()
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(
            f"Voilà did not listen on {address[0]} port {address[1]} within {timeout} s"
        )

    def wait(self):
        """Block until the server stops; its exit status."""
        return self.process.wait()

    def stop(self, timeout=20):
        """Stop Voilà (which shuts its kernels down) and remove the private folder."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
