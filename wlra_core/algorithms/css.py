"""``css``: weighted column subset selection (Corollary 1.3 of the paper).

Choose a set S of columns of ``W o A``, approximate ``W o A`` by its projection onto
their span, ``C X`` with ``C = (W o A)[:, S]`` and ``X = C^+ (W o A)``, and divide by W
(zero weights give 0). The answer is built from A's columns in S (and coefficients X),
which makes it a feature selection with a weighted objective; ``axis="rows"`` selects rows
instead (e.g. input pixels of an MLP kernel) by working on the transpose.

Selections (:func:`select_columns`):

* ``"leverage"``: seeded sampling without replacement, with probabilities proportional
  to the rank-rk column leverage scores of ``W o A`` (Drineas, Mahoney & Muthukrishnan 2008).
* ``"pivoted_qr"``: the first pivots of QR with column pivoting (Businger & Golub 1965),
  deterministic.
* ``"uniform"``: seeded uniform sampling without replacement, a baseline.

Default ``n_columns = weight_rank * k`` (capped at the number of candidates), the
rank Theorem 1.2 needs; more columns trade parameters for loss (Corollary 1.3 uses
``O(rk / eps)``).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ..linalg import divide_by_weights, truncated_svd
from ..result import Fit
from . import SVD_METHOD, WEIGHT_RANK, Algorithm, Option, one_of, positive_int

SELECTIONS = ("leverage", "pivoted_qr", "uniform")


def leverage_scores(M: np.ndarray, rank: int, *, seed: int, svd_method: str = "auto") -> np.ndarray:
    """Rank-``rank`` column leverage scores of ``M``: squared column norms of its top-k ``Vt``."""
    Vt = truncated_svd(M, rank, method=svd_method, seed=seed)[2]
    return np.einsum("ij,ij->j", Vt, Vt)


def _sample_without_replacement(rng, scores: np.ndarray, size: int) -> np.ndarray:
    # Columns with score 0 can only come after every positive one (uniformly among them).
    positive = np.flatnonzero(scores > 0)
    if positive.size >= size:
        p = scores[positive] / scores[positive].sum()
        return positive[rng.choice(positive.size, size=size, replace=False, p=p)]
    rest = np.flatnonzero(scores <= 0)
    return np.concatenate([positive, rng.choice(rest, size=size - positive.size, replace=False)])


def select_columns(M, n_columns: int, selection: str = "leverage", *, rank: int, seed: int = 0,
                   svd_method: str = "auto") -> np.ndarray:
    """Indices (sorted) of ``n_columns`` columns of ``M`` chosen by ``selection``.

    Parameters
    ----------
    M : ndarray of shape (n, d)
    n_columns : int
        ``1 <= n_columns <= d``.
    selection : {"leverage", "pivoted_qr", "uniform"}
    rank : int
        Rank of the leverage scores (unused by the other selections), ``<= min(n, d)``.
    seed : int
        Seed of the sampling selections.

    Returns
    -------
    ndarray of int, shape (n_columns,)
    """
    d = M.shape[1]
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    if not 1 <= n_columns <= d:
        raise ValueError(f"n_columns must be between 1 and {d}, got {n_columns}")
    rng = np.random.default_rng(seed)
    if selection == "leverage":
        chosen = _sample_without_replacement(
            rng, leverage_scores(M, min(rank, min(M.shape)), seed=seed, svd_method=svd_method), n_columns)
    elif selection == "pivoted_qr":
        chosen = scipy.linalg.qr(M, mode="r", pivoting=True, check_finite=False)[1][:n_columns]
    else:
        chosen = rng.choice(d, size=n_columns, replace=False)
    return np.sort(chosen)


def project_onto_columns(M: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``C C^+ M`` with ``C = M[:, columns]``: the best approximation of M in their span."""
    C = M[:, columns]
    X = scipy.linalg.lstsq(C, M, check_finite=False)[0]
    return C @ X


def fit(A, W, rank, *, seed, monitor, n_columns, selection, axis, weight_rank, svd_method):
    if axis == "rows":
        A, W = A.T, W.T
    n, d = A.shape
    c = min(weight_rank * rank, d) if n_columns is None else n_columns
    if c > d:
        raise ValueError(f"css: n_columns={c} exceeds the {d} {axis} of the matrix")
    weighted = W * A
    chosen = select_columns(weighted, c, selection, rank=weight_rank * rank, seed=seed,
                            svd_method=svd_method)
    approx = divide_by_weights(project_onto_columns(weighted, chosen), W)
    if axis == "rows":
        approx = approx.T
    # The chosen columns of A, their coefficients X, and the r factors of W.
    n_params = n * c + c * d + weight_rank * (n + d)
    return Fit(approx, n_params=n_params, extra={"axis": axis, axis: chosen})


ALGORITHMS = {
    "css": Algorithm(
        name="css",
        summary="Column subset selection: project W o A onto a few of its own columns (leverage "
        "scores, pivoted QR or uniform), divide by W; keeps A's columns (Corollary 1.3).",
        reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Corollary 1.3",
        options={
            "n_columns": Option(None, lambda v: v is None or positive_int(v),
                                "n_columns must be an integer >= 1 (None: weight_rank * rank)"),
            "selection": Option("leverage", one_of(*SELECTIONS),
                                "selection must be one of " + ", ".join(map(repr, SELECTIONS))),
            "axis": Option("columns", one_of("columns", "rows"), 'axis must be "columns" or "rows"'),
            "weight_rank": WEIGHT_RANK,
            "svd_method": SVD_METHOD,
        },
        fit_fn=fit,
    )
}
