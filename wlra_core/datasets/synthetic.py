"""Seeded teaching problems: a planted low-rank ``A`` and weight patterns from the paper.

Every generator returns a :class:`~wlra_core.problem.Problem` with ``source="synthetic"``
and ``meta`` recording the generator and all of its parameters, so a problem can be
reproduced exactly from its meta. ``A`` is always a planted rank-``rank`` matrix
``U V^T / sqrt(rank)`` (standard normal factors, entries of unit variance) plus
``noise`` times standard normal noise. The weight patterns:

* :func:`planted_low_rank` -- a nonnegative rank-``weight_rank`` W (Theorem 1.2's setting);
* :func:`block_diagonal` -- the 0/1 block diagonal mask of Definition 3.2 (rank = blocks);
* :func:`random_mask` -- a random 0/1 mask: matrix completion;
* :func:`low_rank_plus_sparse`, :func:`low_rank_plus_diagonal`, :func:`monotone_missing`,
  :func:`banded` -- the structured patterns the paper lists after Algorithm 1 (Lemma A.1,
  after Musco et al. 2021).

The nonnegative low-rank part of W is ``P Q^T / weight_rank`` with uniform [0, 1) factors,
so its entries lie in [0, 1) and its rank is ``weight_rank`` (almost surely).
"""
from __future__ import annotations

import numpy as np

from ..problem import Problem, validate_rank

__all__ = [
    "GENERATORS",
    "planted_low_rank",
    "block_diagonal",
    "random_mask",
    "low_rank_plus_sparse",
    "low_rank_plus_diagonal",
    "monotone_missing",
    "banded",
]


