"""Linear algebra shared by every algorithm: one truncated SVD, losses, safe division.

All functions are pure: explicit shapes in, arrays out, no hidden state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dger as _dger

from .factors import BLOCK_ENTRIES, Factorization, row_blocks

__all__ = [
    "ScaledMatrix",
    "svd_flip",
    "truncated_svd",
    "uses_randomized",
    "low_rank_approx",
    "tail_mass",
    "SquareSum",
    "square_sum",
    "ResidualStats",
    "residual_stats",
    "truncation_stats",
    "weighted_square_sum",
    "weighted_loss",
    "weighted_mass",
    "divide_by_weights",
    "entrywise_inverse",
    "weighted_row_fit",
    "orthonormal_columns",
    "spectrum",
    "round_off",
    "cumulative_mass",
    "first_singular_mass",
    "numerical_rank",
    "ROW_BLOCK",
]

# Rows per batch of weighted_row_fit's least-squares solves (fisher_like also takes it as
# its tile height). Unlike BLOCK_ENTRIES and EVALUATION_BLOCK it counts rows, not entries:
# a batch's temporaries are ROW_BLOCK x d (W2 o A) and ROW_BLOCK x j^2 (the Gram matrices,
# decomposed in one batched call), 32 MiB each at d = j^2 = 1024.
ROW_BLOCK = 4096

# Entries per row block of this module's loss passes. A loss pass keeps the blocks of A
# and W and up to five work arrays of this size in cache at once, about twice as many as
# the passes of wlra_core.factors (a block of the product and one of its multiplier), so
# its blocks are half of BLOCK_ENTRIES: the same cache budget.
EVALUATION_BLOCK = BLOCK_ENTRIES // 2

SVD_METHODS = ("auto", "exact", "randomized")


@dataclass(frozen=True, eq=False)
class ScaledMatrix:
    """``diag(left) @ (weights o A) @ diag(right)`` without forming it (None: no such factor).

    :func:`truncated_svd` multiplies by it in its randomized path, so scaling a 67 500 x 1024
    matrix before its SVD costs no n x d temporary: diagonal scalings (fwsvd, a rank-1 weight
    stand-in) ride on the products with A; an entrywise ``weights`` (svd_w's W o A) is applied
    one row block at a time. The exact path forms the matrix with :meth:`dense`.
    """

    A: np.ndarray
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    weights: np.ndarray | None = None
    transposed: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        n, d = self.A.shape
        return (d, n) if self.transposed else (n, d)

    @property
    def T(self) -> "ScaledMatrix":
        return ScaledMatrix(self.A, self.left, self.right, self.weights, not self.transposed)

    def __matmul__(self, X: np.ndarray) -> np.ndarray:
        inner, outer = (self.left, self.right) if self.transposed else (self.right, self.left)
        if inner is not None:
            X = inner[:, None] * X
        out = self._product(X)
        if outer is not None:
            out *= outer[:, None]
        return out

    def _product(self, X: np.ndarray) -> np.ndarray:
        """``(weights o A) @ X`` (or its transpose's), blockwise when there are weights."""
        if self.weights is None:
            return (self.A.T if self.transposed else self.A) @ X
        n, d = self.A.shape
        if self.transposed:
            out = np.zeros((d, X.shape[1]))
            for rows in row_blocks(n, d):
                out += (self.weights[rows] * self.A[rows]).T @ X[rows]
            return out
        out = np.empty((n, X.shape[1]))
        for rows in row_blocks(n, d):
            out[rows] = (self.weights[rows] * self.A[rows]) @ X
        return out

    def dense(self) -> np.ndarray:
        out = np.array(self.A, dtype=np.float64) if self.weights is None else self.weights * self.A
        if self.left is not None:
            out *= self.left[:, None]
        if self.right is not None:
            out *= self.right[None, :]
        return out.T if self.transposed else out


def svd_flip(U: np.ndarray, Vt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fix singular-vector signs: the largest-magnitude entry of each column of U is positive.

    Parameters
    ----------
    U : ndarray of shape (n, k)
    Vt : ndarray of shape (k, d)
    """
    if U.shape[1] == 0:
        return U, Vt
    rows = np.argmax(np.abs(U), axis=0)
    signs = np.sign(U[rows, np.arange(U.shape[1])])
    signs[signs == 0] = 1.0
    return U * signs, Vt * signs[:, None]


def uses_randomized(shape: tuple[int, int], k: int, method: str = "auto", n_oversamples: int = 20) -> bool:
    """Whether :func:`truncated_svd` with these arguments takes the randomized path."""
    if method != "auto":
        return method == "randomized"
    # A dense LAPACK SVD costs ~ n d min(n, d); the randomized one ~ n d (k + p) per pass.
    # Small matrices or large k gain nothing from sketching.
    small = min(shape)
    return small > 300 and 4 * (k + n_oversamples) < small


def truncated_svd(
    M: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    seed: int = 0,
    n_oversamples: int = 20,
    n_power_iter: int = 2,
    warm_start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` singular triplets of ``M`` with deterministic signs.

    Parameters
    ----------
    M : ndarray of shape (n, d), or ScaledMatrix
    k : int
        Number of singular triplets, ``1 <= k <= min(n, d)``.
    method : {"auto", "exact", "randomized"}
        ``exact`` is LAPACK's divide-and-conquer SVD; ``randomized`` is a seeded
        range finder with ``n_power_iter`` QR-normalised power iterations (Halko,
        Martinsson & Tropp 2011). ``auto`` picks randomized when it is much cheaper.
    seed : int
        Seed of the Gaussian test matrix.
    warm_start : ndarray of shape (d, j), optional
        Right vectors to include in the randomized search space. Iterative callers
        pass their previous right singular vectors so the returned rank-k
        approximation is never worse, on ``M``, than the previous one projected
        (this keeps EM monotone).

    Returns
    -------
    U : ndarray of shape (n, k)
    s : ndarray of shape (k,)
    Vt : ndarray of shape (k, d)
    """
    if method not in SVD_METHODS:
        raise ValueError(f"method must be one of {SVD_METHODS}, got {method!r}")
    n, d = M.shape
    if not 1 <= k <= min(n, d):
        raise ValueError(f"k must be between 1 and {min(n, d)}, got {k}")
    if not uses_randomized(M.shape, k, method, n_oversamples):
        U, s, Vt = _thin_svd(M.dense() if isinstance(M, ScaledMatrix) else M)
        U, Vt = svd_flip(U[:, :k], Vt[:k])
        return U, s[:k], Vt
    return _randomized_svd(M, k, seed, n_oversamples, n_power_iter, warm_start)


# The factorizations inside the randomized SVD use numpy.linalg, not scipy.linalg: numpy
# and scipy each bundle their own OpenBLAS, and alternating between the two thread pools
# (numpy's matmul, scipy's QR) left their idle threads spinning against each other, which
# cost ~0.3 s of a 1.3 s randomized SVD of a 67500 x 1024 matrix on 2 cores.
def _thin_svd(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LAPACK's divide-and-conquer SVD, falling back to gesvd when gesdd does not converge
    (it fails on some ill-scaled matrices, e.g. greedy's gradients, where gesvd succeeds)."""
    try:
        return np.linalg.svd(M, full_matrices=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(M, full_matrices=False, lapack_driver="gesvd", check_finite=False)


def orthonormal_columns(Y: np.ndarray) -> np.ndarray:
    """An orthonormal basis (n, j) of the column space of ``Y`` (n, j), by Householder QR."""
    return np.linalg.qr(Y)[0]


def _randomized_svd(M, k, seed, n_oversamples, n_power_iter, warm_start):
    n, d = M.shape
    width = min(k + n_oversamples, min(n, d))
    rng = np.random.default_rng(seed)
    # Work on the right (d-dimensional) side: the search space is a d x width basis.
    V = orthonormal_columns(M.T @ rng.standard_normal((n, width)))
    for _ in range(n_power_iter):
        V = orthonormal_columns(M.T @ orthonormal_columns(M @ V))
    if warm_start is not None and warm_start.size:
        V = orthonormal_columns(np.hstack([V, warm_start]))
    B = M @ V  # n x width': the projection of M onto the search space
    Ub, s, Wt = _thin_svd(B)
    U, Vt = svd_flip(Ub[:, :k], Wt[:k] @ V.T)
    return U, s[:k], Vt


def low_rank_approx(M: np.ndarray, k: int, **svd_options) -> np.ndarray:
    """Rank-``k`` approximation ``U diag(s) Vt`` of ``M`` (see :func:`truncated_svd`)."""
    U, s, Vt = truncated_svd(M, k, **svd_options)
    return (U * s) @ Vt


def spectrum(M: np.ndarray) -> np.ndarray:
    """All singular values of ``M``, descending."""
    return scipy.linalg.svd(M, compute_uv=False, lapack_driver="gesdd", check_finite=False)


def tail_mass(M: np.ndarray, k: int) -> float:
    """``||M - M_k||_F^2``: the squared singular values of ``M`` beyond the k-th."""
    s = spectrum(M)
    return float(np.sum(s[k:] ** 2))


def round_off(s: np.ndarray, shape: tuple[int, int]) -> float:
    """The level at or below which singular values are indistinguishable from zero.

    NumPy's ``matrix_rank`` tolerance ``s_1 eps max(n, d)``: an SVD in float64 returns
    values down to about 1e-200 for an exactly low-rank matrix, and those are noise.

    Parameters
    ----------
    s : ndarray of shape (min(n, d),)
        Singular values of an n x d matrix, descending.
    shape : tuple of int
        ``(n, d)``.
    """
    return float(s[0] * np.finfo(np.float64).eps * max(shape))


def cumulative_mass(s: np.ndarray) -> np.ndarray:
    """Fraction of ``sum s_i^2`` held by the first ``i`` singular values, ``i = 1..len(s)``.

    Computed from ``s / s_1``, so it neither overflows nor underflows and does not change
    when the matrix is multiplied by a constant.
    """
    energy = np.cumsum((s / s[0]) ** 2)
    return energy / energy[-1]


def first_singular_mass(W: np.ndarray, *, singular_values: np.ndarray | None = None) -> float:
    """Fraction of ``||W||_F^2`` in the first singular value, ``s_1^2 / sum s_i^2``.

    Pass W's ``singular_values`` when they are at hand (they are not recomputed).
    """
    s = spectrum(W) if singular_values is None else singular_values
    return float(cumulative_mass(s)[0])


def numerical_rank(W: np.ndarray, rtol: float | None = None, *, singular_values: np.ndarray | None = None) -> int:
    """Number of singular values above ``rtol * s_1`` (default: :func:`round_off`).

    Pass W's ``singular_values`` when they are at hand (they are not recomputed).
    """
    s = spectrum(W) if singular_values is None else singular_values
    tolerance = round_off(s, W.shape) if rtol is None else rtol * s[0]
    return int(np.sum(s > tolerance))


@dataclass(frozen=True)
class SquareSum:
    """A sum of squares held as ``mantissa * 2**exponent``: it neither overflows nor underflows.

    ``float(s)`` is the plain value (inf or 0 when float64 cannot hold it); ratios of two
    sums (relative losses) are exact whatever their size. A NaN/Inf term makes the sum
    non-finite (``finite`` is False).
    """

    mantissa: float = 0.0
    exponent: int = 0

    @classmethod
    def of(cls, value: float) -> "SquareSum":
        """``value`` (a float64 sum of squares) as a SquareSum."""
        mantissa, exponent = math.frexp(value)
        return cls(mantissa, exponent)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.mantissa)

    def __float__(self) -> float:
        try:
            return math.ldexp(self.mantissa, self.exponent)
        except OverflowError:
            return math.inf

    def __add__(self, other: "SquareSum") -> "SquareSum":
        if not (self.finite and other.finite):
            return SquareSum(self.mantissa + other.mantissa, 0)
        if other.mantissa == 0:
            return self
        if self.mantissa == 0:
            return other
        top = max(self.exponent, other.exponent)
        total = math.ldexp(self.mantissa, self.exponent - top) + math.ldexp(other.mantissa, other.exponent - top)
        mantissa, shift = math.frexp(total)
        return SquareSum(mantissa, top + shift)

    def scaled(self, exponent: int) -> "SquareSum":
        """The sum times ``2**exponent``."""
        return SquareSum(self.mantissa, self.exponent + exponent)

    def ratio(self, other: "SquareSum") -> float:
        """``self / other`` (0 when both are 0, inf when only ``other`` is)."""
        if other.mantissa == 0:
            return 0.0 if self.mantissa == 0 else math.inf
        try:
            return math.ldexp(self.mantissa / other.mantissa, self.exponent - other.exponent)
        except OverflowError:
            return math.inf


_TINY = 2.0**-900  # a dot product below this may have lost its terms to underflow


def square_sum(r: np.ndarray) -> SquareSum:
    """``sum(r**2)`` of a contiguous array as a :class:`SquareSum`, rescaled only when needed."""
    r = np.ascontiguousarray(r).ravel()
    with np.errstate(over="ignore"):  # an overflowing square is rescaled below
        plain = float(np.dot(r, r))  # BLAS ddot: several times faster than einsum here
    # A zero dot product is exact only for an all-zero r: nonzero terms may have underflowed.
    if math.isfinite(plain) and (plain >= _TINY or not r.any()):
        return SquareSum.of(plain)
    largest = float(np.max(np.abs(r)))
    if not math.isfinite(largest):
        return SquareSum(math.nan, 0)
    shift = math.frexp(largest)[1]
    scaled = np.ldexp(r, -shift)
    return SquareSum.of(float(np.dot(scaled, scaled))).scaled(2 * shift)


@dataclass(frozen=True)
class ResidualStats:
    """``||W o (A - X)||_F^2`` and the largest ``|X|``, from one pass over row blocks."""

    loss: SquareSum
    max_abs: float


def residual_stats(A: np.ndarray, W: np.ndarray, X: Factorization) -> ResidualStats:
    """Weighted loss and ``max |X|`` of a factorization ``X``, in one blockwise pass.

    X is formed a row block at a time, so a factored 67500 x 1024 approximation is never
    held whole.
    """
    return truncation_stats(A, W, X, [X.width])[0]


def truncation_stats(A: np.ndarray, W: np.ndarray, X: Factorization, widths) -> list[ResidualStats]:
    """:class:`ResidualStats` of X cut to its first ``w`` terms (``U[:, :w] @ V[:w]``, with X's
    divisor or multiplier) for every ``w`` in ``widths``, in one pass.

    The truncations share their leading terms (the svd family's ranks 1..k come from one
    SVD), so each row block of A and W is read once and the product grows term by term:
    the cost of evaluating 20 ranks is close to that of the largest one.
    """
    widths = [int(w) for w in widths]
    order = sorted(range(len(widths)), key=widths.__getitem__)
    totals = _truncation_pass(A, W, X, [widths[i] for i in order], row_blocks(*A.shape, EVALUATION_BLOCK))
    out: list[ResidualStats] = [None] * len(widths)  # type: ignore[list-item]
    for (loss, largest), i in zip(totals, order):
        out[i] = ResidualStats(loss, largest)
    return out


def _truncation_pass(A, W, X: Factorization, widths: list[int], blocks) -> list[list]:
    """``[loss, largest |entry|]`` of each (ascending) truncation width over the given row blocks.

    Per block the product ``P`` grows term by term (one term: BLAS ``dger`` in place; more:
    one matrix product). Without a multiplier ``X = P`` and the residual is
    ``W o (A - P)``; with one, ``B = W o A`` and ``Psi = W o multiplier`` are formed once per
    block so that each width costs ``B - Psi o P`` (and ``P o multiplier`` only where the
    largest entry might grow).
    """
    totals = [[SquareSum(), 0.0] for _ in widths]
    V_largest = np.abs(X.V).max(axis=1) if X.V.size else np.zeros(0)
    for rows in blocks:
        A_b, W_b = A[rows], W[rows]
        multiplier = X.multiplier_rows(rows)
        if multiplier is not None:
            B, psi = W_b * A_b, W_b * multiplier
        product = np.zeros(A_b.shape)
        scaled = product if multiplier is None else np.empty(A_b.shape)
        work = np.empty(A_b.shape)
        U_b = X.U[rows]
        # |X| on this block is at most sum_l max|U_b[:, l]| max|V[l]| (times max|multiplier|):
        # where that cannot beat the largest entry seen so far, the block's max is not needed.
        bounds = np.cumsum(np.abs(U_b).max(axis=0) * V_largest) if U_b.size else np.zeros(0)
        if multiplier is not None:
            bounds *= float(np.abs(multiplier).max())
        done = 0
        for total, width in zip(totals, widths):
            if width == done + 1:
                # product += U_b[:, done] V[done]^T, on the transposed (Fortran-ordered) view: in place.
                _dger(1.0, X.V[done], U_b[:, done], a=product.T, overwrite_a=1)
            elif width > done:  # several terms at once: one matrix product
                product += U_b[:, done:width] @ X.V[done:width]
            done = max(done, width)
            if width == 0 or not bounds[width - 1] <= total[1]:
                if multiplier is not None:
                    np.multiply(product, multiplier, out=scaled)
                total[1] = max(total[1], float(scaled.max()), -float(scaled.min()))
            if multiplier is None:
                np.subtract(A_b, product, out=work)
                work *= W_b
            else:
                np.multiply(psi, product, out=work)
                np.subtract(B, work, out=work)
            total[0] = total[0] + square_sum(work)
    return totals


def weighted_square_sum(A: np.ndarray, W: np.ndarray, X=0.0) -> SquareSum:
    """``||W o (A - X)||_F^2`` as a :class:`SquareSum`, one row block at a time.

    Parameters
    ----------
    A, W : ndarray of shape (n, d)
    X : ndarray of shape (n, d), or a scalar
        The default 0 gives ``||W o A||_F^2``, the loss of the zero approximation.
    """
    X = np.broadcast_to(np.asarray(X, dtype=np.float64), A.shape)
    total = SquareSum()
    for rows in row_blocks(*A.shape, EVALUATION_BLOCK):
        block = A[rows] - X[rows]
        block *= W[rows]
        total = total + square_sum(block)
    return total


def weighted_loss(A: np.ndarray, W: np.ndarray, X) -> float:
    """``||W o (A - X)||_F^2`` for an n x d array (or a scalar) ``X``.

    The iterative solvers record it every iteration on their dense iterate; a
    factorization is measured by :func:`residual_stats`.
    """
    return float(weighted_square_sum(A, W, X))


def weighted_mass(A: np.ndarray, W: np.ndarray) -> float:
    """``||W o A||_F^2``: the loss of the zero approximation."""
    return float(weighted_square_sum(A, W))


def divide_by_weights(M, W: np.ndarray) -> np.ndarray:
    """Entrywise ``M / W`` with 0 wherever ``W == 0`` (those entries do not count)."""
    out = np.zeros(np.broadcast_shapes(np.shape(M), W.shape))
    np.divide(M, W, out=out, where=W != 0)
    return out


def entrywise_inverse(W: np.ndarray) -> np.ndarray:
    """``1 / W`` with 0 where ``W == 0``: multiplying by it is :func:`divide_by_weights`."""
    return divide_by_weights(1.0, W)


def weighted_row_fit(A: np.ndarray, W2: np.ndarray, Vt: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Coefficients ``U`` minimising ``sum_i ||w_i o (a_i - u_i Vt)||^2 + ridge ||u_i||^2`` row by row.

    Each row is an independent weighted least-squares problem with the Gram matrix
    ``Vt diag(w_i^2) Vt^T``; all rows are solved in one batched call. Rows whose
    weights are all zero (or whose Gram matrix is singular in the directions that
    matter) get the minimum-norm solution, so zero rows give zero coefficients.

    Parameters
    ----------
    A : ndarray of shape (n, d)
    W2 : ndarray of shape (n, d)
        Squared weights.
    Vt : ndarray of shape (j, d)
        Basis of the row space.
    ridge : float >= 0
        Added to the diagonal of every Gram matrix (0: plain least squares).

    Returns
    -------
    U : ndarray of shape (n, j)
    """
    n, d = A.shape
    j = Vt.shape[0]
    outer = (Vt[:, None, :] * Vt[None, :, :]).reshape(j * j, d)
    U = np.empty((n, j))
    for start in range(0, n, ROW_BLOCK):
        rows = slice(start, start + ROW_BLOCK)
        gram = (W2[rows] @ outer.T).reshape(-1, j, j)
        if ridge:
            gram += ridge * np.eye(j)
        rhs = (W2[rows] * A[rows]) @ Vt.T
        U[rows] = _solve_psd_batch(gram, rhs)
    return U


def _solve_psd_batch(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    # Eigen-decomposition based pseudo-inverse: robust to rank-deficient Gram matrices
    # (zero-weight rows, weights supported on fewer than j columns).
    vals, vecs = np.linalg.eigh(gram)
    cutoff = vals[:, -1:] * (gram.shape[-1] * np.finfo(np.float64).eps * 10)
    inv_vals = np.zeros_like(vals)
    np.divide(1.0, vals, out=inv_vals, where=vals > np.maximum(cutoff, 1e-300))
    coef = np.einsum("bji,bj->bi", vecs, rhs) * inv_vals
    return np.einsum("bij,bj->bi", vecs, coef)
