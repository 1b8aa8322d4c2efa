"""The majorisation step shared by ``em``, ``svd_w_em`` and ``soft_impute``.

With ``Q = W^2 / max(W^2)`` (entrywise, in [0, 1]) and any estimate ``Y``, the filled-in
matrix ``M(Y) = Q o A + (1 - Q) o Y`` gives the surrogate

    G(X; Y) = ||M(Y) - X||_F^2 + const(Y)  >=  ||sqrt(Q) o (A - X)||_F^2,

with equality at ``X = Y``. Any X that is at least as good as Y on the surrogate is at
least as good on the weighted loss, so iterating "fill in, then solve the unweighted
problem on M" never increases the loss: a truncated SVD of M (em), or a soft-thresholded
one (soft_impute, for which this is a proximal-gradient step of step size 1).

Each step needs only the top singular triplets of M, and M changes little from one step
to the next: :class:`WarmSVD` computes them by one block power (subspace) iteration
started from the previous step's right singular subspace -- two products with M of
O(n d w) each, for w = k + oversampling -- instead of a fresh SVD. Because the previous
output's row space lies in that subspace, the new output is never worse on the surrogate
than the previous one (see :meth:`WarmSVD.__call__`), which keeps both methods monotone.
"""
from __future__ import annotations

import numpy as np

from ..linalg import orthonormal_columns, truncated_svd
from ..seeding import child_seed

__all__ = ["trust", "fill", "converged", "WarmSVD", "OVERSAMPLES"]

# Extra search directions beyond the k the output keeps: the subspace iteration converges
# at the rate sigma_{k + OVERSAMPLES + 1} / sigma_k per step.
OVERSAMPLES = 5


def trust(W: np.ndarray) -> np.ndarray:
    """``Q = W^2 / max(W^2)``, without squaring W itself (no overflow for huge weights)."""
    Q = W / W.max()
    Q *= Q
    return Q


def fill(A: np.ndarray, Q: np.ndarray, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = Q o A + (1 - Q) o X = X + Q o (A - X)``, built in ``out`` without temporaries."""
    np.subtract(A, X, out=out)
    out *= Q
    out += X
    return out


def converged(previous: float, loss: float, tol: float) -> bool:
    """Whether a monotone iteration whose loss (or objective) went from ``previous`` to ``loss`` stops:
    it fell by at most ``tol * previous`` (always false for ``tol = 0``)."""
    return tol > 0 and previous - loss <= tol * previous


class WarmSVD:
    """Top-``width`` singular triplets of a sequence of slowly changing n x d matrices.

    Parameters
    ----------
    shape : (n, d)
    rank : int
        The number of triplets the caller keeps; ``width`` is rank plus
        :data:`OVERSAMPLES`, at most ``min(n, d)``.
    method : {"auto", "exact", "randomized"}
        ``exact`` takes LAPACK's SVD every call. ``randomized`` starts with a seeded
        randomized SVD, ``auto`` with :func:`wlra_core.linalg.truncated_svd`'s own choice;
        every later call is then one subspace-iteration step from the previous right
        vectors -- for ``auto`` only while that is cheaper than a full SVD, that is while
        ``2 * width <= min(n, d)`` (two products of width ``width`` against one SVD).
    seed : SeedSequence
    basis : ndarray of shape (j, d), optional
        Right vectors spanning the row space of the caller's starting estimate; they join
        the first randomized search space so the first step cannot lose them.
    """

    def __init__(self, shape: tuple[int, int], rank: int, *, method: str, seed: np.random.SeedSequence,
                 basis: np.ndarray | None = None):
        self.width = min(rank + OVERSAMPLES, min(shape))
        self.method = method
        self.subspace = method == "randomized" or (method == "auto" and 2 * self.width <= min(shape))
        self.seed = seed
        self.basis = basis
        self._calls = 0

    def __call__(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``U`` (n, w), ``s`` (w,), ``Vt`` (w, d) with deterministic signs, descending ``s``.

        A subspace step returns the exact SVD of ``P M``, where P
        projects onto the span of ``M V^T`` and V holds the previous call's right vectors.
        That span contains ``M v`` for each previous right vector v, so for every k up
        to the previous output's rank the rank-k truncation (or soft thresholding) of
        ``P M`` is at least as good on M as the previous output restricted to those
        vectors' row space.
        """
        self._calls += 1
        if self._calls == 1 or not self.subspace:
            warm = None if self.basis is None else self.basis.T
            U, s, Vt = truncated_svd(M, self.width, method=self.method, seed=child_seed(self.seed, 1),
                                     warm_start=warm)
        else:
            Q = orthonormal_columns(M @ self.basis.T)
            Ub, s, Vt = truncated_svd(Q.T @ M, self.width, method="exact")
            U = Q @ Ub
        self.basis = Vt
        return U, s, Vt
