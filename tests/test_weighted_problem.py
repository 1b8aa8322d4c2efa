"""W o A formed during validation's pass (wlra_core.problem.weighted_problem) is the product of
the scaled arrays, and svd_w and css give the same results with it as without it."""
import numpy as np
import pytest

import wlra_core
import wlra_core.problem
from wlra_core.problem import normalized_problem, weighted_problem


@pytest.mark.parametrize("w_scale, a_scale", [(1.0, 1.0), (2.0**-1060, 1.0), (1e-3, 2.0**300)])
def test_the_product_is_that_of_the_scaled_arrays(w_scale, a_scale):
    rng = np.random.default_rng(0)
    A = a_scale * rng.standard_normal((50, 12))
    W = w_scale * rng.random((50, 12))
    W[3] = 0.0
    W_out, problem, weighted = weighted_problem(A, W)
    expected_W, expected = normalized_problem(A, W)
    assert W_out is W
    np.testing.assert_array_equal(problem.W, expected.W)
    assert problem.reference == expected.reference
    if problem.a_exp:  # A was scaled after the pass had multiplied it: the product is not kept
        assert weighted is None
    else:
        np.testing.assert_array_equal(weighted, problem.W * problem.A)


def test_missing_entries_and_no_room(monkeypatch):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 8))
    A[2, 5] = np.nan
    _, problem, weighted = weighted_problem(A)
    np.testing.assert_array_equal(weighted, problem.W * problem.A)
    assert weighted[2, 5] == 0.0
    monkeypatch.setattr(wlra_core.problem, "weighted_fits", lambda A: False)
    assert weighted_problem(A)[2] is None


@pytest.mark.parametrize("name", ["svd_w", "css"])
def test_svd_w_and_css_do_not_depend_on_where_the_product_was_formed(name, monkeypatch):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((400, 60))
    W = np.outer(rng.uniform(0.1, 2.0, 400), rng.uniform(0.5, 1.5, 60))
    W[[5, 9]] = 0.0
    formed = wlra_core.solve(name, A, W, 3)
    monkeypatch.setattr(wlra_core.problem, "weighted_fits", lambda A: False)
    apart = wlra_core.solve(name, A, W, 3)
    assert formed.loss == apart.loss and formed.max_abs == apart.max_abs
    np.testing.assert_array_equal(formed.factors.dense(), apart.factors.dense())