def _positive_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _nonnegative(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _fraction(name: str, value) -> float:
    value = float(value)
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


def _planted_matrix(rng: np.random.Generator, n: int, d: int, rank: int, noise: float) -> np.ndarray:
    """``U V^T / sqrt(rank) + noise * G`` with standard normal ``U`` (n x rank), ``V``, ``G``."""
    U = rng.standard_normal((n, rank))
    V = rng.standard_normal((d, rank))
    return U @ V.T / np.sqrt(rank) + noise * rng.standard_normal((n, d))


def _nonnegative_low_rank(rng: np.random.Generator, n: int, d: int, rank: int) -> np.ndarray:
    """``P Q^T / rank`` with uniform [0, 1) factors: entries in [0, 1), rank ``rank``."""
    return rng.random((n, rank)) @ rng.random((d, rank)).T / rank


def _problem(name: str, generator: str, A: np.ndarray, W: np.ndarray, **params) -> Problem:
    n, d = A.shape
    meta = {"generator": generator, "n": n, "d": d, **params}
    return Problem(A, W, name=name, source="synthetic", meta=meta)


def _setup(n, d, rank, noise):
    n, d = _positive_int("n", n), _positive_int("d", d)
    return n, d, validate_rank(rank, (n, d)), _nonnegative("noise", noise)


def planted_low_rank(n=100, d=80, rank=5, weight_rank=2, noise=0.1, seed=0) -> Problem:
    """Planted rank-``rank`` A plus noise, nonnegative rank-``weight_rank`` W.

    The setting of Theorem 1.2: ``svd_w`` at rank ``rank`` computes a rank
    ``weight_rank * rank`` approximation of ``W o A`` and is within the noise of optimal.
    """
    n, d, rank, noise = _setup(n, d, rank, noise)
    weight_rank = validate_rank(weight_rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank)
    return _problem(
        f"planted rank {rank}, rank-{weight_rank} W", "planted_low_rank", A, W,
        rank=rank, weight_rank=weight_rank, noise=noise, seed=seed,
    )


def block_diagonal(n=120, blocks=4, rank=5, noise=0.1, seed=0) -> Problem:
    """Definition 3.2's mask: ``blocks`` diagonal all-ones blocks of size n/blocks, zeros elsewhere.

    W is n x n, 0/1 and of rank ``blocks``; each diagonal block of A is fitted on its own.
    """
    n = _positive_int("n", n)
    blocks = _positive_int("blocks", blocks)
    if n % blocks:
        raise ValueError(f"n = {n} must be a multiple of blocks = {blocks} (Definition 3.2)")
    n, _, rank, noise = _setup(n, n, rank, noise)
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, n, rank, noise)
    W = np.kron(np.eye(blocks), np.ones((n // blocks, n // blocks)))
    return _problem(
        f"block diagonal mask, {blocks} blocks", "block_diagonal", A, W,
        blocks=blocks, block_size=n // blocks, weight_rank=blocks, rank=rank, noise=noise, seed=seed,
    )


def random_mask(n=100, d=80, rank=5, observed=0.3, noise=0.0, seed=0) -> Problem:
    """Matrix completion: each entry of A is observed (W = 1) with probability ``observed``."""
    n, d, rank, noise = _setup(n, d, rank, noise)
    observed = _fraction("observed", observed)
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = (rng.random((n, d)) < observed).astype(np.float64)
    if not W.any():
        raise ValueError(f"no entry was observed with observed = {observed}; raise it or enlarge the matrix")
    return _problem(
        f"random mask, {observed:.0%} observed", "random_mask", A, W,
        rank=rank, observed=observed, noise=noise, seed=seed,
    )


def low_rank_plus_sparse(n=100, d=80, rank=5, weight_rank=1, density=0.02, spike=10.0, noise=0.1, seed=0) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``spike`` on a random ``density`` of entries."""
    n, d, rank, noise = _setup(n, d, rank, noise)
    weight_rank = validate_rank(weight_rank, (n, d))
    density = _fraction("density", density)
    spike = _nonnegative("spike", spike)
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank)
    W[rng.random((n, d)) < density] += spike
    return _problem(
        f"rank-{weight_rank} + sparse W", "low_rank_plus_sparse", A, W,
        rank=rank, weight_rank=weight_rank, density=density, spike=spike, noise=noise, seed=seed,
    )


def low_rank_plus_diagonal(n=100, d=None, rank=5, weight_rank=1, diagonal=10.0, noise=0.1, seed=0) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``diagonal`` on the main diagonal (d = n by default)."""
    d = n if d is None else d
    n, d, rank, noise = _setup(n, d, rank, noise)
    weight_rank = validate_rank(weight_rank, (n, d))
    diagonal = _nonnegative("diagonal", diagonal)
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank) + diagonal * np.eye(n, d)
    return _problem(
        f"rank-{weight_rank} + diagonal W", "low_rank_plus_diagonal", A, W,
        rank=rank, weight_rank=weight_rank, diagonal=diagonal, noise=noise, seed=seed,
    )


def monotone_missing(n=100, d=80, rank=5, min_observed=1, noise=0.1, seed=0) -> Problem:
    """Monotone missing data: row i observes its first ``t_i`` columns, ``t`` nonincreasing.

    The observed sets are nested (each row's is contained in the previous row's), the
    staircase pattern of longitudinal studies with drop-out. The first row is complete.
    """
    n, d, rank, noise = _setup(n, d, rank, noise)
    min_observed = _positive_int("min_observed", min_observed)
    if min_observed > d:
        raise ValueError(f"min_observed = {min_observed} exceeds the number of columns d = {d}")
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    counts = np.sort(rng.integers(min_observed, d + 1, size=n))[::-1]
    counts[0] = d
    W = (np.arange(d)[None, :] < counts[:, None]).astype(np.float64)
    return _problem(
        "monotone missing data", "monotone_missing", A, W,
        rank=rank, min_observed=min_observed, noise=noise, seed=seed,
    )


def banded(n=100, d=80, rank=5, bandwidth=3, weight_rank=1, band=10.0, noise=0.1, seed=0) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``band`` on entries with ``|i - j| <= bandwidth``."""
    n, d, rank, noise = _setup(n, d, rank, noise)
    weight_rank = validate_rank(weight_rank, (n, d))
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, np.integer)) or bandwidth < 0:
        raise ValueError(f"bandwidth must be an integer >= 0, got {bandwidth!r}")
    band = _nonnegative("band", band)
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    in_band = np.abs(np.arange(n)[:, None] - np.arange(d)[None, :]) <= bandwidth
    W = _nonnegative_low_rank(rng, n, d, weight_rank) + band * in_band
    return _problem(
        f"rank-{weight_rank} + banded W", "banded", A, W,
        rank=rank, weight_rank=weight_rank, bandwidth=int(bandwidth), band=band, noise=noise, seed=seed,
    )


# Name -> generator; the first docstring line of each is its one-line description.
GENERATORS = {
    "planted_low_rank": planted_low_rank,
    "block_diagonal": block_diagonal,
    "random_mask": random_mask,
    "low_rank_plus_sparse": low_rank_plus_sparse,
    "low_rank_plus_diagonal": low_rank_plus_diagonal,
    "monotone_missing": monotone_missing,
    "banded": banded,
}
