"""``svd_w_em``: the paper's Figure 4, ``svd_w_practical`` refined by a few EM iterations.

The start is ``svd_w_practical`` with ``approximate="weights"`` (a rank-r stand-in for W);
the iterations are :mod:`.em`'s, so the loss never increases after the first one. Most of
EM's improvement comes in its first iterations, which is why 5 are the default.
"""
from __future__ import annotations

from ..result import Fit
from . import SVD_METHOD, WEIGHT_RANK, Algorithm, iterations, weight_floor
from .em import TOL, refine, run_init
from .svd_w_practical import STAND_IN_FLOOR


def fit(A, W, rank, *, seed, monitor, n_iter, tol, weight_rank, weight_floor, svd_method) -> Fit:
    """``svd_w_practical`` (approximate="weights") refined by at most ``n_iter`` EM iterations."""
    X = run_init("svd_w_practical", A, W, rank, seed=seed, monitor=monitor, weight_rank=weight_rank,
                 approximate="weights", weight_floor=weight_floor, svd_method=svd_method)
    return refine(A, W, rank, X, n_iter=n_iter, tol=tol, seed=seed, monitor=monitor, svd_method=svd_method)


ALGORITHM = Algorithm(
    name="svd_w_em",
    summary="svd_w_practical (approximate='weights') refined by a few EM iterations: "
    "most of EM's loss at a fraction of its cost (the paper's Figure 4).",
    reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Figure 4; "
    "Srebro & Jaakkola, ICML 2003",
    options={
        "n_iter": iterations(5),
        "tol": TOL,
        "weight_rank": WEIGHT_RANK,
        "weight_floor": weight_floor(f"for the svd_w_practical start: {STAND_IN_FLOOR} "
                                     "(0: the paper's algorithm)"),
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
)
