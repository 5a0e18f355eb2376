"""The papermill engine ``ztfnb`` runs notebooks with: private kernels, fresh or kept warm.

papermill runs a notebook through a named engine from its registry
(``papermill.engines.papermill_engines``); this module registers ``ztfnb``
there when imported. It is papermill's own nbclient engine with two
differences:

- the kernel talks over Unix sockets in a private folder (mode 0700) that
  also holds its connection file, so no TCP port is opened (nothing for
  another user of a shared node to reach) and nothing is written to
  ``/tmp`` or Jupyter's runtime folder when that folder can be the report's
  own (``<report>/.kernel-<id>/``: a run killed with SIGKILL leaves it there,
  inside its unfinished report). Socket paths are limited to about 100
  bytes; a report folder too deep for that, and a warm kernel (which
  outlives reports), use ``$XDG_RUNTIME_DIR`` or the temporary folder
  instead, under a name holding the process id, and a later run removes
  those whose process is gone;
- given ``km``, a kernel already running (a `WarmKernel`), it resets that
  kernel's namespace and runs the notebook in it, instead of starting one.

Every kernel started is known to `stop_kernels`, which kills them when a run
is interrupted (papermill cannot shut its kernel down then).
"""

import os
import re
import shutil
import signal
import tempfile
import uuid
from pathlib import Path

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from ztfnb.lifetime import pid_alive

__all__ = ["ENGINE", "WarmKernel", "ZtfnbEngine", "kernel_folder", "stop_kernels"]

#: The engine's name in papermill's registry (``papermill.execute_notebook(..., engine_name=ENGINE)``).
ENGINE = "ztfnb"

#: The longest socket path a kernel is given (Linux allows 107 bytes; ``-<port>`` is added).
_SOCKET_PATH = 100
_FALLBACK = re.compile(r"^ztfnb-kernel-p(?P<pid>\d+)-[0-9a-f]+$")


def _sweep(parent):
    """Remove kernel folders of processes that are gone (a run killed with SIGKILL)."""
    for path in Path(parent).glob("ztfnb-kernel-p*"):
        match = _FALLBACK.match(path.name)
        try:
            ours = path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if match and ours and not pid_alive(int(match["pid"])):
            shutil.rmtree(path, ignore_errors=True)


def kernel_folder(near=None):
    """A new private folder (0700) for a kernel's connection file and sockets.

    Parameters
    ----------
    near : path-like, optional
        The report's folder: the kernel's folder is made inside it when the
        socket paths fit; otherwise (or without ``near``) under
        ``$XDG_RUNTIME_DIR`` or the temporary folder.

    Returns
    -------
    `~pathlib.Path`
    """
    token = uuid.uuid4().hex[:8]
    if near is not None:
        folder = Path(near).resolve() / f".kernel-{token}"
        if len(str(folder / "kernel-99999")) <= _SOCKET_PATH:
            folder.mkdir(mode=0o700)
            return folder
    name = f"ztfnb-kernel-p{os.getpid()}-{token}"
    # a socket path longer than the system's limit makes the kernel hang, never fail: the
    # first place where it fits (a deep $TMPDIR may not; /tmp does)
    places = [os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir(), "/tmp"]
    for place in filter(None, places):
        parent = Path(place)
        if parent.is_dir() and len(str(parent / name / "kernel-99999")) <= _SOCKET_PATH:
            break
    _sweep(parent)
    folder = parent / name
    folder.mkdir(mode=0o700)
    return folder


_LIVE_KERNELS = {}


def _running(process):
    """Whether a kernel process we started still runs (a reaped one's id may be another's now)."""
    try:
        return process.poll() is None
    except OSError:
        return False


def _track(manager):
    """Remember a started kernel's process (the leader of its own session) and its folder."""
    for key, (process, _) in list(_LIVE_KERNELS.items()):
        if not _running(process):  # shut down since: forget it
            _LIVE_KERNELS.pop(key, None)
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    if process is not None:
        _LIVE_KERNELS[id(manager)] = (process, Path(manager.ip).parent)


