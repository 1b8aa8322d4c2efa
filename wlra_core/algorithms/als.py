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

``l2 > 0`` adds a ridge penalty: ALS then minimises, over X of rank k,

    ||W o (A - X)||_F^2 + l2 max(W^2) ||X||_F^2

(the penalty scaled by ``max(W^2)`` so that results do not change when W is multiplied by
a constant; ``l2`` counts pseudo-observations of 0 at the largest weight). Because the
factor held fixed in each half-step is orthonormal, the penalty on the factor being solved
for is exactly ``||X||_F^2``, so each half-step still minimises the whole objective over
its factor and the objective never increases. Rows or columns with few observed entries
are then shrunk towards 0 instead of fitting their few entries exactly. ``l2 = 0`` is the
plain algorithm, bit for bit.
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import ScaledMatrix, divide_by_weights, orthonormal_columns, truncated_svd, weighted_loss, weighted_row_fit
from ..options import Interval, Option
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


def fit(A, W, rank, *, seed, monitor, n_iter, l2, svd_method):
    W2 = W * W
    ridge = l2 * float(W2.max())
    V = initial_basis(A, W, rank, seed=seed, svd_method=svd_method)
    U = weighted_row_fit(A, W2, V, ridge)
    X = U @ V
    monitor.record(0, weighted_loss(A, W, X))
    for sweep in range(1, n_iter + 1):
        monitor.check_stop()
        # Columns given U (rows of the transposed problem), then rows given V.
        V = _orthonormal_rows(weighted_row_fit(A.T, W2.T, _orthonormal_rows(U.T), ridge).T)
        U = weighted_row_fit(A, W2, V, ridge)
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
        "l2": Option(0.0, (Interval(float, 0.0),),
                     "ridge penalty l2 max(W^2) ||X||_F^2 (0: unregularised)"),
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
)
