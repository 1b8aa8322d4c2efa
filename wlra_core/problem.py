"""The WLRA problem: a matrix ``A``, nonnegative weights ``W``, validation and scaling.

Validation happens here, at the boundary, once; the algorithms trust their inputs.
:func:`normalize` then scales W (and A when its size is extreme) by powers of two, so
every algorithm sees weights whose largest entry lies in [1, 2): results do not change
when W is multiplied by a constant (exactly, for powers of two), and squares of tiny or
huge weights neither underflow nor overflow.
"""
from __future__ import annotations

import functools
import hashlib
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .factors import Factorization, row_blocks
from .linalg import (EVALUATION_BLOCK, ResidualStats, SquareSum, map_blocks, square_sum, truncation_stats,
                     weighted_fits, weighted_square_sum)
from .options import Interval

__all__ = ["Problem", "Normalized", "Scale", "normalize", "normalized_problem", "weighted_problem", "fingerprint",
           "scan_problem", "unscanned_problem", "scan_residual", "validate_problem", "validate_rank", "as_float_matrix"]


def _converted(M, name: str) -> np.ndarray:
    """``M`` as a C-contiguous float64 2-D array (no pass over its values), or ValueError."""
    arr = np.asarray(M)
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric matrix, got Python objects")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} is complex; only real matrices are supported")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got {arr.ndim}-D with shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_float_matrix(M, name: str, *, missing: bool = False) -> np.ndarray:
    """Return ``M`` as a C-contiguous float64 2-D array or raise ValueError.

    Parameters
    ----------
    M : array_like
        Candidate matrix.
    name : str
        How the message names the matrix (e.g. ``"A"`` or ``"W"``).
    missing : bool
        Accept NaN (a missing entry; :func:`validate_problem` gives it weight 0). ±Inf is
        refused either way.
    """
    arr = _converted(M, name)
    # max and min propagate NaN and reach +-Inf: no n x d mask unless something is wrong.
    if not (math.isfinite(arr.max()) and math.isfinite(arr.min())):
        bad = np.isinf(arr) if missing else ~np.isfinite(arr)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            if missing:
                raise ValueError(f"{name} has {int(bad.sum())} infinite entries (first at row {i}, column {j}); "
                                 "entries must be finite numbers, or NaN for a missing entry")
            raise ValueError(f"{name} has {int(bad.sum())} NaN/Inf entries (first at row {i}, column {j})")
    return arr


# A is left unscaled while its largest magnitude lies in [2**-100, 2**100]: the solvers are
# homogeneous in A, so scaling it by a power of two would change nothing but cost a copy.
_SAFE_EXPONENT = 100


def _exponent(largest: float) -> int:
    """e with ``largest * 2**-e`` in [1, 2) (0 for 0)."""
    return math.frexp(largest)[1] - 1 if largest > 0 else 0


def _times_power_of_two(M: np.ndarray, exponent: int, out: np.ndarray | None = None) -> np.ndarray:
    """``M * 2**exponent``, exactly as ``np.ldexp`` rounds it, by one multiplication where
    ``2**exponent`` is a normal float64 (ldexp is several times slower)."""
    if -1022 <= exponent <= 1023:
        return np.multiply(M, 2.0**exponent, out=out)
    return np.ldexp(M, exponent, out=out)


@dataclass(frozen=True)
class Scale:
    """What one pass over a validated A and W finds: the powers of two that bring them into
    range (see :func:`normalize`), the largest magnitude of the scaled A, the zero weights
    of the scaled W and, when A needs no scaling, ``||W o A||_F^2`` of the scaled arrays.

    Attributes
    ----------
    a_exp, w_exp : int
        The scaled arrays are ``A * 2**-a_exp`` and ``W * 2**-w_exp``.
    a_max : float
        ``max |A| * 2**-a_exp``.
    reference : SquareSum or None
        ``||W o A||_F^2`` of the scaled arrays; None when ``a_exp != 0`` (rare: it is then
        summed from the scaled arrays, so that it is the same sum for every scale of A).
    zero_weights : int
        Entries of the scaled W that are 0 (a tiny weight scaled down can become one).
    """

    a_exp: int
    w_exp: int
    a_max: float
    reference: SquareSum | None
    zero_weights: int = 0


