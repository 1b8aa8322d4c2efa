"""``soft_impute``: nuclear-norm regularised WLRA (Mazumder, Hastie & Tibshirani 2010).

With ``Q = W^2 / max(W^2)`` (entrywise, in [0, 1]) it minimises, over X of rank at most
``rank``,

    F(X) = 1/2 ||sqrt(Q) o (A - X)||_F^2 + lam ||X||_*,

that is ``1/2 ||W o (A - X)||_F^2 + lam max(W^2) ||X||_*``, where ``||X||_*`` is the
nuclear norm (the sum of singular values). ``lam`` is given as a fraction of

    lam_max = ||Q o A||_2,

the smallest value at which X = 0 is optimal, so results do not change when A or W is
multiplied by a constant. Each iteration is the proximal-gradient step of step size 1 (the
gradient ``Q o (X - A)`` is 1-Lipschitz because Q <= 1), built on the majorisation step
em uses (:mod:`wlra_core.algorithms.majorize`)::

    X <- S_lam(Q o A + (1 - Q) o X)

where ``S_lam`` shrinks every singular value by ``lam`` (dropping those that reach 0) and
keeps the largest ``rank`` of them. For 0/1 weights this is Soft-Impute. Each step never
increases F, and while fewer than ``rank`` singular values survive the cap is inactive and
the fixed point is the global minimiser of the convex F.

The λ path: ``lam_j = lam_max * ratio**j`` for ``j = 1..n_lambdas``, geometric from
``lam_max`` to its end, each solve warm-started from the previous solution; at each λ the
iterations stop once one lowers F by at most ``tol`` times F, or after ``n_iter``.
``lambda_`` sets the end. ``lambda_=None`` runs the path towards ``1e-3 lam_max`` but
stops at the first λ whose solution reaches ``rank`` nonzero singular values: the least
regularised solution on the path the rank cap (nearly) leaves alone. ``extra["lambda_"]``
holds the λ reached, as a fraction of ``lam_max``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..factors import LowRank
from ..linalg import weighted_loss
from ..options import Interval, NoneAllowed, Option
from ..result import Fit, Monitor
from . import SVD_METHOD, Algorithm
from .majorize import WarmSVD, converged, fill, trust

__all__ = ["PathPoint", "lambda_path", "path_fractions", "fit", "LAMBDA_MIN_RATIO"]

# Where the default path ends (as a fraction of lam_max) when the rank cap is never reached.
LAMBDA_MIN_RATIO = 1e-3


@dataclass(frozen=True)
class PathPoint:
    """The solution at one λ of the path.

    Attributes
    ----------
    fraction : float
        λ as a fraction of ``lam_max``.
    factors : LowRank
        ``X = U @ V`` with the shrunk singular values folded into U.
    active : int
        Singular values of the last filled-in matrix above λ among the top
        ``rank + OVERSAMPLES`` computed: above ``rank``, the cap was binding.
    iterations : int
        Iterations spent at this λ.
    """

    fraction: float
    factors: LowRank
    active: int
    iterations: int


def path_fractions(end: float, n_lambdas: int) -> np.ndarray:
    """``n_lambdas`` fractions of ``lam_max``, geometric from just below 1 down to ``end``."""
    return end ** (np.arange(1, n_lambdas + 1) / n_lambdas)


def _shrunk(U: np.ndarray, s: np.ndarray, Vt: np.ndarray, lam: float, rank: int) -> tuple[LowRank, np.ndarray, int]:
    """``S_lam`` capped at ``rank``: the factors, the shrunk values kept, and how many values exceed lam."""
    active = int(np.count_nonzero(s > lam))
    kept = np.maximum(s[:rank] - lam, 0.0)
    width = max(1, int(np.count_nonzero(kept)))  # X = 0 is kept as one zero term
    return LowRank(U[:, :width] * kept[:width], Vt[:width].copy()), kept[:width], active


def lambda_path(
    A: np.ndarray,
    W: np.ndarray,
    rank: int,
    fractions,
    *,
    n_iter: int,
    tol: float,
    seed: np.random.SeedSequence,
    monitor: Monitor,
    svd_method: str,
) -> Iterator[PathPoint]:
    """Solve F at each λ of ``fractions`` (descending fractions of ``lam_max``) in turn,
    each from the previous solution; yield each solution as it is reached.

    Records the weighted loss after every iteration (numbered across the whole path).
    """
    Q = trust(W)
    w_max2 = float(W.max()) ** 2  # F's data term is the weighted loss divided by max(W^2)
    svd = WarmSVD(A.shape, rank, method=svd_method, seed=seed)
    filled = np.empty_like(A)
    X = np.zeros_like(A)
    loss, nuclear = weighted_loss(A, W, X), 0.0
    monitor.record(0, loss)
    U, s, Vt = svd(fill(A, Q, X, filled))  # X = 0: the filled matrix is Q o A
    lam_max = float(s[0])
    step = 0
    for j, fraction in enumerate(fractions, 1):
        lam = float(fraction) * lam_max
        objective = 0.5 * loss / w_max2 + lam * nuclear  # of the warm start
        for iteration in range(1, n_iter + 1):
            monitor.check_stop()
            if iteration > 1 or j > 1:
                U, s, Vt = svd(fill(A, Q, X, filled))
            factors, kept, active = _shrunk(U, s, Vt, lam, rank)
            np.matmul(factors.U, factors.V, out=X)
            loss, nuclear = weighted_loss(A, W, X), float(kept.sum())
            step += 1
            monitor.record(step, loss)
            previous, objective = objective, 0.5 * loss / w_max2 + lam * nuclear
            if lam_max == 0 or converged(previous, objective, tol):
                break
        monitor.report(j / len(fractions), f"soft_impute: lambda {j}/{len(fractions)} ({fraction:.3g} lam_max)")
        yield PathPoint(float(fraction), factors, active, iteration)
        if lam_max == 0:  # A o W = 0: X = 0 is optimal for every lam
            return


def fit(A, W, rank, *, seed, monitor, lambda_, n_lambdas, tol, n_iter, svd_method) -> Fit:
    """The solution at the path's end (see the module docstring)."""
    end = LAMBDA_MIN_RATIO if lambda_ is None else lambda_
    point = None
    for point in lambda_path(A, W, rank, path_fractions(end, n_lambdas), n_iter=n_iter, tol=tol, seed=seed,
                             monitor=monitor, svd_method=svd_method):
        if lambda_ is None and point.active >= rank:
            monitor.report(1.0, f"soft_impute: rank {rank} reached at {point.fraction:.3g} lam_max")
            break
    return Fit(point.factors, extra={"lambda_": point.fraction})


ALGORITHM = Algorithm(
    name="soft_impute",
    summary="Nuclear-norm regularised fit (Soft-Impute): shrink the singular values of the "
    "filled-in matrix along a lambda path with warm starts; the convex choice for missing entries.",
    reference="Mazumder, Hastie & Tibshirani, Spectral regularization algorithms for learning "
    "large incomplete matrices, JMLR 2010",
    options={
        "lambda_": Option(None, (NoneAllowed("the path's end: the first lambda whose solution has rank k"),
                                 Interval(float, 0.0, 1.0, closed="right")),
                          "nuclear-norm weight as a fraction of lam_max = ||Q o A||_2 (the smallest "
                          "value with solution 0)"),
        "n_lambdas": Option(20, (Interval(int, 1),), "number of lambda values on the path"),
        "tol": Option(1e-4, (Interval(float, 0.0, 1.0),),
                      "at each lambda, stop once an iteration lowers the objective by at most this "
                      "fraction of it"),
        "n_iter": Option(100, (Interval(int, 1),), "most iterations at each lambda"),
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
)
