"""Held-out truth: a seeded split of the observed entries into a fit part and a check part.

:func:`holdout` picks a fraction of the observed entries (``W > 0``) and removes them from
the problem the algorithms see: in :attr:`Holdout.fit` those entries have ``A = 0`` and
``W = 0``, so no algorithm can read them -- not even the ones that ignore W (svd) or use
other arrays (whiten, kfac): their values are simply not in the arrays they get.
:meth:`Holdout.error` then measures any approximation on exactly those entries: the error a
user of a masked matrix cares about (how well it fills what it was not shown), which the
fitted loss cannot tell.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from .factors import Factorization, row_blocks
from .linalg import SquareSum, square_sum
from .problem import Problem, validate_problem
from .result import WLRAResult
from .seeding import as_seed_sequence, child_seed, seed_label

__all__ = ["EntryCheck", "Holdout", "HoldoutError", "holdout", "missing_check", "EntryErrors", "entry_errors",
           "HELDOUT_COLUMN", "MISSING_COLUMN"]

# The evaluation columns of :class:`EntryErrors`: the weighted RMSE on held-out observed
# entries, and the RMSE against the truth on the missing (W = 0) entries.
HELDOUT_COLUMN = "heldout_rmse"
MISSING_COLUMN = "missing_rmse"


@dataclass(frozen=True)
class HoldoutError:
    """The error of an approximation X on the check entries (``a``, weights ``w``).

    Attributes
    ----------
    rmse : float
        ``sqrt(mean((x - a)^2))``.
    weighted_rmse : float
        ``sqrt(sum(w^2 (x - a)^2) / sum(w^2))``: the RMSE for 0/1 weights.
    relative_rmse : float
        ``||x - a|| / ||a||`` (inf when ``a`` is all zero and x is not; 0 when both are).
    relative_weighted_rmse : float
        ``||w o (x - a)|| / ||w o a||``: the square root of the relative loss on these entries.
    count : int
        Number of check entries.
    """

    rmse: float
    weighted_rmse: float
    relative_rmse: float
    relative_weighted_rmse: float
    count: int


def _root_ratio(num: SquareSum, den: SquareSum) -> float:
    """``sqrt(num / den)`` of two sums of squares, without overflow or underflow in between
    (0 when both are 0, inf when only ``den`` is)."""
    if den.mantissa == 0:
        return 0.0 if num.mantissa == 0 else math.inf
    exponent = num.exponent - den.exponent
    odd = exponent % 2
    try:
        return math.ldexp(math.sqrt(math.ldexp(num.mantissa / den.mantissa, odd)), (exponent - odd) // 2)
    except OverflowError:
        return math.inf


@dataclass(frozen=True, eq=False)
class EntryCheck:
    """Some entries of an n x d matrix and their true values: what an approximation is checked on.

    Attributes
    ----------
    check : ndarray of bool, shape (n, d)
        The entries checked.
    truth : ndarray of shape (m,)
        Their true values, in row-major order.
    weights : ndarray of shape (m,)
        Their weights.
    """

    check: np.ndarray
    truth: np.ndarray
    weights: np.ndarray

    def values(self, X) -> np.ndarray:
        """An approximation's entries on the check entries (row-major order).

        ``X`` is an n x d array, a :class:`~wlra_core.Factorization` (formed one row block
        at a time, never whole) or a :class:`~wlra_core.WLRAResult`.
        """
        if isinstance(X, WLRAResult):
            if X.factors is None:
                raise ValueError(f"{X.algorithm} at rank {X.rank} failed: it has no approximation to check")
            X = X.factors
        if isinstance(X, Factorization):
            if X.shape != self.check.shape:
                raise ValueError(f"the approximation has shape {X.shape}, the problem {self.check.shape}")
            n, d = X.shape
            return np.concatenate([X.rows(rows)[self.check[rows]] for rows in row_blocks(n, d)])
        X = np.asarray(X, dtype=np.float64)
        if X.shape != self.check.shape:
            raise ValueError(f"the approximation has shape {X.shape}, the problem {self.check.shape}")
        return X[self.check]

    def error(self, X) -> HoldoutError:
        """:class:`HoldoutError` of ``X`` (see :meth:`values`) on the check entries."""
        with np.errstate(over="ignore"):  # an overflowing entry makes the error inf, not a warning
            residual = self.values(X) - self.truth
        square, weighted = square_sum(residual), square_sum(self.weights * residual)
        return HoldoutError(
            rmse=_root_ratio(square, SquareSum.of(float(residual.size))),
            weighted_rmse=_root_ratio(weighted, square_sum(self.weights)),
            relative_rmse=_root_ratio(square, square_sum(self.truth)),
            relative_weighted_rmse=_root_ratio(weighted, square_sum(self.weights * self.truth)),
            count=int(residual.size),
        )


@dataclass(frozen=True, eq=False)
class Holdout(EntryCheck):
    """A problem split into what algorithms see and what checks them.

    Attributes
    ----------
    check, truth, weights
        The held-out entries, A and W there (see :class:`EntryCheck`).
    fit : Problem
        The problem with the check entries removed (A = 0 and W = 0 there).
    fraction : float
    seed : int or str
    """

    fit: Problem
    fraction: float
    seed: int | str


def holdout(A, W=None, *, fraction: float = 0.1, seed=0) -> Holdout:
    """Hold out ``fraction`` of the observed entries (``W > 0``) for checking.

    Parameters
    ----------
    A : array_like of shape (n, d), or Problem
        NaN marks a missing entry (weight 0). A Problem brings its W, name, meta and model.
    W : array_like of shape (n, d), optional
        Nonnegative weights (None: all ones, 0 where A is NaN).
    fraction : float in (0, 1)
        Share of the observed entries held out: ``round(fraction * observed)``, at least
        one, and at least one is left to fit.
    seed : int >= 0 or SeedSequence
        The split is a function of the seed and of which entries are observed only, never
        of A's values.

    Returns
    -------
    Holdout
    """
    if not isinstance(fraction, Real) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be a number strictly between 0 and 1, got {fraction!r}")
    sequence = as_seed_sequence(seed)
    if isinstance(A, Problem):
        if W is not None:
            raise ValueError("give W inside the Problem, not as a separate argument")
        problem = A
    else:
        problem = Problem(*validate_problem(A, W), name="problem", source="array")
    observed = np.flatnonzero(problem.W > 0)
    if observed.size < 2:
        raise ValueError(f"holdout needs at least 2 observed entries (W > 0), the problem has {observed.size}")
    count = min(max(round(fraction * observed.size), 1), observed.size - 1)
    rng = np.random.default_rng(child_seed(sequence, 0))
    check = np.zeros(problem.shape, dtype=bool)
    check.flat[np.sort(rng.choice(observed, size=count, replace=False))] = True
    fit = Problem(np.where(check, 0.0, problem.A), np.where(check, 0.0, problem.W),
                  name=f"{problem.name} (fit part)", source=problem.source,
                  meta={**problem.meta, "holdout": {"fraction": float(fraction), "seed": seed_label(sequence),
                                                    "held_out": int(count)}},
                  model=dict(problem.model))
    return Holdout(check=check, truth=problem.A[check], weights=problem.W[check], fit=fit, fraction=float(fraction),
                   seed=seed_label(sequence))


def missing_check(problem: Problem) -> EntryCheck | None:
    """The missing (W = 0) entries of a problem that keeps the truth behind them
    (:attr:`Problem.truth`, the demos), weighted 1; None without a truth or a missing entry."""
    if problem.truth is None:
        return None
    missing = problem.W == 0
    if not missing.any():
        return None
    truth = problem.truth[missing]
    return EntryCheck(check=missing, truth=truth, weights=np.ones_like(truth))


@dataclass(frozen=True, eq=False)
class EntryErrors:
    """A sweep evaluation (:class:`wlra_core.sweep.Evaluation`): each result's error on
    entries its fit never saw.

    ``heldout_rmse`` is the weighted RMSE on the held-out entries (``heldout``; the RMSE for
    0/1 weights); ``missing_rmse`` the RMSE against the truth on the problem's missing entries
    (``missing``). Only the columns of the checks given are added. It holds the checked
    entries only, not the problem: it travels with every task to a Dask worker.
    """

    heldout: EntryCheck | None
    missing: EntryCheck | None
    name: str  # part of cache keys: which split, and whether the truth is checked

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for column, check in ((HELDOUT_COLUMN, self.heldout), (MISSING_COLUMN, self.missing))
                     if check is not None)

    def __call__(self, problem: Problem, result: WLRAResult) -> dict[str, float]:
        out = {}
        if self.heldout is not None:
            out[HELDOUT_COLUMN] = self.heldout.error(result).weighted_rmse
        if self.missing is not None:
            out[MISSING_COLUMN] = self.missing.error(result).rmse
        return out


def entry_errors(problem: Problem, split: Holdout | None = None) -> EntryErrors | None:
    """The :class:`EntryErrors` evaluation of a sweep on ``problem`` -- fitted on
    ``split.fit`` when a split is given -- or None when there is nothing to check (no split
    and no truth behind missing entries)."""
    missing = missing_check(problem)
    if split is None and missing is None:
        return None
    heldout = None if split is None else EntryCheck(check=split.check, truth=split.truth, weights=split.weights)
    # The split is part of the fit problem's fingerprint already; the name keeps apart the
    # same fit part checked with and without the truth.
    held = "" if split is None else f"holdout {split.fraction:g} seed {split.seed}"
    return EntryErrors(heldout, missing, " + ".join(filter(None, (held, "truth" if missing is not None else ""))))
