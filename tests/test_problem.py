"""validate_problem: NaN in A is a missing entry (weight 0); everything else non-finite is refused."""
import numpy as np
import pytest

import wlra_core
from wlra_core.problem import validate_problem


@pytest.fixture
def masked():
    """A 6 x 5 matrix with three NaN entries, the same matrix zero-filled, and its 0/1 mask."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 5))
    missing = np.zeros(A.shape, dtype=bool)
    missing[[0, 2, 5], [1, 4, 0]] = True
    A_nan = np.where(missing, np.nan, A)
    return A_nan, np.where(missing, 0.0, A), (~missing).astype(float)


def test_nan_in_a_without_w_is_the_zero_filled_matrix_with_a_mask(masked):
    A_nan, A0, mask = masked
    before = A_nan.copy()
    A, W = validate_problem(A_nan)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(W, mask)
    expected_A, expected_W = validate_problem(A0, mask)
    np.testing.assert_array_equal(A, expected_A)
    np.testing.assert_array_equal(W, expected_W)
    np.testing.assert_array_equal(A_nan, before)  # the caller's array is untouched (NaN and all)


def test_nan_in_a_with_zero_weights_there_keeps_w(masked):
    A_nan, A0, mask = masked
    W = mask * np.linspace(0.5, 2.0, mask.size).reshape(mask.shape)
    W_before = W.copy()
    A, W_out = validate_problem(A_nan, W)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(W_out, W_before)
    np.testing.assert_array_equal(W, W_before)


def test_arrays_without_nan_are_not_copied():
    A, W = np.ones((3, 2)), np.full((3, 2), 0.5)
    A_out, W_out = validate_problem(A, W)
    assert A_out is A and W_out is W


def test_a_weight_on_a_missing_entry_is_refused_with_what_to_do(masked):
    A_nan, _, mask = masked
    W = np.ones_like(mask)
    W[2, 4] = 0.0  # one of the three NaN entries has weight 0; the other two do not
    with pytest.raises(ValueError) as info:
        validate_problem(A_nan, W)
    message = str(info.value)
    assert message == ("W gives a nonzero weight to 2 entries where A is NaN (missing), first at row 0, column 1; "
                       "give those entries weight 0, or leave W out to weight every observed entry 1")


@pytest.mark.parametrize("make, message", [
    (lambda: (np.full((2, 3), np.nan), None),
     "A is all NaN: none of its 6 entries is observed, so every weight would be 0"),
    (lambda: (np.full((2, 3), np.nan), np.zeros((2, 3))),
     "A is all NaN: none of its 6 entries is observed, so every weight would be 0"),
    (lambda: (np.array([[1.0, np.inf], [np.nan, -np.inf]]), None),
     "A has 2 infinite entries (first at row 0, column 1); entries must be finite numbers, or NaN for a "
     "missing entry"),
    (lambda: (np.ones((2, 2)), np.array([[1.0, np.nan], [1.0, 1.0]])),
     "W has 1 NaN/Inf entries (first at row 0, column 1)"),
    (lambda: (np.ones((2, 2)), np.array([[1.0, 1.0], [np.inf, 1.0]])),
     "W has 1 NaN/Inf entries (first at row 1, column 0)"),
    (lambda: (np.array([[np.nan, 1.0]]), np.array([[0.0, 0.0]])), "W is all zeros"),
])
def test_refusals_are_one_line(make, message):
    A, W = make()
    with pytest.raises(ValueError) as info:
        validate_problem(A, W)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_svd_w_on_nan_equals_svd_w_on_the_zero_filled_matrix_and_mask():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((40, 12)) @ rng.standard_normal((12, 15))
    missing = rng.random(A.shape) < 0.2
    A0, mask = np.where(missing, 0.0, A), (~missing).astype(float)
    with_nan = wlra_core.solve("svd_w", np.where(missing, np.nan, A), rank=3)
    with_mask = wlra_core.solve("svd_w", A0, mask, 3)
    for name, array in with_mask.factors.arrays.items():
        np.testing.assert_array_equal(with_nan.factors.arrays[name], array, err_msg=name)
    assert with_nan.loss == with_mask.loss
    assert np.isfinite(with_nan.approx).all() and np.all(with_nan.approx[missing] == 0)


@pytest.mark.parametrize("w_scale, a_scale", [(1.0, 1.0), (3.0, 1.0), (2.0**-1060, 1.0), (1e-3, 2.0**300)])
def test_one_pass_scaling_equals_scaling_the_arrays(w_scale, a_scale):
    """normalized_problem's W, A and ||W o A||^2 come from one pass over W and one over
    both; they must equal np.ldexp scaling and a sum over the scaled arrays."""
    from wlra_core.linalg import weighted_square_sum
    from wlra_core.problem import normalized_problem

    rng = np.random.default_rng(5)
    A = a_scale * rng.standard_normal((40, 9))
    W = w_scale * rng.random((40, 9))
    W[4] = 0.0
    W_out, problem = normalized_problem(A, W)
    assert W_out is W
    w_exp = np.frexp(W.max())[1] - 1
    np.testing.assert_array_equal(problem.W, np.ldexp(W, -w_exp))
    assert 1 <= problem.W.max() < 2 and problem.w_exp == w_exp
    np.testing.assert_array_equal(problem.A, np.ldexp(A, -problem.a_exp))
    assert problem.reference == weighted_square_sum(problem.A, problem.W)
    assert problem.a_max == np.abs(problem.A).max()
    # A Problem scales the same way from what its validation found.
    scaled = wlra_core.Problem(A, W).normalized
    np.testing.assert_array_equal(scaled.W, problem.W)
    assert scaled.reference == problem.reference
