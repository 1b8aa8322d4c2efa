"""Linear algebra shared by every algorithm: one truncated SVD, losses, safe division.

All functions are pure: explicit shapes in, arrays out, no hidden state.
"""
from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dger as _dger

from .blas import blas_threads
from .factors import BLOCK_ENTRIES, Factorization, LowRank, Reweighted, row_blocks
from .memory import available_memory

__all__ = [
    "pass_threads",
    "map_blocks",
    "ScaledMatrix",
    "weighted_fits",
    "weighted_matrix",
    "weighted_product",
    "ONE_SHOT_OVERSAMPLES",
    "FORM_FRACTION",
    "svd_flip",
    "truncated_svd",
    "uses_randomized",
    "low_rank_approx",
    "tail_mass",
    "SquareSum",
    "square_sum",
    "ResidualStats",
    "Projection",
    "residual_stats",
    "truncation_stats",
    "weighted_square_sum",
    "weighted_loss",
    "weighted_mass",
    "divide_by_weights",
    "entrywise_inverse",
    "weighted_row_fit",
    "orthonormal_columns",
    "thin_qr",
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

# Entries per group of rows whose product U @ V is formed in one matrix product (32 MB) where
# chosen rows are formed outside a loss pass (largest entries, rows holding zero weights): a
# few large BLAS calls instead of one per row.
CHUNK_ENTRIES = 2**22

SVD_METHODS = ("auto", "exact", "randomized")

# The sketch of the one-shot methods (svd, svd_w, fwsvd, svd_w_practical, css): 10 columns
# beyond the rank, as scikit-learn's randomized_svd. With 2 power iterations their loss at
# 67 500 x 1024, rank 20 stays within 1.01 of the exact SVD's (benchmarks/scale_benchmark.py);
# iterative callers keep truncated_svd's default of 20.
ONE_SHOT_OVERSAMPLES = 10

# W o A is formed (one more n x d float64 matrix) when it takes at most this fraction of the
# memory available (MemAvailable, or the cgroup's limit); otherwise the randomized SVD
# multiplies by it one row block at a time (ScaledMatrix).
FORM_FRACTION = 0.25


@functools.cache
def _blas_controllers() -> tuple:
    """threadpoolctl's controllers of the BLAS libraries loaded (numpy's and scipy's, both
    imported by this module), found once: the search reads the process's memory map, which
    took 15-30 ms per call (a tenth of a second per solve of a 67 500 x 1024 problem)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


def pass_threads() -> int:
    """Threads a blockwise pass may use: as many as BLAS may use now (1 under the sweep
    engine's limit, or when threadpoolctl is not installed)."""
    return max(1, min((library.num_threads for library in _blas_controllers()), default=1))


def map_blocks(function: Callable, blocks: list, threads: int | None = None) -> list:
    """``[function(block) for block in blocks]``, the blocks split in order among ``threads``
    threads (default :func:`pass_threads`).

    NumPy releases the GIL in its loops, so elementwise work on row blocks runs on both
    cores; results come back in block order, so whatever combines them gets the same
    numbers with any number of threads. ``function`` must not call multi-threaded BLAS.
    """
    if len(blocks) > 1 and threads is None:
        threads = pass_threads()
    threads = min(threads or 1, len(blocks))
    if threads <= 1:
        return [function(block) for block in blocks]
    groups = np.array_split(np.arange(len(blocks)), threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda group: [function(blocks[i]) for i in group], groups))
    return [result for part in parts for result in part]


@dataclass(frozen=True, eq=False)
class ScaledMatrix:
    """``diag(left) @ (weights o A) @ diag(right)`` without forming it (None: no such factor).

    :func:`truncated_svd` multiplies by it in its randomized path, so scaling a 67 500 x 1024
    matrix before its SVD costs no n x d temporary: diagonal scalings (fwsvd, a rank-1 weight
    stand-in) ride on the products with A; an entrywise ``weights`` (svd_w's W o A, when
    :func:`weighted_matrix` finds no room to form it) is applied one row block at a time.
    The exact path forms the matrix with :meth:`dense`.
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


def weighted_fits(A: np.ndarray, memory_fraction: float = FORM_FRACTION) -> bool:
    """Whether one more matrix of A's size takes at most ``memory_fraction`` of the memory
    available (MemAvailable, or the cgroup's limit): the rule for forming ``W o A``."""
    available = available_memory()
    return available is not None and A.nbytes <= memory_fraction * available


def weighted_matrix(A: np.ndarray, W: np.ndarray, *, memory_fraction: float = FORM_FRACTION
                    ) -> np.ndarray | ScaledMatrix:
    """``W o A`` for :func:`truncated_svd`: formed when :func:`weighted_fits`, so that the six
    products of a randomized SVD read one matrix instead of two and do not multiply W by A
    each time; otherwise a :class:`ScaledMatrix` that forms it one row block at a time for
    each product.
    """
    if not weighted_fits(A, memory_fraction):
        return ScaledMatrix(A, weights=W)
    return weighted_product(A, W)


def weighted_product(A: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``W o A``, formed one row block at a time on :func:`map_blocks`' threads."""
    M = np.empty_like(A)
    map_blocks(lambda rows: np.multiply(W[rows], A[rows], out=M[rows]), list(row_blocks(*A.shape)))
    return M


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
    """An orthonormal basis (n, j) of the column space of ``Y`` (n, j) (see :func:`thin_qr`)."""
    return thin_qr(Y)[0]


# Matrices with at least this many entries, and 16 times as many rows as columns, are
# factorised by CholeskyQR2 first (see thin_qr).
CHOLESKY_QR_ENTRIES = BLOCK_ENTRIES


def thin_qr(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Q`` (n, j) with orthonormal columns and ``R`` (j, j) upper triangular with ``Y = Q R``.

    A tall ``Y`` is factorised by CholeskyQR2 (Fukaya et al. 2014): twice ``Q <- Q R^-1`` with
    ``R^T R = Q^T Q``. That is three matrix products of the j x j kind, a few milliseconds for
    67 500 x 30, where LAPACK's Householder QR works column by column (0.1-0.3 s, and seconds
    when other processes keep the cores busy). It is kept only when its columns are verified
    orthonormal to 1e-10, which holds while ``Y`` is well conditioned (condition number up to
    about 1e7); otherwise, and for other shapes, Householder QR, which also handles rank
    deficiency.
    """
    n, j = Y.shape
    if Y.size >= CHOLESKY_QR_ENTRIES and n >= 16 * j:
        Q, R = Y, np.eye(j)
        try:
            for _ in range(2):
                factor = np.linalg.cholesky(Q.T @ Q).T  # upper triangular, Q^T Q = factor^T factor
                Q = Q @ np.linalg.inv(factor)
                R = factor @ R
        except np.linalg.LinAlgError:
            pass
        else:
            if np.all(np.isfinite(Q)) and np.abs(Q.T @ Q - np.eye(j)).max() <= 1e-10:
                return Q, R
    return np.linalg.qr(Y)


def _randomized_svd(M, k, seed, n_oversamples, n_power_iter, warm_start):
    n, d = M.shape
    width = min(k + n_oversamples, min(n, d))
    rng = np.random.default_rng(seed)
    # Power iterations on the right (d-dimensional) side, normalised there only: a d x width
    # QR is cheap, and one n x width QR at the end is all the tall side needs. V then spans
    # (M^T M)^q Omega, and Q below spans (M M^T)^q M Omega: the subspace of Halko et al.'s
    # scheme with 2q + 2 products by M or M^T.
    V = rng.standard_normal((d, width))
    for _ in range(n_power_iter):
        V = orthonormal_columns(M.T @ (M @ V))
    if warm_start is not None and warm_start.size:
        V = np.hstack([V, warm_start])  # M @ warm_start joins the range searched below
    Q = orthonormal_columns(M @ V)
    B = (M.T @ Q).T  # width' x d: M projected on the range found
    Ub, s, Vt = _thin_svd(B)
    U, Vt = svd_flip(Q @ Ub[:, :k], Vt[:k])
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


# Dot products of at most this many terms: OpenBLAS computes one of up to 10 000 terms on
# the calling thread, so a blockwise pass hands no work to BLAS threads (each hand-off cost
# milliseconds while other processes kept the two cores busy).
_DOT_TERMS = 8192


def _self_dot(r: np.ndarray) -> float:
    """``r @ r`` of a contiguous 1-D array, as BLAS dot products of at most _DOT_TERMS terms."""
    head = r.size - r.size % _DOT_TERMS
    rows = r[:head].reshape(-1, _DOT_TERMS)
    return float(np.vecdot(rows, rows).sum()) + float(np.dot(r[head:], r[head:]))


def square_sum(r: np.ndarray) -> SquareSum:
    """``sum(r**2)`` of a contiguous array as a :class:`SquareSum`, rescaled only when needed."""
    r = np.ascontiguousarray(r).ravel()
    with np.errstate(over="ignore"):  # an overflowing square is rescaled below
        plain = _self_dot(r)  # BLAS ddot: several times faster than einsum here
    # A zero dot product is exact only for an all-zero r: nonzero terms may have underflowed.
    if math.isfinite(plain) and (plain >= _TINY or not r.any()):
        return SquareSum.of(plain)
    largest = float(np.max(np.abs(r)))
    if not math.isfinite(largest):
        return SquareSum(math.nan, 0)
    shift = math.frexp(largest)[1]
    scaled = np.ldexp(r, -shift)
    return SquareSum.of(_self_dot(scaled)).scaled(2 * shift)


@dataclass(frozen=True)
class ResidualStats:
    """``||W o (A - X)||_F^2`` and the largest ``|X|``, from one pass over row blocks."""

    loss: SquareSum
    max_abs: float


# The loss of a truncated projection is taken from its closed form (see Projection) when the
# rounding of that subtraction, at most CLOSED_FORM_ROUNDING times the masses subtracted, is
# within LOSS_TOLERANCE of the loss; otherwise it is summed entry by entry.
LOSS_TOLERANCE = 1e-12
CLOSED_FORM_ROUNDING = 64 * float(np.finfo(np.float64).eps)

# _largest_by_bounds forms the rows with the largest bounds first (this many), then those whose
# bound beats the largest entry among them. Largest entries come from bounds on matrices of at
# least BOUNDED_MAXIMA_ENTRIES entries (on smaller ones, forming the candidate rows anew for
# each width costs more than one pass that grows the product), and _quotient_maxima is used
# while at most ZERO_ROWS_SHARE of W's rows hold a zero weight (their product is formed too).
PROMISING_ROWS = 256
BOUNDED_MAXIMA_ENTRIES = 8 * EVALUATION_BLOCK
ZERO_ROWS_SHARE = 0.25


@dataclass(frozen=True, eq=False)
class Projection:
    """What makes the loss of a factorization a closed form: it truncates a projection of W o A.

    A factorization X with product ``U @ V`` carries one when, for each width ``w`` it is
    cut to, ``P_w = U[:, :w] @ V[:w]`` is ``Pi M`` (or ``M Pi``) for an orthogonal
    projection ``Pi`` and ``M = W o A``, and ``W o X = P_w`` wherever ``W != 0``: svd_w's
    ``(W o A)_k / W`` (``Pi`` onto the top left singular vectors) and css's projection onto
    chosen columns. Since ``||M - Pi M||^2 = ||M||^2 - ||Pi M||^2`` and M is 0 where W is,

        ``||W o (A - X)||_F^2 = ||W o A||_F^2 - kept[w - 1] - (sum over W == 0 of P_w^2)``

    from numbers the factorization already has and one look at the entries where W = 0.
    The subtraction cancels: :meth:`loss` gives None when its rounding could exceed
    LOSS_TOLERANCE of the result (relative losses below about 0.03), and the loss is then
    summed entry by entry.

    Attributes
    ----------
    kept : ndarray
        ``kept[w - 1] = ||P_w||_F^2`` (for the svd family the first w squared singular
        values summed); NaN for widths it does not describe.
    """

    kept: np.ndarray

    def loss(self, width: int, mass: SquareSum, outside: SquareSum) -> SquareSum | None:
        """The loss at ``width`` from ``mass = ||W o A||_F^2`` and ``outside``, the squares of
        ``P_w`` summed where W = 0; None when the closed form is not accurate to LOSS_TOLERANCE."""
        kept = float(self.kept[width - 1]) if 1 <= width <= len(self.kept) else math.nan
        mass, outside = float(mass), float(outside)
        loss = mass - kept - outside
        if not (math.isfinite(loss) and CLOSED_FORM_ROUNDING * (mass + kept + outside) <= LOSS_TOLERANCE * loss):
            return None
        return SquareSum.of(loss)


def residual_stats(A: np.ndarray, W: np.ndarray, X: Factorization, projection: Projection | None = None,
                   mass: SquareSum | None = None, **options) -> ResidualStats:
    """Weighted loss and ``max |X|`` of a factorization ``X``, in one blockwise pass.

    X is formed a row block at a time, so a factored 67500 x 1024 approximation is never
    held whole. With a :class:`Projection` the loss comes from its closed form where that
    is accurate (``mass``: ``||W o A||_F^2``, summed here if not given). ``options`` are
    :func:`truncation_stats`'.
    """
    return truncation_stats(A, W, X, [X.width], projection, mass, **options)[0]


def truncation_stats(A: np.ndarray, W: np.ndarray, X: Factorization, widths,
                     projection: Projection | None = None, mass: SquareSum | None = None, *,
                     bounded_from: int = BOUNDED_MAXIMA_ENTRIES, per_block: Callable[[slice], object] | None = None):
    """:class:`ResidualStats` of X cut to its first ``w`` terms (``U[:, :w] @ V[:w]``, with X's
    divisor or multiplier) for every ``w`` in ``widths``, in one pass.

    The truncations share their leading terms (the svd family's ranks 1..k come from one
    SVD), so each row block of A and W is read once and the product grows term by term:
    the cost of evaluating 20 ranks is close to that of the largest one. With a
    :class:`Projection` the pass sums squares only where W = 0 for the widths whose closed
    form can hold (``mass`` is ``||W o A||_F^2``, summed here if not given); a width where
    it then does not hold (a large mass where W = 0) is summed entry by entry in a second
    pass. On matrices of at least ``bounded_from`` entries, the largest entries of a
    low-rank X, or of one that divides by W, come from row bounds (:func:`_largest_by_bounds`).

    ``per_block`` (only without a ``projection``, whose pass may be skipped) is called on every
    row block of the pass before the block's loss is summed, so that other work on the same rows
    of A and W reads them while they are in cache (:func:`wlra_core.problem.scan_residual`: the
    checks and scaling of validation, writing the scaled rows of W that the loss then reads).
    With it the return value is ``(stats, [per_block(rows) for every block, in row order])``.
    """
    if per_block is not None and projection is not None:
        raise ValueError("per_block needs the pass over every block: give no projection")
    widths = [int(w) for w in widths]
    order = sorted(range(len(widths)), key=widths.__getitem__)
    ascending = [widths[i] for i in order]
    if projection is not None and mass is None:
        mass = weighted_square_sum(A, W)
    closed = [projection is not None and projection.loss(w, mass, SquareSum()) is not None for w in ascending]
    quotient = isinstance(X, Reweighted) and X.divides_by(W)
    bounded = A.size >= bounded_from
    totals = _quotient_maxima(W, X, ascending) if bounded and all(closed) and quotient else None
    if totals is None:
        # A large low-rank X's largest entries come from row bounds; its pass only sums the loss.
        low_rank = bounded and isinstance(X, LowRank)
        totals, blocks_found = _truncation_pass(A, W, X, ascending, closed, maxima=not low_rank, per_block=per_block)
        if low_rank:
            lower, c = _orthonormal_rows(X.V)
            for total, width in zip(totals, ascending):
                total[1] = _largest_by_bounds(_row_norms(X.U, width, lower) * c.max(initial=0.0), X, width)
    losses = [projection.loss(w, mass, total[2]) if c else total[0] for w, c, total in zip(ascending, closed, totals)]
    redo = [j for j, loss in enumerate(losses) if loss is None]
    if redo:
        again = _truncation_pass(A, W, X, [ascending[j] for j in redo], [False] * len(redo))[0]
        for j, total in zip(redo, again):
            losses[j] = total[0]
    out: list[ResidualStats] = [None] * len(widths)  # type: ignore[list-item]
    for loss, total, i in zip(losses, totals, order):
        out[i] = ResidualStats(loss, total[1])
    return out if per_block is None else (out, blocks_found)


def _quotient_maxima(W: np.ndarray, X: Reweighted, widths: list[int]) -> list[list] | None:
    """``[None, largest |entry|, squares of the product where W = 0]`` of each truncation
    width of ``X = P / W`` (0 where W = 0), without forming P everywhere; None when more
    than ZERO_ROWS_SHARE of the rows hold a zero weight (the blockwise pass is then cheaper).

    With V's rows made orthonormal (:func:`_orthonormal_rows`, ``U[:, :w] @ V[:w] = L_w Q^T[:w]``),
    Cauchy-Schwarz gives ``|X_ij| <= ||L_w,i|| c_j / W_ij`` with ``c_j = ||Q[j]||``, so one
    pass over W (a division and a row minimum per block) gives each row's bound
    ``||L_w,i|| h_i``, ``h_i = max_j c_j / W_ij`` over its positive weights
    (:func:`_largest_by_bounds` forms the rows that can matter). The few columns where c_j
    is largest (:func:`_dominant_columns`: css's chosen columns, where c_j is about 1) are
    left out of h and formed whole instead, so they do not loosen every row's bound. The
    squares where W = 0 need the product on the rows holding zero weights (and on the
    dominant columns).
    """
    n, d = W.shape
    lower, c = _orthonormal_rows(X.V)
    dominant = _dominant_columns(c)
    c_rest = c.copy()
    c_rest[dominant] = 0.0  # W / 0 is inf (or NaN where W = 0): fmin ignores them
    least = np.empty(n)
    W_dominant = np.empty((n, dominant.size))

    def block(rows: slice) -> None:
        # min_j W_ij / c_j, ignoring 0 / 0 (a zero column of V: X is 0 there whatever W is).
        W_b = W[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            np.fmin.reduce(np.divide(W_b, c_rest), axis=1, out=least[rows])
        W_dominant[rows] = W_b[:, dominant]

    map_blocks(block, list(row_blocks(n, d, EVALUATION_BLOCK)))
    # A row whose least ratio is 0 holds a zero weight where V is not 0: the product is formed
    # on those rows for the squares where W = 0, and their bound ignores the zero weights.
    zero_rows = np.flatnonzero(least == 0)
    if zero_rows.size > ZERO_ROWS_SHARE * n:
        return None
    for chosen in _row_groups(zero_rows, d):
        W_c = W[chosen]
        with np.errstate(divide="ignore", invalid="ignore"):
            least[chosen] = np.fmin.reduce(np.where(W_c > 0, W_c / c_rest, np.inf), axis=1)
    with np.errstate(divide="ignore"):
        h = 1.0 / least  # max_j c_j / W_ij over the row's positive weights (0 for a row of zeros)
    # Zero weights on the dominant columns of the other rows: their squares come from those columns.
    unweighted = W_dominant == 0
    unweighted[zero_rows] = False
    totals = []
    for width in widths:
        outside = SquareSum()
        for chosen in _row_groups(zero_rows, d):
            product = X.U[chosen, :width] @ X.V[:width]
            outside = outside + square_sum(product[W[chosen] == 0])
        columns = X.U[:, :width] @ X.V[:width, dominant]
        outside = outside + square_sum(columns[unweighted])
        with np.errstate(divide="ignore", invalid="ignore"):
            columns /= W_dominant
        columns[W_dominant == 0] = 0.0
        exact = float(np.abs(columns).max(initial=0.0))
        totals.append([None, _largest_by_bounds(_row_norms(X.U, width, lower) * h, X, width, W, exact), outside])
    return totals


# At most this many columns are formed whole by _quotient_maxima (and at most an eighth of them).
DOMINANT_COLUMNS = 64


def _dominant_columns(c: np.ndarray) -> np.ndarray:
    """Indices of the columns whose ``c_j`` exceeds twice the root mean square of c (at most
    DOMINANT_COLUMNS, and an eighth of the columns: the largest ones)."""
    limit = min(DOMINANT_COLUMNS, c.size // 8)
    if limit == 0:
        return np.zeros(0, dtype=np.intp)
    candidates = np.flatnonzero(c**2 > 4 * np.mean(c**2))
    if candidates.size > limit:
        candidates = candidates[np.argpartition(c[candidates], -limit)[-limit:]]
    return np.sort(candidates)


def _orthonormal_rows(V: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """``(L, c)`` with ``V = L Q^T`` for Q with orthonormal columns and L lower triangular (so
    ``V[:w] = L[:w, :w] Q^T[:w]``: every truncation keeps the form), and ``c_j = ||Q[j]||``.

    Row bounds from Q are as tight as V's rows allow (css's coefficients are far from
    orthonormal). L is None, and c V's column norms, when V has more rows than columns.
    """
    m, d = V.shape
    if not 0 < m <= d:
        return None, np.sqrt(np.einsum("ij,ij->j", V, V))
    Q, R = np.linalg.qr(V.T)
    return R.T, np.sqrt(np.einsum("ij,ij->i", Q, Q))


def _row_norms(U: np.ndarray, width: int, lower: np.ndarray | None) -> np.ndarray:
    """``||(U[:, :width] @ lower[:width, :width])[i]||`` for every row i (lower None: ``U`` alone)."""
    rows = U[:, :width] if lower is None else U[:, :width] @ lower[:width, :width]
    return np.sqrt(np.einsum("ij,ij->i", rows, rows))


def _row_groups(rows: np.ndarray, d: int):
    """``rows`` in groups of about CHUNK_ENTRIES entries of an n x d matrix (few BLAS calls)."""
    step = max(1, CHUNK_ENTRIES // d)
    for start in range(0, rows.size, step):
        yield rows[start:start + step]


def _largest_by_bounds(bound: np.ndarray, X: Factorization, width: int, W: np.ndarray | None = None,
                       largest: float = 0.0) -> float:
    """``max |X|`` of X cut to ``width`` terms, given ``largest``, the largest |entry| of some
    columns, and ``bound[i] >= max_j |X_ij|`` over the others: only the rows whose bound beats
    the largest entry found so far are formed (first the most promising ones; on the 67 500 x
    1024 Fisher-like problem, 1 % of svd_w's). With ``W``, X is ``P / W`` (0 where W = 0)."""
    n, d = X.shape
    promising = np.argpartition(bound, -min(n, PROMISING_ROWS))[-PROMISING_ROWS:]
    for rows in (promising, np.flatnonzero(bound > 0)):
        rows = rows[bound[rows] > largest]
        # Most rows left: contiguous row blocks cost less than gathering them.
        groups = row_blocks(n, d, CHUNK_ENTRIES) if rows.size > n // 4 else _row_groups(rows, d)
        for chosen in groups:
            block = X.U[chosen, :width] @ X.V[:width]
            if W is not None:
                W_c = W[chosen]
                with np.errstate(divide="ignore", invalid="ignore"):
                    block /= W_c
                block[W_c == 0] = 0.0
            largest = max(largest, float(block.max(initial=0.0)), -float(block.min(initial=0.0)))
    return largest


def _truncation_pass(A, W, X: Factorization, widths: list[int], closed: list[bool], maxima: bool = True,
                     per_block: Callable[[slice], object] | None = None) -> tuple[list[list], list]:
    """``[loss, largest |entry| (0 unless ``maxima``), squares where W = 0]`` of each
    (ascending) truncation width, and what ``per_block`` returned on each block (called
    first on the block's rows; an empty list without it).

    Row blocks of EVALUATION_BLOCK entries (:func:`_block_pass`) run on :func:`map_blocks`'
    threads, each forming its block of the first width's product by one matrix product, so
    that the product never leaves the cache. Meanwhile BLAS is limited to one thread
    (:func:`wlra_core.blas.blas_threads`, shared with the sweeps' solvers): every block's product then runs on the thread
    that needs it, where a multi-threaded product per block (or per larger chunk, between
    the blocks' elementwise work) left BLAS threads spinning against the pass's own threads
    (several times slower on two cores). Sums are added in block order.
    """
    n, d = A.shape
    quotient = isinstance(X, Reweighted) and X.divides_by(W)
    V_largest = np.abs(X.V).max(axis=1) if X.V.size else np.zeros(0)
    largest = [0.0] * len(widths)  # maxima found so far: blocks that cannot beat them skip theirs
    threads = pass_threads()

    def block(rows: slice) -> tuple:
        extra = per_block(rows) if per_block is not None else None
        product = X.U[rows, :widths[0]] @ X.V[:widths[0]]
        return extra, _block_pass(A[rows], W[rows], X, rows, product, widths, closed,
                                  largest if maxima else None, quotient, V_largest)

    with blas_threads(1 if threads > 1 else None):
        found = map_blocks(block, list(row_blocks(n, d, EVALUATION_BLOCK)), threads)
    totals = [[SquareSum(), 0.0, SquareSum()] for _ in widths]
    for _, parts in found:
        for total, (loss, top, outside) in zip(totals, parts):
            total[0], total[1], total[2] = total[0] + loss, max(total[1], top), total[2] + outside
    return totals, [extra for extra, _ in found] if per_block is not None else []


def _block_pass(A_b, W_b, X, rows, product, widths, closed, largest, quotient, V_largest) -> list:
    """``[loss, largest |entry|, squares where W = 0]`` of each width on one row block of
    :func:`_truncation_pass` (``product`` holds the first width's terms and grows in place).

    The product grows term by term (one term: BLAS ``dger`` in place; more: one matrix
    product). Widths with ``closed`` set sum ``P^2`` where W = 0 (for :class:`Projection`)
    instead of the loss. X's rows are ``P / W`` for a factorization that divides by W itself
    (0 where W = 0, as :meth:`Reweighted.rows` forms them), else ``P`` times its multiplier;
    the loss sums ``(W o (A - X))^2`` from them, except that with a multiplier ``B = W o A``
    and ``Psi = W o multiplier`` are formed once per block so that each width costs
    ``B - Psi o P``. X's rows are formed only where the largest entry might grow (beyond
    ``largest``, shared by the blocks; None: no maxima) or the loss needs them.
    """
    multiplier = None if quotient else X.multiplier_rows(rows)
    summed = not all(closed)
    if multiplier is not None and summed:
        B, psi = W_b * A_b, W_b * multiplier
    zeros = np.flatnonzero(W_b.ravel() == 0) if quotient or any(closed) else None
    scaled = product if multiplier is None and not quotient else np.empty(A_b.shape)
    work = np.empty(A_b.shape) if summed else None
    U_b = X.U[rows]
    # |X| on this block is at most sum_l max|U_b[:, l]| max|V[l]| (times max|multiplier|):
    # where that cannot beat the largest entry seen so far, the block's max is not needed.
    # (Dividing by W: no useful bound, the tiny weights decide.)
    bounds = (np.cumsum(np.abs(U_b).max(axis=0) * V_largest)
              if U_b.size and not quotient and largest is not None else None)
    if bounds is not None and multiplier is not None:
        bounds *= float(np.abs(multiplier).max())
    out = []
    done = widths[0]
    for j, (width, closed_form) in enumerate(zip(widths, closed)):
        if width == done + 1:
            # product += U_b[:, done] V[done]^T, on the transposed (Fortran-ordered) view: in place.
            _dger(1.0, X.V[done], U_b[:, done], a=product.T, overwrite_a=1)
        elif width > done:  # several terms at once: one matrix product
            product += U_b[:, done:width] @ X.V[done:width]
        done = max(done, width)
        top = 0.0
        if largest is not None and (bounds is None or width == 0 or not bounds[width - 1] <= largest[j]):
            if quotient:
                with np.errstate(divide="ignore", invalid="ignore"):
                    np.divide(product, W_b, out=scaled)
                scaled.ravel()[zeros] = 0.0
            elif multiplier is not None:
                np.multiply(product, multiplier, out=scaled)
            top = max(float(scaled.max()), -float(scaled.min()))
            largest[j] = max(largest[j], top)
        if closed_form:
            out.append([SquareSum(), top, square_sum(product.ravel()[zeros]) if zeros.size else SquareSum()])
            continue
        if multiplier is None:
            np.subtract(A_b, scaled, out=work)
            work *= W_b
        else:
            np.multiply(psi, product, out=work)
            np.subtract(B, work, out=work)
        out.append([square_sum(work), top, SquareSum()])
    return out


def weighted_square_sum(A: np.ndarray, W: np.ndarray, X=0.0) -> SquareSum:
    """``||W o (A - X)||_F^2`` as a :class:`SquareSum`, one row block at a time.

    Parameters
    ----------
    A, W : ndarray of shape (n, d)
    X : ndarray of shape (n, d), or a scalar
        The default 0 gives ``||W o A||_F^2``, the loss of the zero approximation.
    """
    X = np.broadcast_to(np.asarray(X, dtype=np.float64), A.shape)

    def block(rows: slice) -> SquareSum:
        residual = A[rows] - X[rows]
        residual *= W[rows]
        return square_sum(residual)

    total = SquareSum()
    for part in map_blocks(block, list(row_blocks(*A.shape, EVALUATION_BLOCK))):
        total = total + part
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
    ``Vt diag(w_i^2) Vt^T``; the Gram matrices of a block of rows come from one matrix
    product (their upper triangles only: they are symmetric) and are solved in batched
    calls (:func:`_solve_psd_batch`). Rows whose weights are all zero (or whose Gram
    matrix is singular in the directions that matter) get the minimum-norm solution, so
    zero rows give zero coefficients.

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
    first, second = np.triu_indices(j)
    pairs = Vt[first] * Vt[second]  # (j (j + 1) / 2, d): row p of Vt times row q, p <= q
    diagonal = np.arange(j)
    U = np.empty((n, j))
    for start in range(0, n, ROW_BLOCK):
        rows = slice(start, start + ROW_BLOCK)
        upper = W2[rows] @ pairs.T
        gram = np.empty((upper.shape[0], j, j))
        gram[:, first, second] = upper
        gram[:, second, first] = upper
        if ridge:
            gram[:, diagonal, diagonal] += ridge
        rhs = (W2[rows] * A[rows]) @ Vt.T
        # Fewer weighted entries than unknowns: singular whatever Vt is.
        few = np.count_nonzero(W2[rows], axis=1) < j if not ridge else np.zeros(upper.shape[0], dtype=bool)
        U[rows] = _solve_psd_batch(gram, rhs, few)
    return U


# The eigenvalues :func:`_pseudo_solve` treats as zero: below this times j times the largest.
_PSEUDO_CUTOFF = 10 * np.finfo(np.float64).eps


def _solve_psd_batch(gram: np.ndarray, rhs: np.ndarray, singular: np.ndarray) -> np.ndarray:
    """``pinv(gram[b]) @ rhs[b]`` for a stack of symmetric positive semi-definite matrices.

    A batched inverse solves the well-conditioned ones -- where the pseudo-inverse is the
    inverse -- about ten times faster than an eigen-decomposition; the rest (those flagged
    ``singular`` and any whose conditioning is in doubt) go to :func:`_pseudo_solve`. The
    test is ``kappa = trace(G) trace(G^-1)``, an upper bound on the condition number (it is
    at most j^2 times it): below ``1 / (j * _PSEUDO_CUTOFF)`` every eigenvalue is above the
    pseudo-inverse's cutoff, so both give the same solution up to rounding.
    """
    j = gram.shape[-1]
    out = np.zeros_like(rhs)
    trace = np.trace(gram, axis1=1, axis2=2)
    # A zero trace is a zero Gram matrix (no weight where Vt is non-zero): zero coefficients.
    candidates = np.flatnonzero(~singular & (trace > 0))
    doubtful = np.flatnonzero(singular & (trace > 0))
    if candidates.size:
        try:
            inverse = np.linalg.inv(gram[candidates])
        except np.linalg.LinAlgError:  # an exactly singular one among them
            doubtful = np.union1d(doubtful, candidates)
        else:
            inverse_trace = np.trace(inverse, axis1=1, axis2=2)
            with np.errstate(over="ignore", invalid="ignore"):
                kappa = trace[candidates] * inverse_trace
            ok = np.isfinite(kappa) & (inverse_trace > 0) & (kappa * (j * _PSEUDO_CUTOFF) < 1.0)
            out[candidates[ok]] = np.einsum("bij,bj->bi", inverse[ok], rhs[candidates[ok]])
            doubtful = np.union1d(doubtful, candidates[~ok])
    if doubtful.size:
        out[doubtful] = _pseudo_solve(gram[doubtful], rhs[doubtful])
    return out


def _pseudo_solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    # Eigen-decomposition based pseudo-inverse: robust to rank-deficient Gram matrices
    # (zero-weight rows, weights supported on fewer than j columns).
    vals, vecs = np.linalg.eigh(gram)
    cutoff = vals[:, -1:] * (gram.shape[-1] * _PSEUDO_CUTOFF)
    inv_vals = np.zeros_like(vals)
    np.divide(1.0, vals, out=inv_vals, where=vals > np.maximum(cutoff, 1e-300))
    coef = np.einsum("bji,bj->bi", vecs, rhs) * inv_vals
    return np.einsum("bij,bj->bi", vecs, coef)
