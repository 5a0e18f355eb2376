"""Weighted sparse linear least squares with exact constraints, and robust scatter."""

import numpy as np
from scipy import sparse


def _solve(blocks, target, weight, n_columns, constraints=()):
    """Weighted least squares with sparse design blocks and exact linear constraints.

    ``blocks`` is a list of (row indices, column indices, values) triples;
    ``constraints`` a list of (column indices, values) rows whose weighted sum
    must be zero (imposed exactly, with Lagrange multipliers). Columns with no
    data stay zero. The normal equations are scaled to unit diagonal first:
    columns differ by many orders of magnitude (pixels, degrees, polynomial
    terms).
    """
    rows = np.concatenate([b[0] for b in blocks])
    columns = np.concatenate([b[1] for b in blocks])
    values = np.concatenate([b[2] for b in blocks])
    design = sparse.csr_matrix((values, (rows, columns)), shape=(target.size, n_columns))
    normal = (design.T @ (sparse.diags(weight) @ design)).toarray()
    right = design.T @ (weight * target)
    active = np.flatnonzero(np.diag(normal) > 0)
    scale = 1 / np.sqrt(np.diag(normal)[active])
    normal = normal[np.ix_(active, active)] * np.outer(scale, scale)
    right = right[active] * scale
    where = {column: i for i, column in enumerate(active)}
    constraint_rows = []
    for constraint_columns, constraint_values in constraints:
        vector = np.zeros(active.size)
        for column, value in zip(constraint_columns, constraint_values, strict=True):
            if column in where:
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


def _poly_columns(own, other, terms):
    return np.column_stack([own**i * other**j for _, i, j in terms])


def _robust_sigma(values):
    return 1.4826 * np.median(np.abs(values - np.median(values)))
