"""Start and stop a Voilà server for one of ztfnb's apps."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

__all__ = ["APPS", "DEFAULT_PORT", "AppServer", "is_loopback"]

HERE = Path(__file__).resolve().parent
APPS = {"ost": HERE / "ost.ipynb", "review": HERE / "review.ipynb"}
TEMPLATE = "ztfnb-app"
TEMPLATES_ROOT = HERE / "share"  # holds voila/templates/ztfnb-app, found through JUPYTER_PATH
DEFAULT_PORT = 8866  # Voilà's own default
_PORTS_TRIED = 20


def is_loopback(host):
    """Whether ``host`` is this machine's loopback interface only."""
    return host in ("localhost", "::1") or host.startswith("127.")


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
        Required in the URL. Default: none on the loopback interface, a
        random one on any other.
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
    ):
        if app not in APPS:
            raise ValueError(f"no app {app!r}; there are {', '.join(APPS)}")
        self.app = app
        self.parameters = dict(parameters or {})
        self.host = host
        self.port = port
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(24)
        self.token = token or ""
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
        shown = socket.gethostname() if not is_loopback(self.host) else "127.0.0.1"
        if ":" in shown:
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{port}{self.base_url}" + (
            f"?token={self.token}" if self.token else ""
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
