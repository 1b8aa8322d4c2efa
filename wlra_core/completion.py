"""Matrix completion with model selection: :func:`complete`.

:func:`complete` fills the missing (W = 0) entries of a matrix. It holds out a seeded share
of the observed entries (:func:`wlra_core.holdout`), fits every candidate -- algorithm,
rank, and for ``soft_impute`` every λ of its path, for ``als`` every ridge ``l2`` -- to
the rest, picks the candidate with the smallest weighted RMSE on the held-out entries, and
refits that choice on all observed entries. It reads A only where W > 0: the missing
entries' values never enter any fit or choice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .algorithms import ALGORITHMS, get_algorithm
from .algorithms.soft_impute import LAMBDA_MIN_RATIO, lambda_path, path_fractions
from .api import solve, solve_ranks
from .heldout import Holdout, HoldoutError
from .heldout import holdout as split
from .linalg import residual_stats
from .problem import Problem, validate_problem, validate_rank
from .result import Monitor, WLRAResult
from .seeding import as_seed_sequence, seed_label

__all__ = ["complete", "Completion", "ValidationRow", "DEFAULT_ALGORITHMS", "DEFAULT_RANKS", "ALS_L2",
           "SOFT_IMPUTE_LAMBDAS", "EM_OPTIONS"]

# als is not a default candidate: its sweeps cost O(n d k^2) (8 s at rank 40 on a 427 x 640
# photo), and on the demos it never beat soft_impute or em; name it to include it.
DEFAULT_ALGORITHMS = ("soft_impute", "em", "svd")
DEFAULT_RANKS = (2, 5, 10, 20, 40)
# als candidates: one per ridge weight l2 (its penalty is l2 max(W^2) ||X||_F^2).
ALS_L2 = (0.003, 0.03)
# soft_impute candidates: every lambda of one path per rank, geometric from lam_max to 1e-3 lam_max,
# until the held-out error has not improved for PATIENCE lambdas in a row (it is U-shaped along
# the path: past its minimum, smaller lambdas only fit noise).
SOFT_IMPUTE_LAMBDAS = 20
PATIENCE = 3
# em converged tighter than its default: completion is what it is run for here.
EM_OPTIONS = {"tol": 1e-4, "n_iter": 200}


@dataclass(frozen=True)
class ValidationRow:
    """One candidate fitted to the fit part and checked on the held-out entries.

    Attributes
    ----------
    algorithm : str
    rank : int
    options : dict
        The options that reproduce the candidate (passed to the refit when it is chosen).
    error : HoldoutError or None
        On the held-out entries (None when the fit failed).
    relative_loss : float
        Fitted relative loss on the fit part.
    seconds : float
        Fit time (for a λ path: the path up to this λ).
    message : str
        Why the fit failed, or its warnings.
    """

    algorithm: str
    rank: int
    options: dict
    error: HoldoutError | None
    relative_loss: float
    seconds: float
    message: str = ""

    @property
    def score(self) -> float:
        """What the choice minimises: the weighted RMSE on the held-out entries (inf if failed)."""
        return np.inf if self.error is None else self.error.weighted_rmse

    def as_dict(self) -> dict:
        """A flat row for tables and CSV."""
        error = self.error
        return {"algorithm": self.algorithm, "rank": self.rank,
                "options": ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in self.options.items()),
                "validation_rmse": np.nan if error is None else error.rmse,
                "validation_weighted_rmse": np.nan if error is None else error.weighted_rmse,
                "validation_relative_rmse": np.nan if error is None else error.relative_rmse,
                "fitted_relative_loss": self.relative_loss, "seconds": self.seconds, "message": self.message}


@dataclass
class Completion:
    """What :func:`complete` chose, refitted on every observed entry.

    Attributes
    ----------
    algorithm, rank, options
        The chosen candidate.
    result : WLRAResult
        The refit on all observed entries.
    validation : list of ValidationRow
        Every candidate, in the order fitted.
    problem : Problem
        The problem completed (A 0 where W = 0).
    holdout_fraction : float
    seed : int
    """

    algorithm: str
    rank: int
    options: dict
    result: WLRAResult
    validation: list[ValidationRow] = field(repr=False)
    problem: Problem = field(repr=False)
    holdout_fraction: float = 0.1
    seed: int | str = 0

    @property
    def factors(self):
        return self.result.factors

    @property
    def approx(self) -> np.ndarray:
        """The chosen model's n x d approximation X (every entry, observed ones included)."""
        return self.result.approx

    @property
    def filled(self) -> np.ndarray:
        """A with its missing (W = 0) entries taken from X; observed entries as given."""
        return np.where(self.problem.W > 0, self.problem.A, self.approx)

    @property
    def chosen(self) -> ValidationRow:
        return min(self.validation, key=lambda row: row.score)


