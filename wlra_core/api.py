"""The public entry points: :func:`solve` and :func:`solve_ranks`."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from .algorithms import get_algorithm
from .linalg import weighted_loss, weighted_mass
from .problem import validate_problem, validate_rank
from .result import Fit, Monitor, SolverFailed, WLRAResult

__all__ = ["solve", "solve_ranks", "relative_loss"]


def relative_loss(loss: float, A: np.ndarray, W: np.ndarray) -> float:
    """``loss / ||W o A||_F^2`` (0 when both are 0, inf when only the reference is)."""
    return _relative(loss, weighted_mass(A, W))


def _relative(loss: float, reference: float) -> float:
    if reference > 0:
        return loss / reference
    return 0.0 if loss == 0 else float("inf")


def solve(
    name: str,
    A,
    W,
    rank: int,
    *,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_approx: bool = True,
    **options,
) -> WLRAResult:
    """Run one WLRA algorithm at one rank.

    Parameters
    ----------
    name : str
        One of :data:`wlra_core.ALGORITHMS`.
    A, W : array_like of shape (n, d)
        Matrix and nonnegative weights (``W=None`` means all ones).
    rank : int
        Target rank k, ``1 <= k <= min(n, d)``.
    seed : int
        Seed for every random choice the algorithm makes.
    progress : callable(fraction, message), optional
    should_stop : callable() -> bool, optional
        Polled between iterations; when it returns True, :class:`wlra_core.Stopped`
        is raised.
    keep_approx : bool
        Keep the dense approximation in the result (drop it for large sweeps).
    **options
        Algorithm options; unknown names or bad values raise ValueError.

    Returns
    -------
    WLRAResult
        A failed result (``failed=True``, ``message``) when the algorithm diverged.
    """
    algorithm = get_algorithm(name)
    A, W = validate_problem(A, W)
    rank = validate_rank(rank, A.shape)
    resolved = algorithm.resolve_options(options)
    monitor = Monitor(progress, should_stop)
    try:
        fit = algorithm.fit(A, W, rank, seed=seed, monitor=monitor, **resolved)
    except SolverFailed as err:
        return _failed(algorithm.name, rank, monitor, resolved, seed, str(err))
    return _finish(algorithm.name, A, W, rank, fit, monitor, monitor.elapsed(), resolved, seed, keep_approx,
                   weighted_mass(A, W))


def solve_ranks(
    name: str,
    A,
    W,
    ranks: Iterable[int],
    *,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_result: Callable[[WLRAResult], None] | None = None,
    keep_approx: bool = True,
    **options,
) -> list[WLRAResult]:
    """Run one algorithm at several ranks, sharing work where the algorithm allows.

    For ``svd`` and the ``svd_w`` family one truncated SVD at the largest rank serves
    every rank; each result's ``seconds`` is then the shared time plus its own
    (``extra["shared_seconds"]`` says how much was shared). Other algorithms run
    rank by rank. ``on_result`` is called as each result is ready (live charts).
    Results come back in the order of ``ranks``.
    """
    algorithm = get_algorithm(name)
    A, W = validate_problem(A, W)
    ranks = [validate_rank(k, A.shape) for k in ranks]
    if not ranks:
        raise ValueError("ranks is empty: give at least one rank")
    resolved = algorithm.resolve_options(options)
    total = len(ranks)
    results: dict[int, WLRAResult] = {}

    def emit(result: WLRAResult, done: int) -> None:
        results[result.rank] = result
        if on_result is not None:
            on_result(result)
        if progress is not None:
            progress(done / total, f"{name}: rank {result.rank} done")

    unique = sorted(set(ranks))
    if algorithm.prepare is not None:
        mass = weighted_mass(A, W)
        monitor = Monitor(None, should_stop)
        try:
            state = algorithm.prepare(A, W, max(unique), seed=seed, monitor=monitor, **resolved)
        except SolverFailed as err:
            for i, k in enumerate(unique, 1):
                emit(_failed(name, k, monitor, resolved, seed, str(err)), i)
            return [results[k] for k in ranks]
        shared = monitor.elapsed()
        for i, k in enumerate(unique, 1):
            monitor.check_stop()
            rank_monitor = Monitor(None, should_stop)
            fit = algorithm.finish(state, k)
            fit.extra["shared_seconds"] = shared
            seconds = shared + rank_monitor.elapsed()
            emit(_finish(name, A, W, k, fit, rank_monitor, seconds, resolved, seed, keep_approx, mass), i)
    else:
        for i, k in enumerate(unique, 1):
            def rank_progress(fraction, message, _i=i):
                if progress is not None:
                    progress((_i - 1 + fraction) / total, message)

            result = solve(name, A, W, k, seed=seed, progress=rank_progress,
                           should_stop=should_stop, keep_approx=keep_approx, **resolved)
            emit(result, i)
    return [results[k] for k in ranks]


def _finish(name, A, W, rank, fit: Fit, monitor: Monitor, seconds, options, seed, keep_approx,
            mass: float) -> WLRAResult:
    approx = fit.approx
    loss = weighted_loss(A, W, approx)
    # Any NaN/Inf in the approximation reaches the loss (0 * inf is NaN where W == 0).
    if not np.isfinite(loss):
        return _failed(name, rank, monitor, options, seed, "the approximation has NaN/Inf entries (diverged)")
    history = monitor.history or [(1, loss, seconds)]
    return WLRAResult(
        algorithm=name,
        rank=rank,
        approx=approx if keep_approx else None,
        loss=loss,
        relative_loss=_relative(loss, mass),
        seconds=seconds,
        history=history,
        n_params=int(fit.n_params),
        options={**_public(options), "seed": seed},
        extra=fit.extra,
    )


def _failed(name, rank, monitor: Monitor, options, seed, message) -> WLRAResult:
    return WLRAResult(
        algorithm=name,
        rank=rank,
        approx=None,
        loss=float("nan"),
        relative_loss=float("nan"),
        seconds=monitor.elapsed(),
        history=list(monitor.history),
        n_params=0,
        options={**_public(options), "seed": seed},
        failed=True,
        message=message,
    )


def _public(options: dict) -> dict:
    # Arrays (e.g. an EM init matrix) are not echoed back into tables.
    return {k: ("<array>" if isinstance(v, np.ndarray) else v) for k, v in options.items()}
