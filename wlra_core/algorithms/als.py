"""``als``: alternating weighted least squares on the factors of ``X = U V``.

Each sweep solves exactly for V given U (one weighted least-squares problem per column)
and then for U given V (one per row), so the loss never increases (in floating point it may
rise by rounding, about 1e-14 of itself; the tests allow 1e-12). The factors are kept
orthonormal between half-steps (a change of basis of the same span: same minimum, better
conditioned Gram matrices).

Start (not random): the row space of ``svd_w_practical`` with a rank-1 weight stand-in
``a b^T``, whose output is ``diag(1/a) ((a b^T) o A)_k diag(1/b)``, i.e. ``V0 = Vt diag(1/b)``;
iteration 0 is that start with its coefficients U refitted (never worse than
svd_w_practical itself).
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import ScaledMatrix, divide_by_weights, orthonormal_columns, truncated_svd, weighted_loss, weighted_row_fit
from ..result import Fit
from . import SVD_METHOD, Algorithm, iterations
from .svd_w_practical import perron_factors


def _orthonormal_rows(V: np.ndarray) -> np.ndarray:
    return orthonormal_columns(V.T).T


def initial_basis(A, W, rank, *, seed, svd_method) -> np.ndarray:
    """Orthonormal (k, d) basis of the row space of svd_w_practical's rank-k output."""
    a, b = perron_factors(W, seed=seed)
    Vt = truncated_svd(ScaledMatrix(A, a, b), rank, method=svd_method, seed=seed)[2]
    return _orthonormal_rows(divide_by_weights(Vt, b))


def fit(A, W, rank, *, seed, monitor, n_iter, svd_method):
    W2 = W * W
    V = initial_basis(A, W, rank, seed=seed, svd_method=svd_method)
    U = weighted_row_fit(A, W2, V)
    X = U @ V
    monitor.record(0, weighted_loss(A, W, X))
    for sweep in range(1, n_iter + 1):
        monitor.check_stop()
        # Columns given U (rows of the transposed problem), then rows given V.
        V = _orthonormal_rows(weighted_row_fit(A.T, W2.T, _orthonormal_rows(U.T)).T)
        U = weighted_row_fit(A, W2, V)
        np.matmul(U, V, out=X)
        monitor.record(sweep, weighted_loss(A, W, X))
        monitor.report(sweep / n_iter, f"ALS sweep {sweep}/{n_iter}")
    return Fit(LowRank(U, V))


ALGORITHM = Algorithm(
    name="als",
    summary="Alternating weighted least squares on U and V (exact row and column solves) "
    "from svd_w_practical's factorisation; loss never increases.",
    reference="Srebro & Jaakkola, ICML 2003; Hastie et al., JMLR 2015; Song et al. 2023",
    options={
        "n_iter": iterations(25),
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
)
