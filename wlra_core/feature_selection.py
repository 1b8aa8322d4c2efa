"""Weighted feature selection (Corollary 1.3): loss against the number of kept columns.

The selection and the fit are the ``css`` algorithm's (:mod:`wlra_core.algorithms.css`):
choose ``s`` columns (or rows) of ``W o A``, project ``W o A`` onto their span, divide by
W. This module sweeps ``s`` for several selection rules and puts the curves next to the
references that say how good they are:

* ``svd_w`` at rank k with weight rank r (Algorithm 1);
* ``||(W o A)_{-rk}||_F^2`` -- by Lemma 2.1 a lower bound on every rank-k solution when
  rank(W) <= r, and exactly svd_w's loss then (Theorem 1.2);
* ``||(W o A)_{-s}||_F^2`` for each s -- no choice of s columns can beat the best rank-s
  approximation of ``W o A`` (valid for every W).

For an MLP kernel the rows of A are input pixels, so selecting rows picks pixels; the
chosen ones can be shown as an image mask (:func:`selection_mask`).
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from .algorithms.css import SELECTIONS
from .api import solve
from .linalg import numerical_rank, spectrum, tail_mass, weighted_mass
from .problem import validate_problem, validate_rank
from .result import Stopped

__all__ = [
    "SELECTIONS",
    "AXES",
    "RANDOM_SELECTIONS",
    "max_selected",
    "size_grid",
    "select_features",
    "selection_curve",
    "summarize_curve",
    "references",
    "selection_mask",
]

AXES = ("columns", "rows")
# Selections that draw at random: averaged over trials (pivoted QR is deterministic).
RANDOM_SELECTIONS = ("leverage", "uniform")


def max_selected(shape: tuple[int, int], axis: str) -> int:
    """How many columns (or rows) there are to choose from."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
    return shape[1] if axis == "columns" else shape[0]


def size_grid(largest: int, n_points: int = 20) -> list[int]:
    """About ``n_points`` numbers of selected columns from 1 to ``largest`` (geometric spacing)."""
    if largest < 1 or n_points < 1:
        raise ValueError(f"largest and n_points must be >= 1, got {largest} and {n_points}")
    return [int(v) for v in np.unique(np.geomspace(1, largest, n_points).round().astype(int))]


def select_features(A, W, n_selected: int, *, selection: str = "pivoted_qr", axis: str = "columns",
                    rank: int = 1, weight_rank: int = 1, seed: int = 0):
    """Weighted CSS with ``n_selected`` columns (or rows): the ``css`` algorithm's result.

    ``rank`` k only sets the leverage scores' rank (``weight_rank * rank``); the fit
    uses every selected column. The chosen indices are ``result.extra[axis]``.

    Returns
    -------
    WLRAResult
    """
    A, W = validate_problem(A, W)
    limit = max_selected(A.shape, axis)
    if isinstance(n_selected, bool) or not isinstance(n_selected, (int, np.integer)) or not 1 <= n_selected <= limit:
        raise ValueError(f"the number of selected {axis} must be between 1 and {limit}, got {n_selected!r}")
    return solve("css", A, W, rank, seed=seed, n_columns=int(n_selected), selection=selection,
                 axis=axis, weight_rank=weight_rank)


