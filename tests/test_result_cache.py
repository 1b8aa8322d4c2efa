"""The result cache shared by runs (the dashboard's sessions): work in progress computed once,
claims given back by runs that stop or fail, a run's results kept whatever happens to the
cache, and cached results that keep no problem alive."""
import dataclasses
import gc
import threading
import tracemalloc
import weakref
from dataclasses import dataclass, field

import numpy as np
import pytest

from wlra_core.datasets.synthetic import planted_low_rank
from wlra_core.sweep import InProcess, ResultCache, ResultEvent, TaskError, make_sweep, run, run_all

JOIN_SECONDS = 120


@pytest.fixture(scope="module")
def problem():
    return planted_low_rank(n=120, d=90, rank=4, weight_rank=2, noise=0.1, seed=3)


@dataclass
class Recording(InProcess):
    """The in-process executor, recording each (method, rank, trial) it computes."""

    computed: list = field(default_factory=list)

    def __call__(self, sweep, tasks, post, stop):
        def recorded():
            for task in tasks:
                self.computed.extend((task.method.label, rank, task.trial) for rank in task.ranks)
                yield task

        super().__call__(sweep, recorded(), post, stop)


def in_threads(*targets) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a run never finished"


def without_seconds(rows):
    return [dataclasses.replace(row, seconds=0.0) for row in rows]


def test_concurrent_runs_compute_each_result_once_and_each_gets_every_row(problem):
    # sample with one sample cannot fit ranks above 1: its task raises in whichever run claims it.
    sweep = make_sweep(problem, ["svd", "em", "greedy", "sample"], range(1, 6), trials=2,
                       options={"em": {"n_iter": 20}, "sample": {"n_samples": 1}})
    cache, executor = ResultCache(), Recording()
    results = [{} for _ in range(4)]
    events = [[] for _ in range(4)]

    def session(i):
        events[i].extend(run(sweep, cache, executor, results=results[i]))

    in_threads(*(lambda i=i: session(i) for i in range(4)))
    computed = [c for c in executor.computed if c[0] != "sample"]
    assert len(computed) == len(set(computed)) == 3 * 5 * 2  # every result once, none twice
    # Results another run computed reached the runs waiting for them.
    assert any("done by another run" in e.message for run_events in events for e in run_events
               if isinstance(e, ResultEvent))
    expected, expected_errors = run_all(sweep)  # a lone run on its own cache
    for own, run_events in zip(results, events):
        assert without_seconds(sweep.rows(own)) == without_seconds(expected)
        # The failing task is retried by each waiting run, so each run reports its error.
        assert sorted(e.error for e in run_events if isinstance(e, TaskError)) == sorted(expected_errors)
        assert len(expected_errors) == 2 and "n_samples=1 is below the rank" in expected_errors[0]


def test_a_waiting_run_hears_of_the_keys_given_up_together_in_one_message():
    # One message per release: the waiting run computes those ranks as one task, so a task
    # that raises is run (and its error reported) once, not once per rank.
    cache, claimer, waiter, heard = ResultCache(), object(), object(), []
    keys = [("problem", "sample", "{}", rank, 0, 0, "") for rank in (2, 3, 4)]
    assert cache.claim(keys, claimer, heard.append) == [True] * 3
    assert cache.claim(keys, waiter, heard.append) == [False] * 3
    cache.release(claimer, keys)
    assert [message.keys for message in heard] == [tuple(keys)]
    assert cache.claim(keys, waiter, heard.append) == [True] * 3  # free now, and nobody else hears


def test_a_stopped_run_leaves_its_claims_to_the_run_waiting_for_them(problem):
    sweep = make_sweep(problem, ["em"], range(1, 5), options={"em": {"n_iter": 100}})
    cache, first, second = ResultCache(), Recording(), Recording()
    stopped = run(sweep, cache, first, tick_seconds=0.01)
    next(u for u in stopped if isinstance(u, ResultEvent))  # rank 1 is done; ranks 2-4 are claimed
    waiting_results, waiting_started = {}, threading.Event()

    def waiting():
        for _ in run(sweep, cache, second, tick_seconds=0.01, results=waiting_results):
            waiting_started.set()

    thread = threading.Thread(target=waiting)
    thread.start()
    assert waiting_started.wait(30)
    assert second.computed == []  # it waits for the first run instead of computing
    stopped.close()  # a Stop
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()
    assert [row.rank for row in sweep.rows(waiting_results)] == [1, 2, 3, 4]
    assert second.computed and {rank for _, rank, _ in second.computed} <= {2, 3, 4}
    expected, _ = run_all(sweep)
    assert without_seconds(sweep.rows(waiting_results)) == without_seconds(expected)


def test_forgetting_the_cache_mid_run_keeps_the_runs_results_and_counts(problem):
    sweep = make_sweep(problem, ["svd", "em", "svd_w"], range(1, 7), options={"em": {"n_iter": 20}})
    cache = ResultCache()
    run_all(make_sweep(problem, ["svd"], range(1, 7)), cache)  # some results were cached before
    results, updates = {}, []
    for update in run(sweep, cache, results=results):
        updates.append(update)
        if isinstance(update, ResultEvent) and len([u for u in updates if isinstance(u, ResultEvent)]) == 2:
            cache.clear()  # "Forget cached results" in another tab
    assert len(cache) < sweep.size  # the clear took what was stored before it
    rows = sweep.rows(results)
    assert [(r.method, r.rank) for r in rows] == [(m, k) for m in ("svd", "em", "svd_w") for k in range(1, 7)]
    expected, _ = run_all(sweep)
    assert without_seconds(rows) == without_seconds(expected)
    done = [u.done for u in updates]
    assert done == sorted(done) and done[-1] == sweep.size
    new = sum(isinstance(u, ResultEvent) for u in updates)
    assert new == 12 and len(rows) - new == 6  # 6 from the cache, never a negative count


def test_cached_results_keep_no_problem_alive_and_count_the_memory_they_keep():
    cache = ResultCache()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        problems = [planted_low_rank(n=300, d=200, rank=4, weight_rank=2, noise=0.1, seed=s) for s in range(3)]
        weights = [weakref.ref(p.W) for p in problems]
        for p in problems:
            run_all(make_sweep(p, ["svd_w", "css", "svd"], [2, 5, 8]), cache)
        del problems, p
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # svd_w and css divide by W: the cache keeps their factors, not W.
    assert all(w() is None for w in weights)
    assert len(cache) == 27
    # What the cache holds is what it counts (its rows and bookkeeping are the rest: small).
    assert 0 < cache.factor_bytes <= held < cache.factor_bytes + 300_000
    cache.clear()
    assert cache.factor_bytes == 0


def test_results_read_back_with_their_problem_have_its_w(problem):
    cache = ResultCache()
    sweep = make_sweep(problem, ["svd_w"], [2, 3])
    run_all(sweep, cache)
    twin = type(problem)(problem.A.copy(), problem.W.copy(), name="the same content")
    again = make_sweep(twin, ["svd_w"], [2, 3])
    assert list(run(again, cache)) == []  # found by content
    for (_, mine), (_, theirs) in zip(sweep.entries(cache), again.entries(cache)):
        assert mine.factors.weights is problem.W and theirs.factors.weights is twin.W
        np.testing.assert_array_equal(theirs.factors.dense(), mine.factors.dense())
