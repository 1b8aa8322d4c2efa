"""Synthetic Fisher-like WLRA problems of any size, for offline tests and scale benchmarks.

The empirical Fisher information of a hidden kernel entry ``A[i, j]`` is roughly the
importance of input ``i`` times the importance of hidden unit ``j`` (the paper's Section
1.1.3), so real Fisher matrices are nearly rank 1 (95-99.9% of the Frobenius mass in the
first singular value, the paper's Table 2), have exact zero rows (always-black pixels never
get a gradient) and a heavy tail of tiny weights. This generator reproduces those traits:

* ``W = (u v^T) o exp(noise * G)`` with heavy-tailed (log-normal) nonnegative row
  importances ``u``, milder column importances ``v`` and ``G`` standard normal; the first
  singular value holds about ``exp(-noise^2)`` of ``||W||_F^2``;
* exact zero rows: ``u = 0`` on a random ``zero_row_fraction`` of the rows;
* ``A`` like a trained dense kernel: Glorot-scale Gaussian initial weights plus a learned
  low-rank update with a decaying spectrum; rows that never got a gradient (the zero rows
  of W) keep their initial weights only.

Every entry is determined by ``seed`` and its position: the entrywise noise is drawn per
fixed tile of ``TILE_ROWS x TILE_COLS`` from its own seeded stream, so any block of a
problem can be generated on its own (row blocks here, column chunks on Dask workers in
:mod:`wlra_core.distributed`) and equals the same block of the whole problem.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..linalg import ROW_BLOCK
from ..options import Interval, Option, declared, validate_fields
from ..problem import Problem

__all__ = ["FisherLike", "Factors", "fisher_like_problem", "OPTIONS", "TILE_ROWS", "TILE_COLS"]

TILE_ROWS = ROW_BLOCK
TILE_COLS = 128
# Rank and spectrum decay of the learned part of A.
LEARNED_RANK = 16
LEARNED_DECAY = 0.8
# Column importances vary less than row (input pixel) importances.
COLUMN_TAIL_RATIO = 1 / 3

# The parameters of a Fisher-like problem (see FisherLike).
OPTIONS = {
    "n": Option(784, (Interval(int, 1),), "rows (inputs)"),
    "d": Option(128, (Interval(int, 1),), "columns (hidden units)"),
    "zero_row_fraction": Option(0.03, (Interval(float, 0.0, 1.0, closed="left"),),
                                "fraction of rows of W that are exactly zero"),
    "tail": Option(1.5, (Interval(float, 0.0),), "standard deviation of log row importance"),
    "noise": Option(0.15, (Interval(float, 0.0),), "standard deviation of the log of W's multiplicative noise"),
    "seed": Option(0, (Interval(int, 0),), "seed of every entry"),
}


@dataclass(frozen=True)
class Factors:
    """The small (n- or d-sized) random ingredients shared by every block.

    Attributes
    ----------
    row_importance : ndarray of shape (n,)
        Nonnegative, largest entry 1, exactly 0 on the zero rows.
    col_importance : ndarray of shape (d,)
        Positive, largest entry 1.
    learned_left : ndarray of shape (n, q)
        Left factor of A's learned update (0 on the zero rows), columns scaled by the spectrum.
    learned_right : ndarray of shape (q, d)
    """

    row_importance: np.ndarray
    col_importance: np.ndarray
    learned_left: np.ndarray
    learned_right: np.ndarray


@dataclass(frozen=True)
class FisherLike:
    """Parameters of a synthetic Fisher-like problem; generates it whole or block by block.

    Parameters
    ----------
    n, d : int
        Shape (inputs x hidden units).
    zero_row_fraction : float in [0, 1)
        Fraction of rows of W that are exactly zero (rounded; at least one row is not).
    tail : float >= 0
        Standard deviation of log row importance: larger means a heavier tail of tiny
        (and a few huge) weights.
    noise : float >= 0
        Standard deviation of the log of W's multiplicative noise; 0 gives an exactly
        rank-1 W, the first singular value holds about ``exp(-noise**2)`` of the mass.
    seed : int >= 0
    """

    n: int = OPTIONS["n"].default
    d: int = OPTIONS["d"].default
    zero_row_fraction: float = OPTIONS["zero_row_fraction"].default
    tail: float = OPTIONS["tail"].default
    noise: float = OPTIONS["noise"].default
    seed: int = OPTIONS["seed"].default

    def __post_init__(self):
        validate_fields(self, OPTIONS, owner="FisherLike")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.d)

    def factors(self) -> Factors:
        """Draw the shared small factors (O((n + d) q) numbers)."""
        rng = np.random.default_rng([self.seed, 0])
        n, d = self.n, self.d
        rows = rng.lognormal(0.0, self.tail, n)
        # At least one row keeps weight, else W would be all zeros (not a WLRA problem).
        n_zero = min(int(round(self.zero_row_fraction * n)), n - 1)
        zero_rows = rng.choice(n, size=n_zero, replace=False)
        rows[zero_rows] = 0.0
        rows /= rows.max()
        cols = rng.lognormal(0.0, self.tail * COLUMN_TAIL_RATIO, d)
        cols /= cols.max()
        q = min(LEARNED_RANK, n, d)
        left = rng.standard_normal((n, q)) * LEARNED_DECAY ** np.arange(q)
        left[zero_rows] = 0.0
        right = rng.standard_normal((q, d))
        return Factors(rows, cols, left, right)

    def block(self, rows: slice, cols: slice, factors: Factors | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(A[rows, cols], W[rows, cols])`` without generating the rest of the problem.

        Parameters
        ----------
        rows, cols : slice
            Contiguous ranges (step 1). Blocks aligned to ``TILE_ROWS x TILE_COLS``
            tiles generate no entries they do not return.
        factors : Factors, optional
            Reuse :meth:`factors` across many blocks.
        """
        r0, r1, _ = rows.indices(self.n)
        c0, c1, _ = cols.indices(self.d)
        if factors is None:
            factors = self.factors()
        A = np.empty((r1 - r0, c1 - c0))
        W = np.empty((r1 - r0, c1 - c0))
        for t_row in range(r0 // TILE_ROWS, -(-r1 // TILE_ROWS)):
            for t_col in range(c0 // TILE_COLS, -(-c1 // TILE_COLS)):
                tile_A, tile_W = self._tile(t_row, t_col, factors)
                lo_r, hi_r = max(r0, t_row * TILE_ROWS), min(r1, (t_row + 1) * TILE_ROWS)
                lo_c, hi_c = max(c0, t_col * TILE_COLS), min(c1, (t_col + 1) * TILE_COLS)
                inside = (slice(lo_r - t_row * TILE_ROWS, hi_r - t_row * TILE_ROWS),
                          slice(lo_c - t_col * TILE_COLS, hi_c - t_col * TILE_COLS))
                out = (slice(lo_r - r0, hi_r - r0), slice(lo_c - c0, hi_c - c0))
                A[out] = tile_A[inside]
                W[out] = tile_W[inside]
        return A, W

    def _tile(self, t_row: int, t_col: int, factors: Factors) -> tuple[np.ndarray, np.ndarray]:
        # Whole tiles, each from its own seeded stream, make every entry independent of
        # how blocks are cut (a BLAS product of a sub-block could differ in the last bit).
        rows = slice(t_row * TILE_ROWS, min((t_row + 1) * TILE_ROWS, self.n))
        cols = slice(t_col * TILE_COLS, min((t_col + 1) * TILE_COLS, self.d))
        rng = np.random.default_rng([self.seed, 1, t_row, t_col])
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        init_scale = np.sqrt(2.0 / (self.n + self.d))  # Glorot normal
        A = (factors.learned_left[rows] @ factors.learned_right[:, cols] + rng.standard_normal(shape)) * init_scale
        W = np.multiply.outer(factors.row_importance[rows], factors.col_importance[cols])
        W *= np.exp(self.noise * rng.standard_normal(shape))
        return A, W

    def problem(self) -> Problem:
        """The whole problem, built row block by row block into preallocated A and W."""
        A = np.empty(self.shape)
        W = np.empty(self.shape)
        factors = self.factors()
        for start in range(0, self.n, TILE_ROWS):
            rows = slice(start, min(start + TILE_ROWS, self.n))
            A[rows], W[rows] = self.block(rows, slice(0, self.d), factors)
        return Problem(A, W, name=f"fisher_like_{self.n}x{self.d}", source="synthetic",
                       meta={"generator": "fisher_like", **asdict(self)})


@declared(**OPTIONS)
def fisher_like_problem(n: int, d: int, *, zero_row_fraction: float, tail: float, noise: float, seed: int) -> Problem:
    """A synthetic problem shaped like a trained hidden kernel A with its Fisher weights W.

    W is nonnegative and nearly rank 1 (about ``exp(-noise^2)`` of its Frobenius mass in
    the first singular value), with heavy-tailed row importances (``tail``: spread of
    their log-normal law) and exact zero rows on a ``zero_row_fraction`` of the rows, like
    never-lit pixels; A is Glorot-scale noise plus a low-rank learned update.
    ``fisher_like_problem(67500, 1024)`` is the size of the paper's colorectal_histology
    kernel (two 550 MB float64 matrices; generation keeps temporaries to one row block).
    See :class:`FisherLike` for generating blocks on their own.
    """
    return FisherLike(n, d, zero_row_fraction, tail, noise, seed).problem()
