"""``whiten``: truncation-aware input whitening (SVD-LLM, Wang et al. 2024).

Minimises ``||C^{1/2} (A - X)||_F^2 = E ||x^T (A - X)||^2``, the error of the layer's
output on the calibration inputs (C = E[x x^T] over the training set, as the network sees
them), by one SVD: ``X = C^{-1/2} (C^{1/2} A)_k`` with a damped C (see
:mod:`wlra_core.calibrated`). It does not use W; it needs the problem's ``input_moment``,
which problems made from an MLP carry. Stores k(n + d) numbers; one SVD at the largest
rank serves every smaller rank.
"""
from __future__ import annotations

from ..calibrated import WHITEN_DAMPING, damping_option, moment_factors
from ..factors import LowRank
from ..result import Fit
from . import SVD_METHOD, Algorithm

def prepare(A, W, max_rank, *, seed, monitor, damping, svd_method, input_moment):
    return LowRank(*moment_factors(A, input_moment, None, max_rank, damping=damping, method=svd_method,
                                   seed=seed))


def finish(factors: LowRank, rank: int) -> Fit:
    """The rank-``rank`` minimiser: the factors are nested (see calibrated_factors)."""
    return Fit(LowRank(factors.U[:, :rank].copy(), factors.V[:rank].copy()))


ALGORITHM = Algorithm(
    name="whiten",
    summary="Data-aware: rank-k SVD of C^1/2 A with C = E[x x^T] of the layer's training inputs, mapped "
    "back (input whitening); ignores W, needs the calibration moment.",
    reference="Wang et al., SVD-LLM: truncation-aware singular value decomposition, 2024",
    options={"damping": damping_option(WHITEN_DAMPING),
             "svd_method": SVD_METHOD},
    prepare=prepare,
    finish=finish,
    requires=("input_moment",),
    uses_weights=False,
)
