"""``svd_w_practical``: Algorithm 2 of the paper, a low-rank stand-in for the weights.

Two variants of the stand-in:

* ``approximate="weights"`` (default): a rank-r nonnegative approximation ``Wr`` of W.
  The output is ``(Wr o A)_k / Wr``. For r = 1, ``Wr = a b^T`` and the output is
  ``diag(1/a) (Wr o A)_k diag(1/b)``: rank exactly k, stored as k(n + d) numbers, and the
  exact WLRA optimum for rank-1 W. For r > 1 it also stores the r factors of ``Wr``.
* ``approximate="inverse"``: as written in the paper, a rank-r approximation ``Winv`` of
  the entrywise inverse of W (zero weights contribute 0, they do not count), then
  ``Winv o (A / Winv)_k``. Tiny weights dominate ``1/W``, which is why this variant is
  markedly worse on real Fisher matrices (its relative loss can exceed 1: flagged).

``weight_floor`` f > 0 bounds the division: the rank-1 stand-in's factors are raised to
at least ``sqrt(f)`` times their maximum (so every entry of ``a b^T`` is at least
``f * max(a b^T)`` and the output keeps rank k); a rank-r > 1 stand-in, or W before its
inverse is taken, is raised to ``f`` times its maximum entrywise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..factors import LowRank, Reweighted
from ..linalg import ScaledMatrix, divide_by_weights, entrywise_inverse, truncated_svd
from ..options import Choices, Option
from ..result import Fit
from ..seeding import int_seed
from . import SVD_METHOD, WEIGHT_FLOOR, WEIGHT_RANK, Algorithm
from .svd import Factors, factorize
from .svd_w import floored


def perron_factors(W: np.ndarray, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Nonnegative ``a`` (n,) and ``b`` (d,) with ``a b^T`` the best rank-1 approximation of ``W >= 0``.

    The top singular pair of a nonnegative matrix can be chosen nonnegative (Perron-Frobenius).
    A randomized range finder (21 directions, 2 power iterations) finds it far cheaper than a
    full SVD; Fisher-like W has s_1 well separated from s_2, so it is accurate to rounding.
    """
    U, s, Vt = truncated_svd(W, 1, method="randomized", seed=seed)
    return np.abs(U[:, 0]) * s[0], np.abs(Vt[0])


def nonnegative_factors(W: np.ndarray, rank: int, *, seed) -> LowRank:
    """Nonnegative factors ``L`` (n, r), ``R`` (r, d) with ``L R`` approximating ``W >= 0``.

    Rank 1 uses the Perron singular pair (see :func:`perron_factors`); higher ranks use
    NMF started from NNDSVD.
    """
    if rank == 1:
        a, b = perron_factors(W, seed=seed)
        return LowRank(a[:, None], b[None, :])
    from sklearn.decomposition import NMF  # heavy import, only for r > 1

    model = NMF(n_components=rank, init="nndsvda", random_state=int_seed(seed), max_iter=1000)
    return LowRank(model.fit_transform(W), model.components_)


def _floor_vector(v: np.ndarray, fraction: float) -> np.ndarray:
    return np.maximum(v, fraction * v.max()) if fraction > 0 else v


@dataclass
class Scaled:
    """Factors of the rescaled A and how the output undoes the rescaling.

    The output is ``(U s Vt) / divisor`` (or ``* multiplier``); a rank-1 scaling is held
    as its two vectors and folded into the factors.
    """

    factors: Factors
    weights: LowRank | np.ndarray
    divide: bool


def _stand_in(W, weight_rank, weight_floor, *, seed) -> LowRank | np.ndarray:
    """The rank-r nonnegative stand-in for W, floored (see the module docstring)."""
    stand_in = nonnegative_factors(W, weight_rank, seed=seed)
    if weight_floor == 0:
        return stand_in
    if weight_rank == 1:
        root = float(np.sqrt(weight_floor))
        return LowRank(_floor_vector(stand_in.U[:, 0], root)[:, None], _floor_vector(stand_in.V[0], root)[None, :])
    return floored(stand_in.dense(), weight_floor)


def prepare(A, W, max_rank, *, seed, monitor, weight_rank, approximate, weight_floor, svd_method):
    if approximate == "weights":
        W_low = _stand_in(W, weight_rank, weight_floor, seed=seed)
        if isinstance(W_low, LowRank) and W_low.rank == 1:  # (a b^T) o A = diag(a) A diag(b), not formed
            scaled = ScaledMatrix(A, W_low.U[:, 0], W_low.V[0])
        else:
            scaled = (W_low.dense() if isinstance(W_low, LowRank) else W_low) * A
        return Scaled(factorize(scaled, max_rank, seed=seed, svd_method=svd_method), W_low, divide=True)
    U, s, Vt = truncated_svd(entrywise_inverse(floored(W, weight_floor)), weight_rank, method=svd_method, seed=seed)
    W_inv = LowRank(U * s, Vt)
    factors = factorize(divide_by_weights(A, W_inv.dense()), max_rank, seed=seed, svd_method=svd_method)
    return Scaled(factors, W_inv, divide=False)


def finish(state: Scaled, rank: int) -> Fit:
    product = state.factors.low_rank(rank)
    weights = state.weights
    if isinstance(weights, LowRank) and weights.rank == 1:
        # A rank-1 scaling diag(a) . diag(b) folds into the rank-k factors.
        left, right = weights.U[:, 0], weights.V[0]
        if state.divide:
            left, right = entrywise_inverse(left), entrywise_inverse(right)
        return Fit(LowRank(product.U * left[:, None], product.V * right[None, :]))
    return Fit(Reweighted(product.U, product.V, weights, divide=state.divide))


ALGORITHMS = {
    "svd_w_practical": Algorithm(
        name="svd_w_practical",
        summary="Rank-k SVD of A rescaled by a rank-r stand-in for W, scaled back; rank "
        "exactly k for r = 1 (Algorithm 2; approximate='weights' or 'inverse').",
        reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Algorithm 2",
        options={
            "weight_rank": WEIGHT_RANK,
            "approximate": Option("weights", (Choices(("weights", "inverse")),),
                                  "stand in for W itself, or (as the paper writes) for its entrywise inverse"),
            "weight_floor": WEIGHT_FLOOR,
            "svd_method": SVD_METHOD,
        },
        prepare=prepare,
        finish=finish,
        divides_by_weights=True,
    )
}
