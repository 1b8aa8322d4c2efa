"""The synthetic Fisher-like generator: shape, exact zero rows, Table-2-like spectrum, determinism."""
import numpy as np
import pytest

from wlra_core import Problem
from wlra_core.datasets.fisher_like import TILE_COLS, TILE_ROWS, FisherLike, fisher_like_problem
from wlra_core.linalg import first_singular_mass


def test_shape_type_and_exact_zero_rows():
    problem = fisher_like_problem(784, 128, zero_row_fraction=0.05, seed=1)
    assert isinstance(problem, Problem)
    assert problem.shape == (784, 128)
    assert problem.A.dtype == np.float64 and problem.W.dtype == np.float64
    zero_rows = ~problem.W.any(axis=1)
    assert zero_rows.sum() == round(0.05 * 784)
    # Every other weight is strictly positive, and A is finite everywhere.
    assert (problem.W[~zero_rows] > 0).all()
    assert np.isfinite(problem.A).all()
    assert problem.meta["generator"] == "fisher_like" and problem.meta["seed"] == 1


@pytest.mark.parametrize("noise", [0.05, 0.15, 0.3])
def test_first_singular_mass_follows_the_noise_level(noise):
    # Independent estimate: for W = (u v^T) o exp(noise G) the rank-1 part keeps
    # E[e]^2 / E[e^2] = exp(-noise^2) of the mass (a little more: the SVD adapts to the sample).
    W = fisher_like_problem(784, 128, noise=noise, seed=0).W
    mass = first_singular_mass(W)
    assert np.exp(-noise**2) - 0.005 <= mass <= np.exp(-noise**2) + 0.02


def test_default_mass_is_in_the_papers_range_and_noise_zero_is_rank_one():
    assert 0.95 <= first_singular_mass(fisher_like_problem(seed=3).W) <= 0.999
    W = fisher_like_problem(300, 60, noise=0.0, seed=3).W
    s = np.linalg.svd(W, compute_uv=False)
    assert s[1] <= 1e-12 * s[0]


def test_heavy_tail_of_tiny_weights():
    W = fisher_like_problem(784, 128, tail=1.5, seed=0).W
    positive = W[W > 0] / W.max()
    # Weights enter squared: a large share of entries barely counts at all.
    assert np.mean(positive**2 < 1e-6) > 0.1
    assert np.mean(W**2 <= 1e-6 * W.max() ** 2) < 0.9  # but not everything is negligible


def test_A_looks_like_a_dense_kernel():
    A = fisher_like_problem(2000, 100, seed=0).A
    scale = np.sqrt(2.0 / 2100)  # Glorot
    assert 0.5 * scale < A.std() < 4 * scale
    assert abs(A.mean()) < 0.1 * A.std()
    # Low rank plus noise: a decaying head, then a flat noise floor (full rank).
    s = np.linalg.svd(A, compute_uv=False)
    assert s[0] > 3 * s[20] and s[-1] > 0.05 * s[20]


def test_tiny_problem_keeps_a_weighted_row():
    problem = fisher_like_problem(1, 3, zero_row_fraction=0.9)
    assert problem.W.any() and np.isfinite(problem.W).all()


def test_deterministic_and_seed_dependent():
    a, b = fisher_like_problem(500, 70, seed=5), fisher_like_problem(500, 70, seed=5)
    assert np.array_equal(a.A, b.A) and np.array_equal(a.W, b.W)
    c = fisher_like_problem(500, 70, seed=6)
    assert not np.allclose(a.W, c.W)


def test_blocks_equal_slices_of_the_whole_problem():
    spec = FisherLike(TILE_ROWS + 300, 2 * TILE_COLS + 20, seed=2)
    whole = spec.problem()
    factors = spec.factors()
    for rows, cols in [(slice(10, TILE_ROWS + 50), slice(100, 2 * TILE_COLS + 5)),
                       (slice(0, spec.n), slice(TILE_COLS, 2 * TILE_COLS)),
                       (slice(TILE_ROWS, spec.n), slice(0, spec.d))]:
        A, W = spec.block(rows, cols, factors)
        assert np.array_equal(A, whole.A[rows, cols])
        assert np.array_equal(W, whole.W[rows, cols])


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "FisherLike: invalid n=0; n must be an integer >= 1"),
    ({"d": np.bool_(True)}, "d must be an integer >= 1"),
    ({"zero_row_fraction": 1.0}, "zero_row_fraction"),
    ({"tail": -1.0}, "tail"),
    ({"noise": float("nan")}, "noise"),
    ({"seed": -1}, "seed"),
])
def test_bad_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FisherLike(**kwargs)
