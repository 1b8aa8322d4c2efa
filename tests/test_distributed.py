"""wlra_core.distributed on a 2-worker LocalCluster on loopback (worker processes)."""
import functools
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import wlra_core  # noqa: E402
from wlra_core.bench import SweepTask, iter_sweep  # noqa: E402
from wlra_core.datasets.fisher_like import FisherLike  # noqa: E402
from wlra_core.distributed import (  # noqa: E402
    column_partitioned,
    connect,
    local_cluster,
    run_problems_sweep,
    run_sweep,
    run_tasks,
    svd_w_dask,
)
from wlra_core.linalg import tail_mass  # noqa: E402

# Randomized SVD makes the rows depend on the trial seed, so a wrong seed rule would show.
SWEEP_OPTIONS = {"svd": {"svd_method": "randomized"}, "svd_w": {"svd_method": "randomized"},
                 "em": {"n_iter": 3, "svd_method": "randomized"}}
SWEEP_ALGORITHMS = ["svd", "svd_w", "svd_w_practical", "em"]


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


def _in_process(problem, algorithms, ranks, trials, seed, options):
    # Workers run single-threaded BLAS; so does the reference, which makes rows bit-identical.
    with threadpool_limits(1, user_api="blas"):
        return [row for row, _ in iter_sweep(problem.A, problem.W, algorithms, ranks, trials, seed=seed,
                                             options=options)]


def _without_seconds(rows):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def test_sweep_rows_identical_to_in_process(client):
    problem = FisherLike(350, 60, seed=1).problem()
    streamed = []
    # By address: the path `--scheduler tcp://...` takes.
    rows = run_sweep(problem.A, problem.W, SWEEP_ALGORITHMS, [1, 4, 8], 2, seed=7,
                     scheduler=client.scheduler.address, options=SWEEP_OPTIONS, on_result=streamed.append)
    expected = _in_process(problem, SWEEP_ALGORITHMS, [1, 4, 8], 2, 7, SWEEP_OPTIONS)
    assert len(rows) == len(SWEEP_ALGORITHMS) * 3 * 2
    assert _without_seconds(rows) == _without_seconds(expected)
    assert sorted(map(str, _without_seconds(streamed))) == sorted(map(str, _without_seconds(rows)))
    # The trials really used different seeds (else equality above would prove little).
    svd_losses = {row["trial"]: row["loss"] for row in rows if row["algorithm"] == "svd" and row["rank"] == 8}
    assert svd_losses[0] != svd_losses[1]
    assert not any(row["failed"] for row in rows)


def test_many_problems_sweep_labels_rows(client):
    layers = {"layer0": FisherLike(200, 40, seed=2).problem(), "layer1": FisherLike(120, 30, seed=3).problem()}
    rows = run_problems_sweep(layers, ["svd_w", "em"], [2, 5], 1, seed=1, scheduler=client,
                              options={"em": {"n_iter": 2}})
    for label, problem in layers.items():
        mine = [{k: v for k, v in row.items() if k != "problem"} for row in rows if row["problem"] == label]
        expected = _in_process(problem, ["svd_w", "em"], [2, 5], 1, 1, {"em": {"n_iter": 2}})
        assert _without_seconds(mine) == _without_seconds(expected)


def test_default_starts_and_stops_a_local_cluster():
    problem = FisherLike(100, 20, seed=4).problem()
    rows = run_sweep(problem.A, problem.W, ["svd_w"], [3], 1)
    expected = wlra_core.solve("svd_w", problem.A, problem.W, 3, seed=0)
    assert rows[0]["loss"] == expected.loss and rows[0]["trial"] == 0


def test_stop_request_raises_stopped(client):
    problem = FisherLike(100, 20, seed=4).problem()
    with pytest.raises(wlra_core.Stopped):
        run_sweep(problem.A, problem.W, ["svd", "svd_w"], [1], 2, scheduler=client, should_stop=lambda: True)


def test_run_tasks_reports_a_failing_task_and_finishes_the_others(client):
    problem = FisherLike(60, 12, seed=4).problem()
    svd_w = wlra_core.get_algorithm("svd_w").resolve_options({})
    good = SweepTask("svd_w", 1, (2, 3), svd_w)
    bad = SweepTask("svd_w", 0, (99,), svd_w)  # rank > min(n, d): solve_ranks raises on the worker
    arrived, errors = [], []
    rows = run_tasks(problem.A, problem.W, [bad, good], seed=5, scheduler=client,
                     on_rows=lambda task, rows: arrived.append((task, rows)), on_error=lambda task, m: errors.append((task, m)))
    assert [task for task, _ in errors] == [bad] and "rank must be between" in errors[0][1]
    assert [task for task, _ in arrived] == [good] and arrived[0][1] == rows
    expected = [wlra_core.solve("svd_w", problem.A, problem.W, k, seed=6) for k in (2, 3)]  # trial 1: seed 5 + 1
    assert [row["loss"] for row in rows] == pytest.approx([r.loss for r in expected], rel=1e-12)
    with pytest.raises(ValueError, match="rank must be between"):  # without on_error the error ends the run
        run_tasks(problem.A, problem.W, [bad], scheduler=client)


def test_bad_scheduler_address_is_a_quick_value_error():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        run_sweep(np.ones((5, 4)), None, ["svd"], [1], scheduler="tcp://127.0.0.1:1")
    assert time.perf_counter() - start < 15
    with pytest.raises(ValueError, match="scheduler must be"):
        run_sweep(np.ones((5, 4)), None, ["svd"], [1], scheduler="localhost")


def test_sweep_validates_before_submitting():
    A = np.ones((5, 4))
    # No cluster is started for bad input: these fail before connect().
    with pytest.raises(ValueError, match="unknown algorithm"):
        run_sweep(A, None, ["nope"], [1], scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="rank must be between"):
        run_sweep(A, None, ["svd"], [9], scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="trials"):
        run_sweep(A, None, ["svd"], [1], 0, scheduler="tcp://127.0.0.1:1")


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
    dense = fit.dense()
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
    assert fit.U.shape == (n, r * k) and fit.Vt.shape == (r * k, d)


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
