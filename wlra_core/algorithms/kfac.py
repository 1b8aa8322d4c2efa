"""``kfac``: low rank approximation under the Kronecker-factored Fisher (K-FAC).

Minimises ``||C^{1/2} (A - X) G^{1/2}||_F^2`` with ``C = E[x x^T]`` (layer inputs) and
``G = E[delta delta^T]`` (gradients at the layer's pre-activation), both over the training
set: the Fisher quadratic form of the change ``A - X`` under K-FAC's independence
approximation (Martens & Grosse 2015). One SVD: ``X = C^{-1/2} (C^{1/2} A G^{1/2})_k G^{-1/2}``
with damped moments (see :mod:`wlra_core.calibrated`). Entrywise weights ``a b^T`` are its
diagonal special case. Needs the problem's ``input_moment`` and ``grad_moment``; stores
k(n + d) numbers; one SVD at the largest rank serves every smaller rank.
"""
from __future__ import annotations

from ..calibrated import KFAC_DAMPING, damping_option, moment_factors
from ..factors import LowRank
from . import SVD_METHOD, Algorithm
from .whiten import finish


def prepare(A, W, max_rank, *, seed, monitor, damping, svd_method, input_moment, grad_moment):
    return LowRank(*moment_factors(A, input_moment, grad_moment, max_rank, damping=damping,
                                   method=svd_method, seed=seed))


ALGORITHM = Algorithm(
    name="kfac",
    summary="Data-aware: rank-k SVD of C^1/2 A G^1/2 (input and gradient second moments of the layer), "
    "mapped back; the Kronecker-factored Fisher. Ignores W, needs the calibration moments.",
    reference="Martens & Grosse, Optimizing neural networks with Kronecker-factored approximate "
    "curvature, ICML 2015",
    options={"damping": damping_option(KFAC_DAMPING),
             "svd_method": SVD_METHOD},
    prepare=prepare,
    finish=finish,
    requires=("input_moment", "grad_moment"),
    uses_weights=False,
)
