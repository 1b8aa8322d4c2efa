"""Writing a benchmark's results file: whole or not at all (a temporary file renamed over
it), so an interrupted run never leaves a half-written or empty file behind."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and one rename."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def write_with_load(path: Path, lines: list[str]) -> None:
    """``lines`` and the load average at the end, written atomically to ``path``."""
    lines = lines + [f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"]
    write_atomically(path, "\n".join(lines) + "\n")
    print(f"wrote {path}")
