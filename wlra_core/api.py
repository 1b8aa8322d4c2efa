"""The public entry points: :func:`solve` and :func:`solve_ranks`.

Both validate at the boundary (problem, rank, seed, options), run the algorithm on the
scaled problem of :func:`wlra_core.problem.normalize`, and measure the result from what
it stores: the loss and the largest entry come from one blockwise pass over the factors
(for a truncated projection of W o A, svd_w's and css's, the loss from its closed form,
:class:`wlra_core.linalg.Projection`, where that is accurate), the parameter count from
the stored arrays. Results whose numbers deserve a second look
carry ``warnings``; runs that produce no usable answer come back ``failed``.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Iterator

import numpy as np

from .algorithms import Algorithm, get_algorithm
from .factors import Factorization, LowRank, Reweighted, row_blocks
from .linalg import ResidualStats, SquareSum, residual_stats, truncation_stats
from .problem import (Normalized, Problem, as_float_matrix, normalized_problem, scan_residual, unscanned_problem,
                      validate_rank, weighted_problem)
from .result import BLOWUP_FACTOR, Fit, HistoryPoint, Monitor, SolverFailed, WLRAResult
from .seeding import as_seed_sequence, seed_label

__all__ = ["solve", "solve_ranks", "fit_ranks", "SharedFits", "relative_loss"]


def relative_loss(loss: float, A, W) -> float:
    """``loss / ||W o A||_F^2`` (0 when both are 0, inf when only the reference is).

    The reference is that of the problem scaled by powers of two (:func:`normalize`), so
    it neither overflows nor underflows: the ratio is right at any scale of A and W.
    """
    problem = normalized_problem(A, W)[1]
    return SquareSum.of(float(loss)).scaled(-problem.loss_exponent).ratio(problem.reference)


class _Setup:
    """What :func:`solve` and :func:`solve_ranks` check before running: the scaled problem,
    the original W (results divide by it), the model arrays, the seed and the options.

    With ``defer``, a method whose fit reads A alone (svd) given arrays is fitted to A before
    validation's pass over A and W, which then shares the pass that measures the fit
    (:func:`_solve_unscanned`): ``unscanned`` holds the caller's ``(A, W)`` and max W until
    then, and ``problem`` is A and W as given (only its shape and A are read meanwhile).
    """

    def __init__(self, name, A, W, seed, options, model, defer: bool = False):
        self.algorithm: Algorithm = get_algorithm(name)
        meta = A.meta if isinstance(A, Problem) else {}
        self.unscanned = None
        found = (unscanned_problem(A, W) if defer and not isinstance(A, Problem) and _reads_a_alone(self.algorithm)
                 and not any(isinstance(value, np.ndarray) for value in options.values()) else None)
        if isinstance(A, Problem):
            if W is not None:
                raise ValueError("give W inside the Problem, not as a separate argument")
            self.problem: Normalized = A.normalized
            self.W = A.W
            model = A.model if model is None else model
            self.weighted = None
        elif found is not None:
            A_given, self.W, w_max = found
            self.unscanned = (A, W, w_max)
            self.problem = Normalized(A_given, self.W, 0, 0, SquareSum(math.nan), math.nan, 0)
            self.weighted = None
        elif self.algorithm.starts_from_weighted:
            self.W, self.problem, self.weighted = weighted_problem(A, W)
        else:
            self.W, self.problem = normalized_problem(A, W)
            self.weighted = None
        self.seed = as_seed_sequence(seed)
        self.options = self.algorithm.resolve_options(options, self.problem.shape)
        for key, value in self.options.items():
            # Array options are n x d matrices in A's units (em's init, an estimate of A): the
            # algorithm sees A scaled by 2**-a_exp, so they are scaled with it.
            if isinstance(value, np.ndarray) and self.problem.a_exp:
                self.options[key] = np.ldexp(as_float_matrix(value, f"{name} {key}"), -self.problem.a_exp)
        self.side = _required_arrays(self.algorithm, model or {}, meta)

    def scan(self) -> None:
        """Validate and scale the problem held back by ``defer`` (:func:`normalized_problem`)."""
        A, W, _ = self.unscanned
        self.W, self.problem = normalized_problem(A, W)
        self.unscanned = None

    def fit_kwargs(self) -> dict:
        if not self.algorithm.starts_from_weighted:
            return {**self.options, **self.side}
        # W o A is handed over once: it is freed when the fit is done with it, not kept for the loss pass.
        weighted, self.weighted = self.weighted, None
        return {**self.options, **self.side, "weighted": weighted}

    def public_options(self) -> dict:
        # Arrays (e.g. an EM init matrix) are not echoed back into tables.
        shown = {k: ("<array>" if isinstance(v, np.ndarray) else v) for k, v in self.options.items()}
        return {**shown, "seed": seed_label(self.seed)}


def _reads_a_alone(algorithm: Algorithm) -> bool:
    """The method's fit reads A and nothing else (svd): not W, W o A or calibration arrays."""
    return not (algorithm.uses_weights or algorithm.requires or algorithm.starts_from_weighted)


