"""Results do not change when W is multiplied by a constant, and losses neither overflow nor
underflow: property tests over random problems, and the cases the hardening review found."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wlra_core
from wlra_core import ALGORITHMS

SCALES = (1e-300, 1e-150, 1e150)
OPTIONS = {"adam": {"n_epochs": 15}, "em": {"n_iter": 5}, "svd_w_em": {"n_iter": 3}, "als": {"n_iter": 5}}


def moments(seed: int, n: int, d: int) -> dict:
    """Calibration moments, so that whiten and kfac (which ignore W) run too."""
    rng = np.random.default_rng(seed + 1)
    x, delta = rng.standard_normal((3 * n, n)), rng.standard_normal((3 * d, d))
    return {"input_moment": x.T @ x / (3 * n), "grad_moment": delta.T @ delta / (3 * d)}


# The methods of A and W alone (whiten and kfac use calibration moments instead of W).
WEIGHTED = [name for name in ALGORITHMS if not wlra_core.get_algorithm(name).requires]


def random_problem(seed: int, n: int, d: int, zero_fraction: float):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    W = np.outer(rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, d)) * rng.uniform(0.5, 1.5, (n, d))
    W[rng.random((n, d)) < zero_fraction] = 0.0
    W[0, 0] = 1.0  # never all zero
    return A, W


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), n=st.integers(12, 30), d=st.integers(4, 10),
       zero_fraction=st.sampled_from([0.0, 0.2]))
def test_relative_loss_does_not_change_when_w_is_scaled(seed, n, d, zero_fraction):
    # Well-posed problems only: with fewer rows than sample's draws can tell apart, its
    # sampled matrix may be rank deficient and its subspace is then decided by rounding.
    A, W = random_problem(seed, n, d, zero_fraction)
    model = moments(seed, n, d)
    rank = min(2, n, d)
    for name in ALGORITHMS:
        options = OPTIONS.get(name, {})
        base = wlra_core.solve(name, A, W, rank, seed=seed, model=model, **options)
        assert not base.failed, (name, base.message)
        for c in SCALES:
            scaled = wlra_core.solve(name, A, c * W, rank, seed=seed, model=model, **options)
            assert not scaled.failed, (name, c, scaled.message)
            assert scaled.relative_loss == pytest.approx(base.relative_loss, rel=1e-9, abs=1e-15), (name, c)
            # The approximation itself is in A's units: it does not move either.
            np.testing.assert_allclose(scaled.approx, base.approx, rtol=1e-6, atol=1e-9 * np.abs(A).max(),
                                       err_msg=f"{name}, c = {c}")


def test_tiny_uniform_weights_give_the_unweighted_relative_loss():
    A, _ = random_problem(1, 12, 8, 0.0)
    truth = wlra_core.solve("svd", A, np.ones_like(A), 2).relative_loss
    assert truth == pytest.approx(
        np.sum(np.linalg.svd(A, compute_uv=False)[2:] ** 2) / np.sum(A**2), rel=1e-12)
    for name in WEIGHTED:
        result = wlra_core.solve(name, A, 1e-300 * np.ones_like(A), 2, **OPTIONS.get(name, {}))
        # ||W o A||^2 = 1e-600 * ||A||^2 underflows float64; the relative loss must not.
        assert result.relative_loss >= truth * (1 - 1e-9), name
        assert result.relative_loss < 1, name
        assert any("beyond float64's range" in w for w in result.warnings), name


def test_als_greedy_sample_do_not_lose_tiny_squared_weights():
    A, W = random_problem(3, 12, 8, 0.0)
    for name in ("als", "greedy", "sample"):
        plain = wlra_core.solve(name, A, W, 2)
        tiny = wlra_core.solve(name, A, 1e-150 * W, 2)
        assert np.abs(tiny.approx).max() > 0.1 * np.abs(plain.approx).max(), name  # not the zero matrix
        assert tiny.relative_loss == pytest.approx(plain.relative_loss, rel=1e-9), name


def test_huge_entries_are_solved_and_an_overflowing_loss_is_a_warning_not_a_failure():
    A, W = random_problem(5, 12, 8, 0.0)
    base = wlra_core.solve("svd_w", A, W, 2)
    for name in ("svd", "svd_w", "svd_w_practical", "fwsvd", "em", "als"):
        huge = wlra_core.solve(name, 1e200 * A, W, 2, **OPTIONS.get(name, {}))
        assert not huge.failed, (name, huge.message)
        assert huge.relative_loss == pytest.approx(wlra_core.solve(name, A, W, 2, **OPTIONS.get(name, {}))
                                                   .relative_loss, rel=1e-9)
    both = wlra_core.solve("svd_w", 1e200 * A, 1e200 * W, 2)
    # ||W o (A - X)||^2 is about 1e800 here: not representable, but the run did not fail.
    assert not both.failed and math.isinf(both.loss)
    assert both.relative_loss == pytest.approx(base.relative_loss, rel=1e-9)
    assert any("beyond float64's range" in w for w in both.warnings)
    assert np.isfinite(both.approx).all()


def test_a_lapack_failure_is_a_failed_result_that_says_so(monkeypatch):
    import wlra_core.algorithms.svd as svd_module

    def no_convergence(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(svd_module, "truncated_svd", no_convergence)
    A, W = random_problem(6, 10, 6, 0.0)
    result = wlra_core.solve("svd", A, W, 2)
    assert result.failed and "LAPACK could not factorise" in result.message and "did not converge" in result.message
    assert "NaN/Inf" not in result.message