def _scan(A: np.ndarray, W: np.ndarray | None, w_max: float,
          scaled_W: np.ndarray | None = None, product: np.ndarray | None = None) -> tuple[Scale, float] | None:
    """One pass over row blocks of A and W: A's extremes, W's least entry, the zero entries
    of ``W' = W * 2**-w_exp`` and ``||W' o A||_F^2`` (W None: all ones).

    Returns the :class:`Scale` and W's least entry, or None when A holds NaN or ±Inf. With
    ``scaled_W`` (an n x d buffer) it also writes ``W'`` there, so the scaled copy of W
    costs no pass of its own; with ``product`` (another), ``W' o A``. The blocks' sums are added in block order: the same numbers
    however many threads :func:`wlra_core.linalg.map_blocks` uses.
    """
    w_exp = _exponent(w_max) if math.isfinite(w_max) else 0
    found = map_blocks(_scan_block(A, W, w_exp, scaled_W, product), list(row_blocks(*A.shape, EVALUATION_BLOCK)))
    return _scale_found(found, w_exp)


def _scan_block(A: np.ndarray, W: np.ndarray | None, w_exp: int, scaled_W: np.ndarray | None = None,
                product: np.ndarray | None = None) -> Callable[[slice], tuple | None]:
    """What :func:`_scan` does on one row block (None when the block of A holds NaN or ±Inf)."""

    def block(rows: slice):
        A_b = A[rows]
        high, low = float(A_b.max()), float(A_b.min())
        if not (math.isfinite(high) and math.isfinite(low)):
            return None
        if W is None:
            return high, low, math.inf, 0, square_sum(A_b)
        W_b = W[rows]
        w_low = float(W_b.min())
        if w_exp and scaled_W is not None:
            W_b = _times_power_of_two(W_b, -w_exp, out=scaled_W[rows])
        elif w_exp:
            W_b = _times_power_of_two(W_b, -w_exp)
        # Zeros are counted only in blocks that hold one (a block's min is cheap: it is in cache).
        zeros = int(np.count_nonzero(W_b == 0)) if w_low == 0 or (w_exp and float(W_b.min()) == 0) else 0
        return high, low, w_low, zeros, square_sum(np.multiply(W_b, A_b, out=None if product is None else product[rows]))

    return block


def _scale_found(found: list, w_exp: int) -> tuple[Scale, float] | None:
    """The :class:`Scale` and W's least entry from :func:`_scan_block`'s results, in block order."""
    if any(result is None for result in found):
        return None
    highs, lows, w_lows, zeros, sums = zip(*found)
    # abs() turns an all-zero A's -0.0 into 0.0.
    a_max = abs(max(max(highs), -min(lows)))
    a_exp = _exponent(a_max) if not 2.0**-_SAFE_EXPONENT <= a_max <= 2.0**_SAFE_EXPONENT else 0
    reference = functools.reduce(operator.add, sums, SquareSum())
    return Scale(a_exp, w_exp, math.ldexp(a_max, -a_exp), None if a_exp else reference, sum(zeros)), min(w_lows)


def scan_problem(A, W=None, *, scaled_W: bool = False, product: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, Scale, np.ndarray | None, np.ndarray | None]:
    """:func:`validate_problem`, plus the :class:`Scale` its one pass over A and W found.

    Returns ``(A, W, scale, W_scaled, weighted)``: ``W_scaled`` is ``W * 2**-w_exp`` when
    asked for (``scaled_W=True``) and ``w_exp != 0``, and ``weighted`` is ``W_scaled o A``
    when asked for (``product=True``) and it fits in memory
    (:func:`wlra_core.linalg.weighted_fits`), both written during the same pass; None otherwise.
    """
    A = _converted(A, "A")
    if W is not None:
        W = _converted(W, "W")
        if W.shape != A.shape:
            raise ValueError(f"W has shape {W.shape} but A has shape {A.shape}; they must match")
    product = product and weighted_fits(A)
    w_max = _largest(W) if W is not None else 1.0
    buffer = _scaled_buffer(A, W, w_max) if scaled_W else None
    weighted = np.empty_like(A) if product and W is not None and math.isfinite(w_max) else None
    scan = _scan(A, W, w_max, buffer, weighted)
    if scan is None:  # A holds NaN (a missing entry) or +-Inf somewhere
        as_float_matrix(A, "A", missing=True)  # refuses +-Inf
        if W is not None and not math.isfinite(w_max):
            as_float_matrix(W, "W")  # refuses NaN/Inf in W before reading W at A's NaN
        A, W = _without_missing(A, W)
        w_max = _largest(W)
        buffer = _scaled_buffer(A, W, w_max) if scaled_W else None
        weighted = np.empty_like(A) if product else None
        scan = _scan(A, W, w_max, buffer, weighted)
    if W is not None:
        if not math.isfinite(w_max):
            as_float_matrix(W, "W")  # raises, naming the first NaN/Inf
        if scan[1] < 0:
            raise ValueError(f"W has {int((W < 0).sum())} negative entries; weights must be >= 0")
        if w_max == 0:
            raise ValueError("W is all zeros: every entry would be ignored")
    else:
        W = np.ones_like(A)
        weighted = A if product else None  # W o A with W all ones
    return A, W, scan[0], buffer, weighted