def _required_arrays(algorithm: Algorithm, model: dict, meta: dict) -> dict:
    """The ``Problem.model`` arrays ``algorithm`` needs, or a one-line ValueError saying which are missing
    (and why, when the pipeline recorded it)."""
    missing = [key for key in algorithm.requires if key not in model]
    if missing:
        why = meta.get("input_moment_skipped") if "input_moment" in missing else None
        raise ValueError(
            f"{algorithm.name} needs the calibration moment{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, which problems made from an MLP carry "
            "(`python -m wlra_core fisher`, the shipped problem); "
            + (f"this problem has none: {why}" if isinstance(why, str) else "this problem has none"))
    return {key: np.asarray(model[key], dtype=np.float64) for key in algorithm.requires}


def solve(
    name: str,
    A,
    W=None,
    rank: int = 1,
    *,
    seed=0,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model: dict | None = None,
    **options,
) -> WLRAResult:
    """Run one WLRA algorithm at one rank.

    Parameters
    ----------
    name : str
        One of :data:`wlra_core.ALGORITHMS`.
    A : array_like of shape (n, d), or Problem
        The matrix (or a :class:`~wlra_core.Problem`, whose W, model and cached scaling are used).
    W : array_like of shape (n, d), optional
        Nonnegative weights (None: all ones).
    rank : int
        Target rank k, ``1 <= k <= min(n, d)``.
    seed : int >= 0 or numpy.random.SeedSequence
        Every random choice the algorithm makes comes from it.
    progress : callable(fraction, message), optional
    should_stop : callable() -> bool, optional
        Polled between iterations; when it returns True, :class:`wlra_core.Stopped`
        is raised.
    model : dict of ndarray, optional
        Arrays some methods require (calibration moments); taken from the Problem by default.
    **options
        Algorithm options; unknown names or bad values raise ValueError.

    Returns
    -------
    WLRAResult
        ``failed=True`` with a ``message`` when the algorithm diverged or LAPACK failed.
    """
    setup = _Setup(name, A, W, seed, options, model, defer=True)
    rank = validate_rank(rank, setup.problem.shape)
    return _solve_one(setup, rank, Monitor(progress, should_stop))


def solve_ranks(
    name: str,
    A,
    W=None,
    ranks: Iterable[int] = (1,),
    *,
    seed=0,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_result: Callable[[WLRAResult], None] | None = None,
    model: dict | None = None,
    **options,
) -> list[WLRAResult]:
    """Run one algorithm at several ranks, sharing work where the algorithm allows.

    For ``svd`` and the ``svd_w`` family one truncated SVD at the largest rank serves
    every rank; each result's ``seconds`` is then the shared time plus its own
    (``extra["shared_seconds"]`` says how much was shared). An algorithm whose fit at
    rank k is the k-th step of one sequence (greedy) runs that sequence once, to the
    largest rank; each result's ``seconds`` and history are those of its first k steps,
    what a fit at rank k alone takes. Other algorithms run rank by rank. ``on_result`` is called as each result is ready (live charts).
    Results come back in the order of ``ranks``.
    """
    setup = _Setup(name, A, W, seed, options, model)
    ranks = [validate_rank(k, setup.problem.shape) for k in ranks]
    if not ranks:
        raise ValueError("ranks is empty: give at least one rank")
    unique = sorted(set(ranks))  # a repeated rank is solved once
    total = len(unique)
    results: dict[int, WLRAResult] = {}

    def emit(result: WLRAResult, done: int) -> None:
        results[result.rank] = result
        if on_result is not None:
            on_result(result)
        if progress is not None:
            progress(done / total, f"{name}: rank {result.rank} done")

    if setup.algorithm.prepare is not None:
        for i, result in enumerate(_fit_shared(setup, unique, should_stop).measure(), 1):
            emit(result, i)
    elif setup.algorithm.path is not None:
        for i, result in enumerate(_solve_path(setup, unique, Monitor(progress, should_stop)), 1):
            emit(result, i)
    else:
        for i, k in enumerate(unique, 1):
            def rank_progress(fraction, message, _i=i):
                if progress is not None:
                    progress((_i - 1 + fraction) / total, message)

            emit(_solve_one(setup, k, Monitor(rank_progress, should_stop)), i)
    return [results[k] for k in ranks]


