"""The hard instance of Theorem 1.5: why any protocol needs Omega(s r k) bits.

:func:`lower_bound_instance` builds ``A`` on the block diagonal mask ``W`` of Definition 3.2
so that the optimum is 0; any finite-factor solution must then reproduce A on the mask,
which reveals the ``s r k`` random bits of ``A_dense`` (:func:`recover_dense`).
:func:`lower_bound_solution` solves the instance with a chosen method and
:func:`recovery_report` says what that solution reveals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api import solve
from ..linalg import weighted_loss

__all__ = [
    "block_diagonal_mask",
    "LowerBoundInstance",
    "lower_bound_instance",
    "recover_dense",
    "LOWER_BOUND_SOLUTIONS",
    "lower_bound_solution",
    "recovery_report",
]


def block_diagonal_mask(n: int, r: int) -> np.ndarray:
    """Definition 3.2: r diagonal all-ones blocks of size n/r, zeros elsewhere (n x n)."""
    if r < 1 or n < 1 or n % r:
        raise ValueError(f"n={n} must be a positive multiple of r={r}")
    return np.kron(np.eye(r), np.ones((n // r, n // r)))


@dataclass
class LowerBoundInstance:
    """The hard instance of Theorem 1.5.

    Attributes
    ----------
    A_dense : ndarray of shape (s r, k)
        The uniformly random bits that a finite-factor solution reveals.
    W : ndarray of shape (n, n)
        The block diagonal mask.
    A : ndarray of shape (n, n)
        The input: ``W o [A_pad, ..., A_pad]``, at most s nonzeros per column.
    A_star : ndarray of shape (n, n)
        ``[A_pad, ..., A_pad]`` (r copies), rank <= k and weighted loss 0: an optimum.
    """

    n: int
    r: int
    s: int
    k: int
    A_dense: np.ndarray
    W: np.ndarray
    A: np.ndarray
    A_star: np.ndarray


def lower_bound_instance(n: int, r: int, s: int, k: int, *, seed: int = 0) -> LowerBoundInstance:
    """Build Theorem 1.5's instance: row block j of ``A_pad`` holds rows ``j s .. (j+1) s``
    of a random binary ``A_dense`` in its first s rows and first k columns.
    """
    W = block_diagonal_mask(n, r)
    block = n // r
    if not (1 <= s <= block and 1 <= k <= block):
        raise ValueError(f"need 1 <= s, k <= n/r = {block}, got s={s}, k={k}")
    A_dense = np.random.default_rng(seed).integers(0, 2, size=(s * r, k))
    A_pad = np.zeros((n, block))
    for j in range(r):
        A_pad[j * block:j * block + s, :k] = A_dense[j * s:(j + 1) * s]
    A_star = np.tile(A_pad, (1, r))
    return LowerBoundInstance(n, r, s, k, A_dense, W, W * A_star, A_star)


def recover_dense(instance: LowerBoundInstance, approx: np.ndarray) -> np.ndarray:
    """Read ``A_dense`` back from a solution's diagonal blocks (rounded to integers)."""
    block = instance.n // instance.r
    s, k = instance.s, instance.k
    rows = [approx[j * block:j * block + s, j * block:j * block + k] for j in range(instance.r)]
    return np.rint(np.vstack(rows)).astype(np.int64)


# Solutions the lower-bound demo can try: label -> (algorithm or None for A*, uses weight rank).
LOWER_BOUND_SOLUTIONS = {
    "svd_w (weight rank r)": ("svd_w", True),
    "A* (rank-k construction)": (None, False),
    "svd (unweighted)": ("svd", False),
    "em": ("em", False),
    "als": ("als", False),
}


def lower_bound_solution(instance: LowerBoundInstance, method: str, *, seed: int = 0) -> np.ndarray:
    """A solution of the rank-k WLRA problem on the hard instance (see :data:`LOWER_BOUND_SOLUTIONS`).

    Raises ValueError, with the solver's message, when the solver fails.
    """
    if method not in LOWER_BOUND_SOLUTIONS:
        raise ValueError(f"method must be one of {list(LOWER_BOUND_SOLUTIONS)}, got {method!r}")
    name, with_weight_rank = LOWER_BOUND_SOLUTIONS[method]
    if name is None:
        return instance.A_star
    options = {"weight_rank": instance.r} if with_weight_rank else {}
    result = solve(name, instance.A, instance.W, instance.k, seed=seed, **options)
    if result.failed:
        raise ValueError(f"{method} failed on this instance: {result.message}")
    return result.approx


def recovery_report(instance: LowerBoundInstance, approx: np.ndarray) -> dict:
    """What a solution reveals: its loss, its largest error on W's support, and A_dense.

    ``recovered`` is True when rounding the solution's diagonal blocks gives back the
    planted ``A_dense`` exactly (its ``s r k`` random bits).
    """
    support = instance.W > 0
    dense = recover_dense(instance, approx)
    return {
        "loss": weighted_loss(instance.A, instance.W, approx),
        "max_support_error": float(np.abs(approx - instance.A)[support].max()),
        "recovered_dense": dense,
        "wrong_bits": int(np.count_nonzero(dense != instance.A_dense)),
        "recovered": bool(np.array_equal(dense, instance.A_dense)),
        "bits": instance.A_dense.size,
    }
