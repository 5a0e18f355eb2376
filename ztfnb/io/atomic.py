"""Write to a temporary name beside the target, rename when complete.

A reader (or a batch restarted after a crash) never sees a half-written file
or folder: either the old content, or the new one whole.
"""

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_directory", "atomic_path", "check_writable"]


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
    folder = check_writable(path)
    try:
        # the temporary name keeps the target's extensions: writers that choose the format
        # (or compression, .fits.gz) by extension must see the same one
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=f".partial{''.join(path.suffixes)}", dir=folder
        )
    except OSError as error:
        raise _naming(error, path) from error
    os.close(handle)
    temporary = Path(temporary)
    temporary.chmod(0o666 & ~_umask())  # mkstemp makes it private; give the usual permissions
    try:
        yield temporary
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise _naming(error, path) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _naming(error, path):
    """The same error, naming the file the user asked for rather than a temporary one."""
    return type(error)(error.errno, f"cannot write {path}: {error.strerror}", str(path))


def check_writable(path):
    """Check, before any long work, that a file can be written at ``path``.

    Creates the folder it goes in when missing.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    `~pathlib.Path`
        The folder.

    Raises
    ------
    OSError
        Naming ``path``: it is a folder, or its folder cannot be made or written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a folder", str(path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _naming(error, path) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, f"cannot write {path}: its folder is not writable", str(path)
        )
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
        temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        # name the folder the user asked for, not our temporary one
        raise type(error)(
            error.errno, f"cannot create {path}: {error.strerror}", str(path)
        ) from error
    temporary.chmod(0o777 & ~_umask())
    try:
        yield temporary
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
