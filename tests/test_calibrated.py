"""Data-aware closed forms (whiten: G = I, kfac: both moments) against independent oracles:
numpy's SVD, scipy's matrix square root, and the Eckart-Young tail in transformed coordinates."""
import numpy as np
import pytest
import scipy.linalg

from wlra_core.calibrated import (
    KFAC_DAMPING,
    WHITEN_DAMPING,
    calibrated_factors,
    calibrated_loss,
    damped_sqrt,
)

N, D, K = 30, 12, 5


def random_spd(rng, m, spread=3.0):
    """A symmetric positive definite m x m matrix with eigenvalues over ``10**spread``."""
    Q = np.linalg.qr(rng.standard_normal((m, m)))[0]
    return (Q * np.logspace(-spread, 0, m)) @ Q.T


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def plain_svd_approx(A, k):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


def transformed_spectrum(A, C, G):
    """Singular values of C^{1/2} A G^{1/2}, square roots by scipy (an independent oracle)."""
    root_g = np.eye(A.shape[1]) if G is None else np.real(scipy.linalg.sqrtm(G))
    return np.linalg.svd(np.real(scipy.linalg.sqrtm(C)) @ A @ root_g, compute_uv=False)


@pytest.mark.parametrize("damping", [0.0, 0.5])
def test_identity_moments_give_the_plain_truncated_svd(rng, damping):
    A = rng.standard_normal((N, D))
    for G in (None, np.eye(D)):  # whiten and kfac
        U, V = calibrated_factors(A, np.eye(N), G, K, damping=damping)
        assert U.shape == (N, K) and V.shape == (K, D) and U.dtype == V.dtype == np.float64
        for j in range(1, K + 1):
            np.testing.assert_allclose(U[:, :j] @ V[:j], plain_svd_approx(A, j), atol=1e-12)


@pytest.mark.parametrize("with_G", [False, True], ids=["whiten", "kfac"])
def test_loss_is_the_tail_of_the_transformed_singular_values(rng, with_G):
    A = rng.standard_normal((N, D))
    C = random_spd(rng, N)
    G = random_spd(rng, D) if with_G else None
    s = transformed_spectrum(A, C, G)
    U, V = calibrated_factors(A, C, G, K, damping=0.0, method="exact")
    for j in range(1, K + 1):
        X = U[:, :j] @ V[:j]
        assert np.linalg.matrix_rank(X) == j
        tail = np.sum(s[j:] ** 2)
        assert calibrated_loss(A, X, C, G) == pytest.approx(tail, rel=1e-9)
        # The loss itself, by explicit square roots.
        root_g = np.eye(D) if G is None else scipy.linalg.sqrtm(G)
        direct = np.linalg.norm(scipy.linalg.sqrtm(C) @ (A - X) @ root_g) ** 2
        assert calibrated_loss(A, X, C, G) == pytest.approx(direct, rel=1e-8)
    # Neither the plain SVD nor a perturbed optimum does better on this metric.
    X = U @ V
    best = calibrated_loss(A, X, C, G)
    assert calibrated_loss(A, plain_svd_approx(A, K), C, G) > best * (1 + 1e-3)
    for _ in range(5):
        nudged = (U + 1e-3 * rng.standard_normal(U.shape)) @ V
        assert calibrated_loss(A, nudged, C, G) > best


def test_damping_is_a_fraction_of_the_mean_eigenvalue_and_scale_free(rng):
    A = rng.standard_normal((N, D))
    C, G = random_spd(rng, N), random_spd(rng, D)
    damping = 0.3
    U, V = calibrated_factors(A, C, G, K, damping=damping)
    # Same as the undamped closed form on explicitly damped moments...
    C_damped = C + damping * np.trace(C) / N * np.eye(N)
    G_damped = G + damping * np.trace(G) / D * np.eye(D)
    U0, V0 = calibrated_factors(A, C_damped, G_damped, K, damping=0.0)
    np.testing.assert_allclose(U @ V, U0 @ V0, atol=1e-10)
    s = transformed_spectrum(A, C_damped, G_damped)
    assert calibrated_loss(A, U @ V, C_damped, G_damped) == pytest.approx(np.sum(s[K:] ** 2), rel=1e-9)
    # ...and rescaling a moment (pixels in 0..255 instead of 0..1) changes nothing.
    U1, V1 = calibrated_factors(A, 255.0**2 * C, 1e-4 * G, K, damping=damping)
    np.testing.assert_allclose(U1 @ V1, U @ V, atol=1e-9)
    # Damping pulls the solution towards the plain SVD.
    Uh, Vh = calibrated_factors(A, C, G, K, damping=1e6)
    np.testing.assert_allclose(Uh @ Vh, plain_svd_approx(A, K), atol=1e-4)


