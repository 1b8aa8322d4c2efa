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

Every parameter is a declared :class:`~wlra_core.options.Option` (``GENERATORS[name].options``;
see :func:`wlra_core.options.declared`): its default, its range and the message a bad value
gets come from the declaration.
"""
from __future__ import annotations

import numpy as np

from ..options import Interval, NoneAllowed, Option, declared
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


def _count(default: int, help_text: str, low: int = 1) -> Option:
    return Option(default, (Interval(int, low),), help_text)


def _amount(default: float, help_text: str) -> Option:
    return Option(default, (Interval(float, 0.0),), help_text)


def _fraction(default: float, help_text: str) -> Option:
    return Option(default, (Interval(float, 0.0, 1.0, closed="right"),), help_text)


# The parameters every generator shares (sizes and defaults differ where the generator says).
ROWS, COLUMNS = _count(100, "rows n"), _count(80, "columns d")
RANK = _count(5, "rank of the planted A (at most min(n, d))")
NOISE = _amount(0.1, "standard deviation of the Gaussian noise added to A")
SEED = Option(0, (Interval(int, 0),), "seed of every random draw")


def _weight_rank(default: int) -> Option:
    return _count(default, "rank of the nonnegative low-rank part of W (at most min(n, d))")


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


@declared(n=ROWS, d=COLUMNS, rank=RANK, weight_rank=_weight_rank(2), noise=NOISE, seed=SEED)
def planted_low_rank(n, d, rank, weight_rank, noise, seed) -> Problem:
    """Planted rank-``rank`` A plus noise, nonnegative rank-``weight_rank`` W.

    The setting of Theorem 1.2: ``svd_w`` at rank ``rank`` computes a rank
    ``weight_rank * rank`` approximation of ``W o A`` and is within the noise of optimal.
    """
    rank, weight_rank = validate_rank(rank, (n, d)), validate_rank(weight_rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank)
    return _problem(
        f"planted rank {rank}, rank-{weight_rank} W", "planted_low_rank", A, W,
        rank=rank, weight_rank=weight_rank, noise=noise, seed=seed,
    )


@declared(n=_count(120, "rows and columns n (a multiple of blocks)"), blocks=_count(4, "diagonal blocks"), rank=RANK,
          noise=NOISE, seed=SEED)
def block_diagonal(n, blocks, rank, noise, seed) -> Problem:
    """Definition 3.2's mask: ``blocks`` diagonal all-ones blocks of size n/blocks, zeros elsewhere.

    W is n x n, 0/1 and of rank ``blocks``; each diagonal block of A is fitted on its own.
    """
    if n % blocks:
        raise ValueError(f"n = {n} must be a multiple of blocks = {blocks} (Definition 3.2)")
    rank = validate_rank(rank, (n, n))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, n, rank, noise)
    W = np.kron(np.eye(blocks), np.ones((n // blocks, n // blocks)))
    return _problem(
        f"block diagonal mask, {blocks} blocks", "block_diagonal", A, W,
        blocks=blocks, block_size=n // blocks, weight_rank=blocks, rank=rank, noise=noise, seed=seed,
    )


@declared(n=ROWS, d=COLUMNS, rank=RANK, observed=_fraction(0.3, "probability that an entry is observed"),
          noise=_amount(0.0, NOISE.help), seed=SEED)
def random_mask(n, d, rank, observed, noise, seed) -> Problem:
    """Matrix completion: each entry of A is observed (W = 1) with probability ``observed``."""
    rank = validate_rank(rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = (rng.random((n, d)) < observed).astype(np.float64)
    if not W.any():
        raise ValueError(f"no entry was observed with observed = {observed}; raise it or enlarge the matrix")
    return _problem(
        f"random mask, {observed:.0%} observed", "random_mask", A, W,
        rank=rank, observed=observed, noise=noise, seed=seed,
    )


@declared(n=ROWS, d=COLUMNS, rank=RANK, weight_rank=_weight_rank(1),
          density=_fraction(0.02, "fraction of entries whose weight gets the spike"),
          spike=_amount(10.0, "weight added on the sparse entries"), noise=NOISE, seed=SEED)
def low_rank_plus_sparse(n, d, rank, weight_rank, density, spike, noise, seed) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``spike`` on a random ``density`` of entries."""
    rank, weight_rank = validate_rank(rank, (n, d)), validate_rank(weight_rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank)
    W[rng.random((n, d)) < density] += spike
    return _problem(
        f"rank-{weight_rank} + sparse W", "low_rank_plus_sparse", A, W,
        rank=rank, weight_rank=weight_rank, density=density, spike=spike, noise=noise, seed=seed,
    )


@declared(n=ROWS, d=Option(None, (Interval(int, 1), NoneAllowed("d = n")), COLUMNS.help), rank=RANK,
          weight_rank=_weight_rank(1), diagonal=_amount(10.0, "weight added on the main diagonal"), noise=NOISE,
          seed=SEED)
def low_rank_plus_diagonal(n, d, rank, weight_rank, diagonal, noise, seed) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``diagonal`` on the main diagonal (d = n by default)."""
    d = n if d is None else d
    rank, weight_rank = validate_rank(rank, (n, d)), validate_rank(weight_rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    W = _nonnegative_low_rank(rng, n, d, weight_rank) + diagonal * np.eye(n, d)
    return _problem(
        f"rank-{weight_rank} + diagonal W", "low_rank_plus_diagonal", A, W,
        rank=rank, weight_rank=weight_rank, diagonal=diagonal, noise=noise, seed=seed,
    )


@declared(n=ROWS, d=COLUMNS, rank=RANK, min_observed=_count(1, "fewest columns a row observes (at most d)"),
          noise=NOISE, seed=SEED)
def monotone_missing(n, d, rank, min_observed, noise, seed) -> Problem:
    """Monotone missing data: row i observes its first ``t_i`` columns, ``t`` nonincreasing.

    The observed sets are nested (each row's is contained in the previous row's), the
    staircase pattern of longitudinal studies with drop-out. The first row is complete.
    """
    rank = validate_rank(rank, (n, d))
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


@declared(n=ROWS, d=COLUMNS, rank=RANK, bandwidth=_count(3, "entries with |i - j| <= bandwidth get the band", low=0),
          weight_rank=_weight_rank(1), band=_amount(10.0, "weight added on the band"), noise=NOISE, seed=SEED)
def banded(n, d, rank, bandwidth, weight_rank, band, noise, seed) -> Problem:
    """W = nonnegative rank-``weight_rank`` part + ``band`` on entries with ``|i - j| <= bandwidth``."""
    rank, weight_rank = validate_rank(rank, (n, d)), validate_rank(weight_rank, (n, d))
    rng = np.random.default_rng(seed)
    A = _planted_matrix(rng, n, d, rank, noise)
    in_band = np.abs(np.arange(n)[:, None] - np.arange(d)[None, :]) <= bandwidth
    W = _nonnegative_low_rank(rng, n, d, weight_rank) + band * in_band
    return _problem(
        f"rank-{weight_rank} + banded W", "banded", A, W,
        rank=rank, weight_rank=weight_rank, bandwidth=bandwidth, band=band, noise=noise, seed=seed,
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
