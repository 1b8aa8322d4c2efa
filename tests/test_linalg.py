"""The shared linear algebra against numpy's own SVD and least squares."""
import numpy as np
import pytest

from wlra_core.factors import LowRank, Reweighted
from wlra_core.linalg import (
    EVALUATION_BLOCK,
    ScaledMatrix,
    SquareSum,
    residual_stats,
    square_sum,
    svd_flip,
    truncated_svd,
    uses_randomized,
    weighted_loss,
    weighted_mass,
    weighted_matrix,
    weighted_row_fit,
)


def matrix_with_spectrum(rng, s, n):
    d = len(s)
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (U * s) @ V.T


def sq_error(M, U, s, Vt):
    return float(np.linalg.norm(M - (U * s) @ Vt) ** 2)


def test_randomized_matches_exact_on_a_decaying_spectrum():
    rng = np.random.default_rng(0)
    s = 0.8 ** np.arange(400)
    M = matrix_with_spectrum(rng, s, 500)
    assert uses_randomized(M.shape, 10)  # "auto" would sketch this one
    U, sr, Vt = truncated_svd(M, 10, method="randomized", seed=1)
    np.testing.assert_allclose(sr, s[:10], rtol=1e-10)
    Ue, se, Vte = np.linalg.svd(M, full_matrices=False)
    # Same signs too: both go through svd_flip's convention.
    Ue, Vte = svd_flip(Ue[:, :10], Vte[:10])
    np.testing.assert_allclose(U, Ue, atol=1e-8)
    np.testing.assert_allclose(Vt, Vte, atol=1e-8)


def test_auto_uses_the_exact_svd_on_small_matrices():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((60, 40))
    assert not uses_randomized(M.shape, 3)
    assert uses_randomized(M.shape, 3, "randomized") and not uses_randomized((1000, 1000), 3, "exact")
    np.testing.assert_array_equal(truncated_svd(M, 3)[1], truncated_svd(M, 3, method="exact")[1])
    np.testing.assert_allclose(truncated_svd(M, 3)[1], np.linalg.svd(M, compute_uv=False)[:3], rtol=1e-12)


def test_warm_start_keeps_the_previous_directions():
    # A flat spectrum and a one-pass sketch of width k: the sketch alone misses the top
    # subspace, the warm-started one cannot do worse than projecting onto the warm basis.
    rng = np.random.default_rng(2)
    M = rng.standard_normal((200, 150))
    k = 5
    sketch = dict(method="randomized", n_power_iter=0, n_oversamples=0, seed=0)
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    best = float(np.sum(s[k:] ** 2))
    cold = sq_error(M, *truncated_svd(M, k, **sketch))
    assert cold > 1.02 * best
    warm = sq_error(M, *truncated_svd(M, k, warm_start=Vt[:k].T, **sketch))
    assert warm <= best * (1 + 1e-12)
    # Any warm basis V: never worse than M's projection onto span(V), a rank-k candidate.
    V = np.linalg.qr(rng.standard_normal((150, k)))[0]
    projected = float(np.linalg.norm(M - M @ V @ V.T) ** 2)
    assert sq_error(M, *truncated_svd(M, k, warm_start=V, **sketch)) <= projected * (1 + 1e-12)


def test_svd_flip_fixes_signs_deterministically():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((30, 20))
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    flips = np.where(rng.random(20) < 0.5, -1.0, 1.0)
    a = svd_flip(U, Vt)
    b = svd_flip(U * flips, Vt * flips[:, None])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    biggest = np.argmax(np.abs(a[0]), axis=0)
    assert np.all(a[0][biggest, np.arange(20)] > 0)
    np.testing.assert_allclose((a[0] * s) @ a[1], M, atol=1e-12)
    # truncated_svd is deterministic and follows the same convention.
    U1, _, Vt1 = truncated_svd(M, 4, method="randomized", seed=5)
    U2, _, Vt2 = truncated_svd(M, 4, method="randomized", seed=5)
    np.testing.assert_array_equal(U1, U2)
    np.testing.assert_array_equal(Vt1, Vt2)


def test_weighted_row_fit_matches_row_by_row_least_squares():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((25, 12))
    W = rng.random((25, 12)) * (rng.random((25, 12)) < 0.8)
    W[3] = 0.0  # a zero row: zero coefficients
    W[5, 2:] = 0.0  # two weighted entries for three unknowns: the minimum-norm solution
    Vt = rng.standard_normal((3, 12))
    U = weighted_row_fit(A, W * W, Vt)
    for i in range(25):
        expected = np.linalg.lstsq(W[i][:, None] * Vt.T, W[i] * A[i], rcond=None)[0]
        np.testing.assert_allclose(U[i], expected, atol=1e-9)
    assert np.all(U[3] == 0)