def test_damped_sqrt_against_scipy(rng):
    S = random_spd(rng, 8)
    root, inv_root = damped_sqrt(S)
    np.testing.assert_allclose(root, scipy.linalg.sqrtm(S), atol=1e-12)
    np.testing.assert_allclose(root @ inv_root, np.eye(8), atol=1e-9)
    root, inv_root = damped_sqrt(S, 0.25)
    np.testing.assert_allclose(root @ root, S + 0.25 * np.trace(S) / 8 * np.eye(8), atol=1e-12)
    np.testing.assert_allclose(root @ inv_root, np.eye(8), atol=1e-12)
    # A singular moment: damping 0 gives the pseudo-inverse square root.
    B = rng.standard_normal((8, 3))
    singular = B @ B.T
    root, inv_root = damped_sqrt(singular)
    np.testing.assert_allclose(root @ root, singular, atol=1e-12)
    np.testing.assert_allclose(inv_root, np.real(scipy.linalg.sqrtm(np.linalg.pinv(singular))), atol=1e-8)


def test_singular_input_moment_of_a_black_pixel(rng):
    """Pixel 0 black in every calibration image: C has a zero row and column."""
    A = rng.standard_normal((N, D))
    x = rng.standard_normal((200, N))
    x[:, 0] = 0.0
    C = x.T @ x / 200
    G = random_spd(rng, D)
    U, V = calibrated_factors(A, C, G, K, damping=0.0)
    # Any F with F^T F = C gives the singular values of C^{1/2} A G^{1/2}; here F = x / sqrt(200).
    s = np.linalg.svd(x / np.sqrt(200) @ A @ scipy.linalg.sqrtm(G), compute_uv=False)
    assert calibrated_loss(A, U @ V, C, G) == pytest.approx(np.sum(s[K:] ** 2), rel=1e-9)
    np.testing.assert_allclose(U[0], 0.0, atol=1e-12)  # a never-seen input gets no weight
    # With damping the row is fitted too (the damped metric sees it).
    U, V = calibrated_factors(A, C, G, K, damping=KFAC_DAMPING)
    assert np.abs(U[0] @ V).max() > 1e-3


def test_signs_are_fixed_and_randomized_svd_agrees(rng):
    # A decaying spectrum (rank 6 plus noise), where a randomized SVD is accurate.
    A = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 350)) + 1e-3 * rng.standard_normal((400, 350))
    C = random_spd(rng, 400, spread=2)
    U, V = calibrated_factors(A, C, None, 4, damping=WHITEN_DAMPING, method="exact")
    U2, V2 = calibrated_factors(A, C.copy(), None, 4, damping=WHITEN_DAMPING, method="exact")
    np.testing.assert_array_equal(U, U2)
    np.testing.assert_array_equal(V, V2)
    # Same factors, signs included, from the randomized SVD.
    Ur, Vr = calibrated_factors(A, C, None, 4, damping=WHITEN_DAMPING, method="randomized", seed=3)
    np.testing.assert_allclose(Vr, V, atol=1e-8)
    np.testing.assert_allclose(Ur, U, atol=1e-8 * np.abs(U).max())


@pytest.mark.parametrize(
    "C, G, message",
    [
        (np.eye(N - 1), None, r"input moment C has shape \(29, 29\), expected \(30, 30\) for A of shape \(30, 12\)"),
        (np.eye(N), np.eye(N), r"gradient moment G has shape \(30, 30\), expected \(12, 12\)"),
        (np.triu(np.ones((N, N))), None, "input moment C is not symmetric"),
        (-np.eye(N), None, "input moment C is not positive semidefinite"),
        (np.eye(N), -np.eye(D), "gradient moment G is not positive semidefinite"),
        (np.full((N, N), np.nan), None, "input moment C has 900 NaN/Inf entries"),
        (np.zeros((N, N)), None, "input moment C is all zeros"),
        (np.ones((N, N, 1)), None, "input moment C must be a 2-D matrix"),
    ],
)
def test_bad_moments_are_one_line_errors(rng, C, G, message):
    with pytest.raises(ValueError, match=message) as info:
        calibrated_factors(rng.standard_normal((N, D)), C, G, 2)
    assert "\n" not in str(info.value)


