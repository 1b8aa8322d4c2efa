"""``svd_w_practical``: Algorithm 2 of the paper, a low-rank stand-in for the weights.

Two variants of the stand-in:

* ``approximate="weights"`` (default): a rank-r nonnegative approximation ``Wr`` of W.
  The output is ``(Wr o A)_k / Wr``; for r = 1 the entrywise inverse of ``Wr`` has rank 1
  and the output has rank exactly k (it is the exact WLRA optimum for rank-1 W).
* ``approximate="inverse"``: as written in the paper, a rank-r approximation ``Winv`` of
  the entrywise inverse of W (zero weights contribute 0, they do not count), then
  ``Winv o (A / Winv)_k``. Tiny weights dominate ``1/W``, which is why this variant is
  markedly worse on real Fisher matrices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import divide_by_weights, entrywise_inverse, truncated_svd
from ..result import Fit
from . import SVD_METHOD, WEIGHT_RANK, Algorithm, Option, one_of
from .svd import Factors, factorize


def perron_factors(W: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Nonnegative ``a`` (n,) and ``b`` (d,) with ``a b^T`` the best rank-1 approximation of ``W >= 0``.

    The top singular pair of a nonnegative matrix can be chosen nonnegative (Perron-Frobenius).
    A randomized range finder (21 directions, 2 power iterations) finds it far cheaper than a
    full SVD; Fisher-like W has s_1 well separated from s_2, so it is accurate to rounding.
    """
    U, s, Vt = truncated_svd(W, 1, method="randomized", seed=seed)
    return np.abs(U[:, 0]) * s[0], np.abs(Vt[0])


def nonnegative_low_rank(W: np.ndarray, rank: int, *, seed: int) -> np.ndarray:
    """A rank-``rank`` nonnegative approximation of nonnegative ``W``.

    Rank 1 uses the Perron singular pair (see :func:`perron_factors`); higher ranks use
    NMF started from NNDSVD.
    """
    if rank == 1:
        return np.outer(*perron_factors(W, seed=seed))
    from sklearn.decomposition import NMF  # heavy import, only for r > 1

    model = NMF(n_components=rank, init="nndsvda", random_state=seed, max_iter=1000)
    left = model.fit_transform(W)
    return left @ model.components_


@dataclass
class Scaled:
    """Factors of the rescaled A; the output is ``multiplier * M_k``."""

    factors: Factors
    multiplier: np.ndarray
    weight_rank: int


def prepare(A, W, max_rank, *, seed, monitor, weight_rank, approximate, svd_method):
    if approximate == "weights":
        W_low = nonnegative_low_rank(W, weight_rank, seed=seed)
        factors = factorize(W_low * A, max_rank, seed=seed, svd_method=svd_method)
        return Scaled(factors, entrywise_inverse(W_low), weight_rank)
    inverse_low = truncated_svd(entrywise_inverse(W), weight_rank, method=svd_method, seed=seed)
    W_inv = (inverse_low[0] * inverse_low[1]) @ inverse_low[2]
    factors = factorize(divide_by_weights(A, W_inv), max_rank, seed=seed, svd_method=svd_method)
    return Scaled(factors, W_inv, weight_rank)


def finish(state: Scaled, rank: int) -> Fit:
    approx = state.factors.approx(rank)
    approx *= state.multiplier
    n, d = approx.shape
    r = state.weight_rank
    # Stored either as the rank-rk product or as the rank-k factors plus the r weight factors.
    return Fit(approx, n_params=min(r * rank, rank + r) * (n + d))


ALGORITHMS = {
    "svd_w_practical": Algorithm(
        name="svd_w_practical",
        summary="Rank-k SVD of A rescaled by a rank-r stand-in for W, scaled back; rank "
        "exactly k for r = 1 (Algorithm 2; approximate='weights' or 'inverse').",
        reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Algorithm 2",
        options={
            "weight_rank": WEIGHT_RANK,
            "approximate": Option("weights", one_of("weights", "inverse"),
                                  'approximate must be "weights" or "inverse"'),
            "svd_method": SVD_METHOD,
        },
        prepare=prepare,
        finish=finish,
    )
}
