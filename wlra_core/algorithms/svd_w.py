"""``svd_w``: Algorithm 1 of the paper, a rank r*k approximation of W o A divided by W."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import entrywise_inverse
from ..result import Fit
from . import SVD_METHOD, WEIGHT_RANK, Algorithm
from .svd import Factors, factorize


@dataclass
class Reweighted:
    factors: Factors  # of W o A, up to rank r * max_rank
    inverse_W: np.ndarray  # 1 / W, 0 where W == 0: computed once, shared by every rank
    weight_rank: int


def prepare(A, W, max_rank, *, seed, monitor, weight_rank, svd_method):
    inner = min(weight_rank * max_rank, min(A.shape))
    factors = factorize(W * A, inner, seed=seed, svd_method=svd_method)
    return Reweighted(factors, entrywise_inverse(W), weight_rank)


def finish(state: Reweighted, rank: int) -> Fit:
    n, d = state.inverse_W.shape
    inner = min(state.weight_rank * rank, min(n, d))
    approx = state.factors.approx(inner)
    approx *= state.inverse_W
    # Stored as the rank-rk factors of W o A plus the r factors of W.
    return Fit(approx, n_params=(inner + state.weight_rank) * (n + d))


ALGORITHMS = {
    "svd_w": Algorithm(
        name="svd_w",
        summary="Rank r*k SVD of W o A divided entrywise by W; never worse than the best "
        "rank-k solution when W has rank r (Theorem 1.2).",
        reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Algorithm 1",
        options={"weight_rank": WEIGHT_RANK, "svd_method": SVD_METHOD},
        prepare=prepare,
        finish=finish,
    )
}
