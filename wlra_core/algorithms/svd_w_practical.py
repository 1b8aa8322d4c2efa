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
``f * max(a b^T)`` and the output keeps rank k); with a rank-r > 1 stand-in the output
divides by ``max(Wr, f * max Wr)`` and stores the r factors of Wr and the one number
``f * max Wr``; ``approximate="inverse"`` raises W to ``f`` times its maximum before
inverting it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..factors import LowRank, Reweighted
from ..linalg import ONE_SHOT_OVERSAMPLES, ScaledMatrix, divide_by_weights, entrywise_inverse, truncated_svd
from ..options import Choices, Option
from ..result import Fit
from ..seeding import int_seed
from . import SVD_METHOD, WEIGHT_RANK, Algorithm, floored, weight_floor
from .svd import SingularTriplets, factorize


# What weight_floor does to the stand-in for W (svd_w_em starts from this too).
STAND_IN_FLOOR = ("raise each factor of a rank-1 stand-in a b^T to at least sqrt(weight_floor) times its "
                  "maximum, or divide by max(Wr, weight_floor * max Wr) for r > 1")


def perron_factors(W: np.ndarray, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Nonnegative ``a`` (n,) and ``b`` (d,) with ``a b^T`` the best rank-1 approximation of ``W >= 0``.

    The top singular pair of a nonnegative matrix can be chosen nonnegative (Perron-Frobenius).
    A randomized range finder (11 directions, 2 power iterations) finds it far cheaper than a
    full SVD; Fisher-like W has s_1 well separated from s_2, so it is accurate to rounding.
    Zero rows and columns of W get exactly 0 (rounding would leave ~1e-18 there, which the
    output divides by), so they come out as 0 whatever W's scale.
    """
    U, s, Vt = truncated_svd(W, 1, method="randomized", seed=seed, n_oversamples=ONE_SHOT_OVERSAMPLES)
    a, b = np.abs(U[:, 0]) * s[0], np.abs(Vt[0])
    a[~W.any(axis=1)] = 0.0
    b[~W.any(axis=0)] = 0.0
    return a, b


def nonnegative_factors(W: np.ndarray, rank: int, *, seed) -> LowRank:
    """Nonnegative factors ``L`` (n, r), ``R`` (r, d) with ``L R`` approximating ``W >= 0``.

    Rank 1 uses the Perron singular pair (see :func:`perron_factors`); higher ranks use
    NMF started from NNDSVD.
    """
    if rank == 1:
        a, b = perron_factors(W, seed=seed)
        return LowRank(a[:, None], b[None, :])
    from sklearn.decomposition import NMF  # heavy import, only for r > 1

    # NMF's stopping point depends on the scale of its input: fitting W / max W makes the
    # stand-in (and so the result) the same, to rounding, whatever constant W is multiplied by.
    largest = W.max()  # > 0: validation refuses an all-zero W
    model = NMF(n_components=rank, init="nndsvda", random_state=int_seed(seed), max_iter=1000)
    return LowRank(model.fit_transform(W / largest) * largest, model.components_)


@dataclass
class Scaled:
    """Factors of the rescaled A and how the output undoes the rescaling.

    The output is ``(U s Vt) / max(weights, floor)`` (or ``* weights``); a rank-1 scaling
    is held as its two vectors and folded into the factors.
    """

    factors: SingularTriplets
    weights: LowRank
    divide: bool
    floor: np.ndarray | None = None


def _weights_stand_in(A, W, max_rank, *, seed, weight_rank, weight_floor, svd_method) -> Scaled:
    """``(Wr o A)_k / Wr`` with the rank-r nonnegative stand-in Wr, floored (see the module docstring)."""
    stand_in = nonnegative_factors(W, weight_rank, seed=seed)
    floor = None
    if weight_rank == 1:
        root = float(np.sqrt(weight_floor))
        a, b = floored(stand_in.U[:, 0], root), floored(stand_in.V[0], root)
        stand_in = LowRank(a[:, None], b[None, :])
        scaled = ScaledMatrix(A, a, b)  # (a b^T) o A = diag(a) A diag(b), not formed
    else:
        dense = stand_in.dense()
        # The floor is kept as one number beside the r factors, not as an n x d floored copy.
        floor = np.array(weight_floor * dense.max()) if weight_floor > 0 else None
        scaled = (dense if floor is None else np.maximum(dense, floor)) * A
    return Scaled(factorize(scaled, max_rank, seed=seed, svd_method=svd_method), stand_in, True, floor)


def prepare(A, W, max_rank, *, seed, monitor, weight_rank, approximate, weight_floor, svd_method):
    if approximate == "weights":
        return _weights_stand_in(A, W, max_rank, seed=seed, weight_rank=weight_rank, weight_floor=weight_floor,
                                 svd_method=svd_method)
    U, s, Vt = truncated_svd(entrywise_inverse(floored(W, weight_floor)), weight_rank, method=svd_method, seed=seed)
    W_inv = LowRank(U * s, Vt)
    factors = factorize(divide_by_weights(A, W_inv.dense()), max_rank, seed=seed, svd_method=svd_method)
    return Scaled(factors, W_inv, divide=False)


def finish(state: Scaled, rank: int) -> Fit:
    product = state.factors.low_rank(rank)
    weights = state.weights
    if weights.width == 1:
        # A rank-1 scaling diag(a) . diag(b) folds into the rank-k factors.
        left, right = weights.U[:, 0], weights.V[0]
        if state.divide:
            left, right = entrywise_inverse(left), entrywise_inverse(right)
        return Fit(LowRank(product.U * left[:, None], product.V * right[None, :]))
    return Fit(Reweighted(product.U, product.V, weights, divide=state.divide, floor=state.floor))


ALGORITHM = Algorithm(
    name="svd_w_practical",
    summary="Rank-k SVD of A rescaled by a rank-r stand-in for W, scaled back; rank "
    "exactly k for r = 1 (Algorithm 2; approximate='weights' or 'inverse').",
    reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Algorithm 2",
    options={
        "weight_rank": WEIGHT_RANK,
        "approximate": Option("weights", (Choices(("weights", "inverse")),),
                              "stand in for W itself, or (as the paper writes) for its entrywise inverse"),
        "weight_floor": weight_floor(
            f"approximate='weights': {STAND_IN_FLOOR}; 'inverse': raise W to at least "
            "weight_floor * max W before inverting it (0: the paper's algorithm)"),
        "svd_method": SVD_METHOD,
    },
    prepare=prepare,
    finish=finish,
    divides_by_weights=True,
)
