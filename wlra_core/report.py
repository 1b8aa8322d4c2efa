"""Plain facts about a problem, for ``python -m wlra_core info`` and the dashboard."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linalg import cumulative_mass, first_singular_mass, numerical_rank, spectrum
from .problem import Problem

__all__ = ["ProblemInfo", "problem_info", "info_lines", "mass_rank"]


def mass_rank(s: np.ndarray, fraction: float) -> int:
    """Smallest r whose first r squared singular values hold ``fraction`` of the total."""
    return int(np.searchsorted(cumulative_mass(s), fraction) + 1)


@dataclass(frozen=True)
class ProblemInfo:
    """Facts about a problem, as numbers (:func:`info_lines` writes them out).

    Attributes
    ----------
    name : str
    shape : tuple of int
        ``(n, d)``.
    zero_rows, zero_columns, zero_entries : int
        Rows, columns and entries of W that are exactly zero.
    zero_fraction : float
        ``zero_entries / (n d)``.
    a_range, w_range : tuple of float
        Smallest and largest entry of A and of W.
    first_singular_mass : float
        ``s_1^2 / ||W||_F^2`` (the paper's Table 2), a fraction.
    numerical_rank : int
        Singular values of W above :func:`wlra_core.linalg.round_off`.
    mass_rank_99 : int
        Smallest r whose first r singular values hold 99% of ``||W||_F^2``.
    test_accuracy : float or None
        The trained MLP's test accuracy, for a problem made from one.
    """

    name: str
    shape: tuple[int, int]
    zero_rows: int
    zero_columns: int
    zero_entries: int
    zero_fraction: float
    a_range: tuple[float, float]
    w_range: tuple[float, float]
    first_singular_mass: float
    numerical_rank: int
    mass_rank_99: int
    test_accuracy: float | None


def problem_info(problem: Problem, singular_values: np.ndarray | None = None) -> ProblemInfo:
    """Shape, zero rows/columns of W, value ranges and W's spectrum facts.

    The numerical rank counts singular values above :func:`wlra_core.linalg.round_off`.
    Pass W's ``singular_values`` when they are at hand: for the paper's largest kernels
    computing them is the bulk of the work.
    """
    A, W = problem.A, problem.W
    s = spectrum(W) if singular_values is None else singular_values
    zero = W == 0
    accuracy = problem.meta.get("test_accuracy")
    return ProblemInfo(
        name=problem.name,
        shape=(int(A.shape[0]), int(A.shape[1])),
        zero_rows=int(np.sum(~W.any(axis=1))),
        zero_columns=int(np.sum(~W.any(axis=0))),
        zero_entries=int(np.sum(zero)),
        zero_fraction=float(np.mean(zero)),
        a_range=(float(A.min()), float(A.max())),
        w_range=(float(W.min()), float(W.max())),
        first_singular_mass=float(first_singular_mass(W, singular_values=s)),
        numerical_rank=int(numerical_rank(W, singular_values=s)),
        mass_rank_99=mass_rank(s, 0.99),
        test_accuracy=None if accuracy is None else float(accuracy),
    )


def info_lines(info: ProblemInfo) -> list[tuple[str, str]]:
    """``(label, text)`` per fact, as the CLI's ``info`` command and the Data page show them."""
    n, d = info.shape
    lines = [
        ("name", info.name),
        ("shape", f"{n} x {d}"),
        ("zero rows of W", str(info.zero_rows)),
        ("zero columns of W", str(info.zero_columns)),
        ("zero entries of W", f"{info.zero_entries} ({100 * info.zero_fraction:.2f}%)"),
        ("A range", f"[{info.a_range[0]:.4g}, {info.a_range[1]:.4g}]"),
        ("W range", f"[{info.w_range[0]:.4g}, {info.w_range[1]:.4g}]"),
        ("% Frobenius mass of W in s_1", f"{100 * info.first_singular_mass:.2f}%"),
        ("numerical rank of W", str(info.numerical_rank)),
        ("rank holding 99% of W's mass", str(info.mass_rank_99)),
    ]
    if info.test_accuracy is not None:
        lines.append(("MLP test accuracy", f"{100 * info.test_accuracy:.2f}%"))
    return lines
