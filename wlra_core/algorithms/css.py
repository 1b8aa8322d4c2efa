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

Stored: the chosen columns of ``W o A``, their coefficients, and the divisor W (or the
floored W, see ``weight_floor``): ``n c + c d + n d`` numbers.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ..factors import Reweighted
from ..linalg import ONE_SHOT_OVERSAMPLES, Projection, thin_qr, truncated_svd, weighted_product
from ..options import Choices, Interval, NoneAllowed, Option
from ..result import Fit
from . import SVD_METHOD, WEIGHT_FLOOR, WEIGHT_RANK, Algorithm, floored

SELECTIONS = ("leverage", "pivoted_qr", "uniform")


def leverage_scores(M: np.ndarray, rank: int, *, seed, svd_method: str = "auto") -> np.ndarray:
    """Rank-``rank`` column leverage scores of ``M``: squared column norms of its top-k ``Vt``."""
    Vt = truncated_svd(M, rank, method=svd_method, seed=seed, n_oversamples=ONE_SHOT_OVERSAMPLES)[2]
    return np.einsum("ij,ij->j", Vt, Vt)


def _sample_without_replacement(rng, scores: np.ndarray, size: int) -> np.ndarray:
    # Columns with score 0 can only come after every positive one (uniformly among them).
    positive = np.flatnonzero(scores > 0)
    if positive.size >= size:
        p = scores[positive] / scores[positive].sum()
        return positive[rng.choice(positive.size, size=size, replace=False, p=p)]
    rest = np.flatnonzero(scores <= 0)
    return np.concatenate([positive, rng.choice(rest, size=size - positive.size, replace=False)])


def select_columns(M, n_columns: int, selection: str = "leverage", *, rank: int, seed=0,
                   svd_method: str = "auto", what: str = "columns") -> np.ndarray:
    """Indices (sorted) of ``n_columns`` columns of ``M`` chosen by ``selection``.

    Parameters
    ----------
    M : ndarray of shape (n, d)
    n_columns : int
        ``1 <= n_columns <= d``.
    selection : {"leverage", "pivoted_qr", "uniform"}
    rank : int
        Rank of the leverage scores (unused by the other selections), capped at ``min(n, d)``.
    seed : int or numpy.random.SeedSequence
        Seed of the sampling selections.
    svd_method : {"auto", "exact", "randomized"}
        SVD behind the leverage scores.
    what : str
        How messages name the columns of ``M`` (css on the transpose selects "rows").

    Returns
    -------
    ndarray of int, shape (n_columns,)
    """
    d = M.shape[1]
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    if not 1 <= n_columns <= d:
        defect = f"exceeds the {d} {what} of the matrix" if n_columns > d else "is below 1"
        raise ValueError(f"n_columns={n_columns} {defect}; n_columns must be between 1 and {d}")
    rng = np.random.default_rng(seed)
    if selection == "leverage":
        chosen = _sample_without_replacement(
            rng, leverage_scores(M, min(rank, min(M.shape)), seed=seed, svd_method=svd_method), n_columns)
    elif selection == "pivoted_qr":
        chosen = scipy.linalg.qr(M, mode="r", pivoting=True, check_finite=False)[1][:n_columns]
    else:
        chosen = rng.choice(d, size=n_columns, replace=False)
    return np.sort(chosen)


def column_coefficients(M: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``C = M[:, columns]``, ``X = C^+ M`` (``C X`` is the best approximation of M in their
    span) and ``||C X||_F^2``.

    From the thin QR ``C = Q R``: ``X = R^+ (Q^T M)``, a least-squares problem of c
    unknowns, and ``||C X|| = ||R X||``; one product with M and nothing else of its size.
    """
    C = M[:, columns]
    Q, R = thin_qr(C)
    X = scipy.linalg.lstsq(R, Q.T @ M, check_finite=False)[0]
    RX = R @ X
    return C, X, float(np.einsum("ij,ij->", RX, RX))


def fit(A, W, rank, *, seed, monitor, n_columns, selection, axis, weight_rank, weight_floor, svd_method,
        weighted=None):
    if weighted is None:
        weighted = weighted_product(A, W)
    candidates = weighted.T if axis == "rows" else weighted
    d = candidates.shape[1]
    c = min(weight_rank * rank, d) if n_columns is None else n_columns
    chosen = select_columns(candidates, c, selection, rank=weight_rank * rank, seed=seed, svd_method=svd_method,
                            what=axis)
    C, X, kept = column_coefficients(candidates, chosen)
    divisor = floored(W, weight_floor)
    if axis == "rows":  # X^T C^T: coefficients times the chosen rows of W o A
        factors = Reweighted(X.T, C.T, divisor, names=("coefficients", "rows"))
    else:
        factors = Reweighted(C, X, divisor, names=("columns", "coefficients"))
    projection = None
    if weight_floor == 0:  # divided by W itself, W o X is the projection of W o A onto the chosen columns
        widths = np.full(factors.width, np.nan)
        widths[-1] = kept
        projection = Projection(widths)
    return Fit(factors, extra={"axis": axis, axis: chosen}, projection=projection)


ALGORITHM = Algorithm(
    name="css",
    summary="Column subset selection: project W o A onto a few of its own columns (leverage "
    "scores, pivoted QR or uniform), divide by W; keeps A's columns (Corollary 1.3).",
    reference="Woodruff & Yasuda, Reweighted solutions for WLRA, Corollary 1.3",
    options={
        "n_columns": Option(None, (Interval(int, 1), NoneAllowed("weight_rank * rank")),
                            "how many columns (or rows) to keep"),
        "selection": Option("leverage", (Choices(SELECTIONS),), "how the columns are chosen"),
        "axis": Option("columns", (Choices(("columns", "rows")),), "select columns or rows of W o A"),
        "weight_rank": WEIGHT_RANK,
        "weight_floor": WEIGHT_FLOOR,
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
    divides_by_weights=True,
    starts_from_weighted=True,
)
