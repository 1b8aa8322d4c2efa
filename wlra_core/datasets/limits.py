"""Size caps for untrusted files: declared sizes against caps and free memory, before reading.

Every reader in :mod:`wlra_core.datasets.io` works out what a file *declares* (a .npy
header's shape and dtype, an .npz member's header, a Matrix Market size line, a text
table's line and value counts) and hands it to one :class:`LoadBudget` before it reads
any data. The budget compares it with

* the entries of any one array (``max_entries``),
* the entries and bytes of all arrays of one load together (``TOTAL_PER_ARRAY`` times
  ``max_entries`` entries, 8 bytes each: a zip of many arrays each under the per-array
  cap is still bounded),
* and the memory the machine has left (:func:`available_memory`), even when the caps are
  lifted for trusted local files,

so a hostile header is refused in one line instead of exhausting memory.
"""
from __future__ import annotations

import math

import numpy as np

from ..memory import available_memory

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_ENTRIES",
    "TOTAL_PER_ARRAY",
    "LoadError",
    "LoadBudget",
    "available_memory",
    "format_bytes",
    "one_line",
    "shape_text",
]

# Upload limits: a 200 MB file (decimal: the dashboard's uploader counts in Streamlit's
# megabytes, 10^6 bytes each in most browsers), and at most 50 million entries (400 MB as
# float64) in any one array; all arrays of one load together at most twice that (A and W
# at the cap).
MAX_FILE_BYTES = 200_000_000
MAX_ENTRIES = 50_000_000
TOTAL_PER_ARRAY = 2

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


class LoadError(ValueError):
    """A file the loader refuses; the message is one line naming the file and the defect."""


def format_bytes(n_bytes: int) -> str:
    """``80,128 bytes`` below 1 MiB, else ``3.0 MiB``, ``7.0 TiB``... (binary units)."""
    if n_bytes < 2**20:
        return f"{n_bytes:,} bytes"
    exponent = int(math.log(n_bytes, 1024))
    if exponent > len(_UNITS):
        return f"{n_bytes:.2e} bytes"
    return f"{n_bytes / 1024**exponent:.1f} {_UNITS[exponent - 1]}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with its whitespace runs collapsed to one space, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape for a message; a hostile many-dimensional one is shortened."""
    if len(shape) <= 6:
        return str(tuple(shape))
    return f"({', '.join(map(str, shape[:4]))}, ... {len(shape)} dimensions)"


class LoadBudget:
    """The caps and the memory of one :func:`~wlra_core.datasets.io.load_problem` call.

    Parameters
    ----------
    max_bytes : int or None
        Largest file; None lifts the cap (trusted local files).
    max_entries : int or None
        Most entries in any one array; all arrays of the load together may hold
        ``TOTAL_PER_ARRAY * max_entries`` entries and 8 bytes per such entry. None
        lifts both caps. Memory (:func:`available_memory`, read once per load) is
        checked either way.
    """

    def __init__(self, max_bytes: int | None, max_entries: int | None):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_total_entries = None if max_entries is None else TOTAL_PER_ARRAY * max_entries
        self.max_total_bytes = None if max_entries is None else 8 * self.max_total_entries
        self.memory = available_memory()
        self.entries = 0  # entries of the arrays claimed so far
        self.stored = 0  # their bytes as stored
        self.needed = 0  # memory the load needs so far (arrays plus conversions)

    def check_file(self, label: str, size: int) -> None:
        """Refuse a file larger than ``max_bytes``."""
        if self.max_bytes is not None and size > self.max_bytes:
            raise LoadError(f"{label}: file is {format_bytes(size)}; the limit is {format_bytes(self.max_bytes)}")

    def claim_memory(self, label: str, n_bytes: int, what: str) -> None:
        """Count ``n_bytes`` of working memory (e.g. an in-memory copy of a file)."""
        self.needed += n_bytes
        if self.memory is not None and self.needed > self.memory:
            so_far = "" if n_bytes > self.memory else f", {format_bytes(self.needed)} for this load in all"
            raise LoadError(f"{label}: {what} needs {format_bytes(n_bytes)} of memory{so_far}; "
                            f"only {format_bytes(self.memory)} is available")

    def claim(self, label: str, shape: tuple[int, ...], dtype: np.dtype, *, matrix: bool = False,
              what: str | None = None) -> None:
        """Account for an array about to be read; raise :class:`LoadError` over a cap.

        Parameters
        ----------
        label : str
            Names the file (and member) in messages.
        shape, dtype
            What the file declares (nothing has been read yet).
        matrix : bool
            The array becomes A or W: count the float64 copy and checks it will need.
        what : str, optional
            How the message calls it (default ``array of shape (...)``).
        """
        what = what or f"array of shape {shape_text(shape)}"
        count = math.prod(shape)
        entries = count * math.prod(dtype.shape)
        n_bytes = count * dtype.itemsize
        if self.max_entries is not None and entries > self.max_entries:
            raise LoadError(f"{label}: {what} has {entries:,} entries; the limit is "
                            f"{self.max_entries:,} entries per array")
        self.entries += entries
        self.stored += n_bytes
        if self.max_total_entries is not None and self.entries > self.max_total_entries:
            raise LoadError(f"{label}: {what} brings this load to {self.entries:,} entries; the limit is "
                            f"{self.max_total_entries:,} entries for all arrays of one file (and its W)")
        if self.max_total_bytes is not None and self.stored > self.max_total_bytes:
            raise LoadError(f"{label}: {what} brings this load to {format_bytes(self.stored)}; the limit is "
                            f"{format_bytes(self.max_total_bytes)} for all arrays of one file (and its W)")
        # Becoming A or W converts it to float64: a copy unless it is float64 already.
        conversion = 8 * entries if matrix and dtype != np.float64 else 0
        self.claim_memory(label, n_bytes + conversion, f"{what} ({dtype})")
