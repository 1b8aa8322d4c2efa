"""WLRA on a dask.distributed cluster: sweeps across workers, and svd_w on column-partitioned data.

Two jobs:

* :func:`run_sweep` / :func:`run_problems_sweep` run algorithms x ranks x trials (over one
  problem, or many such as every layer of a model) as one task per (problem, algorithm,
  trial). Each task is exactly the in-process path of :func:`wlra_core.bench.iter_sweep`
  (``solve_ranks`` with seed ``trial_seed(seed, trial)``), so the rows are the same apart
  from wall time: bit for bit when the in-process BLAS is single-threaded like the
  workers', otherwise up to floating-point rounding. A and W are scattered to the
  workers once, not embedded in the graph.
* :func:`svd_w_dask` is Algorithm 1 in the paper's m-server setting: the columns of A and W
  are partitioned among workers, ``W o A`` and the division by W happen chunk by chunk,
  and the rank-rk approximation of ``W o A`` comes from
  :func:`dask.array.linalg.svd_compressed`; only sketches and factors of size n x (rk + p)
  and (rk + p) x d_i travel between workers, never a chunk of A or W. :func:`column_partitioned` builds such
  arrays from a per-chunk generator, so no n x d array is ever held by one process.

Clusters: ``scheduler=None`` (or ``"local"``) starts a :class:`distributed.LocalCluster`
on 127.0.0.1 (worker processes, one thread each, no dashboard) for the duration of the call;
an address such as ``"tcp://10.0.0.5:8786"`` connects to an existing scheduler; a
:class:`distributed.Client` is used as is. Scripts that start a LocalCluster spawn worker
processes and must keep that code under ``if __name__ == "__main__":``.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

from .algorithms import get_algorithm
from .bench import SweepTask, result_row, trial_results
from .linalg import divide_by_weights, svd_flip
from .problem import Problem, validate_problem, validate_rank
from .result import Stopped

__all__ = [
    "LOCAL_WORKERS",
    "CONNECT_TIMEOUT",
    "local_cluster",
    "connect",
    "run_sweep",
    "run_problems_sweep",
    "run_tasks",
    "POLL_SECONDS",
    "column_partitioned",
    "svd_w_dask",
    "DaskSVDW",
]

LOCAL_WORKERS = 2
CONNECT_TIMEOUT = 5.0  # seconds to reach an existing scheduler before giving up
POLL_SECONDS = 0.2  # how often a running sweep checks its should_stop


def local_cluster(n_workers: int = LOCAL_WORKERS, *, processes: bool = True):
    """A :class:`distributed.LocalCluster` bound to 127.0.0.1 only, without a dashboard.

    ``n_workers`` workers with one thread each (each worker's BLAS is single-threaded
    too: distributed sets ``OPENBLAS_NUM_THREADS=1`` in worker processes). The
    scheduler's small HTTP endpoint (health, metrics) listens on a free loopback port.
    """
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes, host="127.0.0.1",
                        dashboard_address=None,
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})


@contextlib.contextmanager
def connect(scheduler=None, *, n_workers: int = LOCAL_WORKERS, timeout: float = CONNECT_TIMEOUT):
    """A :class:`distributed.Client` for ``scheduler``, closed on exit if we opened it.

    Parameters
    ----------
    scheduler : None, "local", str or distributed.Client
        None/"local": a fresh :func:`local_cluster` with ``n_workers`` single-threaded
        worker processes, closed on exit. A string with ``://``: the address of a running
        scheduler. A Client: used as is (not closed).
    timeout : float
        Seconds to wait for an existing scheduler.

    Raises
    ------
    ValueError
        For a malformed address or a scheduler that cannot be reached within ``timeout``.
    """
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is None or scheduler == "local":
        with local_cluster(n_workers) as cluster, Client(cluster) as client:
            yield client
        return
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ValueError(f"scheduler must be 'local' or an address like tcp://host:8786, got {scheduler!r}")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    with client:
        yield client


def _task_rows(A, W, task: SweepTask, seed: int) -> list[dict]:
    # The task body: one trial of iter_sweep's loop, on a worker. Scattered arrays can
    # arrive at addresses not aligned to 8 bytes; NumPy then takes slower loops whose
    # rounding differs from the in-process path. An aligned copy (only then) avoids both.
    A, W = (np.require(M, requirements=["C", "A"]) for M in (A, W))
    results = trial_results(A, W, task.name, task.ranks, task.trial, seed=seed, options=task.options)
    return [result_row(result, task.trial) for result in results]


def _submit(client, A, W, tasks: list[SweepTask], seed: int) -> list:
    # hash=False gives each call its own keys: with content hashes, a repeated call on the
    # same data reused the keys the previous call's cleanup was releasing, and its tasks
    # were cancelled for "lost dependencies".
    A_remote, W_remote = client.scatter([A, W], broadcast=True, hash=False)
    return [client.submit(_task_rows, A_remote, W_remote, task, seed, pure=False) for task in tasks]


def _collect(client, futures: dict, on_rows, on_error, should_stop) -> dict:
    """Rows per finished future of ``futures`` (future -> key).

    Each one's rows go to ``on_rows(key, rows)`` as it finishes; ``should_stop`` is polled
    every :data:`POLL_SECONDS`. A task that raised goes to ``on_error(key, message)`` when
    given (the others go on), else it ends the wait. Unfinished tasks are cancelled on the
    way out."""
    from distributed import as_completed

    done: dict = {}
    arrivals = as_completed(futures)
    try:
        while not arrivals.is_empty():
            if should_stop is not None and should_stop():
                raise Stopped("stopped by request")
            if not arrivals.has_ready():
                time.sleep(POLL_SECONDS)
                continue
            for future in arrivals.next_batch(block=False):
                if future.status == "error" and on_error is not None:
                    error = future.exception()
                    on_error(futures[future], f"{type(error).__name__}: {error}")
                    continue
                done[future] = future.result()
                if on_rows is not None:
                    on_rows(futures[future], done[future])
    finally:
        client.cancel(list(futures))
    return done


def run_tasks(
    A,
    W,
    tasks: Iterable[SweepTask],
    *,
    seed: int = 0,
    scheduler=None,
    on_rows: Callable[[SweepTask, list[dict]], None] | None = None,
    on_error: Callable[[SweepTask, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Run sweep tasks of one problem on a Dask cluster, one Dask task each.

    The lower level of :func:`run_sweep` for callers that choose the (algorithm, trial,
    ranks) units themselves, e.g. the dashboard running only what its cache lacks.

    Parameters
    ----------
    A, W : ndarray of shape (n, d)
        Validated (see :func:`wlra_core.validate_problem`); scattered to every worker once.
    tasks : iterable of :class:`wlra_core.bench.SweepTask`
        With resolved options (:meth:`Algorithm.resolve_options`) and valid ranks.
    seed : int
        Trial ``t`` uses seed ``trial_seed(seed, t)``.
    scheduler : see :func:`connect`
    on_rows : callable(task, rows), optional
        Called with each task's rows (one per rank) as it finishes.
    on_error : callable(task, message), optional
        Called for a task that raised; without it the first such error is raised.
    should_stop : callable() -> bool, optional
        Polled every :data:`POLL_SECONDS`; True cancels the rest and raises :class:`Stopped`.

    Returns
    -------
    list of dict
        The rows of the tasks that finished, in task order.
    """
    tasks = list(tasks)
    with connect(scheduler) as client:
        futures = dict(zip(_submit(client, A, W, tasks, seed), tasks))
        done = _collect(client, futures, on_rows, on_error, should_stop)
    return [row for future in futures if future in done for row in done[future]]


