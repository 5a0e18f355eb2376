"""Write to a temporary name beside the target, rename when complete.

A reader (or a batch restarted after a crash) never sees a half-written file
or folder: either the old content, or the new one whole.

A temporary name carries the host and process that writes it
(``.<name>.<host>-<pid>-<random>.partial…`` or ``….tmp``): a process killed
with SIGKILL cannot remove its own, so the next writer of the same name on
the same host removes those whose process is gone, and never another live
writer's.
"""

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

from ztfnb.lifetime import pid_alive

__all__ = ["atomic_directory", "atomic_path", "check_writable", "sweep_stale"]


def _owner():
    return f"{socket.gethostname()}-{os.getpid()}-"


def sweep_stale(folder, name):
    """Remove temporaries for ``name`` in ``folder`` left by dead processes of this host.

    Parameters
    ----------
    folder : path-like
    name : str
        The final file or folder name the temporaries were for.

    Returns
    -------
    list of `~pathlib.Path`
        What was removed.
    """
    host = re.escape(socket.gethostname())
    pattern = re.compile(rf"^\.{re.escape(name)}\.{host}-(\d+)-.*\.(partial.*|tmp|old)$")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    `~pathlib.Path`
        Where to write.
    """
    path = Path(path)
    folder = _make_folder(path)
    sweep_stale(folder, path.name)
    try:
        # the temporary name keeps the target's extensions: writers that choose the format
        # (or compression, .fits.gz) by extension must see the same one
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.{_owner()}",
            suffix=f".partial{''.join(path.suffixes)}",
            dir=folder,
        )
    except OSError as error:
        raise _naming(error, path) from error
    os.close(handle)
    temporary = Path(temporary)
    temporary.chmod(0o666 & ~_umask())  # mkstemp makes it private; give the usual permissions
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        # a full disk or a quota while writing: the error names no file, or our temporary one
        if error.filename in (None, str(temporary), str(path)):
            raise _naming(error, path) from error
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _naming(error, path):
    """The same error, naming the file the user asked for rather than a temporary one."""
    why = error.strerror or str(error)
    return type(error)(error.errno, f"cannot write {path}: {why}", str(path))


def check_writable(path):
    """Check, before any long work, that a file can be written at ``path``; make nothing.

    A command refused later (a bad input read after this check) must leave no
    empty folder behind, so the folder is made only when the file is written
    (`atomic_path`). Here: the nearest existing folder on the way must be a
    folder the user can write in.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    `~pathlib.Path`
        The folder the file goes in (which may not exist yet).

    Raises
    ------
    OSError
        Naming ``path``: it is a folder, a part of its path is a file, or the
        folder (or the nearest existing one above it) is not writable.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a folder", str(path))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, f"cannot write {path}: {existing} is not a folder", str(path)
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, f"cannot write {path}: {existing} is not writable", str(path)
        )
    return folder


def _make_folder(path):
    """Make the folder ``path`` goes in; errors name ``path``."""
    folder = check_writable(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _naming(error, path) from error
    return folder


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yield a temporary folder beside ``path``; rename it to ``path`` on success.

    Parameters
    ----------
    path : str or path-like
        The folder to create.
    overwrite : bool
        Replace an existing ``path`` (removed only once the new one is complete).

    Yields
    ------
    `~pathlib.Path`
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{path} exists and is not a folder", str(path))
    if path.exists() and not overwrite and any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not empty")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a folder", str(parent))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(path.parent, path.name)
        temporary = Path(
            tempfile.mkdtemp(prefix=f".{path.name}.{_owner()}", suffix=".tmp", dir=path.parent)
        )
    except OSError as error:
        # name the folder the user asked for, not our temporary one
        raise type(error)(
            error.errno, f"cannot create {path}: {error.strerror}", str(path)
        ) from error
    temporary.chmod(0o777 & ~_umask())
    try:
        yield temporary
        if path.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{path.name}.{_owner()}", suffix=".old", dir=path.parent)
            )
            os.replace(path, old / path.name)
            os.replace(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