class SharedFits:
    """Every rank of an algorithm whose work at the largest rank serves the others, fitted but
    not yet measured: :meth:`measure` computes their losses in one pass over A and W.

    Splitting the two lets a sweep measure one algorithm while the next one fits
    (:class:`wlra_core.sweep.InProcess`); :func:`solve_ranks` does both in turn.
    """

    def __init__(self, setup: _Setup, ranks: list[int], monitor: Monitor, fits=None, seconds=None,
                 failure: str | None = None):
        self._setup, self.ranks, self._monitor = setup, ranks, monitor
        self._fits, self._seconds, self._failure = fits or {}, seconds or {}, failure

    def measure(self) -> list[WLRAResult]:
        """The results in ascending rank order (failed ones if the shared step failed)."""
        setup = self._setup
        if self._failure is not None:
            return [_failed(setup, k, self._monitor, self._failure) for k in self.ranks]
        # Every rank's factors are a truncation of the largest one's: one pass measures them all.
        largest = self._fits[self.ranks[-1]]
        stats = truncation_stats(setup.problem.A, setup.problem.W, largest.factors,
                                 [self._fits[k].factors.width for k in self.ranks], largest.projection,
                                 setup.problem.reference)
        return [_result(setup, k, self._fits[k], self._monitor, self._seconds[k], stats[i])
                for i, k in enumerate(self.ranks)]


def _fit_shared(setup: _Setup, ranks: list[int], should_stop) -> SharedFits:
    algorithm = setup.algorithm
    monitor = Monitor(None, should_stop)
    state, failure = _attempt(setup, algorithm.prepare, ranks[-1], monitor)
    if failure is not None:
        return SharedFits(setup, ranks, monitor, failure=failure)
    shared = monitor.elapsed()
    fits, seconds = {}, {}
    for k in ranks:
        monitor.check_stop()
        rank_monitor = Monitor(None, should_stop)
        fits[k] = algorithm.finish(state, k)
        fits[k].extra["shared_seconds"] = shared
        seconds[k] = shared + rank_monitor.elapsed()
    return SharedFits(setup, ranks, monitor, fits, seconds)


def fit_ranks(name: str, A, W=None, ranks: Iterable[int] = (1,), *, seed=0,
              should_stop: Callable[[], bool] | None = None, model: dict | None = None,
              **options) -> SharedFits | None:
    """The fitting half of :func:`solve_ranks` for algorithms that share work across ranks
    (None for the others): ``fit_ranks(...).measure()`` equals ``solve_ranks(...)`` sorted by rank."""
    setup = _Setup(name, A, W, seed, options, model)
    if setup.algorithm.prepare is None:
        return None
    ranks = sorted({validate_rank(k, setup.problem.shape) for k in ranks})
    if not ranks:
        raise ValueError("ranks is empty: give at least one rank")
    return _fit_shared(setup, ranks, should_stop)


def _solve_path(setup: _Setup, ranks: list[int], monitor: Monitor) -> Iterator[WLRAResult]:
    """The results at ``ranks`` (ascending) from one run of the algorithm's path to the
    largest, each measured as its step arrives. The clock stops while a rank is measured,
    so each rank's seconds and history are those of its steps alone; if a step fails, it
    and every later rank are failed results."""
    steps = setup.algorithm.path(setup.problem.A, setup.problem.W, ranks[-1], seed=setup.seed, monitor=monitor,
                                 **setup.fit_kwargs())
    wanted, rank, failure = set(ranks), 0, None
    while rank < ranks[-1]:
        fit, failure = _guarded(lambda: next(steps))
        if failure is not None:
            break
        rank += 1
        if rank in wanted:
            seconds, measuring = monitor.elapsed(), time.perf_counter()
            steps_so_far = Monitor()
            steps_so_far.history = [point for point in monitor.history if point[0] <= rank]
            yield _result(setup, rank, fit, steps_so_far, seconds)
            monitor.start += time.perf_counter() - measuring
    for k in ranks:
        if k > rank:
            yield _failed(setup, k, monitor, failure)


