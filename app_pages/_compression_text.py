"""What the Compression page says about a run: how it names a method, the Pareto front of
accuracy against stored numbers, which method wins per stored number, whether the weighted
loss predicts accuracy, and why entrywise Fisher weighting does not win -- the numbers from
the run's rows, and the Markdown the page shows."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from app_pages._flags import rank_span, warning_notes
from wlra_core.compression import row_accuracy, uses_weights
from wlra_core.problem import Problem
from wlra_core.tables import ResultRow


def percent(value: float) -> str:
    """An accuracy in percent, two decimals."""
    return f"{100 * value:.2f}%"


def method_label(row: ResultRow, with_transform: bool = True) -> str:
    """A compression row's method, with the weights it ran with (``svd_w (W = F)``) when it
    uses W and ``with_transform``: how the headline, legends and tables name a series."""
    if with_transform and uses_weights(row.algorithm):
        return f"{row.method} (W = {row.problem})"
    return row.method


# The note of a result whose relative weighted loss exceeds 1 (wlra_core.api).
UNMINIMISED_LOSS = re.compile(r"relative loss \S+ > 1: worse than returning zeros")


def shown_warnings(row: ResultRow) -> str:
    """The warnings the Compression page shows for ``row``: all of them, except "relative
    loss > 1" for a method that does not minimise the weighted loss (``uses_weights`` false:
    svd, whiten, kfac), which on this page would flag it for a loss it never aimed at."""
    if not row.warnings or uses_weights(row.algorithm):
        return row.warnings
    return "; ".join(note for note in warning_notes(row.warnings) if not UNMINIMISED_LOSS.fullmatch(note))


def unflagged_losses(rows: Iterable[ResultRow]) -> str:
    """The sentence naming the results :func:`shown_warnings` does not flag for a relative
    weighted loss above 1, and why ("" when there are none)."""
    ranks: dict[str, list[int]] = {}
    for row in rows:
        if not row.failed and not uses_weights(row.algorithm) and any(
                UNMINIMISED_LOSS.fullmatch(note) for note in warning_notes(row.warnings)):
            ranks.setdefault(row.method, []).append(row.rank)
    if not ranks:
        return ""
    named = [f"{method} at {rank_span(r)}" for method, r in ranks.items()]
    return (f"Not flagged: {', '.join(named)} {'has' if len(named) == 1 else 'have'} a relative weighted loss "
            "above 1, but these methods do not use W, so they do not minimise that loss; accuracy judges them.")


def pareto_front(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """Rows no other row beats: none has at most as many parameters and higher accuracy.

    Failed rows are ignored; the front is returned by increasing ``n_params`` (and so
    increasing accuracy).
    """
    ok = sorted((r for r in rows if not r.failed and np.isfinite(row_accuracy(r))),
                key=lambda r: (r.n_params, -row_accuracy(r)))
    front: list[ResultRow] = []
    for row in ok:
        if not front or row_accuracy(row) > row_accuracy(front[-1]):
            front.append(row)
    return front


def loss_accuracy_correlation(rows: Iterable[ResultRow]) -> float:
    """Spearman rank correlation of relative weighted loss and accuracy over the rows.

    Near -1: a lower weighted loss reliably means a higher accuracy; near 0 or positive:
    the loss does not predict accuracy. NaN with fewer than 3 usable rows.
    """
    from scipy.stats import spearmanr

    ok = [r for r in rows if not r.failed and np.isfinite(row_accuracy(r)) and np.isfinite(r.relative_loss)]
    if len(ok) < 3:
        return float("nan")
    losses = [r.relative_loss for r in ok]
    accuracies = [row_accuracy(r) for r in ok]
    if np.ptp(losses) == 0 or np.ptp(accuracies) == 0:
        return float("nan")
    return float(spearmanr(losses, accuracies).statistic)


def correlation_verdict(rows: Iterable[ResultRow]) -> str:
    """The sentence saying whether the weighted loss predicted accuracy over ``rows`` ("" when
    :func:`loss_accuracy_correlation` is undefined)."""
    rho = loss_accuracy_correlation(rows)
    if np.isnan(rho):
        return ""
    return (f" Spearman correlation {rho:+.2f} over these runs: "
            + ("lower loss goes with higher accuracy." if rho < -0.5 else "the loss predicts accuracy poorly."))


@dataclass(frozen=True)
class BestMethod:
    """The method with the best accuracy per stored number (:func:`best_per_stored_number`).

    ``label`` is its :func:`method_label` (with ``W = transform`` when it uses W); it owns
    ``front_points`` of the ``front_size`` points of the Pareto front; ``example`` is its
    cheapest row keeping the asked share of the uncompressed accuracy, else its most
    accurate row.
    """

    label: str
    front_points: int
    front_size: int
    example: ResultRow


def best_per_stored_number(rows: Iterable[ResultRow], uncompressed_accuracy: float,
                           keep: float = 0.985) -> BestMethod | None:
    """Which method gives the best accuracy per stored number on this model.

    The method (with its weight transform) owning the most points of the Pareto front of
    accuracy against stored numbers; ties go to the higher accuracy at the smallest budget.
    Its example keeps ``keep`` of ``uncompressed_accuracy`` if any of its rows does. None
    without usable rows.
    """
    rows = [r for r in rows if r.method != "uncompressed"]
    front = pareto_front(rows)
    if not front:
        return None
    owners: dict[tuple, list[ResultRow]] = {}
    for row in front:
        owners.setdefault((row.method, row.problem), []).append(row)
    (method, transform), points = max(owners.items(), key=lambda item: (len(item[1]), row_accuracy(item[1][0])))
    mine = sorted((r for r in rows if r.method == method and r.problem == transform and not r.failed),
                  key=lambda r: r.n_params)
    good = [r for r in mine if row_accuracy(r) >= keep * uncompressed_accuracy]
    return BestMethod(method_label(mine[0]), len(points), len(front), good[0] if good else max(mine, key=row_accuracy))


def headline(rows: list[ResultRow], base: ResultRow) -> tuple[str, str] | None:
    """The run's headline -- a title naming the best method per stored number and a Markdown
    paragraph with its numbers -- or None without usable rows. ``base`` is the uncompressed
    network's row."""
    uncompressed = row_accuracy(base)
    best = best_per_stored_number(rows, uncompressed)
    if best is None:
        return None
    example = best.example
    return (f"Best accuracy per stored number here: {best.label}",
            f"It holds {best.front_points} of the {best.front_size} points on the Pareto front of accuracy "
            f"against stored numbers. At rank {example.rank} it keeps **{percent(row_accuracy(example))}** "
            f"({row_accuracy(example) / uncompressed:.1%} of the uncompressed {percent(uncompressed)}) "
            f"with {example.n_params:,} numbers, {example.evaluation['compression_ratio']:.1f}x fewer than the kernel.")


