"""``em``: expectation-maximisation for WLRA (Srebro & Jaakkola 2003).

With ``Q = W^2 / max(W^2)`` (entrywise, in [0, 1]) every iteration fills in the entries
the weights trust less with the current estimate and truncates::

    X <- (Q o A + (1 - Q) o X)_k

The filled-in matrix majorises the weighted loss (divided by ``max(W^2)``; see
:mod:`wlra_core.algorithms.majorize`), so the loss never increases as long as each
truncation is at least as good as the previous iterate on the filled-in matrix. The exact
SVD guarantees that, and so does the warm-started subspace step that large problems take
(:class:`~wlra_core.algorithms.majorize.WarmSVD`): one block power iteration from the
previous right singular vectors, O(n d k) per iteration instead of a fresh SVD. For an
initial estimate of rank above k (``init="svd_w"`` with ``weight_rank > 1``, an arbitrary
array) the first step may increase the loss; from then on it cannot -- in exact
arithmetic. In floating point a converged iterate can move by rounding: the recorded loss
may rise by about 1e-14 of itself (seen on the shipped problem); the tests allow 1e-12
relative.

Stopping: after iteration t, EM stops when the loss fell by at most ``tol`` times its
previous value, ``L_{t-1} - L_t <= tol * L_{t-1}`` (or when it reached 0), and after
``n_iter`` iterations at the latest; ``tol = 0`` runs all ``n_iter``. The test is on the
loss rather than on the change of X: the loss is measured every iteration anyway (the
history records it), its decrease is never negative beyond rounding, and it is the number
the user compares; a change of X would cost one more pass over n x d entries per iteration.

The iterations are shared with :mod:`.svd_w_em` (the paper's Figure 4), which starts them
from ``svd_w_practical``.
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import truncated_svd, uses_randomized, weighted_loss
from ..options import ArrayAllowed, Choices, Interval, Option
from ..problem import as_float_matrix
from ..result import Fit, Monitor
from . import ALGORITHMS as ALGORITHM_NAMES
from . import SVD_METHOD, Algorithm, get_algorithm, iterations
from .majorize import WarmSVD, converged, fill, trust

# Algorithms EM may start from: any other method of A and W alone (not EM itself, which
# would recurse, nor svd_w_em, which is EM from svd_w_practical and imports this module, nor
# the methods that need an MLP's calibration moments).
INIT_ALGORITHMS = tuple(name for name in ALGORITHM_NAMES
                        if name not in ("em", "svd_w_em") and not get_algorithm(name).requires)


def em_iterations(
    A: np.ndarray,
    W: np.ndarray,
    rank: int,
    X: np.ndarray,
    *,
    n_iter: int,
    tol: float,
    seed: np.random.SeedSequence,
    monitor: Monitor,
    svd_method: str,
    basis: np.ndarray | None = None,
) -> LowRank | None:
    """Run EM iterations from the estimate ``X`` (overwritten) until the loss stalls
    (``tol``, see the module docstring) or ``n_iter`` of them ran; return the last
    iterate's factors (None if ``n_iter`` is 0 and X is left as given).

    Records the loss of ``X`` as iteration 0, then the loss after every iteration.

    Parameters
    ----------
    A, W : ndarray of shape (n, d)
    rank : int
    X : ndarray of shape (n, d)
        Initial estimate; used as the iterate buffer.
    basis : ndarray of shape (k, d), optional
        Right singular vectors spanning the row space of ``X``; they join the randomized
        search space of the first iteration (later iterations start from their
        predecessor's right singular vectors).
    """
    Q = trust(W)
    filled = np.empty_like(A)
    svd = WarmSVD(A.shape, rank, method=svd_method, seed=seed, basis=basis)
    factors = None
    loss = weighted_loss(A, W, X)
    monitor.record(0, loss)
    for iteration in range(1, n_iter + 1):
        monitor.check_stop()
        U, s, Vt = svd(fill(A, Q, X, filled))
        factors = LowRank(U[:, :rank] * s[:rank], Vt[:rank].copy())
        np.matmul(factors.U, factors.V, out=X)
        previous, loss = loss, weighted_loss(A, W, X)
        monitor.record(iteration, loss)
        if converged(previous, loss, tol):
            monitor.report(1.0, f"EM converged after {iteration} iterations")
            break
        monitor.report(iteration / n_iter, f"EM iteration {iteration} (at most {n_iter})")
    return factors


def refine(A, W, rank, X, *, n_iter, tol, seed, monitor, svd_method) -> Fit:
    """EM iterations from the estimate ``X`` (overwritten) until the loss stalls or ``n_iter`` ran:
    em's and svd_w_em's fit."""
    basis = None
    if X.any() and uses_randomized(A.shape, rank, svd_method):
        # The init's own row space, so the first randomized step cannot lose it.
        basis = truncated_svd(X, rank, method=svd_method, seed=seed)[2]
    factors = em_iterations(A, W, rank, X, n_iter=n_iter, tol=tol, seed=seed, monitor=monitor,
                            svd_method=svd_method, basis=basis)
    return Fit(factors)


def run_init(name: str, A, W, rank, *, seed, monitor: Monitor, **options) -> np.ndarray:
    """The dense output of algorithm ``name`` (options validated), a new array EM may overwrite."""
    algorithm = get_algorithm(name)
    monitor.report(0.0, f"initialising EM with {name}")
    fit = algorithm.fit(A, W, rank, seed=seed, monitor=monitor.nested(),
                        **algorithm.resolve_options(options, A.shape))
    return fit.factors.dense()  # a new array: EM overwrites it


def _initial_estimate(A, W, rank, init, *, seed, monitor, svd_method) -> np.ndarray:
    if isinstance(init, np.ndarray):
        X = as_float_matrix(init, "em init")
        if X.shape != A.shape:
            raise ValueError(f"em: init array has shape {X.shape} but A has shape {A.shape}")
        return X.copy()
    if init == "zero":
        return np.zeros_like(A)
    options = {"svd_method": svd_method} if "svd_method" in get_algorithm(init).options else {}
    return run_init(init, A, W, rank, seed=seed, monitor=monitor, **options)


def fit_em(A, W, rank, *, seed, monitor, n_iter, tol, init, svd_method) -> Fit:
    """EM from ``init``: zero, another algorithm's output, or a given n x d array."""
    X = _initial_estimate(A, W, rank, init, seed=seed, monitor=monitor, svd_method=svd_method)
    return refine(A, W, rank, X, n_iter=n_iter, tol=tol, seed=seed, monitor=monitor, svd_method=svd_method)


TOL = Option(3e-4, (Interval(float, 0.0, 1.0),),
             "stop once an iteration lowers the loss by at most this fraction of it (0: run all n_iter)")
_INIT = Option("zero", (Choices(("zero", *INIT_ALGORITHMS)), ArrayAllowed()),
               "the starting estimate: zero, another algorithm's output, or an n x d array")

ALGORITHM = Algorithm(
    name="em",
    summary="Expectation-maximisation: repeatedly fill low-weight entries with the current "
    "estimate and take a rank-k SVD until the loss stalls; loss never increases.",
    reference="Srebro & Jaakkola, Weighted low-rank approximations, ICML 2003",
    options={
        "n_iter": iterations(100),
        "tol": TOL,
        "init": _INIT,
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit_em,
)
