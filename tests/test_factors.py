"""Results are factorizations: what every algorithm stores rebuilds its approximation, the
parameter count is the stored entries, and dividing by tiny weights is flagged and bounded."""
import numpy as np
import pytest

import wlra_core
from wlra_core import ALGORITHMS
from wlra_core.factors import LowRank, Reweighted
from wlra_core.linalg import divide_by_weights, truncated_svd

N, D = 30, 20
OPTIONS = {"adam": {"n_epochs": 20}, "em": {"n_iter": 5}, "als": {"n_iter": 5}}
# Variants whose stored form differs from the defaults'.
VARIANTS = [(name, OPTIONS.get(name, {})) for name in ALGORITHMS] + [
    ("svd_w_practical", {"weight_rank": 2}),
    ("svd_w_practical", {"approximate": "inverse"}),
    ("svd_w_practical", {"approximate": "inverse", "weight_rank": 2}),
    ("svd_w", {"weight_floor": 1e-2}),
    ("svd_w_practical", {"weight_rank": 2, "weight_floor": 0.05}),
    ("css", {"axis": "rows"}),
]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    W = np.outer(rng.uniform(0.1, 2, N), rng.uniform(0.1, 2, D)) + 0.05 * rng.random((N, D))
    W[3] = 0.0  # a zero row, as MNIST corner pixels give
    return rng.standard_normal((N, D)), W


@pytest.fixture(scope="module")
def moments():
    """Calibration moments for whiten and kfac (ignored by the other methods)."""
    rng = np.random.default_rng(1)
    x, delta = rng.standard_normal((200, N)), rng.standard_normal((200, D))
    return {"input_moment": x.T @ x / 200, "grad_moment": delta.T @ delta / 200}


@pytest.mark.parametrize("name, options", VARIANTS, ids=lambda v: str(v))
def test_factors_rebuild_the_approximation_and_count_what_they_store(problem, moments, name, options):
    A, W = problem
    result = wlra_core.solve(name, A, W, 3, seed=1, model=moments, **options)
    assert not result.failed, result.message
    factors = result.factors
    dense = factors.dense()
    np.testing.assert_array_equal(dense, result.approx)
    # Independent of the result: the loss of the rebuilt matrix, computed here.
    assert result.loss == pytest.approx(float(np.sum((W * (A - dense)) ** 2)), rel=1e-10)
    assert result.n_params == sum(array.size for array in factors.arrays.values())
    # x @ X through the factors equals the dense product.
    x = np.random.default_rng(2).standard_normal((5, N))
    np.testing.assert_allclose(x @ factors, x @ dense, rtol=1e-10, atol=1e-12)
    # Every stored array is live: changing one entry changes the rebuilt matrix.
    for key, array in factors.arrays.items():
        index = np.unravel_index(np.argmax(np.abs(array)), array.shape)
        saved = array[index]
        array[index] = saved * 2 + 1
        assert not np.array_equal(factors.dense(), dense), key
        array[index] = saved


def test_what_each_method_stores(problem, moments):
    A, W = problem
    k = 3
    low = k * (N + D)
    expected = {
        "svd": low, "svd_w_practical": low, "em": low, "svd_w_em": low, "adam": low, "greedy": low,
        "sample": low, "als": low, "fwsvd": low, "whiten": low, "kfac": low,
        "svd_w": low + N * D,  # the rank-k factors of W o A and W itself
        "css": N * k + k * D + N * D,  # k columns of W o A, their coefficients and W
    }
    for name, count in expected.items():
        result = wlra_core.solve(name, A, W, k, model=moments, **OPTIONS.get(name, {}))
        assert result.n_params == count, name
    assert isinstance(wlra_core.solve("svd_w", A, W, k).factors, Reweighted)
    practical_2 = wlra_core.solve("svd_w_practical", A, W, k, weight_rank=2)
    assert practical_2.n_params == low + 2 * (N + D)  # and the two factors of its stand-in


@pytest.mark.parametrize("name, options", [(name, {}) for name in ("svd", "svd_w", "fwsvd", "whiten", "kfac")]
                         + [("svd_w_practical", {"weight_rank": r, "approximate": a, "weight_floor": f})
                            for r in (1, 2) for a in ("weights", "inverse") for f in (0.0, 0.05)]
                         + [("svd_w", {"weight_floor": 0.05, "weight_rank": 2})])
def test_ranks_measured_together_equal_ranks_measured_alone(problem, moments, name, options):
    # solve_ranks measures every rank of one SVD in one pass over A and W (the truncations
    # share their leading terms); each must equal its own dense loss and largest entry.
    A, W = problem
    for result in wlra_core.solve_ranks(name, A, W, ranks=[1, 2, 5, 9], model=moments, **options):
        dense = result.factors.dense()
        assert result.loss == pytest.approx(float(np.sum((W * (A - dense)) ** 2)), rel=1e-10), result.rank
        assert result.max_abs == pytest.approx(np.abs(dense).max(), rel=1e-12), result.rank


def test_weight_floor_zero_is_the_papers_svd_w_bit_for_bit(problem):
    A, W = problem
    for k in (1, 3):
        U, s, Vt = truncated_svd(W * A, k)
        paper = divide_by_weights((U * s) @ Vt, W)
        np.testing.assert_array_equal(wlra_core.solve("svd_w", A, W, k, weight_floor=0.0).approx, paper)