def test_bad_rank_and_damping(rng):
    A = rng.standard_normal((N, D))
    with pytest.raises(ValueError, match=r"rank must be between 1 and min\(n, d\) = 12, got 13"):
        calibrated_factors(A, np.eye(N), None, 13)
    for bad in (-0.1, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="damping must be"):
            calibrated_factors(A, np.eye(N), None, 2, damping=bad)
    with pytest.raises(ValueError, match=r"X has shape \(12, 30\) but A has shape \(30, 12\)"):
        calibrated_loss(A, A.T, np.eye(N))


def test_issue_targets_on_the_shipped_problem():
    """The calibrated methods' accuracy targets on the shipped Fashion-MNIST problem."""
    from wlra_core.compression import mlp_accuracy, network_inputs
    from wlra_core.datasets import default_problem
    from wlra_core.linalg import low_rank_approx

    problem = default_problem()
    A, C, G = problem.A, problem.model["input_moment"], problem.model["grad_moment"]
    inputs = network_inputs(problem)

    def accuracy(X):
        return mlp_accuracy(problem, X, inputs=inputs)

    whiten = calibrated_factors(A, C, None, 20, damping=WHITEN_DAMPING)
    kfac = calibrated_factors(A, C, G, 20, damping=KFAC_DAMPING)
    best = {k: max(accuracy(U[:, :k] @ V[:k]) for U, V in (whiten, kfac)) for k in (5, 10, 20)}
    svd = {k: accuracy(low_rank_approx(A, k)) for k in (5, 10)}
    assert best[5] >= svd[5] + 0.15
    assert best[10] > svd[10]
    assert best[20] >= 0.985 * accuracy(A)


# --- The registered methods `whiten` and `kfac` ----------------------------------------


def test_whiten_and_kfac_through_solve_are_the_calibrated_factors(rng):
    import wlra_core
    from wlra_core.calibrated import KFAC_DAMPING, WHITEN_DAMPING, calibrated_factors

    n, d = 12, 7
    A = rng.standard_normal((n, d))
    X_in = rng.standard_normal((50, n))
    C = X_in.T @ X_in / 50
    D = rng.standard_normal((50, d))
    G = D.T @ D / 50
    model = {"input_moment": C, "grad_moment": G}
    for name, second, damping in (("whiten", None, WHITEN_DAMPING), ("kfac", G, KFAC_DAMPING)):
        results = wlra_core.solve_ranks(name, A, None, [1, 3], model=model)
        U, V = calibrated_factors(A, C, second, 3, damping=damping)
        for result, k in zip(results, (1, 3)):
            np.testing.assert_allclose(result.approx, U[:, :k] @ V[:k], rtol=1e-10, atol=1e-12)
            assert result.n_params == k * (n + d)
    # With identity moments (and no damping) both are the truncated SVD of A.
    eye = {"input_moment": np.eye(n), "grad_moment": np.eye(d)}
    svd = wlra_core.solve("svd", A, None, 3).approx
    for name in ("whiten", "kfac"):
        np.testing.assert_allclose(wlra_core.solve(name, A, None, 3, model=eye, damping=0.0).approx, svd,
                                   rtol=1e-9, atol=1e-12)


def test_a_problem_without_moments_gets_one_line_and_the_others_still_run(rng):
    import wlra_core
    from wlra_core.sweep import make_sweep, run_all

    problem = wlra_core.Problem(rng.standard_normal((10, 6)), None, name="plain",
                                meta={"input_moment_skipped": "input_moment not computed: 9216 inputs exceed the cap"})
    with pytest.raises(ValueError, match="kfac needs the calibration moments input_moment, grad_moment"):
        wlra_core.solve("kfac", problem, rank=2)
    rows, errors = run_all(make_sweep(problem, ["svd", "whiten", "kfac"], [2]))
    assert [r.method for r in rows] == ["svd"]
    assert len(errors) == 2 and all("\n" not in e for e in errors)
    assert "9216 inputs exceed the cap" in errors[0]
