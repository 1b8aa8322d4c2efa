"""Results do not change when W is multiplied by a constant, and losses neither overflow nor
underflow: the cases the hardening review found (every method's scale invariance, a property
test over random problems, is in test_common_algorithms.py)."""
import math
import re

import numpy as np
import pytest

import wlra_core
from wlra_core import ALGORITHMS

OPTIONS = {"adam": {"n_epochs": 15}, "em": {"n_iter": 5}, "svd_w_em": {"n_iter": 3}, "als": {"n_iter": 5}}


# The methods of A and W alone (whiten and kfac use calibration moments instead of W).
WEIGHTED = [name for name in ALGORITHMS if not wlra_core.get_algorithm(name).requires]


def random_problem(seed: int, n: int, d: int, zero_fraction: float):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    W = np.outer(rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, d)) * rng.uniform(0.5, 1.5, (n, d))
    W[rng.random((n, d)) < zero_fraction] = 0.0
    W[0, 0] = 1.0  # never all zero
    return A, W


@pytest.mark.parametrize("name", [n for n in WEIGHTED if "weight_rank" in wlra_core.get_algorithm(n).options])
def test_rank_two_stand_ins_do_not_change_when_w_is_scaled(name):
    # A rank-r stand-in for W (NMF for r > 1) stops where its own tolerance says; that point
    # must not depend on W's scale (W x 3 leaves svd_w_practical's output as it is).
    A, W = random_problem(5, 30, 12, 0.2)
    options = {**OPTIONS.get(name, {}), "weight_rank": 2}
    base = wlra_core.solve(name, A, W, 2, **options)
    for c in (3.0, 1e-300, 7.7e150):
        scaled = wlra_core.solve(name, A, c * W, 2, **options)
        assert scaled.relative_loss == pytest.approx(base.relative_loss, rel=1e-9), (name, c)


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


def test_huge_a_with_blown_up_entries_is_flagged_not_an_overflow_error():
    # svd_w divides by a 1e-300 weight: its entries grow ~1e298 x max|A|, beyond float64
    # once A is near 2**1000. The result must say so, not raise.
    A, W = random_problem(7, 12, 8, 0.0)
    W[3, 2] = 1e-300
    plain = wlra_core.solve("svd_w", A, W, 2)
    huge = wlra_core.solve("svd_w", 2.0**1000 * A, W, 2)
    assert not huge.failed, huge.message
    assert huge.relative_loss == pytest.approx(plain.relative_loss, rel=1e-9)
    assert huge.max_abs == math.inf and math.isfinite(plain.max_abs)
    # The note gives the size in A's units (inf here) and the ratio to max|A|, the same in both.
    note = re.compile(r"entries up to (\S+), (\S+) x max\|A\|")
    (size, times), (huge_size, huge_times) = (note.match(r.warnings[0]).groups() for r in (plain, huge))
    assert float(size) == pytest.approx(plain.max_abs, rel=1e-2) and huge_size == "inf"
    assert float(times) > 1e290 and huge_times == times


def em_step_relative_loss(A, W, X, rank):
    """Oracle: the relative loss after one EM step from X, ``(Q o A + (1 - Q) o X)_k``."""
    Q = (W / W.max()) ** 2
    U, s, Vt = np.linalg.svd(Q * A + (1 - Q) * X, full_matrices=False)
    X1 = (U[:, :rank] * s[:rank]) @ Vt[:rank]
    return float(np.sum((W * (A - X1)) ** 2) / np.sum((W * A) ** 2))


@pytest.mark.parametrize("c", [1.0, 2.0**200, 2.0**-300])
def test_em_init_array_is_in_the_units_of_a_at_any_scale(c):
    # Beyond [2**-100, 2**100] A is scaled before EM sees it; its init array must be too.
    A, W = random_problem(8, 12, 8, 0.2)
    init = np.random.default_rng(9).standard_normal(A.shape)
    result = wlra_core.solve("em", c * A, W, 2, n_iter=1, init=c * init, svd_method="exact")
    assert result.relative_loss == pytest.approx(em_step_relative_loss(A, W, init, 2), rel=1e-9)
    assert result.history[0].relative_loss == pytest.approx(
        float(np.sum((W * (A - init)) ** 2) / np.sum((W * A) ** 2)), rel=1e-12)


@pytest.mark.parametrize("exponent, loss", [(0, 0.5), (700, 1e300), (-700, 1e-300)])
def test_relative_loss_function_is_right_at_extreme_weight_scales(exponent, loss):
    # ||c W o A||^2 overflows (c = 2**700) or underflows (2**-700) float64; the ratio must not.
    A, W = random_problem(10, 12, 8, 0.2)
    reference = float(np.sum((W * A) ** 2))  # of W: ||c W o A||^2 = c**2 times this
    expected = math.ldexp(loss / reference, -2 * exponent)
    assert wlra_core.relative_loss(loss, A, math.ldexp(1.0, exponent) * W) == pytest.approx(expected, rel=1e-12, abs=0)
    assert wlra_core.relative_loss(0.0, np.zeros_like(A), W) == 0.0
    assert wlra_core.relative_loss(1.0, np.zeros_like(A), W) == math.inf


def test_validation_and_scaling_allocate_no_n_by_d_temporary():
    import tracemalloc

    rng = np.random.default_rng(11)
    A = rng.standard_normal((4000, 1000))
    W = 1.0 + rng.random(A.shape)  # largest weight in [1, 2) and A in range: nothing to scale
    tracemalloc.start()
    try:
        problem = wlra_core.Problem(A, W).normalized
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem.A is A and problem.W is W
    assert peak < A.size  # not even a boolean n x d mask (1 byte per entry)
