"""wlra_core.distributed on a 2-worker LocalCluster on loopback (worker processes)."""
import dataclasses
import functools
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import wlra_core  # noqa: E402
from wlra_core.datasets.fisher_like import FisherLike  # noqa: E402
from wlra_core.distributed import (  # noqa: E402
    SCHEDULERS_ENV,
    OnDask,
    column_partitioned,
    connect,
    local_cluster,
    scheduler_allowed,
    svd_w_dask,
)
from wlra_core.factors import Reweighted  # noqa: E402
from wlra_core.linalg import tail_mass  # noqa: E402
from wlra_core.sweep import Fatal, ResultCache, TaskError, make_sweep, run, run_all  # noqa: E402

# Randomized SVD makes the rows depend on the trial seed, so a wrong seed rule would show.
SWEEP_OPTIONS = {"svd": {"svd_method": "randomized"}, "svd_w": {"svd_method": "randomized"},
                 "em": {"n_iter": 3, "svd_method": "randomized"}}
SWEEP_ALGORITHMS = ["svd", "svd_w", "svd_w_practical", "em"]


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


def _without_seconds(rows):
    return [dataclasses.replace(row, seconds=0.0) for row in rows]


def test_sweep_rows_identical_to_in_process(client):
    problem = FisherLike(350, 60, seed=1).problem()
    sweep = make_sweep(problem, SWEEP_ALGORITHMS, [1, 4, 8], 2, seed=7, options=SWEEP_OPTIONS)
    cache = ResultCache()
    # By address: the path `--scheduler tcp://...` takes. Workers run single-threaded BLAS,
    # and so does the in-process executor, which makes rows bit-identical.
    rows, errors = run_all(sweep, cache, executor=OnDask(client.scheduler.address))
    expected, _ = run_all(sweep)
    assert errors == [] and len(rows) == len(SWEEP_ALGORITHMS) * 3 * 2
    assert _without_seconds(rows) == _without_seconds(expected)
    # The trials really used different seeds (else equality above would prove little).
    svd_losses = {row.trial: row.loss for row in rows if row.algorithm == "svd" and row.rank == 8}
    assert svd_losses[0] != svd_losses[1]
    assert not any(row.failed for row in rows)
    # Results come back as factors (equal to an in-process solve_ranks with the trial's seed);
    # svd_w's divisor is re-attached as the client's own W.
    for row, result in sweep.entries(cache):
        local = wlra_core.solve_ranks(row.algorithm, problem, ranks=sweep.ranks,
                                      seed=wlra_core.seeding.trial_seed(7, row.trial),
                                      **SWEEP_OPTIONS.get(row.algorithm, {}))
        expected = next(r for r in local if r.rank == row.rank)
        np.testing.assert_allclose(result.factors.dense(), expected.approx, rtol=1e-9, atol=1e-12)
        if row.algorithm == "svd_w":
            assert isinstance(result.factors, Reweighted) and result.factors.weights is problem.W


def test_many_problems_sweep_labels_rows(client):
    layers = {"layer0": FisherLike(200, 40, seed=2).problem(), "layer1": FisherLike(120, 30, seed=3).problem()}
    sweep = make_sweep(layers, ["svd_w", "em"], [2, 5], 1, seed=1, options={"em": {"n_iter": 2}})
    rows, _ = run_all(sweep, executor=OnDask(client))
    expected, _ = run_all(sweep)
    assert {row.problem for row in rows} == set(layers)
    assert _without_seconds(rows) == _without_seconds(expected)


def test_default_starts_and_stops_a_local_cluster():
    problem = FisherLike(100, 20, seed=4).problem()
    rows, errors = run_all(make_sweep(problem, ["svd_w"], [3]), executor=OnDask())
    expected = wlra_core.solve("svd_w", problem.A, problem.W, 3, seed=wlra_core.seeding.trial_seed(0, 0))
    assert errors == [] and rows[0].loss == expected.loss and rows[0].trial == 0


def test_closing_the_run_cancels_the_dask_tasks(client):
    problem = FisherLike(300, 60, seed=4).problem()
    sweep = make_sweep(problem, ["em"], range(1, 16), 2, options={"em": {"n_iter": 60}})
    cache = ResultCache()
    updates = run(sweep, cache, OnDask(client), tick_seconds=0.05)
    next(updates)
    updates.close()  # a Stop
    deadline = time.monotonic() + 20
    while client.processing() and any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(client.processing().values())
    assert len(cache) < sweep.size


def test_a_failing_task_is_reported_and_the_others_finish(client):
    problem = FisherLike(60, 12, seed=4).problem()
    sweep = make_sweep(problem, ["svd_w", "sample"], [2, 3], 1, seed=5, options={"sample": {"n_samples": 2}})
    rows, errors = run_all(sweep, executor=OnDask(client))
    # sample with 2 samples cannot fit rank 3: its task raises on the worker.
    assert len(errors) == 1 and "n_samples=2 is below the rank 3" in errors[0]
    assert [(r.method, r.rank) for r in rows] == [("svd_w", 2), ("svd_w", 3)]


