"""One error type for bad input, whose message names where the problem is."""

from ztfnb.quantity import shown  # one home for how a message echoes a value

__all__ = ["InputError", "no_such_file", "refuse_rows", "row_name", "shown"]


class InputError(ValueError):
    """Bad input data: the message names the file, extension, column and value.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or path-like, optional
    extension : str or int, optional
        HDU name or index, or header block number.
    column : str, optional
    keyword : str, optional
        A header keyword.
    value : object, optional
        The offending value, shown with ``repr`` cut to 80 characters.
    """

    def __init__(
        self, message, *, path=None, extension=None, column=None, keyword=None, value=None
    ):
        self.path = path
        self.extension = extension
        self.column = column
        self.keyword = keyword
        self.value = value
        where = []
        if path is not None:
            where.append(str(path))
        if extension is not None:
            where.append(f"extension {extension}")
        if column is not None:
            where.append(f"column {column!r}")
        if keyword is not None:
            where.append(f"keyword {keyword}")
        text = ": ".join([*where, message]) if where else message
        if value is not None:
            text = f"{text} (got {shown(value)})"
        super().__init__(text)


def no_such_file(path, what="file"):
    """The error for a file that is not there: missing, or a folder where a file was expected.

    Returns
    -------
    InputError
    """
    from pathlib import Path

    if Path(path).is_dir():
        return InputError(f"a folder, where a {what} was expected", path=path)
    return InputError(f"no such {what}", path=path)


def row_name(index):
    """How a message names a table's row ``index`` (from 0): counted from 1, as FITS, fv and
    TOPCAT number rows, and saying so."""
    return f"row {int(index) + 1} (counting from 1)"


def refuse_rows(bad, what, *, path=None, extension=None, column=None, values=None, why=""):
    """Raise `InputError` if any row is bad, counting them and naming the first.

    Parameters
    ----------
    bad : `~numpy.ndarray` of bool, shape (n,)
        One flag a row.
    what : str
        What the bad values are, plural (``"NaN or infinite value(s)"``).
    path, extension, column
        Where, as for `InputError`.
    values : array-like, shape (n,), optional
        The column: the first bad value is echoed.
    why : str, optional
        Appended to the message (``": not a measurement"``).
    """
    import numpy as np

    bad = np.asarray(bad, bool)
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    value = None
    if values is not None:
        item = np.asarray(values)[row]
        value = item.item() if hasattr(item, "item") else item
    raise InputError(
        f"{int(bad.sum())} {what}, first at {row_name(row)}{why}",
        path=path,
        extension=extension,
        column=column,
        value=value,
    )