def _largest(W: np.ndarray) -> float:
    """``W.max()`` (NaN if W holds one), on :func:`wlra_core.linalg.map_blocks`' threads."""
    return _extremes(W, least=False)[0]


def _extremes(W: np.ndarray, least: bool = True) -> tuple[float, float]:
    """``(W.max(), W.min())`` (NaN if W holds one; the min only when ``least``, else NaN), in one
    pass on :func:`wlra_core.linalg.map_blocks`' threads."""
    found = map_blocks(lambda rows: (W[rows].max(), W[rows].min() if least else math.nan), list(row_blocks(*W.shape)))
    highs, lows = zip(*found)
    return float(np.max(highs)), float(np.min(lows))


def unscanned_problem(A, W=None) -> tuple[np.ndarray, np.ndarray, float] | None:
    """``(A, W, max W)`` converted to float64, with W checked but A not read: the start of a
    method whose fit reads A alone (svd), which runs on A as given while validation's pass over
    A and W waits for the pass that measures the fit (:func:`scan_residual`).

    None when W itself needs the full validation of :func:`scan_problem` (NaN, ±Inf, a
    negative entry, all zeros: it raises the message), which then comes first. W None is all ones.
    """
    A = _converted(A, "A")
    if W is None:
        return A, np.ones_like(A), 1.0
    W = _converted(W, "W")
    if W.shape != A.shape:
        raise ValueError(f"W has shape {W.shape} but A has shape {A.shape}; they must match")
    w_max, w_min = _extremes(W)
    if not (math.isfinite(w_max) and w_max > 0 and w_min >= 0):
        return None
    return A, W, w_max


def scan_residual(A: np.ndarray, W: np.ndarray, w_max: float, factors: Factorization | None
                  ) -> tuple[Normalized, ResidualStats | None] | None:
    """Validation's pass over ``(A, W)`` of :func:`unscanned_problem`, fused with the pass that
    measures ``factors`` fitted to that A as given: the scaled problem and the factors'
    :class:`~wlra_core.linalg.ResidualStats` on it (from :func:`wlra_core.linalg.truncation_stats`,
    whose blocks also do :func:`_scan`'s work while A and W are in cache).

    None when A holds NaN or ±Inf, or lies beyond [2**-100, 2**100] (scaled, it would not be the
    A the factors were fitted to): the fit is then void, and the problem goes through
    :func:`normalized_problem`. Without ``factors`` (the fit failed), the scan alone.
    """
    w_exp = _exponent(w_max)
    scaled_W = np.empty_like(W) if w_exp else None
    block = _scan_block(A, W, w_exp, scaled_W)
    stats = None
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf in A void the fit: no warning about it
        if factors is None:
            found = map_blocks(block, list(row_blocks(*A.shape, EVALUATION_BLOCK)))
        else:
            # Each block's scan writes its rows of the scaled W before the loss reads them.
            (stats,), found = truncation_stats(A, W if scaled_W is None else scaled_W, factors, [factors.width],
                                               per_block=block)
    scan = _scale_found(found, w_exp)
    if scan is None or scan[0].a_exp:
        return None
    return normalize(A, W, scan[0], scaled_W), stats


def _scaled_buffer(A: np.ndarray, W: np.ndarray | None, w_max: float) -> np.ndarray | None:
    """Room for ``W * 2**-w_exp``, or None when there is nothing to scale."""
    if W is None or not math.isfinite(w_max) or not _exponent(w_max):
        return None
    return np.empty_like(W)


