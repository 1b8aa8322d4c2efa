"""What a solver returns, and the monitor through which it reports progress."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from .factors import Factorization
from .linalg import Projection

__all__ = ["WLRAResult", "Fit", "HistoryPoint", "Monitor", "SolverFailed", "Stopped", "BLOWUP_FACTOR"]

# A result whose approximation exceeds this many times max|A| anywhere is flagged.
BLOWUP_FACTOR = 1e3


class SolverFailed(RuntimeError):
    """An algorithm could not produce a finite answer (divergence, NaN)."""


class Stopped(RuntimeError):
    """The caller's ``should_stop()`` returned True."""


@dataclass
class Fit:
    """What an algorithm module hands back to :func:`wlra_core.solve`.

    ``factors`` is the stored form of the approximation (see :mod:`wlra_core.factors`);
    ``extra`` anything algorithm specific (e.g. selected columns); ``projection``, when
    the factors truncate a projection of W o A, what gives their loss in closed form (see
    :class:`wlra_core.linalg.Projection`).
    """

    factors: Factorization
    extra: dict[str, Any] = field(default_factory=dict)
    projection: Projection | None = None


class HistoryPoint(NamedTuple):
    """One entry of a loss history: after ``iteration`` steps, at ``seconds`` into the solve."""

    iteration: int
    loss: float
    seconds: float
    relative_loss: float


@dataclass
class WLRAResult:
    """One algorithm run at one rank.

    Attributes
    ----------
    algorithm : str
    rank : int
    factors : Factorization or None
        The arrays that rebuild the approximation (None if the run failed).
    loss : float
        ``||W o (A - X)||_F^2`` (NaN if failed; inf or 0 when float64 cannot hold it, see
        ``warnings``).
    relative_loss : float
        ``loss / ||W o A||_F^2``, computed on the scaled problem: exact even when ``loss``
        itself overflows or underflows.
    seconds : float
        Wall time of the run: the losses an iterative method records every iteration are
        included, the final loss pass that measures the result is not.
    history : list of HistoryPoint
        ``(iteration, loss, seconds, relative_loss)``; one entry for one-shot methods.
    options : dict
        The options actually used (defaults filled in), and the seed.
    extra : dict
        Algorithm-specific outputs (e.g. ``columns`` for css).
    failed : bool
        The run produced no usable answer (divergence, NaN, LAPACK failure).
    message : str
        Why it failed.
    warnings : list of str
        Why a finite answer deserves a second look: entries beyond ``BLOWUP_FACTOR`` x
        max|A|, a relative loss above 1 (worse than returning zeros), a loss float64
        cannot represent, an approximation that is 0 on every entry with W = 0 ("fills
        nothing"), more stored numbers than A has entries.
    max_abs : float
        Largest ``|X|`` entry.
    """

    algorithm: str
    rank: int
    factors: Factorization | None
    loss: float
    relative_loss: float
    seconds: float
    history: list[HistoryPoint]
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    max_abs: float = float("nan")

    @property
    def n_params(self) -> int:
        """Entries of the stored arrays (``factors.n_params``; 0 for a failed run)."""
        return 0 if self.factors is None else self.factors.n_params

    @property
    def approx(self) -> np.ndarray | None:
        """The dense n x d approximation, formed from the factors on first use."""
        if self.factors is None:
            return None
        if "_approx" not in self.__dict__:
            self.__dict__["_approx"] = self.factors.dense()
        return self.__dict__["_approx"]

    def summary(self) -> dict[str, Any]:
        """Flat row for tables and CSV export (no arrays)."""
        return {
            "algorithm": self.algorithm,
            "rank": self.rank,
            "loss": self.loss,
            "relative_loss": self.relative_loss,
            "seconds": self.seconds,
            "n_params": self.n_params,
            "max_abs": self.max_abs,
            "failed": self.failed,
            "message": self.message,
            "warnings": "; ".join(self.warnings),
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
        """Append ``(iteration, loss, elapsed)`` (loss of the scaled problem the algorithm
        sees); raise SolverFailed on a non-finite loss."""
        if not np.isfinite(loss):
            raise SolverFailed(f"loss became {loss} at iteration {iteration} (diverged)")
        self.history.append((int(iteration), float(loss), self.elapsed()))
