"""Synthetic teaching problems: shapes, seeds, and the planted structure of A and W."""
import inspect

import numpy as np
import pytest

from wlra_core.datasets.synthetic import (
    GENERATORS,
    banded,
    block_diagonal,
    low_rank_plus_diagonal,
    low_rank_plus_sparse,
    monotone_missing,
    planted_low_rank,
    random_mask,
)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generators_are_seeded_and_record_their_parameters(name):
    make = GENERATORS[name]
    first, again, other = make(seed=1), make(seed=1), make(seed=2)
    np.testing.assert_array_equal(first.A, again.A)
    np.testing.assert_array_equal(first.W, again.W)
    assert not np.array_equal(first.A, other.A)
    assert first.source == "synthetic" and first.meta["generator"] == name
    assert (first.W >= 0).all() and first.W.any()
    # meta holds every parameter: calling the generator with them reproduces the problem.
    params = inspect.signature(make).parameters
    rebuilt = make(**{k: first.meta[k] for k in params if k in first.meta})
    np.testing.assert_array_equal(rebuilt.A, first.A)
    np.testing.assert_array_equal(rebuilt.W, first.W)
    assert first.shape == (first.meta["n"], first.meta["d"])


@pytest.mark.parametrize("name", list(GENERATORS))
def test_noise_free_A_has_the_planted_rank(name):
    problem = GENERATORS[name](rank=3, noise=0.0, seed=0)
    assert np.linalg.matrix_rank(problem.A) == 3


def test_planted_low_rank_weights_have_rank_r():
    for weight_rank in (1, 2, 4):
        problem = planted_low_rank(n=50, d=30, rank=4, weight_rank=weight_rank, seed=3)
        assert problem.shape == (50, 30)
        assert np.linalg.matrix_rank(problem.W) == weight_rank
        assert problem.W.min() >= 0 and problem.W.max() < 1


def test_block_diagonal_is_definition_3_2():
    problem = block_diagonal(n=12, blocks=3, rank=2, seed=0)
    i, j = np.indices((12, 12))
    np.testing.assert_array_equal(problem.W, (i // 4 == j // 4).astype(float))
    assert np.linalg.matrix_rank(problem.W) == 3
    assert problem.meta["block_size"] == 4
    with pytest.raises(ValueError, match="multiple of blocks"):
        block_diagonal(n=10, blocks=3)


def test_random_mask_is_binary_with_the_requested_density():
    problem = random_mask(n=200, d=150, observed=0.25, seed=0)
    assert set(np.unique(problem.W)) == {0.0, 1.0}
    assert problem.W.mean() == pytest.approx(0.25, abs=0.01)
    with pytest.raises(ValueError, match="observed"):
        random_mask(observed=0.0)


def test_low_rank_plus_sparse():
    problem = low_rank_plus_sparse(n=200, d=100, weight_rank=2, density=0.05, spike=10.0, seed=0)
    spikes = problem.W >= 10.0  # the low-rank part is < 1
    assert spikes.mean() == pytest.approx(0.05, abs=0.01)
    # Subtracting the spikes leaves the nonnegative rank-2 part.
    low = problem.W - 10.0 * spikes
    assert low.min() >= 0 and low.max() < 1
    assert np.linalg.matrix_rank(low) == 2


def test_low_rank_plus_diagonal():
    problem = low_rank_plus_diagonal(n=40, weight_rank=2, diagonal=5.0, seed=0)
    assert problem.shape == (40, 40)
    assert np.linalg.matrix_rank(problem.W - 5.0 * np.eye(40)) == 2
    assert np.all(np.diag(problem.W) >= 5.0)


def test_monotone_missing_rows_are_nested_prefixes():
    problem = monotone_missing(n=60, d=20, min_observed=3, seed=0)
    W = problem.W
    counts = W.sum(axis=1).astype(int)
    assert set(np.unique(W)) == {0.0, 1.0}
    np.testing.assert_array_equal(W, (np.arange(20)[None, :] < counts[:, None]).astype(float))  # prefixes
    assert np.all(np.diff(counts) <= 0) and counts[0] == 20 and counts.min() >= 3
    with pytest.raises(ValueError, match="min_observed"):
        monotone_missing(d=5, min_observed=6)


def test_banded():
    problem = banded(n=30, d=25, bandwidth=2, weight_rank=1, band=10.0, seed=0)
    i, j = np.indices((30, 25))
    in_band = np.abs(i - j) <= 2
    assert np.all(problem.W[in_band] >= 10.0) and np.all(problem.W[~in_band] < 1)
    assert np.linalg.matrix_rank(problem.W - 10.0 * in_band) == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: planted_low_rank(n=0), "planted_low_rank: invalid n=0; n must be an integer >= 1"),
        (lambda: planted_low_rank(n=np.bool_(True)), "invalid n=np.True_; n must be an integer >= 1"),
        (lambda: planted_low_rank(rank=500), "rank must be between 1 and"),
        (lambda: planted_low_rank(noise=-1), "noise must be a number >= 0"),
        (lambda: planted_low_rank(noise=float("nan")), "noise must be a number >= 0"),
        (lambda: low_rank_plus_sparse(density=2), r"density must be a number in \(0, 1\]"),
        (lambda: banded(bandwidth=-1), "bandwidth must be an integer >= 0"),
        (lambda: banded(bandwidth=True), "bandwidth must be an integer >= 0"),
    ],
)
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", list(GENERATORS))
def test_parameters_are_declared_options_with_the_signatures_defaults(name):
    make = GENERATORS[name]
    parameters = inspect.signature(make).parameters
    assert list(parameters) == list(make.options)
    assert {key: p.default for key, p in parameters.items()} == {key: o.default for key, o in make.options.items()}
    # NumPy integers are integers: they reach meta as Python ints.
    problem = make(seed=np.int64(3))
    assert type(problem.meta["seed"]) is int and problem.meta["seed"] == 3
