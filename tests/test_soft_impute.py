"""soft_impute against its optimality condition and an independent proximal-gradient solver.

The oracle is written here with numpy only: FISTA (Beck & Teboulle 2009) on
F(X) = 1/2 ||sqrt(Q) o (A - X)||^2 + lam ||X||_*, Q = W^2 / max W^2, with a full-SVD prox.
"""
import numpy as np
import pytest

import wlra_core

N, D = 14, 10


def objective(A, Q, X, lam):
    return 0.5 * float(np.sum(Q * (A - X) ** 2)) + lam * float(np.linalg.svd(X, compute_uv=False).sum())


def shrink(M, lam):
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return (U * np.maximum(s - lam, 0)) @ Vt


def fista(A, Q, lam, n_iter=3000):
    X = Y = np.zeros_like(A)
    t = 1.0
    for _ in range(n_iter):
        X_next = shrink(Y + Q * (A - Y), lam)  # step 1: the gradient is 1-Lipschitz (Q <= 1)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Y = X_next + (t - 1) / t_next * (X_next - X)
        X, t = X_next, t_next
    return X


def problems():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, 3)) @ rng.standard_normal((3, D)) + 0.3 * rng.standard_normal((N, D))
    mask = (rng.random((N, D)) < 0.6).astype(float)
    weights = rng.uniform(0.1, 3.0, (N, D)) * (rng.random((N, D)) < 0.8)
    return {"mask": (A, mask), "weights": (A, weights)}


@pytest.fixture(scope="module", params=["mask", "weights"])
def solved(request):
    A, W = problems()[request.param]
    Q = W**2 / np.max(W**2)
    fraction = 0.08
    lam = fraction * np.linalg.norm(Q * A, 2)
    # Rank cap min(n, d): inactive, so the answer is the convex problem's minimiser.
    result = wlra_core.solve("soft_impute", A, W, min(N, D), lambda_=fraction, n_lambdas=3, tol=0,
                             n_iter=1500)
    return A, W, Q, lam, result


def test_matches_an_independent_proximal_gradient_solution(solved):
    A, W, Q, lam, result = solved
    X = result.approx
    reference = fista(A, Q, lam)
    assert objective(A, Q, X, lam) == pytest.approx(objective(A, Q, reference, lam), rel=1e-9)
    np.testing.assert_allclose(X, reference, atol=1e-6 * np.abs(reference).max())
    assert result.extra["lambda_"] == pytest.approx(0.08)
    # Its weighted loss is the data term of F, in W's own units.
    assert result.loss == pytest.approx(float(np.sum((W * (A - X)) ** 2)), rel=1e-12)


def test_meets_the_optimality_condition(solved):
    # 0 is in the subdifferential: G = Q o (A - X) = lam (U V^T + Z), U^T Z = 0, Z V = 0, ||Z||_2 <= 1.
    A, W, Q, lam, result = solved
    X = result.approx
    G = Q * (A - X)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = int(np.sum(s > 1e-9 * s[0]))
    assert 0 < r < min(N, D)  # shrinkage removed some directions, kept others
    U, Vt = U[:, :r], Vt[:r]
    np.testing.assert_allclose(U.T @ G @ Vt.T, lam * np.eye(r), atol=1e-7 * lam)
    Z = G / lam - U @ Vt
    assert np.abs(U.T @ Z).max() < 1e-7 and np.abs(Z @ Vt.T).max() < 1e-7
    assert np.linalg.norm(Z, 2) <= 1 + 1e-7
    # Equivalently X is a fixed point of its own step.
    np.testing.assert_allclose(shrink(X + G, lam), X, atol=1e-8 * np.abs(X).max())


def test_default_path_stops_where_the_rank_cap_is_reached():
    A, W = problems()["mask"]
    for k in (1, 2, 4):
        result = wlra_core.solve("soft_impute", A, W, k)
        assert result.factors.width <= k
        fraction = result.extra["lambda_"]
        assert np.linalg.matrix_rank(result.approx, tol=1e-9 * max(1.0, result.max_abs)) <= k
        assert 1e-3 <= fraction < 1
    # Full shrinkage: lambda = lam_max leaves nothing.
    zero = wlra_core.solve("soft_impute", A, W, 3, lambda_=1.0, n_lambdas=1)
    assert zero.max_abs == 0.0 and zero.relative_loss == pytest.approx(1.0)
