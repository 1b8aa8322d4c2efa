"""``fwsvd``: Fisher-weighted SVD (Hsu et al. 2022).

FWSVD keeps one importance per row: ``rho_i = sqrt(sum_j W_ij^2)`` (the square root of the
row's total Fisher information, as the loss weights enter squared). The rank-k SVD of
``diag(rho) A`` scaled back by ``diag(rho)^-1`` is then the exact minimiser of the
row-weighted loss ``||diag(rho) (A - X)||_F^2``. Rows with zero weight get 0.
One SVD at the largest rank serves every smaller rank. ``weight_floor`` f > 0 raises every
row importance to at least f times the largest (it divides by them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..factors import LowRank
from ..linalg import ScaledMatrix, entrywise_inverse
from ..result import Fit
from . import SVD_METHOD, Algorithm, floored, weight_floor
from .svd import SingularTriplets, factorize


@dataclass
class RowScaled:
    factors: SingularTriplets  # of diag(rho) A, up to rank max_rank
    rho: np.ndarray  # (n, 1) row importances


def row_importance(W: np.ndarray) -> np.ndarray:
    """``sqrt`` of the row sums of ``W^2``, shape (n, 1)."""
    return np.sqrt(np.vecdot(W, W))[:, None]


def prepare(A, W, max_rank, *, seed, monitor, weight_floor, svd_method):
    rho = floored(row_importance(W), weight_floor)
    return RowScaled(factorize(ScaledMatrix(A, rho[:, 0]), max_rank, seed=seed, svd_method=svd_method), rho)


def finish(state: RowScaled, rank: int) -> Fit:
    product = state.factors.low_rank(rank)
    # 1 / rho folds into the left factor.
    return Fit(LowRank(product.U * entrywise_inverse(state.rho), product.V))


ALGORITHM = Algorithm(
    name="fwsvd",
    summary="Fisher-weighted SVD: rank-k SVD of A with rows scaled by sqrt(row sums of W^2), "
    "scaled back (exact for weights constant along rows).",
    reference="Hsu et al., Language model compression with weighted low-rank "
    "factorization, ICLR 2022",
    options={"weight_floor": weight_floor("divide by max(rho_i, weight_floor * max rho) instead of each row "
                                          "importance rho_i = sqrt(sum_j W_ij^2) (0: plain FWSVD)"),
             "svd_method": SVD_METHOD},
    prepare=prepare,
    finish=finish,
    divides_by_weights=True,
)
