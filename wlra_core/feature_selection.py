"""Weighted feature selection (Corollary 1.3): loss against the number of kept columns.

The selection and the fit are the ``css`` algorithm's (:mod:`wlra_core.algorithms.css`):
choose ``s`` columns (or rows) of ``W o A``, project ``W o A`` onto their span, divide by
W. This module sweeps ``s`` for several selection rules and puts the curves next to the
references that say how good they are:

* ``svd_w`` at rank k with weight rank r (Algorithm 1);
* ``||(W o A)_{-rk}||_F^2`` -- by Lemma 2.1 a lower bound on every rank-k solution when
  rank(W) <= r, and exactly svd_w's loss then (Theorem 1.2);
* ``||(W o A)_{-ms}||_F^2`` for each s, where m is the rank of W's nonzero pattern
  (:func:`support_rank`; 1 when W has no zero): css's ``W o X`` is the pattern times a
  rank-s matrix, of rank at most m s, so no choice of s columns beats the best rank-ms
  approximation of ``W o A``. Without zeros that is the best rank-s approximation; with a
  zero pattern of high rank (a random mask) the bound is 0 -- nothing is proven.

For an MLP kernel the rows of A are input pixels, so selecting rows picks pixels; the
chosen ones can be shown as an image mask (:func:`selection_mask`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .algorithms.css import SELECTIONS
from .api import solve
from .linalg import numerical_rank, spectrum, weighted_mass
from .options import Interval, Option
from .problem import Problem, validate_problem, validate_rank
from .sweep import Update, make_method, make_sweep, run_all
from .tables import ResultRow

__all__ = [
    "SELECTIONS",
    "AXES",
    "RANDOM_SELECTIONS",
    "max_selected",
    "size_grid",
    "select_features",
    "SelectionRun",
    "selection_curve",
    "SelectionSeries",
    "summarize_curve",
    "references",
    "SelectionReferences",
    "support_rank",
    "selection_mask",
]

AXES = ("columns", "rows")
# svd_w "meets" the lower bound when their relative losses agree to this relative tolerance
# (Theorem 1.2's equality, up to round-off).
MEETS_BOUND_RTOL = 1e-9
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
    n_selected = Option(1, (Interval(int, 1, limit),), f"selected {axis}").validate(
        n_selected, name="n_selected", algorithm="select_features")
    return solve("css", A, W, rank, seed=seed, n_columns=n_selected, selection=selection,
                 axis=axis, weight_rank=weight_rank)


@dataclass(frozen=True)
class SelectionRun:
    """One weighted CSS run of :func:`selection_curve`: its rule, how many columns (or rows)
    it kept, and its sweep row."""

    selection: str
    n_selected: int
    row: ResultRow


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
    on_update: Callable[[Update], None] | None = None,
    executor=None,
) -> tuple[list[SelectionRun], list[str]]:
    """Loss of weighted CSS for each selection rule and each number of selected columns.

    One sweep of the engine (:mod:`wlra_core.sweep`) per kind of rule: the randomised rules
    (:data:`RANDOM_SELECTIONS`) run ``trials`` trials, pivoted QR (deterministic) one.

    Returns
    -------
    runs : list of SelectionRun
        Failed runs included (their row's ``failed`` and ``message``).
    errors : list of str
        Tasks that raised.
    """
    problem = A if isinstance(A, Problem) else Problem(A, W, name="problem")
    rank = validate_rank(rank, problem.shape)
    sizes = sorted(set(int(s) for s in sizes))
    selections = list(selections)
    unknown = [s for s in selections if s not in SELECTIONS]
    if unknown or not selections:
        raise ValueError(f"selections must be chosen from {SELECTIONS}, got {selections!r}")
    limit = max_selected(problem.shape, axis)
    if not sizes or sizes[0] < 1 or sizes[-1] > limit:
        raise ValueError(f"the numbers of selected {axis} must lie between 1 and {limit}, got {sizes}")
    runs, errors = [], []
    for group, group_trials in ((RANDOM_SELECTIONS, trials), (("pivoted_qr",), 1)):
        methods = [make_method("css", {"n_columns": size, "selection": selection, "axis": axis,
                                       "weight_rank": weight_rank}, label=f"{selection} s={size}",
                               shape=problem.shape)
                   for selection in selections if selection in group for size in sizes]
        if not methods:
            continue
        sweep = make_sweep(problem, methods, [rank], group_trials, seed)
        group_rows, group_errors = run_all(sweep, executor=executor, on_update=on_update)
        for row in group_rows:
            options = json.loads(row.options)
            runs.append(SelectionRun(options["selection"], options["n_columns"], row))
        errors += group_errors
    return runs, errors


@dataclass(frozen=True)
class SelectionSeries:
    """One selection rule's curve: ``mean`` and ``std`` over trials at each ``n_selected``."""

    n_selected: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def summarize_curve(runs: list[SelectionRun], value: str = "relative_loss") -> dict[str, SelectionSeries]:
    """Per selection rule, the statistics of the measured column ``value`` over the successful trials."""
    out = {}
    runs = [r for r in runs if not r.row.failed]
    for selection in dict.fromkeys(r.selection for r in runs):
        mine = [r for r in runs if r.selection == selection]
        sizes = np.array(sorted({r.n_selected for r in mine}))
        values = [np.array([r.row.value(value) for r in mine if r.n_selected == s]) for s in sizes]
        out[selection] = SelectionSeries(sizes, np.array([v.mean() for v in values]),
                                         np.array([v.std() for v in values]))
    return out


def support_rank(W: np.ndarray) -> int:
    """Rank of W's nonzero pattern ``1[W != 0]`` (1 when W has no zero, 0 when W is 0).

    Computed on the pattern's distinct rows and columns, which have the same rank: few
    when the zeros are whole rows or columns (dead units, pixels never lit).
    """
    nonzero = np.asarray(W) != 0
    if nonzero.all():
        return 1
    if not nonzero.any():
        return 0
    distinct = np.unique(np.unique(nonzero, axis=0), axis=1)
    return numerical_rank(distinct.astype(np.float64))


@dataclass(frozen=True, eq=False)
class SelectionReferences:
    """The lines to compare CSS with (see :func:`references` for each field)."""

    svd_w_loss: float
    lower_bound: float
    selection_bound: np.ndarray
    reference: float
    relative_svd_w: float
    relative_lower_bound: float
    relative_selection_bound: np.ndarray
    support_rank: int
    weight_numerical_rank: int
    rk: int
    svd_w_meets_bound: bool


def references(A, W, rank: int, weight_rank: int = 1, *, axis: str = "columns", seed: int = 0
               ) -> SelectionReferences:
    """The lines to compare CSS with, as absolute and relative losses.

    Computed on the scaled problem (:func:`wlra_core.problem.normalize`), so the relative
    values hold whatever the size of A and W, even when the absolute ones overflow.

    Returns
    -------
    SelectionReferences
        ``svd_w_loss`` (svd_w at rank k, weight rank r), ``lower_bound``
        (``||(W o A)_{-rk}||_F^2``), ``selection_bound`` (array: ``||(W o A)_{-ms}||_F^2``
        for s = 0 .. number of candidates, m = ``support_rank``; no s-column selection does
        better, and 0 where ms reaches the rank of ``W o A``: nothing proven there),
        ``reference`` (``||W o A||_F^2``, the denominator of relative losses), the same
        three lines divided by it as ``relative_svd_w``, ``relative_lower_bound`` and
        ``relative_selection_bound``, ``support_rank`` (m, :func:`support_rank`),
        ``weight_numerical_rank`` (the lower bound is proven only when it is <= r), ``rk``,
        and ``svd_w_meets_bound``: whether svd_w's relative loss equals the lower bound's up
        to :data:`MEETS_BOUND_RTOL` (one line can then show both).
    """
    problem = A if isinstance(A, Problem) else Problem(A, W, name="problem")
    rank = validate_rank(rank, problem.shape)
    scaled = problem.normalized
    weighted = scaled.W * scaled.A
    rk = min(weight_rank * rank, min(problem.shape))
    energy = spectrum(weighted) ** 2
    # tails[j] = sum of the squared singular values after the j-th (0 past the rank).
    tails = np.zeros(max_selected(problem.shape, axis) + 1)
    tails[:energy.size] = np.cumsum(energy[::-1])[::-1]
    pattern_rank = support_rank(problem.W)
    bound_rank = pattern_rank * np.arange(tails.size)
    selection_bound = np.where(bound_rank < tails.size, tails[np.minimum(bound_rank, tails.size - 1)], 0.0)
    reference = float(scaled.reference)
    svd_w = solve("svd_w", problem, rank=rank, seed=seed, weight_rank=weight_rank)
    with np.errstate(over="ignore"):  # beyond float64: inf, as the loss itself reads then
        absolute = np.ldexp(tails, scaled.loss_exponent)
        absolute_selection_bound = np.ldexp(selection_bound, scaled.loss_exponent)
    relative_lower_bound = tails[rk] / reference if reference > 0 else 0.0
    meets = abs(svd_w.relative_loss - relative_lower_bound) <= MEETS_BOUND_RTOL * max(relative_lower_bound, 1e-300)
    return SelectionReferences(
        svd_w_loss=svd_w.loss,
        lower_bound=float(absolute[rk]),
        selection_bound=absolute_selection_bound,
        reference=weighted_mass(problem.A, problem.W),
        relative_svd_w=svd_w.relative_loss,
        relative_lower_bound=relative_lower_bound,
        relative_selection_bound=selection_bound / reference if reference > 0 else np.zeros_like(tails),
        support_rank=pattern_rank,
        weight_numerical_rank=numerical_rank(problem.W),
        rk=rk,
        svd_w_meets_bound=bool(meets),
    )


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