def stop_kernels():
    """Kill every kernel this process started that still runs, with what it started.

    Used when a run is interrupted (Ctrl-C, a batch stopping its workers):
    the runner cannot wait for papermill to shut its kernel down. A kernel
    leads its own session (jupyter_client starts it so), so its process
    group holds anything it started. Only kernels that are still our
    unreaped children are signalled, so a process id the system has given
    to another process since is never touched.
    """
    for key, (process, folder) in list(_LIVE_KERNELS.items()):
        _LIVE_KERNELS.pop(key, None)
        if not _running(process):
            continue
        try:
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass
        shutil.rmtree(folder, ignore_errors=True)


class _TrackedKernel:
    """Kernel manager mixin: started kernels are known to `stop_kernels`."""

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        _track(self)


def ipc_kernel_manager(folder, base=None, log=None):
    """A kernel manager class whose kernel uses Unix sockets and a connection file in ``folder``.

    With ``log``, the kernel process's own standard output and error are
    appended to that file: what C libraries print and the kernel's messages
    when it is interrupted or shut down belong with the run, not on the
    terminal of a batch.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, Unicode

    class IPCKernelManager(_TrackedKernel, base or AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        ip = Unicode(str(Path(folder) / "kernel"), config=True)
        # not Jupyter's runtime folder: nothing of a run outside its own places
        connection_file = Unicode(str(Path(folder) / "kernel.json"), config=True)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            if log is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            with open(log, "ab") as sink:  # the kernel keeps its own copy
                return await super()._async_launch_kernel(
                    kernel_cmd, **{**kw, "stdout": sink, "stderr": sink}
                )

    return IPCKernelManager


def _reset(manager):
    """Clear a warm kernel's namespace (``%reset -f``): each run starts from its own cells."""
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive("%reset -f", timeout=60, store_history=False)
    finally:
        client.stop_channels()


class ZtfnbEngine(NBClientEngine):
    """papermill's nbclient engine with a private kernel, fresh or warm (see the module)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        km=None,
        kernel_dir=None,
        kernel_log=None,
        **kwargs,
    ):
        """Execute the parameterised notebook (papermill's arguments, and three of ours).

        Parameters
        ----------
        km : `jupyter_client.KernelManager`, optional
            A running kernel to use (its namespace is reset first); default a new one.
        kernel_dir : path-like, optional
            Where the new kernel's private folder is made (see `kernel_folder`); it is removed after.
        kernel_log : path-like, optional
            A file the new kernel's standard output and error are appended to.
        """
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        folder = None
        if km is not None:
            _reset(km)
        else:
            folder = kernel_folder(kernel_dir)
            kwargs["kernel_manager_class"] = ipc_kernel_manager(folder, log=kernel_log)
        final = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = PapermillNotebookClient(nb_man, km=km, **final)
        try:
            return client.execute()
        finally:
            if km is not None and client.kc is not None:
                client.kc.stop_channels()  # the kernel stays; this run's client goes
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


papermill_engines.register(ENGINE, ZtfnbEngine)


class WarmKernel:
    """A kernel kept for several runs: imports stay loaded, the namespace is reset between runs.

    Starting a kernel and importing astropy and ztfnb costs a few seconds a
    run; a batch of quick notebooks spends most of its time there. Each run
    still gets a clean namespace (``%reset -f``); module-level state (imported
    modules, caches) is shared, so results are the same as in a fresh kernel
    for notebooks that do not change global settings. Runs go through
    papermill with the ``ztfnb`` engine given this kernel (``km``).

    Parameters
    ----------
    cwd : path-like
        The kernel's working folder (the project root).
    kernel_name : str
    """

    def __init__(self, cwd, kernel_name="python3"):
        from jupyter_client.manager import KernelManager

        self._folder = kernel_folder()
        self.cwd = str(cwd)
        self.kernel_name = kernel_name
        self.manager = ipc_kernel_manager(self._folder, base=KernelManager)(kernel_name=kernel_name)
        self.manager.start_kernel(cwd=self.cwd)
        self.runs = 0

    def __call__(self, notebook, output, parameters, kernel_name, cwd, progress):
        """Run a notebook in this kernel (the runner's executor signature)."""
        from ztfnb.runner import papermill_execute

        if str(cwd) != self.cwd:
            raise ValueError(f"this kernel runs in {self.cwd}, not {cwd}")
        try:
            papermill_execute(
                notebook, output, parameters, self.kernel_name, cwd, progress, km=self.manager
            )
        finally:
            self.runs += 1

    def close(self):
        """Stop the kernel."""
        try:
            self.manager.shutdown_kernel(now=True)
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
