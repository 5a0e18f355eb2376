"""Weighted linear least squares over grouped rows, with exact constraints; robust scatter.

The prior's design matrices are tall (two rows per matched star, ~10⁵) and
narrow (a few hundred columns), and every row of one quadrant in one exposure
touches the same dozen columns. So the normal equations are accumulated group
by group, a small dense product each, instead of through a sparse matrix built
anew for every solve (which cost most of the time: building the CSR matrix and
the sparse product, issue 15).
"""

import numpy as np

__all__ = []


def _solve(equations, n_columns, constraints=()):
    """Weighted least squares over grouped rows, with exact linear constraints.

    Parameters
    ----------
    equations : list of tuple
        Each ``(columns, values, target, weight, group)``: ``columns`` (n, b)
        int, the design's non-zero columns of each row (distinct within a row),
        ``values`` (n, b) their values, ``target`` and ``weight`` (n,), and
        ``group`` (n,) int, a key shared by rows with the same ``columns``.
    n_columns : int
    constraints : list of (columns, values)
        Rows whose weighted sum of the solution must be zero, imposed exactly
        (Lagrange multipliers).

    Returns
    -------
    `~numpy.ndarray`, shape (n_columns,)
        Columns with no data stay zero.

    Raises
    ------
    ValueError
        Rows of one group that touch different columns (a caller's bug).

    Notes
    -----
    The normal equations are scaled to unit diagonal before solving: columns
    differ by many orders of magnitude (pixels, degrees, polynomial terms).
    """
    normal, right = _normal_equations(equations, n_columns)
    active = np.flatnonzero(np.diag(normal) > 0)
    scale = 1 / np.sqrt(np.diag(normal)[active])
    normal = normal[np.ix_(active, active)] * np.outer(scale, scale)
    right = right[active] * scale
    where = np.full(n_columns, -1)
    where[active] = np.arange(active.size)
    constraint_rows = []
    for constraint_columns, constraint_values in constraints:
        vector = np.zeros(active.size)
        for column, value in zip(constraint_columns, constraint_values, strict=True):
            if where[column] >= 0:
                vector[where[column]] = value * scale[where[column]]
        if np.any(vector):
            constraint_rows.append(vector)
    if constraint_rows:
        c = np.array(constraint_rows)
        kkt = np.block([[normal, c.T], [c, np.zeros((len(c), len(c)))]])
        rhs = np.concatenate([right, np.zeros(len(c))])
    else:
        kkt, rhs = normal, right
    try:
        solved = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        solved = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    solution = np.zeros(n_columns)
    solution[active] = solved[: active.size] * scale
    return solution


def _normal_equations(equations, n_columns):
    """``Aᵀ W A`` and ``Aᵀ W b``, one dense (b × b) product per group of rows."""
    normal = np.zeros((n_columns, n_columns))
    right = np.zeros(n_columns)
    for columns, values, target, weight, group in equations:
        if group.size == 0:
            continue
        order = np.argsort(group, kind="stable")
        key = group[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        ends = np.r_[starts[1:], key.size]
        columns = columns[order]
        if np.any(columns != np.repeat(columns[starts], ends - starts, axis=0)):
            raise ValueError("rows of one group touch different columns")
        values = values[order]
        weighted = values * weight[order, None]
        target = target[order]
        for start, end in zip(starts, ends, strict=True):
            c = columns[start]
            normal[np.ix_(c, c)] += weighted[start:end].T @ values[start:end]
            right[c] += weighted[start:end].T @ target[start:end]
    return normal, right


def _poly_columns(own, other, terms):
    """Monomials ``own**i * other**j`` of ``terms`` ((k, i, j) triples), shape (n, len(terms))."""
    return _poly_pair(own, other, terms)[0]


def _poly_pair(u, v, terms):
    """The monomials of both axes at once: ``u**i v**j`` and ``v**i u**j``, each (n, k).

    Powers are built by multiplication once and shared (``**`` per term and axis
    was the fit's largest single cost).
    """
    top = max((max(i, j) for _, i, j in terms), default=0)
    pu, pv = [np.ones_like(u), u], [np.ones_like(v), v]
    for _ in range(2, top + 1):
        pu.append(pu[-1] * u)
        pv.append(pv[-1] * v)
    first = np.empty((u.size, len(terms)))
    second = np.empty((u.size, len(terms)))
    for column, (_, i, j) in enumerate(terms):
        np.multiply(pu[i], pv[j], out=first[:, column])
        np.multiply(pv[i], pu[j], out=second[:, column])
    return first, second


def _group_medians(keys, values):
    """The median of ``values`` per key, by one sort: keys (sorted), medians, counts.

    The same numbers as `numpy.median` of each group (the mean of the two
    middle values of an even count).
    """
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, keys.size])
    low, high = starts + (counts - 1) // 2, starts + counts // 2
    return keys[starts], (values[low] + values[high]) / 2, counts


def _robust_sigma(values):
    """1.4826 × the median absolute deviation: σ of a normal distribution, robustly."""
    return 1.4826 * np.median(np.abs(values - np.median(values)))
