"""What a solver returns, and the monitor through which it reports progress."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["WLRAResult", "Fit", "Monitor", "SolverFailed", "Stopped"]


class SolverFailed(RuntimeError):
    """An algorithm could not produce a finite answer (divergence, NaN)."""


class Stopped(RuntimeError):
    """The caller's ``should_stop()`` returned True."""


@dataclass
class Fit:
    """What an algorithm module hands back to :func:`wlra_core.solve`.

    ``approx`` is the dense n x d approximation; ``n_params`` how many numbers its
    compact form needs; ``extra`` anything algorithm specific (e.g. selected columns).
    """

    approx: np.ndarray
    n_params: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class WLRAResult:
    """One algorithm run at one rank.

    Attributes
    ----------
    algorithm : str
    rank : int
    approx : ndarray of shape (n, d) or None
        None when the caller asked not to keep it (large sweeps) or the run failed.
    loss : float
        ``||W o (A - approx)||_F^2`` (NaN if failed).
    relative_loss : float
        ``loss / ||W o A||_F^2``.
    seconds : float
        Wall time of the run.
    history : list of (iteration, loss, elapsed_seconds)
        One entry for one-shot methods.
    n_params : int
        Numbers needed to store the solution in its compact form.
    options : dict
        The options actually used (defaults filled in), and the seed.
    extra : dict
        Algorithm-specific outputs (e.g. ``columns`` for css).
    failed : bool
    message : str
        Why it failed, or a note (e.g. "stopped after 7 iterations").
    """

    algorithm: str
    rank: int
    approx: np.ndarray | None
    loss: float
    relative_loss: float
    seconds: float
    history: list[tuple[int, float, float]]
    n_params: int
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    message: str = ""

    def summary(self) -> dict[str, Any]:
        """Flat row for tables and CSV export (no arrays)."""
        return {
            "algorithm": self.algorithm,
            "rank": self.rank,
            "loss": self.loss,
            "relative_loss": self.relative_loss,
            "seconds": self.seconds,
            "n_params": self.n_params,
            "failed": self.failed,
            "message": self.message,
        }


class Monitor:
    """Progress, cancellation and loss-history bookkeeping for one solve.

    Parameters
    ----------
    progress : callable(fraction, message), optional
    should_stop : callable() -> bool, optional
    """

    def __init__(
        self,
        progress: Callable[[float, str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self._progress = progress
        self._should_stop = should_stop
        self.start = time.perf_counter()
        self.history: list[tuple[int, float, float]] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def nested(self) -> "Monitor":
        """A monitor for a sub-solve (e.g. an initialisation): same stop request, silent
        progress, its own history (so the outer solve's history stays its own)."""
        return Monitor(None, self._should_stop)

    def report(self, fraction: float, message: str = "") -> None:
        if self._progress is not None:
            self._progress(float(min(max(fraction, 0.0), 1.0)), message)

    def check_stop(self) -> None:
        """Raise :class:`Stopped` if the caller asked to stop."""
        if self._should_stop is not None and self._should_stop():
            raise Stopped("stopped by request")

    def record(self, iteration: int, loss: float) -> None:
        """Append ``(iteration, loss, elapsed)``; raise SolverFailed on a non-finite loss."""
        if not np.isfinite(loss):
            raise SolverFailed(f"loss became {loss} at iteration {iteration} (diverged)")
        self.history.append((int(iteration), float(loss), self.elapsed()))