def test_weighted_row_fit_solves_singular_and_ridged_rows_like_per_row_least_squares():
    # Rows with enough weighted entries whose Gram matrix is singular all the same (the basis
    # is rank deficient on their columns) get the minimum-norm solution too; with a ridge,
    # every row is the ridge regression's closed form.
    rng = np.random.default_rng(6)
    A = rng.standard_normal((40, 15))
    W = rng.random((40, 15)) * (rng.random((40, 15)) < 0.7)
    Vt = rng.standard_normal((4, 15))
    Vt[3, :6] = Vt[2, :6] / 3.0  # on columns 0-5 the basis has rank 3
    W[7] = 0.0
    W[7, :6] = 1.0  # six weighted entries, four unknowns, singular Gram matrix
    W[8] = 0.0  # no weight at all
    W[9, 2:] = 0.0  # at most two weighted entries
    U = weighted_row_fit(A, W * W, Vt)
    for i in range(40):
        expected = np.linalg.lstsq(W[i][:, None] * Vt.T, W[i] * A[i], rcond=None)[0]
        np.testing.assert_allclose(U[i], expected, atol=1e-9)
    ridge = 0.3
    U = weighted_row_fit(A, W * W, Vt, ridge)
    for i in range(40):
        B = W[i][:, None] * Vt.T
        expected = np.linalg.solve(B.T @ B + ridge * np.eye(4), B.T @ (W[i] * A[i]))
        np.testing.assert_allclose(U[i], expected, atol=1e-9)
    assert np.all(U[8] == 0)


@pytest.mark.parametrize("bad", [0, 41])
def test_truncated_svd_rejects_bad_k(bad):
    with pytest.raises(ValueError, match="k must be between 1 and 40"):
        truncated_svd(np.ones((60, 40)), bad)


@pytest.mark.parametrize("value", [1e-170, 1e-200, 3e-160])
def test_square_sum_keeps_terms_whose_dot_product_underflows(value):
    r = np.full(10, value)  # each square is below 1e-320: a plain dot product gives 0
    # Oracle: the same sum computed 2**1200 times larger, where nothing underflows.
    scaled = float(np.sum((r * 2.0**600) ** 2))
    assert float(square_sum(r).scaled(1200)) == pytest.approx(scaled, rel=1e-14)
    assert square_sum(r).ratio(square_sum(r[:5])) == pytest.approx(2.0, rel=1e-14)
    assert square_sum(np.zeros(10)) == SquareSum(0.0, 0)


def test_losses_match_numpy_across_row_blocks():
    rng = np.random.default_rng(5)
    n, d = 2 * EVALUATION_BLOCK // 100 + 7, 100  # three row blocks, the last one short
    A, X = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    W = rng.random((n, d)) * (rng.random((n, d)) < 0.9)
    assert weighted_loss(A, W, X) == pytest.approx(float(np.sum((W * (A - X)) ** 2)), rel=1e-12)
    assert weighted_loss(A, W, 0.0) == weighted_mass(A, W)
    assert weighted_mass(A, W) == pytest.approx(float(np.sum((W * A) ** 2)), rel=1e-12)
    # A factorization, formed block by block: its loss and largest entry.
    U, V = rng.standard_normal((n, 3)), rng.standard_normal((3, d))
    for factors, dense in [(LowRank(U, V), U @ V), (Reweighted(U, V, 1.0 + W), (U @ V) / (1.0 + W))]:
        stats = residual_stats(A, W, factors)
        assert float(stats.loss) == pytest.approx(float(np.sum((W * (A - dense)) ** 2)), rel=1e-12)
        assert stats.max_abs == pytest.approx(float(np.abs(dense).max()), rel=1e-14)


def test_weighted_matrix_is_formed_when_it_fits_and_multiplied_blockwise_otherwise():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((700, 330))
    W = rng.random((700, 330))
    formed = weighted_matrix(A, W)
    blockwise = weighted_matrix(A, W, memory_fraction=0.0)  # no room: one row block at a time
    assert isinstance(formed, np.ndarray) and isinstance(blockwise, ScaledMatrix)
    np.testing.assert_array_equal(formed, W * A)
    assert uses_randomized(A.shape, 5)
    one, other = truncated_svd(formed, 5, seed=3), truncated_svd(blockwise, 5, seed=3)
    np.testing.assert_allclose(one[1], other[1], rtol=1e-12)
    np.testing.assert_allclose(one[0], other[0], atol=1e-9)
    np.testing.assert_allclose(one[2], other[2], atol=1e-9)