def test_bad_scheduler_address_is_a_quick_fatal_error():
    sweep = make_sweep(wlra_core.Problem(np.ones((5, 4)), None), ["svd"], [1])
    start = time.perf_counter()
    rows, errors = run_all(sweep, executor=OnDask("tcp://127.0.0.1:1"))
    assert rows == [] and len(errors) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in errors[0]
    assert time.perf_counter() - start < 15
    updates = list(run(sweep, ResultCache(), OnDask("localhost")))
    assert [isinstance(u, Fatal) for u in updates if isinstance(u, (TaskError, Fatal))] == [True]
    assert "scheduler must be" in next(u.error for u in updates if isinstance(u, Fatal))


def test_only_local_and_listed_schedulers_are_allowed(monkeypatch):
    monkeypatch.delenv(SCHEDULERS_ENV, raising=False)
    assert scheduler_allowed("local") and not scheduler_allowed("tcp://10.0.0.5:8786")
    monkeypatch.setenv(SCHEDULERS_ENV, "tcp://10.0.0.5:8786, tcp://10.0.0.6:8786")
    assert scheduler_allowed("tcp://10.0.0.6:8786") and not scheduler_allowed("tcp://10.0.0.7:8786")


def _partitioned(spec, n_chunks, client):
    A, W = column_partitioned(functools.partial(spec.block, slice(None)), spec.n, spec.d, n_chunks)
    return client.persist([A, W])


@pytest.mark.parametrize("rank", [1, 5, 12])
def test_svd_w_dask_matches_in_memory_svd_w(client, rank):
    spec = FisherLike(600, 200, zero_row_fraction=0.05, seed=5)
    problem = spec.problem()
    A, W = _partitioned(spec, 4, client)
    assert A.chunks[1] == (50, 50, 50, 50) and len(A.chunks[0]) == 1  # column-partitioned
    fit = svd_w_dask(A, W, rank, seed=3)
    expected = wlra_core.solve("svd_w", problem.A, problem.W, rank, svd_method="exact")
    assert abs(fit.relative_loss - expected.relative_loss) <= 1e-6 * expected.relative_loss
    assert fit.n_params == expected.n_params
    dense = fit.approx
    assert np.isfinite(dense).all()
    assert (dense[~problem.W.any(axis=1)] == 0).all()  # zero-weight rows divide to 0
    assert wlra_core.weighted_loss(problem.A, problem.W, dense) == pytest.approx(fit.loss, rel=1e-9)


def test_svd_w_dask_meets_theorem_bound_for_rank_two_weights(client):
    # Oracle: for rank-r W, svd_w's loss equals the tail mass of W o A beyond r k.
    rng = np.random.default_rng(0)
    n, d, k, r = 400, 90, 4, 2
    W = rng.uniform(0.1, 1.0, (n, r)) @ rng.uniform(0.1, 1.0, (r, d))
    A = FisherLike(n, d, seed=6).problem().A  # low rank plus noise, like a trained kernel
    A_da = da.from_array(A, chunks=(n, 30))  # small test arrays only
    W_da = da.from_array(W, chunks=(n, 30))
    # Enough iterations that the randomized SVD is exact to rounding: the algebra is under test.
    fit = svd_w_dask(A_da, W_da, k, weight_rank=r, seed=1, n_power_iter=10)
    optimum = tail_mass(W * A, r * k)
    assert fit.loss == pytest.approx(optimum, rel=1e-6)
    assert fit.factors.U.shape == (n, r * k) and fit.factors.V.shape == (r * k, d)


def test_svd_w_dask_rejects_bad_input(client):
    A = da.ones((30, 20), chunks=(30, 10))
    W = da.ones((30, 20), chunks=(30, 10))
    with pytest.raises(ValueError, match="n_power_iter"):
        svd_w_dask(A, W, 2, n_power_iter=1)
    with pytest.raises(ValueError, match="same shape and chunks"):
        svd_w_dask(A, W.rechunk((30, 5)), 2)
    with pytest.raises(ValueError, match="negative"):
        svd_w_dask(A, W - 2, 2)
    with pytest.raises(ValueError, match="NaN"):
        svd_w_dask(A * np.nan, W, 2)
    with pytest.raises(ValueError, match="rank must be between"):
        svd_w_dask(A, W, 21)
    with pytest.raises(ValueError, match="dask array"):
        svd_w_dask(np.ones((30, 20)), W, 2)


def test_connect_yields_a_given_client_unchanged(client):
    with connect(client) as same:
        assert same is client
    assert client.status == "running"