def _attempt(setup: _Setup, step: Callable, rank: int, monitor: Monitor) -> tuple[object, str | None]:
    """``(step's output, None)`` for an algorithm's ``fit``, ``prepare`` or ``path`` run on the
    scaled problem, or ``(None, why)`` when it diverged or LAPACK failed."""
    return _guarded(lambda: step(setup.problem.A, setup.problem.W, rank, seed=setup.seed, monitor=monitor,
                                 **setup.fit_kwargs()))


def _guarded(call: Callable[[], object]) -> tuple[object, str | None]:
    """``(call(), None)``, or ``(None, why)`` when it diverged or LAPACK failed."""
    try:
        return call(), None
    except np.linalg.LinAlgError as err:
        return None, f"LAPACK could not factorise a matrix of this problem ({err})"
    except SolverFailed as err:
        return None, str(err)


def _solve_one(setup: _Setup, rank: int, monitor: Monitor) -> WLRAResult:
    """One fit at one rank, measured (or failed)."""
    if setup.unscanned is not None:
        return _solve_unscanned(setup, rank, monitor)
    fit, failure = _attempt(setup, setup.algorithm.fit, rank, monitor)
    if failure is not None:
        return _failed(setup, rank, monitor, failure)
    return _result(setup, rank, fit, monitor, monitor.elapsed())


def _solve_unscanned(setup: _Setup, rank: int, monitor: Monitor) -> WLRAResult:
    """:func:`_solve_one` for a fit of A alone on arrays not yet scanned: the fit runs on A as
    given, then one pass over A and W validates and scales the problem and measures the fit
    (:func:`wlra_core.problem.scan_residual`), one pass fewer than validating first.

    When that pass finds NaN (a missing entry) or ±Inf in A, or A beyond [2**-100, 2**100],
    the fit is void: the problem is validated and scaled as usual (raising its messages), and
    fitted again; its clock starts anew.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # only on an A the pass below then refuses
        fit, failure = _attempt(setup, setup.algorithm.fit, rank, monitor)
    seconds = monitor.elapsed()
    A, W, w_max = setup.unscanned
    found = scan_residual(setup.problem.A, setup.W, w_max, None if failure is not None else fit.factors)
    if found is None:
        setup.scan()
        monitor.start, monitor.history = time.perf_counter(), []
        return _solve_one(setup, rank, monitor)
    setup.problem, stats = found
    setup.unscanned = None
    if failure is not None:
        return _failed(setup, rank, monitor, failure)
    return _result(setup, rank, fit, monitor, seconds, stats)


def _in_original_units(factors: Factorization, setup: _Setup) -> Factorization:
    """Undo the power-of-two scaling: X = 2**a_exp X_scaled, exactly.

    A divisor that is the scaled W itself becomes the caller's W (no copy kept), with the
    weights' scale moved into the left factor.
    """
    problem = setup.problem
    if isinstance(factors, Reweighted) and factors.divides_by(problem.W):
        shift = problem.a_exp + problem.w_exp
        with np.errstate(over="ignore"):
            U = np.ldexp(factors.U, shift) if shift else factors.U
        if np.isfinite(U).all():
            return Reweighted(U, factors.V, setup.W, True, factors.names)
        # Huge A and W together: the factors cannot absorb W's scale; keep the scaled W.
    return factors.scaled(2.0**problem.a_exp) if problem.a_exp else factors


def _ldexp(value: float, exponent: int) -> float:
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf


def _result(setup: _Setup, rank: int, fit: Fit, monitor: Monitor, seconds: float,
            stats: ResidualStats | None = None) -> WLRAResult:
    problem = setup.problem
    if stats is None:
        stats = residual_stats(problem.A, problem.W, fit.factors, fit.projection, problem.reference)
    if not stats.loss.finite:
        return _failed(setup, rank, monitor, "the approximation has NaN/Inf entries (diverged, or "
                                             "divided by weights too small for float64)")
    relative = stats.loss.ratio(problem.reference)
    loss = float(stats.loss.scaled(problem.loss_exponent))
    max_abs = _ldexp(stats.max_abs, problem.a_exp)
    history = _history(setup, monitor) or [HistoryPoint(1, loss, seconds, relative)]
    return WLRAResult(
        algorithm=setup.algorithm.name,
        rank=rank,
        factors=_in_original_units(fit.factors, setup),
        loss=loss,
        relative_loss=relative,
        seconds=seconds,
        history=history,
        options=setup.public_options(),
        extra=fit.extra,
        warnings=_warnings(setup, stats, max_abs, relative, loss, fit.factors),
        max_abs=max_abs,
    )


def _history(setup: _Setup, monitor: Monitor) -> list[HistoryPoint]:
    """The losses the algorithm recorded (on the scaled problem), in the caller's units."""
    problem = setup.problem
    points = []
    for iteration, value, seconds in monitor.history:
        loss = SquareSum.of(value)
        points.append(HistoryPoint(iteration, float(loss.scaled(problem.loss_exponent)), seconds,
                                   loss.ratio(problem.reference)))
    return points


