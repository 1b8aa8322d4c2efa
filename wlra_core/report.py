"""Plain facts about a problem, for ``python -m wlra_core info`` and the dashboard."""
from __future__ import annotations

import numpy as np

from .linalg import cumulative_mass, first_singular_mass, numerical_rank, spectrum
from .problem import Problem

__all__ = ["problem_info", "mass_rank"]


def mass_rank(s: np.ndarray, fraction: float) -> int:
    """Smallest r whose first r squared singular values hold ``fraction`` of the total."""
    return int(np.searchsorted(cumulative_mass(s), fraction) + 1)


def problem_info(problem: Problem, singular_values: np.ndarray | None = None) -> dict[str, object]:
    """Shape, zero rows/columns of W, value ranges and W's spectrum facts.

    The first-singular-value mass ``s_1^2 / ||W||_F^2`` is the paper's Table 2 figure;
    the numerical rank counts singular values above :func:`wlra_core.linalg.round_off`.
    Pass W's ``singular_values`` when they are at hand: for the paper's largest kernels
    computing them is the bulk of the work.
    """
    A, W = problem.A, problem.W
    n, d = A.shape
    s = spectrum(W) if singular_values is None else singular_values
    info = {
        "name": problem.name,
        "shape": f"{n} x {d}",
        "zero rows of W": int(np.sum(~W.any(axis=1))),
        "zero columns of W": int(np.sum(~W.any(axis=0))),
        "zero entries of W": f"{int(np.sum(W == 0))} ({100 * np.mean(W == 0):.2f}%)",
        "A range": f"[{A.min():.4g}, {A.max():.4g}]",
        "W range": f"[{W.min():.4g}, {W.max():.4g}]",
        "% Frobenius mass of W in s_1": f"{100 * first_singular_mass(W, singular_values=s):.2f}%",
        "numerical rank of W": numerical_rank(W, singular_values=s),
        "rank holding 99% of W's mass": mass_rank(s, 0.99),
    }
    accuracy = problem.meta.get("test_accuracy")
    if accuracy is not None:
        info["MLP test accuracy"] = f"{100 * float(accuracy):.2f}%"
    return info