@dataclass(frozen=True)
class EntrywiseFacts:
    """The numbers behind "why entrywise Fisher weighting does not win" (:func:`entrywise_weighting_facts`).

    ``row`` is svd_w's with W = F at the largest rank run; ``kernel_entries`` and
    ``kernel_max_abs`` the size and largest entry of the trained kernel;
    ``smallest_weight`` the smallest nonzero weight over the largest; ``weight_floor`` the
    row's own option and ``smallest_divisor`` the smallest nonzero number svd_w divided by,
    ``max(W, weight_floor * max W)``, over the largest weight; ``best_other`` the most
    accurate other method's row at that rank (None without one).
    """

    row: ResultRow
    kernel_entries: int
    kernel_max_abs: float
    smallest_weight: float
    weight_floor: float
    smallest_divisor: float
    best_other: ResultRow | None


def entrywise_weighting_facts(rows: Iterable[ResultRow], problem: Problem) -> EntrywiseFacts | None:
    """The numbers behind "why entrywise Fisher weighting does not win", from this run.

    For the ``svd_w`` row with W = F at the largest rank run: its row (relative weighted
    loss, accuracy, largest kernel entry, stored numbers); the kernel's own largest entry;
    the smallest nonzero weight relative to the largest; and the row of the best accuracy
    any other method reached at that rank. None when svd_w (W = F) was not run.
    """
    rows = [r for r in rows if not r.failed]
    mine = [r for r in rows if r.method == "svd_w" and r.problem == "F"]
    if not mine:
        return None
    row = max(mine, key=lambda r: r.rank)
    others = [r for r in rows if r.rank == row.rank and r.method not in ("svd_w", "uncompressed")]
    W = problem.W
    smallest = float(W[W > 0].min() / W.max())
    floor = float(json.loads(row.options or "{}").get("weight_floor", 0.0))
    return EntrywiseFacts(row=row, kernel_entries=W.size, kernel_max_abs=float(np.max(np.abs(problem.A))),
                          smallest_weight=smallest, weight_floor=floor, smallest_divisor=max(smallest, floor),
                          best_other=max(others, key=row_accuracy) if others else None)


def why_not_entrywise(rows: list[ResultRow], problem: Problem) -> str | None:
    """The Markdown paragraph "why entrywise Fisher weighting does not win here", with this
    run's numbers; None when svd_w (W = F) was not run."""
    facts = entrywise_weighting_facts(rows, problem)
    if facts is None:
        return None
    row, other = facts.row, facts.best_other
    divides = ("svd_w divides by it" if facts.weight_floor <= facts.smallest_weight else
               f"svd_w divides by max(W, {facts.weight_floor:g} x max W) (weight_floor = {facts.weight_floor:g}), "
               f"by numbers down to {facts.smallest_divisor:.2g} of the largest weight")
    comparison = ("" if other is None else
                  f" At the same rank {other.method} reaches {percent(row_accuracy(other))} with a weighted loss "
                  f"of {other.relative_loss:.3g}.")
    return (
        f"**Why entrywise Fisher weighting does not win here.** At rank {row.rank}, svd_w with W = F has "
        f"the lowest Fisher-weighted loss it can get ({row.relative_loss:.3g} relative), yet the network "
        f"scores {percent(row_accuracy(row))}.{comparison} The Fisher information weights each kernel entry "
        f"alone and spans many orders of magnitude (the smallest nonzero weight is "
        f"{facts.smallest_weight:.2g} of the largest); {divides}, so its kernel has entries up to "
        f"{row.max_abs:.3g} where the trained kernel's largest is {facts.kernel_max_abs:.3g}, and "
        f"rebuilding it needs W itself: {row.n_params:,} stored numbers for a {facts.kernel_entries:,}-entry "
        "kernel. A tiny Fisher weight means the entry's input pixel was almost always dark in training, so "
        "the quadratic model of the loss (valid for small changes) says its error hardly matters; but a "
        "test image that lights that pixel even faintly multiplies an entry of that size, and the hidden "
        "units saturate. whiten and kfac weight whole input and output directions by their second moments "
        "(C = E[x xᵀ], G = E[δ δᵀ]) and store only k(n + d) numbers.")
