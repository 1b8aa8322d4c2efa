"""wlra_core.holdout: the split, the error it measures, and that no fit reads held-out entries."""
import numpy as np
import pytest

import wlra_core
from wlra_core import ALGORITHMS, Problem

N, D = 24, 16
# Quick settings for the slow or iterative methods; the leak test needs only determinism.
QUICK = {"adam": {"n_epochs": 2}, "em": {"n_iter": 3}, "svd_w_em": {"n_iter": 2}, "als": {"n_iter": 3},
         "soft_impute": {"n_lambdas": 3, "n_iter": 5}}


def moments(n, d):
    rng = np.random.default_rng(9)
    x, delta = rng.standard_normal((3 * n, n)), rng.standard_normal((3 * d, d))
    return {"input_moment": x.T @ x / (3 * n), "grad_moment": delta.T @ delta / (3 * d)}


def masked_problem(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, 3)) @ rng.standard_normal((3, D))
    W = rng.uniform(0.5, 2.0, (N, D)) * (rng.random((N, D)) < 0.7)
    return A, W


def test_split_takes_the_fraction_of_observed_entries_and_removes_them():
    A, W = masked_problem()
    split = wlra_core.holdout(A, W, fraction=0.25, seed=3)
    observed = W > 0
    assert split.check.sum() == round(0.25 * observed.sum())
    assert not (split.check & ~observed).any()  # only observed entries are held out
    np.testing.assert_array_equal(split.fit.A, np.where(split.check, 0.0, A))
    np.testing.assert_array_equal(split.fit.W, np.where(split.check, 0.0, W))
    np.testing.assert_array_equal(split.truth, A[split.check])
    np.testing.assert_array_equal(split.weights, W[split.check])
    assert split.fit.meta["holdout"] == {"fraction": 0.25, "seed": 3, "held_out": int(split.check.sum())}
    # Seeded, and decided by which entries are observed only.
    again = wlra_core.holdout(np.zeros_like(A) + 7.0, W, fraction=0.25, seed=3)
    np.testing.assert_array_equal(again.check, split.check)
    other = wlra_core.holdout(A, W, fraction=0.25, seed=4)
    assert not np.array_equal(other.check, split.check)


def test_nan_entries_are_missing_and_never_held_out():
    A, W = masked_problem()
    with_nan = np.where(W > 0, A, np.nan)
    split = wlra_core.holdout(with_nan, fraction=0.5)
    np.testing.assert_array_equal(split.check, wlra_core.holdout(A, (W > 0).astype(float), fraction=0.5).check)
    assert not (split.check & (W == 0)).any()


def test_error_on_the_check_entries():
    A, W = masked_problem()
    split = wlra_core.holdout(A, W, fraction=0.3, seed=1)
    X = A + np.random.default_rng(2).standard_normal(A.shape)
    error = split.error(X)
    r, w, a = (X - A)[split.check], W[split.check], A[split.check]
    assert error.count == split.check.sum()
    assert error.rmse == pytest.approx(np.sqrt(np.mean(r**2)), rel=1e-12)
    assert error.weighted_rmse == pytest.approx(np.sqrt(np.sum(w**2 * r**2) / np.sum(w**2)), rel=1e-12)
    assert error.relative_rmse == pytest.approx(np.linalg.norm(r) / np.linalg.norm(a), rel=1e-12)
    assert error.relative_weighted_rmse == pytest.approx(np.linalg.norm(w * r) / np.linalg.norm(w * a), rel=1e-12)
    # A result and its factors are checked on the same entries as the dense array.
    result = wlra_core.solve("svd", split.fit, rank=3)
    assert split.error(result) == split.error(result.factors) == split.error(result.approx)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        wlra_core.holdout(A, W, fraction=1.0)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_no_algorithm_reads_the_held_out_entries(name):
    # Held-out entries set to 1e300 change no factor of any algorithm, including those
    # that ignore W (svd) or use calibration moments instead (whiten, kfac).
    A, W = masked_problem()
    model = moments(N, D)
    split = wlra_core.holdout(Problem(A, W, model=model), fraction=0.2, seed=5)
    poisoned = np.where(split.check, 1e300, A)
    split_poisoned = wlra_core.holdout(Problem(poisoned, W, model=model), fraction=0.2, seed=5)
    options = QUICK.get(name, {})
    clean = wlra_core.solve(name, split.fit, rank=2, **options)
    dirty = wlra_core.solve(name, split_poisoned.fit, rank=2, **options)
    assert not clean.failed, clean.message
    assert clean.factors.arrays.keys() == dirty.factors.arrays.keys()
    for key, array in clean.factors.arrays.items():
        np.testing.assert_array_equal(dirty.factors.arrays[key], array, err_msg=key)
    # The check does see them: an error of about 1e300, measured without overflow.
    assert 1e299 < split_poisoned.error(dirty).rmse < 1e301