def selection_curve(
    A,
    W,
    sizes: Iterable[int],
    *,
    selections: Iterable[str] = SELECTIONS,
    axis: str = "columns",
    rank: int = 1,
    weight_rank: int = 1,
    trials: int = 1,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Loss of weighted CSS for each selection rule and each number of selected columns.

    Randomised rules (:data:`RANDOM_SELECTIONS`) run ``trials`` times with seeds
    ``seed, seed + 1, ...``; pivoted QR runs once.

    Returns
    -------
    list of dict
        Keys ``selection, n_selected, trial, seed, loss, relative_loss, n_params, seconds``.
    """
    A, W = validate_problem(A, W)
    rank = validate_rank(rank, A.shape)
    sizes = sorted(set(int(s) for s in sizes))
    selections = list(selections)
    unknown = [s for s in selections if s not in SELECTIONS]
    if unknown or not selections:
        raise ValueError(f"selections must be chosen from {SELECTIONS}, got {selections!r}")
    if not sizes:
        raise ValueError("give at least one number of selected columns")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    jobs = [(selection, trial, size) for selection in selections
            for trial in range(trials if selection in RANDOM_SELECTIONS else 1) for size in sizes]
    rows = []
    for done, (selection, trial, size) in enumerate(jobs):
        if should_stop is not None and should_stop():
            raise Stopped("stopped by request")
        result = select_features(A, W, size, selection=selection, axis=axis, rank=rank,
                                 weight_rank=weight_rank, seed=seed + trial)
        row = {
            "selection": selection, "n_selected": size, "trial": trial, "seed": seed + trial,
            "loss": result.loss, "relative_loss": result.relative_loss,
            "n_params": result.n_params, "seconds": result.seconds,
        }
        rows.append(row)
        if on_row is not None:
            on_row(row)
        if progress is not None:
            progress((done + 1) / len(jobs), f"{selection}: {size} {axis} (trial {trial + 1})")
    return rows


def summarize_curve(rows: list[dict], value: str = "relative_loss") -> dict[str, dict[str, np.ndarray]]:
    """Per selection rule: arrays ``n_selected``, ``mean`` and ``std`` of ``value`` over trials."""
    out = {}
    for selection in dict.fromkeys(r["selection"] for r in rows):
        mine = [r for r in rows if r["selection"] == selection]
        sizes = np.array(sorted({r["n_selected"] for r in mine}))
        values = [np.array([r[value] for r in mine if r["n_selected"] == s]) for s in sizes]
        out[selection] = {
            "n_selected": sizes,
            "mean": np.array([v.mean() for v in values]),
            "std": np.array([v.std() for v in values]),
        }
    return out


def references(A, W, rank: int, weight_rank: int = 1, *, axis: str = "columns", seed: int = 0) -> dict:
    """The lines to compare CSS with, as absolute and relative losses.

    Returns
    -------
    dict
        ``svd_w_loss`` (svd_w at rank k, weight rank r), ``lower_bound``
        (``||(W o A)_{-rk}||_F^2``), ``best_rank_s`` (array: ``||(W o A)_{-s}||_F^2`` for
        s = 0 .. number of candidates; no s-column selection does better),
        ``reference`` (``||W o A||_F^2``, the denominator of relative losses),
        ``weight_numerical_rank`` (the lower bound is proven only when it is <= r),
        ``rk``.
    """
    A, W = validate_problem(A, W)
    rank = validate_rank(rank, A.shape)
    weighted = W * A
    rk = min(weight_rank * rank, min(A.shape))
    energy = spectrum(weighted) ** 2
    # best_rank_s[s] = sum of the squared singular values after the s-th (0 past the rank).
    best_rank_s = np.zeros(max_selected(A.shape, axis) + 1)
    best_rank_s[:energy.size] = np.cumsum(energy[::-1])[::-1]
    return {
        "svd_w_loss": solve("svd_w", A, W, rank, seed=seed, weight_rank=weight_rank, keep_approx=False).loss,
        "lower_bound": tail_mass(weighted, rk),
        "best_rank_s": best_rank_s,
        "reference": weighted_mass(A, W),
        "weight_numerical_rank": numerical_rank(W),
        "rk": rk,
    }


def selection_mask(indices, image_shape) -> np.ndarray:
    """Selected input pixels as an image: ``(height, width)`` counts of chosen channels.

    Parameters
    ----------
    indices : array_like of int
        Selected rows of an MLP kernel (flattened ``image_shape`` inputs).
    image_shape : tuple
        ``(height, width)`` or ``(height, width, channels)``.
    """
    shape = tuple(int(x) for x in image_shape)
    size = int(np.prod(shape))
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise ValueError(f"pixel indices must lie in 0..{size - 1} for image shape {shape}")
    mask = np.zeros(size)
    mask[indices] = 1.0
    mask = mask.reshape(shape)
    return mask.sum(axis=2) if mask.ndim == 3 else mask