def _zero_on_unweighted(problem: Normalized, factors: Factorization) -> int:
    """How many entries have W = 0 if X is 0 on every one of them, else 0.

    X divided by W itself is 0 there by construction (:class:`Reweighted`). Any other X is
    formed one row block at a time, only on the rows holding a zero weight, and only until an
    entry with W = 0 and X != 0 turns up; a low-rank X's row ``U[i] @ V`` is not formed where
    ``U[i]`` is 0 (fwsvd and svd_w_practical on W's zero rows).
    """
    W = problem.W
    if isinstance(factors, Reweighted) and factors.divides_by(W):
        return problem.zero_weights
    n, d = W.shape
    count = 0
    for rows in row_blocks(n, d):
        zero = W[rows] == 0
        if not zero.any():
            continue
        held = np.flatnonzero(zero.any(axis=1))  # rows of the block holding a zero weight
        if isinstance(factors, LowRank):
            U = factors.U[rows][held]
            formed = np.any(U != 0, axis=1)
            if formed.any() and np.any((U[formed] @ factors.V)[zero[held[formed]]]):
                return 0
        elif np.any(factors.rows(rows)[held][zero[held]]):
            return 0
        count += int(np.count_nonzero(zero))
    return count


def _warnings(setup: _Setup, stats: ResidualStats, max_abs: float, relative: float, loss: float,
              factors: Factorization) -> list[str]:
    """Why a finite result deserves a second look (see :class:`WLRAResult`).

    ``stats`` are those of the scaled problem; ``max_abs`` and ``loss`` are in the caller's
    units (inf when float64 cannot hold them). ``factors`` are the scaled problem's.
    """
    problem = setup.problem
    notes = []
    if stats.max_abs > BLOWUP_FACTOR * problem.a_max:
        # The ratio from the scaled values: it stays finite when max_abs overflowed.
        times = stats.max_abs / problem.a_max if problem.a_max > 0 else math.inf
        note = f"entries up to {max_abs:.3g}, {times:.3g} x max|A|"
        if setup.algorithm.divides_by_weights:
            note += (" (it divides by tiny weights; "
                     + ("weight_floor > 0 bounds this)" if "weight_floor" in setup.options else "see its options)"))
        notes.append(note)
    if relative > 1:
        notes.append(f"relative loss {relative:.4g} > 1: worse than returning zeros")
    if math.isinf(loss) or (loss == 0 and stats.loss.mantissa != 0):
        notes.append("the absolute loss is beyond float64's range (it reads "
                     f"{loss:g}); the relative loss is exact")
    n, d = problem.shape
    if factors.n_params > n * d:
        notes.append(f"stores {factors.n_params:,} numbers, more than the {n * d:,} entries of A")
    if problem.zero_weights:
        unfilled = _zero_on_unweighted(problem, factors)
        if unfilled:
            notes.append(f"fills nothing: the approximation is 0 on all {unfilled:,} entries with W = 0")
    return notes


def _failed(setup: _Setup, rank: int, monitor: Monitor, message: str) -> WLRAResult:
    return WLRAResult(
        algorithm=setup.algorithm.name,
        rank=rank,
        factors=None,
        loss=math.nan,
        relative_loss=math.nan,
        seconds=monitor.elapsed(),
        history=_history(setup, monitor),  # how it got there (e.g. EM's losses before it diverged)
        options=setup.public_options(),
        failed=True,
        message=message,
    )
