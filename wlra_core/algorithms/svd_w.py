"""``svd_w``: Algorithm 1 of the paper, a rank r*k approximation of W o A divided by W.

The output divides by W itself, so W is part of what it stores (see
:class:`wlra_core.factors.Reweighted`). ``weight_floor`` > 0 divides by
``max(W, weight_floor * max W)`` instead, which bounds the output where weights are tiny
(Fisher weights reach 1e-11 of their maximum); 0 is the paper's algorithm, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..factors import Reweighted
from ..linalg import Projection, weighted_matrix
from ..result import Fit
from . import SVD_METHOD, WEIGHT_FLOOR, WEIGHT_RANK, Algorithm, floored
from .svd import SingularTriplets, factorize


@dataclass
class Reweighting:
    factors: SingularTriplets  # of W o A, up to rank r * max_rank
    divisor: np.ndarray  # W, or the floored W: shared by every rank
    weight_rank: int
    exact_divisor: bool  # the divisor is W itself: the loss has a closed form (Projection)


def prepare(A, W, max_rank, *, seed, monitor, weight_rank, weight_floor, svd_method, weighted=None):
    inner = min(weight_rank * max_rank, min(A.shape))
    M = weighted_matrix(A, W) if weighted is None else weighted
    factors = factorize(M, inner, seed=seed, svd_method=svd_method)
    return Reweighting(factors, floored(W, weight_floor), weight_rank, weight_floor == 0)


def finish(state: Reweighting, rank: int) -> Fit:
    inner = min(state.weight_rank * rank, min(state.divisor.shape))
    product = state.factors.low_rank(inner)
    # Divided by W itself, W o X is the truncated SVD of W o A wherever W != 0.
    projection = Projection(np.cumsum(state.factors.s**2)) if state.exact_divisor else None
    return Fit(Reweighted(product.U, product.V, state.divisor), projection=projection)


ALGORITHM = Algorithm(
    name="svd_w",
    summary="Rank r*k SVD of W o A divided entrywise by W; never worse than the best "
    "rank-k solution when W has rank r (Theorem 1.2). Stores W as well as the factors.",
    reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Algorithm 1",
    options={"weight_rank": WEIGHT_RANK, "weight_floor": WEIGHT_FLOOR, "svd_method": SVD_METHOD},
    prepare=prepare,
    finish=finish,
    divides_by_weights=True,
    starts_from_weighted=True,
)
