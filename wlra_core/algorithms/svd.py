"""``svd``: truncated SVD of A, ignoring the weights (the unweighted baseline)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..factors import LowRank
from ..linalg import ONE_SHOT_OVERSAMPLES, truncated_svd
from ..result import Fit
from . import SVD_METHOD, Algorithm


@dataclass
class SingularTriplets:
    """Top singular triplets of some matrix, shared by every rank up to ``len(s)``."""

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray

    def low_rank(self, rank: int) -> LowRank:
        """The rank-``rank`` truncation as factors ``(U s) Vt`` (copies: each result owns its arrays)."""
        return LowRank(self.U[:, :rank] * self.s[:rank], self.Vt[:rank].copy())


def factorize(M, max_rank, *, seed, svd_method) -> SingularTriplets:
    return SingularTriplets(*truncated_svd(M, max_rank, method=svd_method, seed=seed, n_oversamples=ONE_SHOT_OVERSAMPLES))


def prepare(A, W, max_rank, *, seed, monitor, svd_method):
    return factorize(A, max_rank, seed=seed, svd_method=svd_method)


def finish(factors: SingularTriplets, rank: int) -> Fit:
    return Fit(factors.low_rank(rank))


ALGORITHM = Algorithm(
    name="svd",
    summary="Truncated SVD of A, ignoring W (Eckart-Young); the unweighted baseline.",
    reference="Eckart & Young (1936)",
    options={"svd_method": SVD_METHOD},
    prepare=prepare,
    finish=finish,
    uses_weights=False,
)
