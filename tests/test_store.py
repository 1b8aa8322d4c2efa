"""app_pages._store.BoundedStore: the one locked, size-bounded store of the server's trained
problems and uploads."""
import sys
import threading

import pytest

from app_pages._sources import KEPT_TRAINED, KEPT_UPLOAD_BYTES, KEPT_UPLOADS, kept_uploads, trained_problems
from app_pages._store import BoundedStore
from wlra_core.datasets.synthetic import random_mask


def test_uploads_kept_are_bounded_and_the_newest_is_always_kept():
    kept = kept_uploads.__wrapped__()  # a fresh store, as the server makes it
    assert (kept.max_items, kept.max_bytes) == (KEPT_UPLOADS, KEPT_UPLOAD_BYTES)
    problems = [random_mask(10, 8, seed=s) for s in range(KEPT_UPLOADS + 1)]
    for s, problem in enumerate(problems):
        kept.put(f"k{s}", problem)
    assert kept.get("k0") is None and kept.get(f"k{KEPT_UPLOADS}") is problems[-1]
    kept.max_bytes = 1  # every upload is over the cap
    kept.put("big", problems[0])
    assert kept.keys() == ["big"]


def test_the_byte_bound_drops_the_oldest_until_the_rest_fit():
    store = BoundedStore(10, max_bytes=100, size=len)
    for key, value in (("a", b"x" * 40), ("b", b"x" * 40), ("c", b"x" * 30)):
        store.put(key, value)
    assert store.keys() == ["b", "c"]  # 40 + 40 + 30 > 100: "a" goes; 70 fits
    store.put("b", b"x" * 50)  # a new value for a kept key makes it the newest
    assert store.keys() == ["c", "b"] and len(store) == 2


def test_a_store_refuses_a_byte_bound_without_a_size():
    with pytest.raises(ValueError, match="max_bytes and size go together"):
        BoundedStore(3, max_bytes=10)


def test_trained_problems_stay_bounded_when_sessions_add_at_once():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        trained, problem, errors = trained_problems.__wrapped__(), random_mask(6, 5, seed=0), []

        def add(hidden: int) -> None:
            try:
                for epochs in range(300):
                    trained.put(("digits", hidden, epochs), problem)
            except Exception as err:  # a KeyError when two threads evict the same oldest entry
                errors.append(err)

        threads = [threading.Thread(target=add, args=(hidden,)) for hidden in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors and len(trained) == KEPT_TRAINED