def test_a_floor_bounds_the_largest_entry():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((40, 25))
    W = np.outer(rng.random(40), rng.random(25)) + 1e-3 * rng.random((40, 25))
    W[rng.random(W.shape) < 0.05] *= 1e-11  # a heavy tail of tiny weights, like Fisher information
    plain = wlra_core.solve("svd_w", A, W, 3)
    assert plain.max_abs > 1e3 * np.abs(A).max() and plain.warnings and "weight_floor" in plain.warnings[0]
    for floor in (1e-4, 1e-2):
        floored = wlra_core.solve("svd_w", A, W, 3, weight_floor=floor)
        # |X| = |P_3| / max(W, floor max W) <= max|P_3| / (floor max W), P_3 from numpy's SVD.
        U, s, Vt = np.linalg.svd(W * A, full_matrices=False)
        bound = np.abs((U[:, :3] * s[:3]) @ Vt[:3]).max() / (floor * W.max())
        assert floored.max_abs <= bound * (1 + 1e-12) < plain.max_abs
        assert np.abs(floored.approx).max() == floored.max_abs


def test_a_floored_rank_r_stand_in_stores_its_factors_and_one_number():
    """svd_w_practical, r > 1, weight_floor > 0: the floored stand-in is stored as its factors
    and the floor, not as a dense n x d divisor (601 numbers here, not 2800)."""
    n, d, k, r, floor = 60, 40, 4, 2, 0.01
    rng = np.random.default_rng(5)
    A = rng.standard_normal((n, d))
    W = rng.random((n, r)) @ rng.random((r, d)) + 0.01 * rng.random((n, d))
    W[rng.random(W.shape) < 0.1] *= 1e-9  # tiny weights: the floor matters
    result = wlra_core.solve("svd_w_practical", A, W, k, weight_rank=r, weight_floor=floor)
    arrays = result.factors.arrays
    assert {key: array.shape for key, array in arrays.items()} == {
        "U": (n, k), "V": (k, d), "divisor_U": (n, r), "divisor_V": (r, d), "divisor_floor": ()}
    assert result.n_params == k * (n + d) + r * (n + d) + 1 < n * d
    # Oracle from the stored stand-in: (Wf o A)_k / Wf with Wf = max(Wr, floor * max Wr).
    Wr = arrays["divisor_U"] @ arrays["divisor_V"]
    assert float(arrays["divisor_floor"]) == pytest.approx(floor * Wr.max(), rel=1e-12)
    Wf = np.maximum(Wr, floor * Wr.max())
    U, s, Vt = np.linalg.svd(Wf * A, full_matrices=False)
    expected = ((U[:, :k] * s[:k]) @ Vt[:k]) / Wf
    np.testing.assert_allclose(result.approx, expected, rtol=1e-8, atol=1e-10 * np.abs(expected).max())
    # The floor bounds the output as it does for svd_w: no entry beyond max|P_k| / (floor max Wr).
    assert result.max_abs <= np.abs((U[:, :k] * s[:k]) @ Vt[:k]).max() / (floor * Wr.max()) * (1 + 1e-9)


def test_flags_worse_than_zero_and_keeps_failed_for_failures(problem):
    A, W = problem
    tiny = W.copy()
    tiny[tiny < np.quantile(tiny[tiny > 0], 0.3)] *= 1e-9
    inverse = wlra_core.solve("svd_w_practical", A, tiny, 2, approximate="inverse")
    assert not inverse.failed
    if inverse.relative_loss > 1:
        assert any("worse than returning zeros" in w for w in inverse.warnings)
    else:
        assert not any("worse than returning zeros" in w for w in inverse.warnings)
    clean = wlra_core.solve("svd", A, W, 2)
    assert clean.warnings == [] and clean.relative_loss < 1


def test_shipped_problem_inverse_variant_is_flagged_worse_than_zeros():
    from wlra_core.datasets.io import default_problem

    shipped = default_problem()
    result = wlra_core.solve("svd_w_practical", shipped, rank=10, approximate="inverse")
    assert result.relative_loss > 1 and not result.failed
    assert any(w.startswith(f"relative loss {result.relative_loss:.4g} > 1") for w in result.warnings)
    svd_w = wlra_core.solve("svd_w", shipped, rank=10)
    # It must store W itself: far more than the k(n + d) of a rank-k factorization.
    assert svd_w.n_params == 10 * (784 + 128) + 784 * 128
    assert svd_w.max_abs > 1e12 and any("entries up to" in w for w in svd_w.warnings)


def test_lowrank_and_reweighted_validate_shapes():
    with pytest.raises(ValueError, match="do not multiply"):
        LowRank(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="weights have shape"):
        Reweighted(np.ones((3, 2)), np.ones((2, 4)), np.ones((3, 3)))
    x = Reweighted(np.ones((3, 1)), np.ones((1, 2)), np.array([[1.0, 0.0], [2.0, 4.0], [0.0, 0.5]]))
    np.testing.assert_array_equal(x.dense(), [[1.0, 0.0], [0.5, 0.25], [0.0, 2.0]])
