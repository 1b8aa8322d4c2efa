"""Flagged results as pages list them: a result's warnings split into notes, and one line
per method and note with the ranks it holds at ("**svd_w** at ranks 1–12: fills nothing
..."), instead of the same sentence once per rank and trial."""
from __future__ import annotations

import re
from typing import Callable, Iterable

import streamlit as st

from wlra_core.tables import ResultRow

# Notes are "; "-joined; a note's own "; " sits inside parentheses.
_NOTE_SEPARATOR = re.compile(r"; (?![^()]*\))")
MOST_LINES = 12


def warning_notes(warnings: str) -> list[str]:
    """The notes of a result's ``warnings`` (:attr:`ResultRow.warnings`), in order."""
    return [note for note in _NOTE_SEPARATOR.split(warnings) if note] if warnings else []


def rank_span(ranks: Iterable[int]) -> str:
    """``"rank 3"``, ``"ranks 1–12"``, ``"ranks 1–3, 5, 7–9"``."""
    ranks = sorted(set(ranks))
    runs, start = [], ranks[0]
    for previous, rank in zip(ranks, ranks[1:] + [None]):
        if rank is None or rank != previous + 1:
            runs.append(str(start) if start == previous else f"{start}–{previous}")
            start = rank
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(runs)


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?")


def _merged(notes: list[str]) -> str:
    """Notes of one shape (the same words, other numbers) as one: each number that differs
    between them becomes its range ("stores 402–528 numbers")."""
    words = _NUMBER.split(notes[0])
    columns = zip(*(_NUMBER.findall(note) for note in notes))
    spans = []
    for column in columns:
        values = sorted(set(column), key=lambda text: float(text.replace(",", "")))
        spans.append(values[0] if len(values) == 1 else f"{values[0]}–{values[-1]}")
    return "".join(word + span for word, span in zip(words, spans + [""]))


def flag_lines(rows: Iterable[ResultRow], *, label: Callable[[ResultRow], str] = lambda r: r.method,
               warnings: Callable[[ResultRow], str] = lambda r: r.warnings) -> list[str]:
    """One Markdown line per method (``label``) and kind of note, with the ranks where its
    results carry it (``warnings`` gives a row's warnings); failed rows are left out. Notes
    that differ only in their numbers are one kind, shown with each number's range."""
    groups: dict[tuple[str, str], tuple[set[int], list[str]]] = {}
    for row in rows:
        if not row.failed:
            for note in warning_notes(warnings(row)):
                ranks, notes = groups.setdefault((label(row), _NUMBER.sub("#", note)), (set(), []))
                ranks.add(row.rank)
                notes.append(note)
    return [f"**{method}** at {rank_span(ranks)}: {_merged(notes)}" for (method, _), (ranks, notes) in groups.items()]


def show_flagged(rows: Iterable[ResultRow], *, note: str = "", **how) -> None:
    """A warning box listing :func:`flag_lines` (at most :data:`MOST_LINES`; the CSV has all),
    then ``note``; nothing when no result is flagged. ``how``: :func:`flag_lines`' keywords."""
    lines = flag_lines(rows, **how)
    if lines:
        more = len(lines) - MOST_LINES
        st.warning("Flagged results (black rings in the charts):  \n"
                   + "  \n".join(lines[:MOST_LINES])
                   + (f"  \n... and {more} more (see the CSV)." if more > 0 else "") + (f"  \n{note}" if note else ""))