def run_problems_sweep(
    problems: Mapping[str, Problem | tuple],
    algorithms: Iterable[str],
    ranks: Iterable[int],
    trials: int = 1,
    *,
    seed: int = 0,
    scheduler=None,
    options: dict[str, dict] | None = None,
    on_result: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Sweep algorithms x ranks x trials over several problems on a Dask cluster.

    Parameters
    ----------
    problems : mapping of name -> Problem or (A, W)
        E.g. every layer of a model. Each is validated here and scattered to every
        worker once.
    algorithms, ranks, trials, seed, options
        As in :func:`wlra_core.bench.iter_sweep` (``options`` maps an algorithm name to
        its options); trial ``t`` uses seed ``trial_seed(seed, t)``.
    scheduler : see :func:`connect`
    on_result : callable(row), optional
        Called with each row as its task finishes (completion order).
    should_stop : callable() -> bool, optional
        Polled every :data:`POLL_SECONDS`; True cancels the rest and raises
        :class:`wlra_core.Stopped`.

    Returns
    -------
    list of dict
        The columns of :data:`wlra_core.bench.ROW_FIELDS` plus ``problem``, ordered by
        problem, algorithm, trial and rank like the in-process sweep.
    """
    algorithms = list(algorithms)
    if not algorithms:
        raise ValueError("algorithms is empty: give at least one algorithm")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    ranks = tuple(ranks)
    if not ranks:
        raise ValueError("ranks is empty: give at least one rank")
    options = options or {}
    tasks = [SweepTask(name, trial, ranks, get_algorithm(name).resolve_options(options.get(name, {})))
             for name in algorithms for trial in range(trials)]
    checked = {}
    for label, problem in problems.items():
        A, W = (problem.A, problem.W) if isinstance(problem, Problem) else validate_problem(*problem)
        for k in ranks:
            validate_rank(k, A.shape)
        checked[label] = (A, W)
    if not checked:
        raise ValueError("problems is empty: give at least one problem")

    def rows_done(key, rows):
        if on_result is not None:
            for row in rows:
                on_result({"problem": key[0], **row})

    with connect(scheduler) as client:
        futures = {}
        for label, (A, W) in checked.items():
            futures.update(zip(_submit(client, A, W, tasks, seed), ((label, task) for task in tasks)))
        done = _collect(client, futures, rows_done, None, should_stop)
    return [{"problem": label, **row} for future, (label, _) in futures.items() for row in done[future]]


def run_sweep(A, W, algorithms, ranks, trials: int = 1, *, seed: int = 0, scheduler=None,
              options: dict[str, dict] | None = None, on_result: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> list[dict]:
    """:func:`run_problems_sweep` for one problem; rows have the bench columns only.

    The rows equal those of :func:`wlra_core.bench.iter_sweep` with the same arguments
    (same order, same losses up to BLAS rounding, see the module docstring) except ``seconds``.
    """
    def strip(row: dict) -> dict:
        return {key: value for key, value in row.items() if key != "problem"}

    callback = None if on_result is None else (lambda row: on_result(strip(row)))
    rows = run_problems_sweep({"problem": (A, W)}, algorithms, ranks, trials, seed=seed, scheduler=scheduler,
                              options=options, on_result=callback, should_stop=should_stop)
    return [strip(row) for row in rows]


def column_partitioned(make_block: Callable[[slice], tuple[np.ndarray, np.ndarray]], n: int, d: int,
                       n_chunks: int):
    """Dask arrays ``(A, W)`` of shape (n, d) whose column chunks are generated where they live.

    Parameters
    ----------
    make_block : callable(cols: slice) -> (A[:, cols], W[:, cols])
        Run once per chunk on a worker, e.g.
        ``functools.partial(FisherLike(...).block, slice(None))``.
    n_chunks : int
        Number of column chunks (the paper's m servers), ``1 <= n_chunks <= d``.
    """
    import dask
    import dask.array as da

    if not 1 <= n_chunks <= d:
        raise ValueError(f"n_chunks must be between 1 and d = {d}, got {n_chunks}")
    edges = np.linspace(0, d, n_chunks + 1).astype(int)
    A_parts, W_parts = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        block = dask.delayed(make_block, pure=True)(slice(int(lo), int(hi)))
        A_parts.append(da.from_delayed(block[0], shape=(n, int(hi - lo)), dtype=np.float64))
        W_parts.append(da.from_delayed(block[1], shape=(n, int(hi - lo)), dtype=np.float64))
    return da.concatenate(A_parts, axis=1), da.concatenate(W_parts, axis=1)


@dataclass
class DaskSVDW:
    """svd_w on a Dask array: small factors here, the n x d parts still on the workers.

    Attributes
    ----------
    U : ndarray of shape (n, rk)
    s : ndarray of shape (rk,)
    Vt : ndarray of shape (rk, d)
        Top singular triplets of ``W o A``; the output is ``(U s Vt) / W``, 0 where W == 0.
    approx : dask array of shape (n, d)
        That output, lazily, chunked like W (``approx.compute()`` only for small problems).
    loss, relative_loss : float
        ``||W o (A - approx)||_F^2`` and its ratio to ``||W o A||_F^2``, summed chunk by chunk.
    seconds : float
    n_params : int
        ``(rk + r)(n + d)`` as for the in-memory svd_w.
    """

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    approx: object
    loss: float
    relative_loss: float
    seconds: float
    n_params: int

    def dense(self) -> np.ndarray:
        """The n x d output as one NumPy array (gathers it: small problems only)."""
        return self.approx.compute()


def svd_w_dask(A, W, rank: int, *, weight_rank: int = 1, n_power_iter: int = 6, n_oversamples: int = 40,
               seed: int = 0) -> DaskSVDW:
    """Algorithm 1 (svd_w) on dask arrays, typically column-partitioned among workers.

    Runs on the active Dask scheduler (inside ``with connect(...)`` that is the cluster).

    Parameters
    ----------
    A, W : dask.array.Array of shape (n, d)
        Same shape and chunks (e.g. from :func:`column_partitioned`; persist them first
        if producing them is expensive, since the SVD reads them several times).
    rank : int
        Target rank k; the SVD of ``W o A`` has rank ``weight_rank * k``.
    n_power_iter : int >= 2
        QR-stabilised power iterations of ``dask.array.linalg.svd_compressed``.
    n_oversamples : int >= 0
        Extra sketch columns. The defaults (6 iterations, 40 extra columns; more than
        :func:`wlra_core.truncated_svd`'s 2 and 20) buy agreement with the exact svd_w:
        trained kernels have a flat noise floor below their learned rank, where the
        randomized SVD converges slowly. On the 67500 x 1024 Fisher-like problem at rank
        20, this sketch scheme in memory was 8.8e-7 (6, 20), 2.7e-7 (4, 40) and 1.2e-9
        (6, 40) from the exact svd_w's loss (relative difference); 2.9e-5 with (4, 20).
    seed : int

    Raises
    ------
    ValueError
        Mismatched shapes/chunks, bad ranks or iteration counts, NaN/Inf, negative or
        all-zero weights (checked in one chunkwise pass).
    """
    import dask
    import dask.array as da

    start = time.perf_counter()
    for label, M in (("A", A), ("W", W)):
        if not isinstance(M, da.Array) or M.ndim != 2:
            raise ValueError(f"{label} must be a 2-D dask array (see column_partitioned)")
    if A.shape != W.shape or A.chunks != W.chunks:
        raise ValueError(f"A and W must have the same shape and chunks, got {A.shape}/{A.chunks} and "
                         f"{W.shape}/{W.chunks}")
    rank = validate_rank(rank, A.shape)
    for label, value, low in (("weight_rank", weight_rank, 1), ("n_power_iter", n_power_iter, 2),
                              ("n_oversamples", n_oversamples, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    n, d = A.shape
    inner = min(weight_rank * rank, min(n, d))

    weighted = W * A
    mass, n_bad, n_negative = dask.compute(
        (weighted**2).sum(), (~da.isfinite(A)).sum() + (~da.isfinite(W)).sum(), (W < 0).sum())
    if n_bad:
        raise ValueError(f"A or W has {int(n_bad)} NaN/Inf entries")
    if n_negative:
        raise ValueError(f"W has {int(n_negative)} negative entries; weights must be >= 0")
    if mass == 0 and not dask.compute(W.any())[0]:
        raise ValueError("W is all zeros: every entry would be ignored")

    # The factors stay where they were computed (persisted); the client gets a copy for the
    # result, so the output below is built without shipping n x rk data in a task graph.
    factors = dask.persist(*da.linalg.svd_compressed(
        weighted, inner, iterator="QR", n_power_iter=n_power_iter, n_oversamples=n_oversamples,
        seed=seed, coerce_signs=False))
    U_raw, s, Vt_raw = dask.compute(*factors)
    U, Vt = svd_flip(U_raw, Vt_raw)
    signs = np.sign(np.einsum("ij,ij->j", U, U_raw))  # +-1: the flips svd_flip applied
    left, right = factors[0] * (s * signs), factors[2] * signs[:, None]
    approx = da.map_blocks(divide_by_weights, left @ right, W, dtype=np.float64)
    loss = float(dask.compute(((W * (A - approx)) ** 2).sum())[0])
    relative = loss / mass if mass > 0 else 0.0
    return DaskSVDW(U, s, Vt, approx, loss, relative, time.perf_counter() - start,
                    n_params=(inner + weight_rank) * (n + d))
