"""Result rows as tables: the paper-style summaries (Tables 3-5), aligned text and CSV.

A row is a flat dict (see :data:`ROW_FIELDS`), one per (problem, method, rank, trial);
:mod:`wlra_core.sweep` produces them. This module is the one CSV writer of the project.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Iterable

import numpy as np

__all__ = ["ROW_FIELDS", "TABLE_RANKS", "summarize", "format_summary", "format_rows", "rows_to_csv",
           "write_csv"]

ROW_FIELDS = (
    "problem", "method", "algorithm", "rank", "trial", "seed", "options", "loss", "relative_loss",
    "seconds", "n_params", "max_abs", "failed", "message", "warnings",
)
# The paper tabulates ranks 20, 10 and 5 (Tables 3-5).
TABLE_RANKS = (5, 10, 20)


def summarize(rows: list[dict], ranks: Iterable[int] = TABLE_RANKS, *,
              values: tuple[str, ...] = ("loss", "relative_loss", "seconds"), extremes: bool = False) -> list[dict]:
    """Mean and std over trials of ``values`` per (rank, method); failed runs counted apart.

    Each entry has ``rank``, ``method``, ``trials`` (successful), ``failed``,
    ``<value>_mean``/``<value>_std`` (and ``_min``/``_max`` with ``extremes``),
    ``n_params`` (of the first successful trial) and ``warnings`` (the distinct warnings
    of its trials).
    """
    table = []
    for rank in ranks:
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method and r["rank"] == rank]
            group = [r for r in mine if not r["failed"]]
            if not mine:
                continue
            entry = {"rank": rank, "method": method, "trials": len(group), "failed": len(mine) - len(group)}
            for key in values:
                data = np.array([r[key] for r in group], dtype=float)
                # A loss beyond float64's range reads inf (its relative loss is exact): its std is NaN.
                with np.errstate(invalid="ignore", over="ignore"):
                    entry[f"{key}_mean"] = float(data.mean()) if data.size else math.nan
                    entry[f"{key}_std"] = float(data.std()) if data.size else math.nan
                if extremes:
                    entry[f"{key}_min"] = float(data.min()) if data.size else math.nan
                    entry[f"{key}_max"] = float(data.max()) if data.size else math.nan
            entry["n_params"] = group[0]["n_params"] if group else 0
            entry["warnings"] = "; ".join(dict.fromkeys(r["warnings"] for r in group if r.get("warnings")))
            table.append(entry)
    return table


def format_summary(table: list[dict]) -> str:
    """Text tables, one per rank, like the paper's Tables 3-5 (warnings under their line)."""
    lines = []
    for rank in dict.fromkeys(e["rank"] for e in table):
        lines.append(f"rank {rank}")
        lines.append(f"  {'method':<16} {'loss (mean +- std)':>26} {'relative loss':>14} "
                     f"{'seconds (mean +- std)':>24} {'params':>8}")
        for e in (e for e in table if e["rank"] == rank):
            note = f"  ({e['failed']} failed)" if e["failed"] else ""
            lines.append(
                f"  {e['method']:<16} {e['loss_mean']:>12.6g} +- {e['loss_std']:<10.3g} "
                f"{e['relative_loss_mean']:>14.6f} {e['seconds_mean']:>12.4f} +- {e['seconds_std']:<8.4f} "
                f"{e['n_params']:>8}{note}"
            )
            if e["warnings"]:
                lines.append(f"    ! {e['warnings']}")
    return "\n".join(lines)


def _cell(value, spec: str) -> str:
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def format_rows(rows: Iterable[dict], columns: dict[str, str]) -> str:
    """An aligned text table of ``rows``: ``columns`` maps a key to its float format spec.

    A failed row gets its message and a flagged row its warnings on the next line.
    """
    rows = list(rows)
    cells = [[_cell(row.get(key, ""), spec) for key, spec in columns.items()] for row in rows]
    widths = [max(len(key), *(len(line[i]) for line in cells)) for i, key in enumerate(columns)]
    out = ["  ".join(key.rjust(w) for key, w in zip(columns, widths)), "-" * (sum(widths) + 2 * len(widths) - 2)]
    for row, line in zip(rows, cells):
        out.append("  ".join(cell.rjust(w) for cell, w in zip(line, widths)))
        if row.get("failed"):
            out.append(f"    FAILED: {row.get('message', '')}")
        elif row.get("warnings"):
            out.append(f"    ! {row['warnings']}")
    return "\n".join(out)


def rows_to_csv(rows: Iterable[dict], fields: Iterable[str] | None = None) -> str:
    """CSV text (header + one line per row).

    ``fields`` defaults to :data:`ROW_FIELDS` present in the rows followed by any other
    keys in order of appearance (e.g. ``accuracy`` from an evaluation).
    """
    rows = list(rows)
    if fields is None:
        present = dict.fromkeys(key for row in rows for key in row)
        fields = [key for key in ROW_FIELDS if key in present] + [key for key in present if key not in ROW_FIELDS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(rows: list[dict], path, fields: Iterable[str] | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(rows_to_csv(rows, fields))
