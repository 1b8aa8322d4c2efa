"""Sweeps of algorithms x ranks x trials, their CSV rows and the paper-style summary tables."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from .api import solve_ranks
from .problem import Problem
from .result import WLRAResult

__all__ = [
    "ROW_FIELDS",
    "TABLE_RANKS",
    "trial_seed",
    "result_row",
    "iter_sweep",
    "SweepTask",
    "trial_results",
    "summarize",
    "format_table",
    "rows_to_csv",
    "write_csv",
    "run_bench",
]

ROW_FIELDS = ("algorithm", "rank", "trial", "loss", "relative_loss", "seconds", "n_params", "failed", "message")
# The paper tabulates ranks 20, 10 and 5 (Tables 3-5).
TABLE_RANKS = (5, 10, 20)


def trial_seed(seed: int, trial: int) -> int:
    """Seed of trial ``trial``: trials differ only in their randomness."""
    return seed + trial


def result_row(result: WLRAResult, trial: int) -> dict:
    """One CSV row (see :data:`ROW_FIELDS`)."""
    row = result.summary()
    row["trial"] = trial
    return {key: row[key] for key in ROW_FIELDS}


def iter_sweep(
    A: np.ndarray,
    W: np.ndarray,
    algorithms: Iterable[str],
    ranks: Iterable[int],
    trials: int = 1,
    *,
    seed: int = 0,
    options: dict[str, dict] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[dict, WLRAResult]]:
    """Yield ``(row, result)`` as each algorithm/rank/trial finishes (in-process).

    ``options`` maps algorithm name to its options. Results keep no dense approximation.
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    ranks = list(ranks)
    options = options or {}
    for name in algorithms:
        for trial in range(trials):
            for result in trial_results(A, W, name, ranks, trial, seed=seed, options=options.get(name, {}),
                                        should_stop=should_stop):
                yield result_row(result, trial), result


@dataclass(frozen=True)
class SweepTask:
    """One unit of a sweep: algorithm ``name``, trial ``trial``, at ``ranks``, with ``options``."""

    name: str
    trial: int
    ranks: tuple[int, ...]
    options: dict = field(default_factory=dict)


def trial_results(A, W, name: str, ranks, trial: int, *, seed: int = 0, options: dict | None = None,
                  should_stop: Callable[[], bool] | None = None) -> list[WLRAResult]:
    """One trial of one algorithm over ``ranks`` with seed ``trial_seed(seed, trial)``.

    The unit of work of every sweep, in-process or on a Dask worker; ``solve_ranks`` shares
    the SVD across ranks, and the dense approximations are dropped.
    """
    return solve_ranks(name, A, W, ranks, seed=trial_seed(seed, trial), should_stop=should_stop,
                       keep_approx=False, **(options or {}))


def summarize(rows: list[dict], ranks: Iterable[int] = TABLE_RANKS) -> list[dict]:
    """Mean and std over trials of loss, relative loss and seconds per (rank, algorithm)."""
    table = []
    for rank in ranks:
        for name in dict.fromkeys(r["algorithm"] for r in rows):
            group = [r for r in rows if r["algorithm"] == name and r["rank"] == rank and not r["failed"]]
            failed = sum(1 for r in rows if r["algorithm"] == name and r["rank"] == rank and r["failed"])
            if not group and not failed:
                continue
            entry = {"rank": rank, "algorithm": name, "trials": len(group), "failed": failed}
            for key in ("loss", "relative_loss", "seconds"):
                values = np.array([r[key] for r in group], dtype=float)
                entry[f"{key}_mean"] = float(values.mean()) if values.size else math.nan
                entry[f"{key}_std"] = float(values.std()) if values.size else math.nan
            entry["n_params"] = group[0]["n_params"] if group else 0
            table.append(entry)
    return table


def format_table(table: list[dict]) -> str:
    """Text tables, one per rank, like the paper's Tables 3-5."""
    lines = []
    for rank in dict.fromkeys(e["rank"] for e in table):
        lines.append(f"rank {rank}")
        lines.append(f"  {'algorithm':<16} {'loss (mean +- std)':>26} {'relative loss':>14} "
                     f"{'seconds (mean +- std)':>24} {'params':>8}")
        for e in (e for e in table if e["rank"] == rank):
            note = f"  ({e['failed']} failed)" if e["failed"] else ""
            lines.append(
                f"  {e['algorithm']:<16} {e['loss_mean']:>12.6g} +- {e['loss_std']:<10.3g} "
                f"{e['relative_loss_mean']:>14.6f} {e['seconds_mean']:>12.4f} +- {e['seconds_std']:<8.4f} "
                f"{e['n_params']:>8}{note}"
            )
    return "\n".join(lines)


def rows_to_csv(rows: Iterable[dict], fields: Iterable[str] = ROW_FIELDS) -> str:
    """CSV text (header + one line per row) with the columns ``fields``; other keys are left out."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as handle:
        handle.write(rows_to_csv(rows))


def run_bench(problem: Problem, *, algorithms, ranks, trials=1, out=None, seed=0, scheduler=None,
              echo: Callable[[str], None] = print) -> int:
    """The ``bench`` CLI command: sweep, optional CSV, printed summary. Returns exit code 0."""
    ranks = list(ranks)
    if scheduler:
        from .distributed import run_sweep

        rows = run_sweep(problem.A, problem.W, algorithms, ranks, trials, seed=seed, scheduler=scheduler)
    else:
        rows = []
        for row, _ in iter_sweep(problem.A, problem.W, algorithms, ranks, trials, seed=seed):
            rows.append(row)
            echo(f"  {row['algorithm']:<16} rank {row['rank']:>3} trial {row['trial']}: "
                 f"relative loss {row['relative_loss']:.6f}  {row['seconds']:.3f} s")
    if out:
        write_csv(rows, out)
        echo(f"wrote {len(rows)} rows to {out}")
    table_ranks = [k for k in TABLE_RANKS if k in ranks] or [max(ranks)]
    echo(format_table(summarize(rows, table_ranks)))
    return 0
