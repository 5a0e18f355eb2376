"""The prior fit's fast numerical pieces against independent oracles (numpy, threadpoolctl)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from ztfnb.match import _histogram2d
from ztfnb.prior.lsq import _group_medians, _poly_columns, _poly_pair, _solve
from ztfnb.threads import blas_threads
from ztfnb.tpv import term_powers


def test_grouped_normal_equations_solve_as_a_dense_constrained_least_squares():
    rng = np.random.default_rng(5)
    n_groups, per_group, n_columns = 12, 40, 30
    group = np.repeat(np.arange(n_groups), per_group)
    rng.shuffle(group)  # the solver must not rely on the rows' order
    # each group touches 4 columns of its own, 2 shared ones and one of 3 "exposure" columns
    own = np.column_stack([group * 2, group * 2 + 1])
    shared = np.broadcast_to([24, 25], (group.size, 2))
    exposure = (26 + group % 3)[:, None]
    columns = np.hstack([own, shared, exposure])
    values = rng.normal(size=columns.shape)
    weight = rng.uniform(0.5, 2.0, group.size)
    target = rng.normal(size=group.size)
    constraint = ([26, 27, 28], [1.0, 1.0, 1.0])  # the exposure terms sum to zero

    solution = _solve([(columns, values, target, weight, group)], n_columns, [constraint])

    # the oracle: the dense design, the constraint eliminated (x28 = -x26 - x27), numpy's lstsq
    dense = np.zeros((group.size, n_columns))
    np.put_along_axis(dense, columns, values, axis=1)
    reduced = np.delete(dense, 28, axis=1)
    reduced[:, 26] -= dense[:, 28]
    reduced[:, 27] -= dense[:, 28]
    root = np.sqrt(weight)
    active = np.flatnonzero(np.any(reduced != 0, axis=0))
    fitted = np.linalg.lstsq(reduced[:, active] * root[:, None], target * root, rcond=None)[0]
    expected = np.zeros(n_columns)
    expected[np.delete(np.arange(n_columns), 28)[active]] = fitted
    expected[28] = -expected[26] - expected[27]
    np.testing.assert_allclose(solution, expected, rtol=1e-8, atol=1e-10)
    assert solution[29] == 0  # a column no row touches stays zero


def test_rows_of_one_group_must_touch_the_same_columns():
    columns = np.array([[0, 1], [0, 2]])
    with pytest.raises(ValueError, match="different columns"):
        _solve([(columns, np.ones((2, 2)), np.ones(2), np.ones(2), np.zeros(2, int))], 3)


@pytest.mark.parametrize("degree", [2, 3, 5])
def test_monomials_are_the_powers_numpy_computes(degree):
    rng = np.random.default_rng(degree)
    u, v = rng.normal(size=(2, 50))
    terms = term_powers(degree, include_linear=False)
    first, second = _poly_pair(u, v, terms)
    np.testing.assert_allclose(first, np.column_stack([u**i * v**j for _, i, j in terms]))
    np.testing.assert_allclose(second, np.column_stack([v**i * u**j for _, i, j in terms]))
    np.testing.assert_array_equal(_poly_columns(u, v, terms), first)


def test_group_medians_equal_numpy_median_per_group():
    rng = np.random.default_rng(2)
    keys = rng.integers(0, 40, 1001)
    values = rng.normal(size=keys.size)
    found, medians, counts = _group_medians(keys, values)
    np.testing.assert_array_equal(found, np.unique(keys))
    np.testing.assert_array_equal(counts, [np.sum(keys == k) for k in found])
    np.testing.assert_array_equal(medians, [np.median(values[keys == k]) for k in found])


def test_offset_histogram_bins_as_numpy_does_edges_included():
    rng = np.random.default_rng(3)
    edges = np.arange(-150, 152, 2) / 3600
    x, y = rng.uniform(-1.1, 1.1, (2, 5000)) * edges[-1]
    x[:20], y[:20] = edges[:20], edges[-20:]  # values on edges, the last edge among them
    expected, _, _ = np.histogram2d(x, y, bins=[edges, edges])
    np.testing.assert_array_equal(_histogram2d(x, y, edges), expected)


def test_blas_threads_limits_blas_and_restores_it():
    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    with blas_threads(1):
        inside = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    after = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert all(n == 1 for n in inside)
    assert after == before