def _soft_impute_rows(split_: Holdout, rank: int, seed) -> list[ValidationRow]:
    """One row per λ of a soft_impute path at rank cap ``rank`` (one warm-started path)."""
    problem = split_.fit.normalized
    defaults = get_algorithm("soft_impute").resolve_options({}, problem.shape)
    scale = 2.0 ** problem.a_exp
    rows, start = [], time.perf_counter()
    fractions = path_fractions(LAMBDA_MIN_RATIO, SOFT_IMPUTE_LAMBDAS)
    for j, point in enumerate(lambda_path(problem.A, problem.W, rank, fractions, n_iter=defaults["n_iter"],
                                          tol=defaults["tol"], seed=seed, monitor=Monitor(),
                                          svd_method=defaults["svd_method"]), 1):
        seconds = time.perf_counter() - start
        relative = residual_stats(problem.A, problem.W, point.factors).loss.ratio(problem.reference)
        rows.append(ValidationRow("soft_impute", rank, {"lambda_": point.fraction, "n_lambdas": j},
                                  split_.error(point.factors.scaled(scale)), relative, seconds))
        best = min(range(len(rows)), key=lambda i: rows[i].score)
        if len(rows) - 1 - best >= PATIENCE:
            break
    return rows


def _result_row(split_: Holdout, result: WLRAResult, options: dict) -> ValidationRow:
    if result.failed:
        return ValidationRow(result.algorithm, result.rank, options, None, np.nan, result.seconds, result.message)
    return ValidationRow(result.algorithm, result.rank, options, split_.error(result), result.relative_loss,
                         result.seconds, "; ".join(result.warnings))


def _candidates(name: str, split_: Holdout, ranks: list[int], seed) -> list[ValidationRow]:
    if name == "soft_impute":
        return [row for k in ranks for row in _soft_impute_rows(split_, k, seed)]
    if get_algorithm(name).prepare is not None:  # one shared SVD serves every rank
        return [_result_row(split_, r, {}) for r in solve_ranks(name, split_.fit, ranks=ranks, seed=seed)]
    grid = {"als": [{"l2": l2} for l2 in ALS_L2], "em": [EM_OPTIONS]}.get(name, [{}])
    return [_result_row(split_, solve(name, split_.fit, rank=k, seed=seed, **options), options)
            for k in ranks for options in grid]


def complete(A, W=None, *, algorithms: Iterable[str] | None = None, ranks: Iterable[int] | None = None,
             holdout: float = 0.1, seed=0,
             progress: Callable[[float, str], None] | None = None) -> Completion:
    """Fill the missing entries of ``A``, choosing algorithm, rank and λ on held-out entries.

    Parameters
    ----------
    A : array_like of shape (n, d), or Problem
        NaN marks a missing entry. With an explicit W, entries with W = 0 are missing
        whatever A holds there: ``complete(A_with_nan)`` and ``complete(A_with_zeros, mask)``
        give the same answer.
    W : array_like of shape (n, d), optional
        Nonnegative weights (None: 1 on every non-NaN entry).
    algorithms : iterable of str, optional
        Candidates (default :data:`DEFAULT_ALGORITHMS`): ``soft_impute`` contributes the λ
        of its path (up to :data:`SOFT_IMPUTE_LAMBDAS` values, until the held-out error
        stopped improving for :data:`PATIENCE` of them) at each rank, ``als`` each ridge of
        :data:`ALS_L2`, ``em`` runs with :data:`EM_OPTIONS`, any other algorithm with its
        defaults.
    ranks : iterable of int, optional
        Ranks (caps, for soft_impute) to try (default :data:`DEFAULT_RANKS` up to min(n, d)).
    holdout : float in (0, 1)
        Share of the observed entries held out for the choice.
    seed : int >= 0
        Seeds the split and every algorithm.
    progress : callable(fraction, message), optional

    Returns
    -------
    Completion
        ``factors``, ``approx``, ``filled``, ``algorithm``, ``rank``, ``options``, the
        refit ``result`` and the ``validation`` rows.
    """
    sequence = as_seed_sequence(seed)
    if isinstance(A, Problem):
        if W is not None:
            raise ValueError("give W inside the Problem, not as a separate argument")
        A, W = A.A, A.W
    A, W = validate_problem(A, W)
    problem = Problem(np.where(W > 0, A, 0.0), W, name="completion", source="array")
    names = list(DEFAULT_ALGORITHMS if algorithms is None else dict.fromkeys(algorithms))
    for name in names:
        if name not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
        if get_algorithm(name).requires:
            raise ValueError(f"{name} needs an MLP's calibration moments; it cannot complete a matrix")
    if not names:
        raise ValueError("choose at least one algorithm")
    limit = min(problem.shape)
    ranks = (sorted({min(k, limit) for k in DEFAULT_RANKS}) if ranks is None
             else sorted({validate_rank(k, problem.shape) for k in ranks}))
    if not ranks:
        raise ValueError("choose at least one rank")
    split_ = split(problem, fraction=holdout, seed=sequence)
    rows: list[ValidationRow] = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(i / (len(names) + 1), f"validating {name}")
        rows += _candidates(name, split_, ranks, sequence)
    best = min(rows, key=lambda row: row.score)
    if best.error is None:
        raise ValueError(f"every candidate failed; the first: {rows[0].algorithm} ({rows[0].message})")
    if progress is not None:
        progress(len(names) / (len(names) + 1), f"refitting {best.algorithm} at rank {best.rank}")
    result = solve(best.algorithm, problem, rank=best.rank, seed=sequence, **best.options)
    if result.failed:
        raise ValueError(f"the refit of {best.algorithm} at rank {best.rank} failed: {result.message}")
    if progress is not None:
        progress(1.0, "done")
    return Completion(best.algorithm, best.rank, dict(best.options), result, rows, problem, float(holdout),
                      seed_label(sequence))
