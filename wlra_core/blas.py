"""One process-wide BLAS thread limit shared by the threads that ask for it.

The sweep engine's solvers (:mod:`wlra_core.sweep`) and the loss passes of
:mod:`wlra_core.linalg` limit BLAS threads while they run; sessions of the dashboard do so
from many threads at once, so the limit is reference-counted and held by one thread.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

__all__ = ["blas_threads"]


class _BlasLimit:
    """The BLAS thread limit shared by every sweep solving now, held by one thread of its own.

    threadpoolctl lets only the thread that set a limit on OpenBLAS change or restore it
    (another thread's calls are ignored while that one lives), and sweeps run in many
    threads -- one per session. So this thread sets the limit when the first user enters
    and restores the original when the last one leaves; users wait until it has.
    """

    def __init__(self):
        self._changed = threading.Condition()
        self._users = 0
        self._limit = None
        self._held = False
        self._owner: threading.Thread | None = None

    def enter(self, limit: int) -> None:
        with self._changed:
            self._users += 1
            if self._users == 1:
                self._limit = limit  # the first user's limit holds until the last leaves
            if self._owner is None:
                self._owner = threading.Thread(target=self._own, name="wlra-blas-limit", daemon=True)
                self._owner.start()
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._held)

    def leave(self) -> None:
        with self._changed:
            self._users -= 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._users or not self._held)

    def _own(self) -> None:
        from threadpoolctl import threadpool_limits

        limits = None
        with self._changed:
            while True:
                self._changed.wait_for(lambda: bool(self._users) != self._held)
                if self._users:
                    limits = threadpool_limits(limits=self._limit, user_api="blas").__enter__()
                else:
                    limits.__exit__(None, None, None)
                self._held = bool(self._users)
                self._changed.notify_all()


_BLAS_LIMIT = _BlasLimit()


@contextmanager
def blas_threads(limit: int | None):
    """Limit BLAS (OpenBLAS/MKL) threads for the enclosed solves; None leaves them alone.

    The limit is process-wide while active (that is how BLAS libraries work), so the
    sweeps of concurrent sessions share it: the first to enter sets it, and the original
    comes back when the last one leaves -- not when the first leaves while another still
    solves. It needs threadpoolctl (installed with the app; without it nothing is limited).
    """
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:  # a bare `pip install .`: numpy and scipy only
        limit = None
    if limit is None:
        yield
        return
    _BLAS_LIMIT.enter(limit)
    try:
        yield
    finally:
        _BLAS_LIMIT.leave()
