"""``em`` and ``svd_w_em``: expectation-maximisation for WLRA (Srebro & Jaakkola 2003).

With ``Q = W^2 / max(W^2)`` (entrywise, in [0, 1]) every iteration fills in the entries
the weights trust less with the current estimate and truncates::

    X <- (Q o A + (1 - Q) o X)_k

The filled-in matrix majorises the weighted loss (divided by ``max(W^2)``), so the loss
never increases as long as each truncation is at least as good as the previous iterate
on the filled-in matrix. The exact SVD guarantees that; the randomized one does too
because the previous right singular vectors are added to its search space
(``warm_start``). For an initial estimate of rank above k (``init="svd_w"`` with
``weight_rank > 1``, an arbitrary array) the first step may increase the loss; from then
on it cannot.

``svd_w_em`` is the paper's Figure 4: start from ``svd_w_practical`` (approximate="weights")
and refine with a few EM iterations.
"""
from __future__ import annotations

import numpy as np

from ..linalg import truncated_svd, uses_randomized, weighted_loss
from ..problem import as_float_matrix
from ..result import Fit, Monitor
from . import ALGORITHMS as ALGORITHM_NAMES
from . import SVD_METHOD, WEIGHT_RANK, Algorithm, Option, get_algorithm, iterations

# Algorithms EM may start from: any other method (not EM itself, which would recurse).
INIT_ALGORITHMS = tuple(name for name in ALGORITHM_NAMES if name not in ("em", "svd_w_em"))


def _valid_init(value) -> bool:
    if isinstance(value, np.ndarray):
        return True  # shape and finiteness are checked against A in fit()
    return isinstance(value, str) and (value == "zero" or value in INIT_ALGORITHMS)


def em_iterations(
    A: np.ndarray,
    W: np.ndarray,
    rank: int,
    X: np.ndarray,
    *,
    n_iter: int,
    seed: int,
    monitor: Monitor,
    svd_method: str,
    basis: np.ndarray | None = None,
) -> np.ndarray:
    """Run ``n_iter`` EM iterations from the estimate ``X`` (overwritten) and return it.

    Records the loss of ``X`` as iteration 0, then the loss after every iteration.

    Parameters
    ----------
    A, W : ndarray of shape (n, d)
    rank : int
    X : ndarray of shape (n, d)
        Initial estimate; used as the iterate buffer.
    basis : ndarray of shape (k, d), optional
        Right singular vectors spanning the row space of ``X``; they join the randomized
        search space of the first iteration (later iterations use their predecessor's).
    """
    Q = W / W.max()
    Q *= Q  # W^2 / max(W^2), without squaring W itself (no overflow for huge weights)
    filled = np.empty_like(A)
    monitor.record(0, weighted_loss(A, W, X))
    for iteration in range(1, n_iter + 1):
        monitor.check_stop()
        # filled = Q o A + (1 - Q) o X, built in place without further n x d temporaries.
        np.subtract(A, X, out=filled)
        filled *= Q
        filled += X
        U, s, basis = truncated_svd(
            filled, rank, method=svd_method, seed=seed + iteration,
            warm_start=None if basis is None else basis.T,
        )
        np.matmul(U * s, basis, out=X)
        monitor.record(iteration, weighted_loss(A, W, X))
        monitor.report(iteration / n_iter, f"EM iteration {iteration}/{n_iter}")
    return X


def _refine(A, W, rank, X, *, n_iter, seed, monitor, svd_method) -> Fit:
    basis = None
    if X.any() and uses_randomized(A.shape, rank, svd_method):
        # The init's own row space, so the first randomized step cannot lose it.
        basis = truncated_svd(X, rank, method=svd_method, seed=seed)[2]
    X = em_iterations(A, W, rank, X, n_iter=n_iter, seed=seed, monitor=monitor,
                      svd_method=svd_method, basis=basis)
    n, d = A.shape
    return Fit(X, n_params=rank * (n + d))


def _run_init(name: str, A, W, rank, *, seed, monitor: Monitor, **options) -> np.ndarray:
    algorithm = get_algorithm(name)
    monitor.report(0.0, f"initialising EM with {name}")
    fit = algorithm.fit(A, W, rank, seed=seed, monitor=monitor.nested(),
                        **algorithm.resolve_options(options))
    return np.array(fit.approx, dtype=np.float64)  # a private copy: EM overwrites it


def _initial_estimate(A, W, rank, init, *, seed, monitor, svd_method) -> np.ndarray:
    if isinstance(init, np.ndarray):
        X = as_float_matrix(init, "em init")
        if X.shape != A.shape:
            raise ValueError(f"em: init array has shape {X.shape} but A has shape {A.shape}")
        return X.copy()
    if init == "zero":
        return np.zeros_like(A)
    options = {"svd_method": svd_method} if "svd_method" in get_algorithm(init).options else {}
    return _run_init(init, A, W, rank, seed=seed, monitor=monitor, **options)


def fit_em(A, W, rank, *, seed, monitor, n_iter, init, svd_method) -> Fit:
    """EM from ``init``: zero, another algorithm's output, or a given n x d array."""
    X = _initial_estimate(A, W, rank, init, seed=seed, monitor=monitor, svd_method=svd_method)
    return _refine(A, W, rank, X, n_iter=n_iter, seed=seed, monitor=monitor, svd_method=svd_method)


def fit_svd_w_em(A, W, rank, *, seed, monitor, n_iter, weight_rank, svd_method) -> Fit:
    """``svd_w_practical`` (approximate="weights") refined by ``n_iter`` EM iterations."""
    X = _run_init("svd_w_practical", A, W, rank, seed=seed, monitor=monitor,
                  weight_rank=weight_rank, approximate="weights", svd_method=svd_method)
    return _refine(A, W, rank, X, n_iter=n_iter, seed=seed, monitor=monitor, svd_method=svd_method)


_INIT = Option(
    "zero", _valid_init,
    'init must be "zero", an n x d array, or one of ' + ", ".join(map(repr, INIT_ALGORITHMS)),
)

ALGORITHMS = {
    "em": Algorithm(
        name="em",
        summary="Expectation-maximisation: repeatedly fill low-weight entries with the current "
        "estimate and take a rank-k SVD; loss never increases (slow: one SVD per iteration).",
        reference="Srebro & Jaakkola, Weighted low-rank approximations, ICML 2003",
        options={
            "n_iter": iterations(25),
            "init": _INIT,
            "svd_method": SVD_METHOD,
        },
        fit_fn=fit_em,
    ),
    "svd_w_em": Algorithm(
        name="svd_w_em",
        summary="svd_w_practical (approximate='weights') refined by a few EM iterations: "
        "most of EM's loss at a fraction of its cost (the paper's Figure 4).",
        reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Figure 4; "
        "Srebro & Jaakkola, ICML 2003",
        options={
            "n_iter": iterations(5),
            "weight_rank": WEIGHT_RANK,
            "svd_method": SVD_METHOD,
        },
        fit_fn=fit_svd_w_em,
    ),
}
