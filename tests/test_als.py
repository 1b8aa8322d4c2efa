"""als's ridge option ``l2``: what each half-step solves, and what it buys on missing entries.

The oracle solves each row's ridge normal equations with numpy directly.
"""
import numpy as np
import pytest

import wlra_core


def masked_low_rank(seed=0, n=40, d=30, observed=0.3):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n, 2)) @ rng.standard_normal((2, d)) + 0.1 * rng.standard_normal((n, d))
    mask = (rng.random((n, d)) < observed).astype(float)
    return truth, mask


def test_last_half_step_is_the_exact_ridge_solution():
    truth, mask = masked_low_rank()
    W = mask * np.random.default_rng(1).uniform(0.5, 4.0, mask.shape)  # weights of any size
    l2 = 0.7
    result = wlra_core.solve("als", truth * mask, W, 4, l2=l2, n_iter=5)
    U, V = result.factors.U, result.factors.V
    np.testing.assert_allclose(V @ V.T, np.eye(4), atol=1e-12)  # the fixed factor is orthonormal
    ridge = l2 * np.max(W**2)
    for i in range(truth.shape[0]):
        w2 = W[i] ** 2
        expected = np.linalg.solve((V * w2) @ V.T + ridge * np.eye(4), (V * w2) @ (truth[i] * mask[i]))
        np.testing.assert_allclose(U[i], expected, rtol=1e-8, atol=1e-10)


def test_ridge_is_unchanged_when_the_weights_are_scaled():
    truth, mask = masked_low_rank(seed=2)
    plain = wlra_core.solve("als", truth * mask, mask, 3, l2=0.5)
    scaled = wlra_core.solve("als", truth * mask, 3.0 * mask, 3, l2=0.5)
    np.testing.assert_allclose(scaled.approx, plain.approx, rtol=1e-9, atol=1e-12)


def test_ridge_tames_overfitting_on_missing_entries():
    # Rank 8 from 30% of a 40 x 30 rank-2 matrix: rows with few entries are fitted exactly
    # without the ridge and extrapolate wildly (RMSE 5.5-21 on the missing entries for
    # seeds 0-4; 1.2-1.4 with l2 = 0.3).
    truth, mask = masked_low_rank(seed=0)
    missing = mask == 0

    def rmse(l2):
        approx = wlra_core.solve("als", truth * mask, mask, 8, l2=l2).approx
        return float(np.sqrt(np.mean((approx - truth)[missing] ** 2)))

    assert rmse(0.0) > 5 * rmse(0.3)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_default_is_unregularised(l2):
    truth, mask = masked_low_rank(seed=3)
    default = wlra_core.solve("als", truth * mask, mask, 3)
    given = wlra_core.solve("als", truth * mask, mask, 3, l2=l2)
    assert default.options["l2"] == 0.0
    assert np.array_equal(default.approx, given.approx) == (l2 == 0.0)
