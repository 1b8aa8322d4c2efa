"""How much memory this process can still allocate (for the loader's caps and for forming W o A)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available_memory"]


def _read_number(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # absent, "max" (no limit) or unreadable
        return None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when the system does not say.

    Linux's ``MemAvailable`` (memory usable without swapping), lowered by the memory
    limit of the container's cgroup (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``)
    when that leaves less; elsewhere the free physical pages (``os.sysconf``).
    """
    candidates = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    cgroup = Path("/sys/fs/cgroup")
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        limit, usage = _read_number(cgroup / limit_file), _read_number(cgroup / usage_file)
        if limit is not None and usage is not None:
            candidates.append(max(limit - usage, 0))
            break
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            return None
    return min(candidates)
