"""``sample``: row-norm (length-squared) sampling for WLRA (Dai 2023, as corrected in the paper).

1. Sample ``s`` rows of ``W o A`` i.i.d. with probability ``p_i`` proportional to their
   squared norms, and rescale each sampled row by ``1 / sqrt(s p_i)`` (so the sample's Gram
   matrix is an unbiased estimate of ``(W o A)^T (W o A)``; Frieze, Kannan & Vempala 2004).
2. Take the top-k right singular subspace of the rescaled ``s x d`` sample.
3. Fit every row of A onto that subspace by weighted least squares.

Default ``s = min(n, max(4k, 50))``: a small multiple of k (the guarantee needs
``s = O(k / eps)``) but never fewer than 50 rows, capped at n.
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import truncated_svd, weighted_row_fit
from ..options import Interval, NoneAllowed, Option
from ..result import Fit
from . import SVD_METHOD, Algorithm


def default_n_samples(n: int, rank: int) -> int:
    return min(n, max(4 * rank, 50))


def row_norm_sample(M: np.ndarray, n_samples: int, *, seed) -> np.ndarray:
    """``n_samples`` rescaled rows of ``M`` drawn i.i.d. proportionally to squared row norms.

    A zero matrix has no preferred rows: it is sampled uniformly.
    """
    n = M.shape[0]
    mass = np.einsum("ij,ij->i", M, M)
    total = mass.sum()
    p = mass / total if total > 0 else np.full(n, 1.0 / n)
    rows = np.random.default_rng(seed).choice(n, size=n_samples, replace=True, p=p)
    return M[rows] / np.sqrt(n_samples * p[rows])[:, None]


def fit(A, W, rank, *, seed, monitor, n_samples, svd_method):
    s = default_n_samples(A.shape[0], rank) if n_samples is None else n_samples
    if s < rank:
        raise ValueError(f"sample: n_samples={s} is below the rank {rank}; use n_samples >= rank")
    sample = row_norm_sample(W * A, s, seed=seed)
    Vt = truncated_svd(sample, rank, method=svd_method, seed=seed)[2]
    return Fit(LowRank(weighted_row_fit(A, W * W, Vt), Vt), extra={"n_samples": s})


ALGORITHM = Algorithm(
    name="sample",
    summary="Row-norm sampling: top-k right singular subspace of rows of W o A sampled by "
    "squared norm, then a weighted least-squares fit of every row onto it.",
    reference="Dai, On algorithms for weighted low rank approximation, CMU 2023 "
    "(as corrected in Woodruff & Yasuda, Appendix D)",
    options={
        "n_samples": Option(None, (Interval(int, 1), NoneAllowed("min(n, max(4k, 50))")),
                            "rows sampled from W o A"),
        "svd_method": SVD_METHOD,
    },
    fit_fn=fit,
)
