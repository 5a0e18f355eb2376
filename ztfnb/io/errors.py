"""One error type for bad input, whose message names where the problem is."""

from ztfnb.quantity import shown  # one home for how a message echoes a value

__all__ = ["InputError", "no_such_file", "shown"]


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
