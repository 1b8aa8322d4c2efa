"""Plain facts about a problem, for ``python -m wlra_core info`` and the dashboard."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linalg import cumulative_mass, first_singular_mass, numerical_rank, spectrum
from .problem import Problem

__all__ = ["ProblemInfo", "problem_info", "info_lines", "mass_rank", "em_step"]


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


def em_step(A: np.ndarray, W: np.ndarray) -> float:
    """How far an EM iteration moves the entries of X towards their targets, on average.

    EM's majorisation moves entry (i, j) the fraction ``(W_ij / max W)^2`` of the way to
    ``A_ij``; the mean of that fraction weighted by the entry's share of ``||W o A||^2`` (the
    loss EM starts from, at X = 0) is returned: 1 for a 0/1 mask, near 0 when the entries that
    carry the loss have small weights (EM then stalls). Computed one block of rows at a time,
    scaled by the largest entries so no square overflows or underflows to 0 for lack of range.
    """
    w_max, a_max = float(W.max()), float(np.abs(A).max())
    if a_max == 0 or w_max == 0:
        return 1.0
    moved = total = 0.0
    for start in range(0, W.shape[0], 4096):
        Q = (W[start:start + 4096] / w_max) ** 2
        share = Q * (A[start:start + 4096] / a_max) ** 2
        moved += float(np.vdot(Q, share))
        total += float(share.sum())
    return moved / total if total > 0 else 1.0
