"""WLRA on a dask.distributed cluster: sweeps across workers, and svd_w on column-partitioned data.

Two jobs:

* :class:`OnDask` is the Dask executor of the sweep engine (:func:`wlra_core.sweep.run`):
  one Dask task per (problem, method, trial), each exactly the in-process unit
  :func:`wlra_core.sweep.run_task`, so the results are the same apart from wall time. A
  problem is scattered to the workers once, not embedded in the graph. E.g. every layer
  of a model: ``run_all(make_sweep({"layer1": p1, "layer2": p2}, ...), executor=OnDask())``.
* :func:`svd_w_dask` is Algorithm 1 in the paper's m-server setting: the columns of A and W
  are partitioned among workers, ``W o A`` and the division by W happen chunk by chunk,
  and the rank-rk approximation of ``W o A`` comes from
  :func:`dask.array.linalg.svd_compressed`; only sketches and factors of size n x (rk + p)
  and (rk + p) x d_i travel between workers, never a chunk of A or W. It returns an ordinary
  :class:`~wlra_core.WLRAResult` whose divisor is the Dask array W itself.
  :func:`column_partitioned` builds such arrays from a per-chunk generator, so no n x d array
  is ever held by one process.

Clusters: ``scheduler=None`` (or ``"local"``) starts a :class:`distributed.LocalCluster`
on 127.0.0.1 (worker processes, one thread each, no dashboard, scratch space under
``data/cache``) for the duration of the call; an address such as ``"tcp://10.0.0.5:8786"``
connects to an existing scheduler; a :class:`distributed.Client` is used as is. Dask
exchanges pickles, so a scheduler is trusted code: the dashboard connects only to
``local`` and to the addresses the operator lists in ``$WLRA_DASK_SCHEDULERS``
(:func:`scheduler_allowed`). Scripts that start a LocalCluster spawn worker processes and
must keep that code under ``if __name__ == "__main__":``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .factors import Reweighted
from .linalg import divide_by_weights, svd_flip
from .options import Interval, Option
from .paths import CACHE_DIR
from .problem import Problem, validate_rank
from .result import HistoryPoint, Stopped, WLRAResult
from .sweep import Post, Sweep, Task, TaskProgress, TaskRaised, TaskResult, attach, detach, run_task, task_error
from .tables import ResultRow

__all__ = [
    "LOCAL_WORKERS",
    "CONNECT_TIMEOUT",
    "SCHEDULERS_ENV",
    "scheduler_allowed",
    "local_cluster",
    "connect",
    "OnDask",
    "POLL_SECONDS",
    "N_CHUNKS",
    "column_partitioned",
    "SVD_W_DASK_OPTIONS",
    "svd_w_dask",
]

LOCAL_WORKERS = 2
CONNECT_TIMEOUT = 5.0  # seconds to reach an existing scheduler before giving up
POLL_SECONDS = 0.2  # how often a running sweep checks its should_stop
# Comma-separated scheduler addresses the dashboard may connect to besides "local".
SCHEDULERS_ENV = "WLRA_DASK_SCHEDULERS"

logger = logging.getLogger(__name__)


def scheduler_allowed(address: str) -> bool:
    """Whether the dashboard may connect to ``address``: ``local``, or one the operator listed
    in ``$WLRA_DASK_SCHEDULERS`` (Dask exchanges pickles: a scheduler can run code here)."""
    allowed = {a.strip() for a in os.environ.get(SCHEDULERS_ENV, "").split(",") if a.strip()}
    return address == "local" or address in allowed


def local_cluster(n_workers: int = LOCAL_WORKERS, *, processes: bool = True):
    """A :class:`distributed.LocalCluster` bound to 127.0.0.1 only, without a dashboard.

    ``n_workers`` workers with one thread each (each worker's BLAS is single-threaded
    too: distributed sets ``OPENBLAS_NUM_THREADS=1`` in worker processes). The
    scheduler's small HTTP endpoint (health, metrics) listens on a free loopback port.
    Dask's own log is silenced below CRITICAL: what goes wrong in a task reaches the run as
    that task's exception (one line), and its warnings and errors about a cluster shut down
    mid-task (a Stop, a Ctrl-C) would bury the line that says what happened.
    """
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes, host="127.0.0.1",
                        dashboard_address=None, local_directory=str(_scratch_space()),
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                        silence_logs=logging.CRITICAL)


def _scratch_space():
    """Dask's scratch folder under the cache, made if needed.

    Raises
    ------
    ValueError
        It cannot be written (a read-only cache): one line without the server's paths,
        which go to the log.
    """
    scratch = CACHE_DIR / "dask-scratch-space"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=scratch).close()
    except OSError as err:
        logger.warning("Dask's scratch folder %s cannot be written: %s", scratch, err)
        raise ValueError("cannot start a local Dask cluster: its scratch folder in the server's cache cannot be "
                         f"written ({err.strerror or type(err).__name__})") from None
    return scratch


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


def _remote_task(problem: Problem, task: Task, seed: int, evaluation) -> list[tuple[ResultRow, WLRAResult]]:
    """The task body on a worker: :func:`wlra_core.sweep.run_task`, results sent back light.

    Scattered arrays can arrive at addresses not aligned to 8 bytes; NumPy then takes
    slower loops whose rounding differs from the in-process path. An aligned copy (only
    then) avoids both. A divisor that is the problem's own W is not sent back: the
    client re-attaches its copy (:func:`wlra_core.sweep.attach`).
    """
    A, W = (np.require(M, requirements=["C", "A"]) for M in (problem.A, problem.W))
    if A is not problem.A or W is not problem.W:
        problem = Problem(A, W, name=problem.name, source=problem.source, meta=problem.meta, model=problem.model)
    return [(row, detach(result, problem)) for row, result in run_task(problem, task, seed, evaluation=evaluation)]


@dataclass
class OnDask:
    """Executor for :func:`wlra_core.sweep.run`: one Dask task per sweep task.

    Each problem is scattered to every worker once; results arrive per task (all its
    ranks together) and equal the in-process ones for the same seeds (bit for bit when
    the in-process BLAS is single-threaded like the workers'). ``should_stop`` is polled
    every :data:`POLL_SECONDS`; a stop cancels what has not finished.

    Parameters
    ----------
    scheduler : see :func:`connect`
    """

    scheduler: object = "local"

    def __call__(self, sweep: Sweep, tasks: Iterable[Task], post: Post, stop) -> None:
        from distributed import as_completed

        tasks = list(tasks)  # every task is submitted at once (and so claimed at once: see wlra_core.sweep.run)
        if not tasks:  # other runs are computing all of them: no cluster needed
            return
        post(TaskProgress(f"starting the Dask cluster ({self.scheduler})" if self.scheduler in (None, "local")
                          else f"connecting to the Dask scheduler at {self.scheduler}"))
        with connect(self.scheduler) as client:
            # hash=False gives each call its own keys: with content hashes, a repeated call on
            # the same data reused the keys the previous call's cleanup was releasing, and its
            # tasks were cancelled for "lost dependencies".
            remote = {key: client.scatter(sweep.problems[key], broadcast=True, hash=False)
                      for key in dict.fromkeys(task.problem for task in tasks)}
            futures = {client.submit(_remote_task, remote[task.problem], task, sweep.seed, sweep.evaluation,
                                     pure=False): task for task in tasks}
            arrivals = as_completed(futures)
            try:
                while not arrivals.is_empty():
                    if stop.is_set():
                        raise Stopped("stopped by request")
                    if not arrivals.has_ready():
                        time.sleep(POLL_SECONDS)
                        continue
                    for future in arrivals.next_batch(block=False):
                        task = futures[future]
                        if future.status == "error":
                            post(TaskRaised(task, task_error(task, future.exception())))
                            continue
                        for row, result in future.result():
                            post(TaskResult(task, row, attach(result, sweep.problems[task.problem])))
            finally:
                client.cancel(list(futures))


# The number of column chunks of :func:`column_partitioned` (its default is unused: it is required).
N_CHUNKS = Option(1, (Interval(int, 1),), "column chunks: the paper's m servers", limit=lambda shape: shape[1],
                  limit_text="d")


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

    n_chunks = N_CHUNKS.validate(n_chunks, name="n_chunks", algorithm="column_partitioned", shape=(n, d))
    edges = np.linspace(0, d, n_chunks + 1).astype(int)
    A_parts, W_parts = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        block = dask.delayed(make_block, pure=True)(slice(int(lo), int(hi)))
        A_parts.append(da.from_delayed(block[0], shape=(n, int(hi - lo)), dtype=np.float64))
        W_parts.append(da.from_delayed(block[1], shape=(n, int(hi - lo)), dtype=np.float64))
    return da.concatenate(A_parts, axis=1), da.concatenate(W_parts, axis=1)


SVD_W_DASK_OPTIONS = {
    "weight_rank": Option(1, (Interval(int, 1),), "rank r of the weights: the SVD of W o A has rank r k"),
    "n_power_iter": Option(6, (Interval(int, 2),), "QR-stabilised power iterations of the randomized SVD"),
    "n_oversamples": Option(40, (Interval(int, 0),), "extra columns of the randomized SVD's sketch"),
}


def svd_w_dask(A, W, rank: int, *, weight_rank: int = SVD_W_DASK_OPTIONS["weight_rank"].default,
               n_power_iter: int = SVD_W_DASK_OPTIONS["n_power_iter"].default,
               n_oversamples: int = SVD_W_DASK_OPTIONS["n_oversamples"].default, seed: int = 0) -> WLRAResult:
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

    Returns
    -------
    WLRAResult
        ``factors`` is ``Reweighted(U s, Vt, W)``: the top ``weight_rank * rank`` singular
        triplets of ``W o A`` (signs by :func:`~wlra_core.linalg.svd_flip`) and W, the Dask
        array itself, so ``n_params`` counts ``U s``, ``Vt`` and all of W. ``loss``,
        ``relative_loss`` and ``max_abs`` are measured chunk by chunk; ``seconds`` is the
        fit's. ``result.approx`` gathers the n x d output: small problems only.

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
    options = {name: option.validate(value, name=name, algorithm="svd_w_dask") for (name, option), value in
               zip(SVD_W_DASK_OPTIONS.items(), (weight_rank, n_power_iter, n_oversamples))}
    weight_rank, n_power_iter, n_oversamples = options.values()
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
    seconds = time.perf_counter() - start  # as for every result: the measuring pass below is not part of it
    signs = np.sign(np.einsum("ij,ij->j", U, U_raw))  # +-1: the flips svd_flip applied
    left, right = factors[0] * (s * signs), factors[2] * signs[:, None]
    approx = da.map_blocks(divide_by_weights, left @ right, W, dtype=np.float64)
    loss, max_abs = (float(v) for v in dask.compute(((W * (A - approx)) ** 2).sum(), abs(approx).max()))
    relative = loss / mass if mass > 0 else 0.0
    # The divisor is W itself, left on the workers: the result's dense() gathers it block by block.
    return WLRAResult(algorithm="svd_w", rank=rank, factors=Reweighted(U * s, Vt, W), loss=loss,
                      relative_loss=relative, seconds=seconds, history=[HistoryPoint(1, loss, seconds, relative)],
                      options={**options, "seed": seed}, max_abs=max_abs)