def validate_problem(A, W=None) -> tuple[np.ndarray, np.ndarray]:
    """Check a WLRA instance and return ``(A, W)`` as float64 arrays.

    ``W=None`` means all ones (ordinary low rank approximation). NaN in A marks a
    missing entry: the returned A holds 0 there and the returned W holds 0 there, so it
    does not count. A given W must already give those entries weight 0. The caller's
    arrays are never modified (A is copied only when it has NaN).

    The checks take one pass over W (its largest entry) and one over A and W together;
    :func:`scan_problem` also returns what that pass found for :func:`normalize`.

    Raises
    ------
    ValueError
        With a message naming the problem: non-numeric, ±Inf in A, NaN/Inf in W, A all
        NaN, a nonzero weight on a NaN of A, wrong dimension, shape mismatch, negative
        or all-zero weights.
    """
    A, W, _, _, _ = scan_problem(A, W)
    return A, W


def _without_missing(A: np.ndarray, W: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A with its NaN entries set to 0, and W (ones if None) with weight 0 there."""
    missing = np.isnan(A)
    if missing.all():
        raise ValueError(f"A is all NaN: none of its {A.size} entries is observed, so every weight would be 0")
    if W is not None:
        weighted = missing & (W != 0)
        count = int(np.count_nonzero(weighted))
        if count:
            i, j = np.argwhere(weighted)[0]
            raise ValueError(
                f"W gives a nonzero weight to {count} entries where A is NaN (missing), first at row {i}, "
                f"column {j}; give those entries weight 0, or leave W out to weight every observed entry 1")
    else:
        W = np.ones_like(A)
        W[missing] = 0.0
    return np.where(missing, 0.0, A), W


def validate_rank(rank, shape: tuple[int, int]) -> int:
    """Return ``rank`` as int if ``1 <= rank <= min(shape)``, else raise ValueError.

    The integer rule is the declared options' (:class:`wlra_core.options.Interval`); the
    message names the problem's bound, which the CLI's rank lists repeat.
    """
    if not Interval(int).accepts(rank):
        raise ValueError(f"rank must be an integer, got {rank!r}")
    limit = min(shape)
    if not Interval(int, 1, limit).accepts(rank):
        raise ValueError(f"rank must be between 1 and min(n, d) = {limit}, got {rank}")
    return int(rank)


@dataclass(frozen=True, eq=False)
class Normalized:
    """A validated problem scaled by powers of two: what the algorithms see.

    Attributes
    ----------
    A : ndarray
        ``A * 2**-a_exp``.
    W : ndarray
        ``W * 2**-w_exp``; its largest entry lies in [1, 2).
    a_exp, w_exp : int
    reference : SquareSum
        ``||W o A||_F^2`` of the scaled arrays (relative losses divide by it).
    a_max : float
        ``max |A|`` of the scaled A.
    zero_weights : int
        Entries of the scaled W that are 0.
    """

    A: np.ndarray
    W: np.ndarray
    a_exp: int
    w_exp: int
    reference: SquareSum
    a_max: float
    zero_weights: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    @property
    def loss_exponent(self) -> int:
        """Losses of the scaled problem times ``2**loss_exponent`` are losses of the original."""
        return 2 * (self.a_exp + self.w_exp)


def normalize(A: np.ndarray, W: np.ndarray, scale: Scale | None = None, scaled_W: np.ndarray | None = None
              ) -> Normalized:
    """Scale validated ``A`` and ``W`` by powers of two (copies only when a scale is not 1).

    ``scale`` (and ``scaled_W``) are what :func:`scan_problem` found for these arrays;
    without them the pass is made here.
    """
    if scale is None:
        w_max = _largest(W)
        scaled_W = _scaled_buffer(A, W, w_max)
        scale = _scan(A, W, w_max, scaled_W)[0]
    W_n = W if not scale.w_exp else scaled_W if scaled_W is not None else _times_power_of_two(W, -scale.w_exp)
    A_n = _times_power_of_two(A, -scale.a_exp) if scale.a_exp else A
    reference = scale.reference if scale.reference is not None else weighted_square_sum(A_n, W_n)
    return Normalized(A_n, W_n, scale.a_exp, scale.w_exp, reference, scale.a_max, scale.zero_weights)


def normalized_problem(A, W=None) -> tuple[np.ndarray, Normalized]:
    """Validate ``(A, W)`` and scale it: the validated W (of the caller's scale) and the
    :class:`Normalized` problem, from one pass over W and one over A and W together."""
    A, W, scale, scaled_W, _ = scan_problem(A, W, scaled_W=True)
    return W, normalize(A, W, scale, scaled_W)


def weighted_problem(A, W=None) -> tuple[np.ndarray, Normalized, np.ndarray | None]:
    """:func:`normalized_problem`, plus ``W o A`` of the scaled arrays written during the same
    pass when it fits in memory (:func:`wlra_core.linalg.weighted_fits`; None otherwise, or
    when A itself needed scaling): svd_w and css start from it, and forming it on its own
    would read A and W once more."""
    A, W, scale, scaled_W, weighted = scan_problem(A, W, scaled_W=True, product=True)
    return W, normalize(A, W, scale, scaled_W), None if scale.a_exp else weighted


@dataclass
class Problem:
    """A loaded WLRA instance plus where it came from.

    Attributes
    ----------
    A : ndarray of shape (n, d)
        Matrix to approximate (for an MLP: the hidden layer's kernel).
    W : ndarray of shape (n, d)
        Nonnegative weights (for an MLP: the empirical Fisher information).
    name : str
        Short label shown in the UI and CLI.
    source : str
        Where it came from (``"shipped"``, ``"tfds"``, ``"upload"``, ``"synthetic"``...).
    meta : dict
        Settings and figures (dataset, hidden size, test accuracy, image shape...).
    model : dict of ndarray
        For problems made from a trained MLP: the network's other parameters and a
        test set so a compressed kernel can be put back and evaluated (see
        ``wlra_core.datasets``). Empty otherwise.
    truth : ndarray of shape (n, d), optional
        The complete matrix behind a masked A (demos): what the entries with W = 0
        really are, for measuring how well they are filled. No algorithm reads it.
    """

    A: np.ndarray
    W: np.ndarray
    name: str = "problem"
    source: str = "array"
    meta: dict[str, Any] = field(default_factory=dict)
    model: dict[str, np.ndarray] = field(default_factory=dict)
    truth: np.ndarray | None = None

    def __post_init__(self):
        # What validation's pass found (the scale, ||W o A||^2) saves normalized a pass.
        self.A, self.W, self._scale, _, _ = scan_problem(self.A, self.W)
        if self.truth is not None:
            self.truth = as_float_matrix(self.truth, "truth")
            if self.truth.shape != self.A.shape:
                raise ValueError(f"truth has shape {self.truth.shape} but A has shape {self.A.shape}; they must match")

    @functools.cached_property
    def normalized(self) -> Normalized:
        """The scaled arrays the algorithms see (computed once; do not mutate A or W after)."""
        return normalize(self.A, self.W, getattr(self, "_scale", None))

    def __getstate__(self) -> dict:
        # A pickled problem (a Dask scatter, a cache) travels without its scaled arrays: they
        # can be a copy of W (550 MB for 67500 x 1024) and are recomputed where needed.
        state = self.__dict__.copy()
        state.pop("normalized", None)
        return state

    @functools.cached_property
    def fingerprint(self) -> str:
        """:func:`fingerprint` of the problem (computed once)."""
        return fingerprint(self)

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    @property
    def image_shape(self):
        """Input image shape when rows of A are pixels of an image dataset, else None."""
        shape = self.meta.get("image_shape")
        return tuple(shape) if shape is not None else None

    @property
    def has_model(self) -> bool:
        return bool(self.model)


def fingerprint(problem: Problem) -> str:
    """Hex digest of the problem's content: equal problems share cached results.

    Covers ``A`` and ``W``, every ``model`` array (name, dtype, shape and bytes) and
    ``truth``: whiten and kfac results depend on the calibration moments, test accuracies
    on the network and test set, errors on missing entries on the truth. Name, source and
    meta are labels, not content.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(problem.shape).encode())
    digest.update(memoryview(problem.A))
    digest.update(memoryview(problem.W))
    for name in sorted(problem.model):
        array = np.asarray(problem.model[name])
        digest.update(repr((name, array.dtype.str, array.shape)).encode())
        digest.update(memoryview(np.ascontiguousarray(array)))
    if problem.truth is not None:
        digest.update(b"truth")
        digest.update(memoryview(problem.truth))
    return digest.hexdigest()
