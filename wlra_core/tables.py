"""Result rows as tables: the paper-style summaries (Tables 3-5), aligned text and CSV.

A :class:`ResultRow` is one result of a sweep (problem, method, rank, trial) and what was
measured; :mod:`wlra_core.sweep` produces them. Its fields are the CSV columns, in order,
followed by the evaluation columns (the Compression page's test accuracy). :func:`summarize`
turns rows into one :class:`Summary` per (rank, method), :func:`rank_table` into the paper's
tables as records. This module is the one CSV writer of the project.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

__all__ = ["ResultRow", "ROW_FIELDS", "MEASURED", "Stats", "Summary", "TABLE_RANKS", "summarize", "format_summary",
           "rank_table", "format_rows", "csv_columns", "rows_to_csv", "CsvFile", "write_csv"]


def _measured(**kwargs):
    """A field holding a number measured per trial: :func:`summarize` gives its statistics."""
    return field(metadata={"measured": True}, **kwargs)


@dataclass(frozen=True, kw_only=True)
class ResultRow:
    """One result of a sweep, flat: the fields are the CSV columns, in order.

    ``trial``, ``seed`` and ``max_abs`` are None for a row that no solve made (the
    Compression page's uncompressed network); the CSV leaves them empty. ``evaluation``
    holds the columns an evaluation adds (e.g. ``accuracy``), written after the fields.
    A new measured column is one more field declared with ``_measured()``.
    """

    problem: str
    method: str
    algorithm: str
    rank: int
    trial: int | None = None
    seed: int | None = None
    options: str = ""  # canonical JSON of the resolved options
    loss: float = _measured()
    relative_loss: float = _measured()
    seconds: float = _measured()
    n_params: int
    max_abs: float | None = None
    failed: bool = False
    message: str = ""
    warnings: str = ""  # "; "-joined
    evaluation: Mapping[str, float] = field(default_factory=dict, hash=False)

    def value(self, column: str):
        """The value of a CSV column: a field, or an evaluation column (KeyError otherwise)."""
        if column in ROW_FIELDS:
            return getattr(self, column)
        return self.evaluation[column]

    def record(self) -> dict[str, object]:
        """Column -> value, in CSV order (fields, then evaluation columns)."""
        return {**{name: getattr(self, name) for name in ROW_FIELDS}, **self.evaluation}


ROW_FIELDS = tuple(f.name for f in dataclasses.fields(ResultRow) if f.name != "evaluation")
MEASURED = tuple(f.name for f in dataclasses.fields(ResultRow) if f.metadata.get("measured"))
# The paper tabulates ranks 20, 10 and 5 (Tables 3-5).
TABLE_RANKS = (5, 10, 20)


@dataclass(frozen=True)
class Stats:
    """Mean, population std, min and max of one value over the successful trials (NaN without any)."""

    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> "Stats":
        data = np.array(list(values), dtype=float)
        if not data.size:
            return cls(math.nan, math.nan, math.nan, math.nan)
        # A loss beyond float64's range reads inf (its relative loss is exact): its std is NaN.
        with np.errstate(invalid="ignore", over="ignore"):
            return cls(float(data.mean()), float(data.std()), float(data.min()), float(data.max()))


@dataclass(frozen=True)
class Summary:
    """The trials of one method at one rank.

    ``trials`` counts the successful ones and ``failed`` the others; ``stats`` maps each
    summarised column to its :class:`Stats` over the successful trials; ``n_params`` is
    the first successful trial's (0 without one); ``warnings`` the distinct warnings of
    the successful trials, "; "-joined.
    """

    rank: int
    method: str
    trials: int
    failed: int
    n_params: int
    warnings: str
    stats: Mapping[str, Stats]


def summarize(rows: Iterable[ResultRow], ranks: Iterable[int] = TABLE_RANKS, *,
              values: tuple[str, ...] = MEASURED) -> list[Summary]:
    """One :class:`Summary` per (rank, method) present in ``rows``, ranks in the order given,
    methods in order of appearance; ``values`` are the columns summarised."""
    rows = list(rows)
    table = []
    for rank in ranks:
        for method in dict.fromkeys(r.method for r in rows):
            mine = [r for r in rows if r.method == method and r.rank == rank]
            if not mine:
                continue
            group = [r for r in mine if not r.failed]
            table.append(Summary(
                rank=rank, method=method, trials=len(group), failed=len(mine) - len(group),
                n_params=group[0].n_params if group else 0,
                warnings="; ".join(dict.fromkeys(r.warnings for r in group if r.warnings)),
                stats={key: Stats.of(r.value(key) for r in group) for key in values}))
    return table


def format_summary(table: list[Summary]) -> str:
    """Text tables, one per rank, like the paper's Tables 3-5 (warnings under their line).

    Columns summarised besides loss, relative loss and seconds (an evaluation's, such as
    ``heldout_rmse``) follow as means.
    """
    core = ("loss", "relative_loss", "seconds")
    extra = [key for key in dict.fromkeys(k for e in table for k in e.stats) if key not in core]
    lines = []
    for rank in dict.fromkeys(e.rank for e in table):
        lines.append(f"rank {rank}")
        lines.append(f"  {'method':<16} {'loss (mean +- std)':>26} {'relative loss':>14} "
                     f"{'seconds (mean +- std)':>24} {'params':>8}" + "".join(f" {key:>14}" for key in extra))
        for e in (e for e in table if e.rank == rank):
            note = f"  ({e.failed} failed)" if e.failed else ""
            loss, relative, seconds = e.stats["loss"], e.stats["relative_loss"], e.stats["seconds"]
            lines.append(
                f"  {e.method:<16} {loss.mean:>12.6g} +- {loss.std:<10.3g} "
                f"{relative.mean:>14.6f} {seconds.mean:>12.4f} +- {seconds.std:<8.4f} "
                f"{e.n_params:>8}" + "".join(f" {e.stats[key].mean:>14.6g}" for key in extra) + note
            )
            if e.warnings:
                lines.append(f"    ! {e.warnings}")
    return "\n".join(lines)


def _mean_std(stats: Stats) -> str:
    return "failed" if math.isnan(stats.mean) else f"{stats.mean:.4g} ± {stats.std:.2g}"


def rank_table(rows: list[ResultRow], ranks=TABLE_RANKS, value: str = "relative_loss") -> list[dict]:
    """The paper's Tables 3-5: one record per method, a "mean ± std" column per rank.

    Only ranks present in ``rows`` appear; a rank with no result for a method reads "not
    run". A cell reads ``failed`` when every trial failed at that rank, notes ``(k failed)``
    when some did, and ``(!)`` when a result was flagged (see the warnings list).
    """
    present = [k for k in ranks if any(r.rank == k for r in rows)]
    table = summarize(rows, present, values=(value,))
    out = []
    for method in dict.fromkeys(r.method for r in rows):
        line = {"method": method, **{f"rank {k}": "not run" for k in present}}
        for e in (e for e in table if e.method == method):
            cell = _mean_std(e.stats[value])
            if e.failed and e.trials:
                cell += f" ({e.failed} failed)"
            if e.warnings:
                cell += " (!)"
            line[f"rank {e.rank}"] = cell
        out.append(line)
    return out


def _cell(value, spec: str) -> str:
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def format_rows(rows: Iterable[ResultRow], columns: dict[str, str]) -> str:
    """An aligned text table of ``rows``: ``columns`` maps a column to its float format spec.

    A failed row gets its message and a flagged row its warnings on the next line.
    """
    rows = list(rows)
    cells = [[_cell(row.value(key), spec) for key, spec in columns.items()] for row in rows]
    widths = [max(len(key), *(len(line[i]) for line in cells)) for i, key in enumerate(columns)]
    out = ["  ".join(key.rjust(w) for key, w in zip(columns, widths)), "-" * (sum(widths) + 2 * len(widths) - 2)]
    for row, line in zip(rows, cells):
        out.append("  ".join(cell.rjust(w) for cell, w in zip(line, widths)))
        if row.failed:
            out.append(f"    FAILED: {row.message}")
        elif row.warnings:
            out.append(f"    ! {row.warnings}")
    return "\n".join(out)


def csv_columns(rows: Iterable[ResultRow]) -> list[str]:
    """The CSV header: :data:`ROW_FIELDS`, then the evaluation columns in order of appearance."""
    return [*ROW_FIELDS, *dict.fromkeys(key for row in rows for key in row.evaluation)]


def _csv_text(rows: Iterable[ResultRow], columns: list[str], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(row.record() for row in rows)
    return buffer.getvalue()


def rows_to_csv(rows: Iterable[ResultRow]) -> str:
    """CSV text (header + one line per row); None is an empty cell."""
    rows = list(rows)
    return _csv_text(rows, csv_columns(rows), header=True)


class CsvFile:
    """A CSV file of result rows that appears at ``path`` only whole, written as rows arrive.

    The header and each :meth:`add` go to a temporary file beside ``path`` (the same folder,
    so that the rename is atomic) and are flushed to the disk at once; :meth:`commit` cuts
    anything after the last whole row and renames the file over ``path``. Whatever stops
    the writer -- a signal between two rows or inside one, a kill -- a previous file at
    ``path`` is either left as it was or replaced by the header and whole rows; a kill
    before :meth:`commit` leaves only the temporary file behind.

    Parameters
    ----------
    path : path
    columns : list of str
        The header (:func:`csv_columns`): ROW_FIELDS, then the evaluation's columns.

    Raises
    ------
    OSError
        The folder cannot take the file (checked when it is created, before any row).
    """

    def __init__(self, path, columns: list[str]):
        self.path = Path(path)
        self.columns = list(columns)
        self.rows = 0  # whole rows on the disk
        self._partial = self.path.with_name(f"{self.path.name}.partial-{os.getpid()}")
        self._whole = 0  # bytes up to the end of the last whole line
        try:
            # os.open honours the umask: the renamed file gets the permissions a plain open() gives.
            self._fd = os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as err:
            raise OSError(f"cannot write {self.path}: {err.strerror}") from None
        try:
            self._append(_csv_text([], self.columns, header=True), 0)
        except BaseException:
            self.discard()
            raise

    def _append(self, text: str, rows: int) -> None:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)
        self._whole, self.rows = self._whole + len(data), self.rows + rows  # together: no signal between

    def add(self, rows: Iterable[ResultRow]) -> None:
        """Append ``rows`` and flush them to the disk."""
        rows = list(rows)
        if rows:
            self._append(_csv_text(rows, self.columns, header=False), len(rows))

    def commit(self) -> Path:
        """Put the header and the whole rows written so far at ``path``; returns it."""
        os.ftruncate(self._fd, self._whole)
        os.fsync(self._fd)
        os.close(self._fd)
        os.replace(self._partial, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; a file at ``path`` stays as it was."""
        os.close(self._fd)
        self._partial.unlink(missing_ok=True)


def write_csv(rows: list[ResultRow], path) -> None:
    """Write ``rows`` (with :func:`csv_columns`) to ``path`` atomically (see :class:`CsvFile`)."""
    out = CsvFile(path, csv_columns(rows))
    try:
        out.add(rows)
    except BaseException:
        out.discard()
        raise
    out.commit()
