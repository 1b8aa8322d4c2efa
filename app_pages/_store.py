"""One locked, size-bounded store of values by key, shared by every session of the server.

The server keeps trained MLP problems and uploads in such stores (see ``_sources.py``): a
reload or a shared link finds them again while they are kept, and what falls out is said so
when a link asks for it. Sessions run in threads of one process, so every access holds the
store's lock.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedStore(Generic[K, V]):
    """Values by key, newest last, at most ``max_items`` of them and, when ``size`` is given,
    at most ``max_bytes`` together; the oldest go first, and the newest is always kept.

    Parameters
    ----------
    max_items : int
        The most values kept.
    max_bytes : int or None
        The most bytes all values may hold together (None: no byte bound).
    size : callable or None
        ``size(value)`` -> bytes of a value; required with ``max_bytes``.
    """

    def __init__(self, max_items: int, *, max_bytes: int | None = None, size: Callable[[V], int] | None = None):
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        if (max_bytes is None) != (size is None):
            raise ValueError("max_bytes and size go together")
        self.max_items, self.max_bytes, self._size = max_items, max_bytes, size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept under ``key``, or None."""
        with self._lock:
            return self._values.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` as the newest, forgetting the oldest beyond the bounds."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > 1 and (len(self._values) > self.max_items or self._over_bytes()):
                self._values.popitem(last=False)

    def _over_bytes(self) -> bool:
        return self.max_bytes is not None and sum(map(self._size, self._values.values())) > self.max_bytes

    def keys(self) -> list[K]:
        """The keys kept, oldest first."""
        with self._lock:
            return list(self._values)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
