"""The sweep engine, seeds and declared options, against independent solves."""
import json
import threading

import numpy as np
import pytest

import wlra_core
from wlra_core.datasets.synthetic import planted_low_rank
from wlra_core.options import parse_option_text
from wlra_core.seeding import as_seed_sequence, trial_seed
from wlra_core.sweep import (InProcess, ResultCache, ResultEvent, blas_threads, make_method, make_sweep, run,
                             run_all)


@pytest.fixture(scope="module")
def problem():
    return planted_low_rank(n=60, d=40, rank=4, weight_rank=2, noise=0.1, seed=3)


# --- make_sweep -------------------------------------------------------------------------


def test_make_sweep_validates_with_clear_messages(problem):
    with pytest.raises(ValueError, match="at least one algorithm"):
        make_sweep(problem, [], [1])
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        make_sweep(problem, ["nope"], [1])
    with pytest.raises(ValueError, match="rank must be between 1 and"):
        make_sweep(problem, ["svd"], [41])
    with pytest.raises(ValueError, match="invalid weight_rank"):
        make_sweep(problem, ["svd_w"], [1], options={"svd_w": {"weight_rank": 0}})
    with pytest.raises(ValueError, match="trials must be an integer >= 1"):
        make_sweep(problem, ["svd"], [1], trials=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_sweep(problem, ["svd"], [1], seed=-1)
    # Options equal to the defaults give the same methods (and so the same cache keys).
    plain = make_sweep(problem, ["svd_w"], [1, 2])
    explicit = make_sweep(problem, ["svd_w"], [2, 1], options={"svd_w": {"weight_rank": 1}})
    assert plain.methods == explicit.methods and plain.ranks == explicit.ranks == (1, 2)


def test_run_streams_wlra_core_results_and_caches_them(problem):
    names, ranks = ["svd", "svd_w", "em", "sample"], [1, 3, 5]
    sweep = make_sweep(problem, names, ranks, trials=2, seed=4, options={"em": {"n_iter": 3}})
    cache = ResultCache()
    updates = list(run(sweep, cache))
    rows = [u.row for u in updates if isinstance(u, ResultEvent)]
    assert len(rows) == sweep.size == 24
    assert updates[-1].done == sweep.size
    assert [u.done for u in updates if isinstance(u, ResultEvent)] == list(range(1, 25))
    for row, update in zip(rows, (u for u in updates if isinstance(u, ResultEvent))):
        options = {"n_iter": 3} if row.algorithm == "em" else {}
        # Independent re-solve with the trial's own seed: SeedSequence(4, spawn_key=(trial,)).
        seed = np.random.SeedSequence(4, spawn_key=(row.trial,))
        expected = wlra_core.solve(row.algorithm, problem.A, problem.W, row.rank, seed=seed, **options)
        assert row.loss == pytest.approx(expected.loss, rel=1e-10)
        assert row.relative_loss == pytest.approx(expected.relative_loss, rel=1e-10)
        assert row.n_params == expected.n_params == update.result.n_params
        assert json.loads(row.options)["svd_method"] == "auto"
    # The random method differs between trials; the deterministic ones do not.
    sample = {(r.rank, r.trial): r.loss for r in rows if r.algorithm == "sample"}
    assert sample[(5, 0)] != sample[(5, 1)]
    # A second run with the same settings computes nothing and finds every row cached.
    assert list(run(sweep, cache)) == []
    assert sorted(map(str, sweep.rows(cache))) == sorted(map(str, rows))
    # A larger rank range only computes the new ranks.
    wider = make_sweep(problem, names, ranks + [6], trials=2, seed=4, options={"em": {"n_iter": 3}})
    new = [u.row for u in run(wider, cache) if isinstance(u, ResultEvent)]
    assert sorted(r.rank for r in new) == [6] * 8


def test_equal_seeds_give_equal_sweeps_and_trials_never_share_a_stream(problem):
    def losses(seed, trials):
        rows, _ = run_all(make_sweep(problem, ["sample", "css"], [3], trials=trials, seed=seed))
        return {(r.algorithm, r.trial): r.loss for r in rows}

    first, again = losses(7, 3), losses(7, 3)
    assert first == again
    shifted = losses(8, 3)
    # Trial t of seed s must not repeat trial t - 1 of seed s + 1 (as seed + trial did).
    for name in ("sample", "css"):
        assert first[(name, 1)] != shifted[(name, 0)]
        assert len({first[(name, t)] for t in range(3)}) == 3
    streams = {trial_seed(s, t).generate_state(2).tobytes() for s in range(5) for t in range(5)}
    assert len(streams) == 25


def test_task_errors_are_reported_and_the_others_run(problem):
    rows, errors = run_all(make_sweep(problem, ["svd", "sample"], [2], options={"sample": {"n_samples": 1}}))
    assert [r.method for r in rows] == ["svd"]
    assert len(errors) == 1 and errors[0].startswith("sample on") and "n_samples=1 is below the rank 2" in errors[0]


def test_closing_run_stops_the_worker(problem):
    sweep = make_sweep(problem, ["em"], range(1, 21), options={"em": {"n_iter": 200}})
    cache = ResultCache()
    updates = run(sweep, cache, tick_seconds=0.01)
    next(updates)
    updates.close()  # what a Stop (or leaving the page) does
    worker = next(t for t in threading.enumerate() if t.name == "wlra-sweep")
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert len(cache) < sweep.size


def test_cache_keeps_rows_and_drops_the_oldest_factors_beyond_its_budget(problem):
    sweep = make_sweep(problem, ["svd", "als"], [1, 2, 3])
    one = ResultCache()
    run_all(sweep, one)
    assert all(result.factors is not None for _, result in sweep.entries(one))
    per_result = max(sum(a.nbytes for a in r.factors.arrays.values()) for _, r in sweep.entries(one))
    small = ResultCache(max_factor_bytes=2 * per_result)
    rows, _ = run_all(sweep, small)
    assert len(rows) == 6  # every row kept
    kept = [result.factors for _, result in sweep.entries(small)]
    stored = sum(a.nbytes for f in kept if f is not None for a in f.arrays.values())
    assert kept[-1] is not None and kept[0] is None and 0 < stored <= small.max_factor_bytes


def test_cache_tells_problems_with_different_model_arrays_apart(problem):
    # whiten depends on the calibration moment, not on W: same A and W, other moment, other result.
    rng = np.random.default_rng(6)
    cache, rows = ResultCache(), []
    for _ in range(2):
        x = rng.standard_normal((200, problem.shape[0])) * rng.uniform(0.1, 3.0, problem.shape[0])
        calibrated = wlra_core.Problem(problem.A, problem.W, model={"input_moment": x.T @ x / 200})
        new, _ = run_all(make_sweep(calibrated, ["whiten"], [3]), cache)
        expected = wlra_core.solve("whiten", calibrated, rank=3, seed=trial_seed(0, 0))
        assert new[0].loss == pytest.approx(expected.loss, rel=1e-10)
        rows.append(new[0])
    assert rows[0].loss != rows[1].loss and len(cache) == 2


def test_svd_w_divisor_is_the_problems_own_w_in_the_cache(problem):
    cache = ResultCache(max_factor_bytes=0)
    run_all(make_sweep(problem, ["svd_w"], [2]), cache)
    # W belongs to the problem: it is not counted against the budget, the factors stay.
    ((_, result),) = make_sweep(problem, ["svd_w"], [2]).entries(cache)
    assert result.factors is None or result.factors.weights is problem.W


def test_blas_threads_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads_now():
        return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    before = blas_threads_now()
    with blas_threads(1):
        assert blas_threads_now() == {1}
    assert blas_threads_now() == before
    with blas_threads(None):
        assert blas_threads_now() == before
    assert InProcess().threads == 1


# --- Options as data (each algorithm's declarations: test_common_algorithms.py) ----------


def test_numpy_scalars_reach_the_solver_as_python_numbers(problem):
    with_numpy = wlra_core.solve("svd_w", problem.A, problem.W, np.int64(2), weight_rank=np.int64(2),
                                 weight_floor=np.float64(0.0), seed=np.int64(3))
    plain = wlra_core.solve("svd_w", problem.A, problem.W, 2, weight_rank=2, seed=3)
    assert with_numpy.options == plain.options and with_numpy.loss == plain.loss


@pytest.mark.parametrize("seed, match", [("abc", "seed must be"), (1.5, "seed must be"), (-1, "seed must be"),
                                         (True, "seed must be")])
def test_bad_seeds_are_named(problem, seed, match):
    for name in ("svd", "sample"):
        with pytest.raises(ValueError, match=match):
            wlra_core.solve(name, problem.A, problem.W, 2, seed=seed)


def test_bad_algorithm_arguments_say_what_they_are(problem):
    with pytest.raises(ValueError, match=r"unknown algorithm \['svd'\]; choose one name"):
        wlra_core.solve(["svd"], problem.A, problem.W, 2)
    with pytest.raises(ValueError, match=r"invalid weight_rank=41; weight_rank must be at most min\(n, d\) = 40"):
        wlra_core.solve("svd_w_practical", problem.A, problem.W, 2, weight_rank=41)


def test_seed_sequences_and_parse_option_text():
    seq = as_seed_sequence(5)
    assert seq.entropy == 5 and as_seed_sequence(seq) is seq
    assert trial_seed(5, 2).spawn_key == (2,)
    assert parse_option_text("", None) is None
    assert parse_option_text("  ", 7) == 7
    assert parse_option_text("12", None) == 12
    assert parse_option_text("0.5", None) == 0.5
    assert parse_option_text("leverage", None) == "leverage"


def test_make_method_refuses_array_options(problem):
    with pytest.raises(ValueError, match="array options"):
        make_method("em", {"init": np.zeros(problem.shape)})
