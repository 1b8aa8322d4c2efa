"""The sweep engine: every loop over problems x methods x ranks x trials runs here.

A :class:`Sweep` (built by :func:`make_sweep`) fixes everything that determines its
results: the problems, the methods (an algorithm with resolved options, under a label),
the ranks, the number of trials and the seed. It is cut into :class:`Task` units --
(problem, method, ranks, trial) -- and each task is one :func:`run_task` call: one
``solve_ranks`` (the svd family shares its SVD across ranks) with the seed of its trial,
``SeedSequence(seed, spawn_key=(trial,))``, and an optional :class:`Evaluation` adding
columns per result (the Compression page's test accuracy). Each result becomes a
:class:`wlra_core.tables.ResultRow`.

Two executors run tasks: :class:`InProcess` (a worker thread that always limits BLAS to
:data:`SOLVER_BLAS_THREADS`) and ``wlra_core.distributed.OnDask``. An executor reports
through ``post`` one message at a time: :class:`TaskResult`, :class:`TaskProgress` or
:class:`TaskRaised`. :func:`run` turns them into :class:`Update` events in the caller's
thread -- :class:`ResultEvent`, :class:`ProgressEvent`, :class:`TaskError` or
:class:`Fatal` -- storing each result in one :class:`ResultCache` first; closing the
generator asks the executor to stop. :func:`run_all` is the blocking form (CLI, benchmarks).

Runs that share a :class:`ResultCache` (the dashboard's sessions) share their work in
progress too: a run claims each result just before computing it, and another run that
needs a claimed result waits for it instead of computing it again (see
:meth:`ResultCache.claim`).
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Mapping, Protocol

import numpy as np

from .algorithms import get_algorithm
from .blas import blas_threads
from .api import fit_ranks, solve_ranks
from .factors import Reweighted
from .options import Interval, Option
from .problem import Problem, validate_rank
from .result import Stopped, WLRAResult
from .seeding import trial_seed
from .tables import ResultRow

__all__ = [
    "SOLVER_BLAS_THREADS",
    "SETTINGS",
    "blas_threads",
    "Method",
    "make_method",
    "Task",
    "Evaluation",
    "Sweep",
    "make_sweep",
    "ProblemWeights",
    "detach",
    "attach",
    "ResultCache",
    "TaskResult",
    "TaskProgress",
    "TaskRaised",
    "Update",
    "ResultEvent",
    "ProgressEvent",
    "TaskError",
    "Fatal",
    "result_row",
    "run_task",
    "InProcess",
    "run",
    "run_all",
]

# BLAS threads while solving. Small matrices (784 x 128 SVDs) gain nothing from a second
# thread, and OpenBLAS's spinning threads collapse when another process shares the cores:
# measured on the 2-core machine with one competing process, em over ranks 1-20 on the
# shipped problem took 3.5 s with 1 thread and > 300 s with 2. Large matrices would gain
# (a rank-20 randomized SVD of 67500 x 1024: 1.9-2.2 s with one thread, 1.2-1.3 s with
# two on a quiet machine), but their loss passes make thousands of small BLAS calls, and
# with two threads under load a 67500 x 1024 Compare run spun for over 20 CPU-minutes.
SOLVER_BLAS_THREADS = 1

# The settings of a sweep besides its problems, methods and ranks (:func:`make_sweep`).
SETTINGS = {
    "trials": Option(1, (Interval(int, 1),), "runs per (problem, method, rank), each with its own random stream"),
    "seed": Option(0, (Interval(int, 0),), "the seed of the sweep: trial t runs with SeedSequence(seed, "
                                           "spawn_key=(t,))"),
}


@dataclass(frozen=True)
class Method:
    """An algorithm with resolved options, under the label tables and charts use."""

    label: str
    algorithm: str
    options: str  # canonical JSON of the resolved options: part of every cache key

    @property
    def options_dict(self) -> dict:
        return json.loads(self.options)


def make_method(algorithm: str, options: dict | None = None, label: str | None = None,
                shape: tuple[int, int] | None = None) -> Method:
    """Validate ``options`` for ``algorithm`` (against ``shape`` when given) and freeze them."""
    resolved = get_algorithm(algorithm).resolve_options(dict(options or {}), shape)
    arrays = [key for key, value in resolved.items() if isinstance(value, np.ndarray)]
    if arrays:
        raise ValueError(f"{algorithm}: array options ({', '.join(arrays)}) cannot be part of a sweep")
    return Method(label or algorithm, algorithm, json.dumps(resolved, sort_keys=True))


@dataclass(frozen=True)
class Task:
    """One unit of work: ``method`` on ``problem`` at ``ranks``, trial ``trial``."""

    problem: str
    method: Method
    ranks: tuple[int, ...]
    trial: int


class Evaluation(Protocol):
    """Extra columns computed from each result on the worker (e.g. test accuracy).

    ``name`` is part of cache keys; ``columns`` are the keys it adds to each row's
    ``evaluation`` (NaN for failed runs). Must be picklable to run on Dask.
    """

    name: str
    columns: tuple[str, ...]

    def __call__(self, problem: Problem, result: WLRAResult) -> Mapping[str, float]: ...


@dataclass(frozen=True, eq=False)
class Sweep:
    """Everything that determines a sweep's results, and so their cache keys."""

    problems: Mapping[str, Problem]
    methods: tuple[Method, ...]
    ranks: tuple[int, ...]
    trials: int = 1
    seed: int = 0
    evaluation: Evaluation | None = None
    pairs: tuple[tuple[str, Method], ...] | None = None  # the (problem, method) pairs to run; None: all

    @property
    def size(self) -> int:
        return len(self._pairs()) * len(self.ranks) * self.trials

    def _pairs(self) -> tuple[tuple[str, Method], ...]:
        if self.pairs is not None:
            return self.pairs
        return tuple((problem, method) for problem in self.problems for method in self.methods)

    def key(self, problem: str, method: Method, rank: int, trial: int) -> tuple:
        """Cache key of one result: problem content, algorithm, options, rank, seed, trial, evaluation."""
        return (self.problems[problem].fingerprint, method.algorithm, method.options, rank, self.seed, trial,
                self.evaluation.name if self.evaluation is not None else "")

    def units(self) -> Iterator[tuple[str, Method, int]]:
        for problem, method in self._pairs():
            for trial in range(self.trials):
                yield problem, method, trial

    def entries(self, cache: "ResultCache | Mapping[tuple, tuple[ResultRow, WLRAResult]]"
                ) -> list[tuple[ResultRow, WLRAResult]]:
        """``(row, result)`` of every result of this sweep in ``cache`` (or in a run's own
        results, see :func:`run`), in sweep order, each row under this sweep's problem and
        method labels and each result with its problem's arrays attached (:func:`attach`)."""
        out = []
        for problem, method, trial in self.units():
            for rank in self.ranks:
                entry = cache.get(self.key(problem, method, rank, trial))
                if entry is not None:
                    out.append(self._labelled(entry, problem, method))
        return out

    def rows(self, cache: "ResultCache | Mapping[tuple, tuple[ResultRow, WLRAResult]]") -> list[ResultRow]:
        return [row for row, _ in self.entries(cache)]

    def _labelled(self, entry: tuple[ResultRow, WLRAResult], problem: str,
                  method: Method) -> tuple[ResultRow, WLRAResult]:
        """A stored ``(row, result)`` as this sweep reads it: its labels, its problem's W."""
        row, result = entry
        return replace(row, problem=problem, method=method.label), attach(result, self.problems[problem])


def make_sweep(problems: Problem | Mapping[str, Problem], methods: Iterable[str | Method],
               ranks: Iterable[int], trials: int = 1, seed: int = 0,
               options: Mapping[str, dict] | None = None, evaluation: Evaluation | None = None,
               include: Callable[[str, Method], bool] | None = None) -> Sweep:
    """Validate sweep settings and freeze them into a :class:`Sweep`.

    Parameters
    ----------
    problems : Problem or mapping of label -> Problem
        One problem is labelled by its name.
    methods : iterable of algorithm names or :class:`Method`
        Names get their ``options`` entry (validated) and are labelled by their name.
    ranks : iterable of int
        Each within ``1..min(n, d)`` of every problem.
    trials, seed : int
        See :data:`SETTINGS` (NumPy integers are accepted, booleans are not).
    options : mapping of algorithm name -> options, optional
    evaluation : Evaluation, optional
    include : callable(problem label, Method) -> bool, optional
        Which (problem, method) pairs to run (default: every pair).

    Raises
    ------
    ValueError
        With a message naming the bad setting.
    """
    if isinstance(problems, Problem):
        problems = {problems.name: problems}
    problems = dict(problems)
    if not problems:
        raise ValueError("give at least one problem")
    options = dict(options or {})
    shape = tuple(min(p.shape[i] for p in problems.values()) for i in (0, 1))
    methods = tuple(dict.fromkeys(
        m if isinstance(m, Method) else make_method(m, options.get(m), shape=shape) for m in methods))
    if not methods:
        raise ValueError("choose at least one algorithm")
    ranks = list(ranks)
    if not ranks:
        raise ValueError("choose at least one rank")
    ranks = tuple(sorted({validate_rank(k, shape) for k in ranks}))
    trials, seed = (SETTINGS[name].validate(value, name=name, algorithm="sweep")
                    for name, value in (("trials", trials), ("seed", seed)))
    pairs = None
    if include is not None:
        pairs = tuple((p, m) for p in problems for m in methods if include(p, m))
    return Sweep(problems, methods, ranks, trials, seed, evaluation, pairs)


# --- Results kept apart from their problem ----------------------------------------------


@dataclass(frozen=True)
class ProblemWeights:
    """Stands for the problem's own W in a result kept or sent apart from its problem
    (svd_w and css divide by W itself): :func:`detach` puts it in, :func:`attach` puts the
    problem's W back. ``size`` is W's, so ``n_params`` reads the same either way."""

    shape: tuple[int, int]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def detach(result: WLRAResult, problem: Problem) -> WLRAResult:
    """A shallow copy of ``result`` that holds no reference to ``problem``'s W: a divisor that
    is ``problem.W`` itself becomes a :class:`ProblemWeights`. The copy never carries the
    dense approximation a caller may have formed (``result.approx``)."""
    factors = result.factors
    if isinstance(factors, Reweighted) and factors.weights is problem.W:
        factors = replace(factors, weights=ProblemWeights(problem.W.shape))
    return replace(result, factors=factors)


def attach(result: WLRAResult, problem: Problem) -> WLRAResult:
    """A shallow copy of ``result`` with ``problem``'s W in place of a :class:`ProblemWeights`."""
    factors = result.factors
    if isinstance(factors, Reweighted) and isinstance(factors.weights, ProblemWeights):
        factors = replace(factors, weights=problem.W)
    return replace(result, factors=factors)


def _owners(result: WLRAResult) -> dict[int, np.ndarray]:
    """The arrays that own the memory ``result``'s factors keep alive, by id: a view (svd's
    ``U[:, :k]`` of the SVD shared by every rank) keeps its whole base alive."""
    owners = {}
    for array in ([] if result.factors is None else result.factors.arrays.values()):
        while isinstance(array, np.ndarray) and isinstance(array.base, np.ndarray):
            array = array.base
        if isinstance(array, np.ndarray):
            owners[id(array)] = array
    return owners


@dataclass(frozen=True)
class _Shared:
    """The result under ``key`` another run computed (posted to a run that waits for it)."""

    key: tuple
    row: ResultRow
    result: WLRAResult  # detached: the receiver attaches its problem's W


@dataclass(frozen=True)
class _Released:
    """The run computing ``keys`` gave them up (it stopped or failed): a waiting run computes
    them. One message per release, so the waiting run computes the ranks of one task that
    were given up together as one task again (as a lone run would), not one by one."""

    keys: tuple[tuple, ...]


class ResultCache:
    """Results by :meth:`Sweep.key` -- the row and the result (with its factors) -- shared by
    every run that uses it, and the keys those runs are computing now.

    A stored result keeps nothing its problem owns: a divisor that is the problem's W is
    stored as a :class:`ProblemWeights` (:func:`detach`) and put back when a sweep reads
    the result with its problem (:meth:`Sweep.entries`), so problems nobody else holds
    are freed. Rows are small and kept for ``max_rows`` results (oldest evicted). Factors
    are kept while the memory they keep alive -- every array's base, each counted once
    however many results share it -- totals at most ``max_factor_bytes``; beyond that the
    oldest results lose their factors but keep their rows.

    Work in progress: a run claims the keys it is about to compute (:meth:`claim`); a run
    that needs a key another run claimed waits for it -- it is posted the result when that
    is stored, or a release when the claiming run gives the key up (it stopped or failed;
    :meth:`release`), and then computes it itself. :meth:`clear` forgets stored results
    only: claims stay, and a running sweep keeps the results it already has.
    """

    def __init__(self, max_rows: int = 100_000, max_factor_bytes: int = 2**30):
        self.max_rows = max_rows
        self.max_factor_bytes = max_factor_bytes
        self._entries: OrderedDict[tuple, tuple[ResultRow, WLRAResult]] = OrderedDict()
        self._held: dict[tuple, tuple[int, ...]] = {}  # key -> ids of the arrays its factors keep alive
        self._arrays: dict[int, list] = {}  # id -> [array, number of entries holding it]
        self._total_bytes = 0
        self._claims: dict[tuple, object] = {}  # key -> the run computing it
        self._waiting: dict[tuple, dict[object, Callable[[object], None]]] = {}  # key -> run -> its post
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def factor_bytes(self) -> int:
        """Bytes of the arrays the stored factors keep alive (each array counted once)."""
        return self._total_bytes

    def get(self, key: tuple) -> tuple[ResultRow, WLRAResult] | None:
        """The stored ``(row, result)``, the result detached from its problem (see :meth:`Sweep.entries`)."""
        return self._entries.get(key)

    def put(self, key: tuple, row: ResultRow, result: WLRAResult, problem: Problem | None = None) -> None:
        """Store a result of ``problem`` (detached from it), ending any claim on ``key`` and
        posting the result to the runs waiting for it."""
        stored = replace(result) if problem is None else detach(result, problem)
        with self._lock:
            self._drop_factors(key)
            self._entries[key] = (row, stored)
            self._entries.move_to_end(key)
            self._hold(key, _owners(stored))
            while len(self._entries) > self.max_rows:
                old, _ = self._entries.popitem(last=False)
                self._drop_factors(old)
            # Oldest first. Only values are replaced below, never keys: no copy of the keys needed.
            for old in self._entries:
                if self._total_bytes <= self.max_factor_bytes or old == key:
                    break
                if self._held.get(old):
                    old_row, old_result = self._entries[old]
                    self._entries[old] = (old_row, replace(old_result, factors=None))
                    self._drop_factors(old)
            self._claims.pop(key, None)
            waiting = self._waiting.pop(key, {})
        for post in waiting.values():
            post(_Shared(key, row, stored))

    def _hold(self, key: tuple, owners: dict[int, np.ndarray]) -> None:
        self._held[key] = tuple(owners)
        for ident, array in owners.items():
            entry = self._arrays.setdefault(ident, [array, 0])
            if entry[1] == 0:
                self._total_bytes += array.nbytes
            entry[1] += 1

    def _drop_factors(self, key: tuple) -> None:
        for ident in self._held.pop(key, ()):
            entry = self._arrays[ident]
            entry[1] -= 1
            if entry[1] == 0:
                self._total_bytes -= entry[0].nbytes
                del self._arrays[ident]

    def claim(self, keys: Iterable[tuple], run: object, post: Callable[[object], None]) -> list[bool]:
        """For each key, whether ``run`` is now the one to compute it.

        False for a key already stored (``post`` gets it at once) and for a key another run
        claimed: ``run`` waits for it -- ``post`` gets the result when it is stored, or a
        release when that run gives the key up. A run never waits on itself: a key it
        claimed already is True again.
        """
        out, stored = [], []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                owner = self._claims.setdefault(key, run) if entry is None else None
                if entry is not None:
                    stored.append((key, entry))
                elif owner is not run:
                    self._waiting.setdefault(key, {})[run] = post
                out.append(entry is None and owner is run)
        for key, (row, result) in stored:
            post(_Shared(key, row, result))
        return out

    def release(self, run: object, keys: Iterable[tuple] | None = None) -> None:
        """Give up ``run``'s claims on ``keys`` (the runs waiting for them are told, and
        compute them themselves); without ``keys``, every claim and every wait of ``run``
        (it ended)."""
        with self._lock:
            mine = [key for key in (list(self._claims) if keys is None else keys) if self._claims.get(key) is run]
            for key in mine:
                del self._claims[key]
            told: dict[object, tuple[Callable[[object], None], list[tuple]]] = {}  # run -> its post, keys
            for key in mine:
                for waiter, post in self._waiting.pop(key, {}).items():
                    told.setdefault(waiter, (post, []))[1].append(key)
            if keys is None:
                for key in list(self._waiting):
                    self._waiting[key].pop(run, None)
                    if not self._waiting[key]:
                        del self._waiting[key]
        for post, released in told.values():
            post(_Released(tuple(released)))

    def clear(self) -> None:
        """Forget every stored result (claims and waits stay: runs in progress go on)."""
        with self._lock:
            self._entries.clear()
            self._held.clear()
            self._arrays.clear()
            self._total_bytes = 0


# --- What an executor posts (from its own threads) --------------------------------------


@dataclass(frozen=True)
class TaskResult:
    """A result of ``task``, with its row."""

    task: Task
    row: ResultRow
    result: WLRAResult


@dataclass(frozen=True)
class TaskProgress:
    """What the executor is doing now (shown as the progress message)."""

    message: str


@dataclass(frozen=True)
class TaskRaised:
    """``task`` raised; ``message`` is :func:`task_error`'s line. The sweep goes on."""

    task: Task
    message: str


Posted = TaskResult | TaskProgress | TaskRaised
Post = Callable[[Posted], None]


# --- What run() yields (in the caller's thread) -----------------------------------------


@dataclass(frozen=True)
class Update:
    """One step of :func:`run`: ``done`` of ``total`` results of the sweep are finished (cached
    ones included); ``message`` says what runs now. A bare Update is never yielded: see its
    subclasses."""

    done: int
    total: int
    message: str


@dataclass(frozen=True)
class ProgressEvent(Update):
    """Nothing new, at least every ``tick_seconds``: a UI can redraw and notice a Stop."""


@dataclass(frozen=True)
class ResultEvent(Update):
    """A new result, already in the cache."""

    row: ResultRow
    result: WLRAResult


@dataclass(frozen=True)
class TaskError(Update):
    """A task raised (one line in ``error``); the sweep goes on."""

    error: str


@dataclass(frozen=True)
class Fatal(Update):
    """The executor could not run at all (an unreachable scheduler, a lost worker); the sweep ends."""

    error: str


def result_row(result: WLRAResult, *, problem: str, method: Method, trial: int, seed: int,
               evaluation: Mapping[str, float] | None = None) -> ResultRow:
    """The row of one result (see :class:`wlra_core.tables.ResultRow`)."""
    return ResultRow(problem=problem, method=method.label, trial=trial, seed=seed, options=method.options,
                     evaluation=dict(evaluation or {}), **result.summary())


def run_task(problem: Problem, task: Task, seed: int, *, evaluation: Evaluation | None = None,
             should_stop: Callable[[], bool] | None = None,
             on_result: Callable[[ResultRow, WLRAResult], None] | None = None,
             progress: Callable[[float, str], None] | None = None,
             measure_in=None) -> list[tuple[ResultRow, WLRAResult]]:
    """The unit of work of every sweep, in-process or on a Dask worker.

    Runs ``task.method`` on ``problem`` at ``task.ranks`` with the trial's seed, adds the
    evaluation's columns, and hands each ``(row, result)`` to ``on_result`` as it is ready.
    With ``measure_in`` (a one-thread :class:`concurrent.futures.Executor`), an algorithm
    that shares one computation across ranks is only fitted here: measuring its ranks is
    submitted there, and this call returns at once with nothing (``on_result`` gets them).
    """
    done = []

    def finished(result: WLRAResult) -> None:
        columns = None
        if evaluation is not None:
            columns = ({column: float("nan") for column in evaluation.columns} if result.failed
                       else evaluation(problem, result))
        row = result_row(result, problem=task.problem, method=task.method, trial=task.trial, seed=seed,
                         evaluation=columns)
        done.append((row, result))
        if on_result is not None:
            on_result(row, result)

    options = task.method.options_dict
    if measure_in is not None:
        fitted = fit_ranks(task.method.algorithm, problem, ranks=task.ranks, seed=trial_seed(seed, task.trial),
                           should_stop=should_stop, **options)
        if fitted is not None:
            measure_in.submit(lambda: [finished(result) for result in fitted.measure()])
            return []
    solve_ranks(task.method.algorithm, problem, ranks=task.ranks, seed=trial_seed(seed, task.trial),
                should_stop=should_stop, on_result=finished, progress=progress, **options)
    return done


def task_error(task: Task, err: Exception) -> str:
    """One line for a task that raised: a ValueError is the user's message, anything else a bug."""
    what = f"{task.method.label} on {task.problem}" if task.problem else task.method.label
    detail = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
    return f"{what} (trial {task.trial + 1}): {detail}"


@dataclass
class InProcess:
    """Run tasks one after another in the calling (worker) thread, BLAS limited to ``threads``
    (None: the libraries' default).

    Fits run one at a time, so no two fits compete for the cores. Measuring the ranks of an
    algorithm that shares one SVD across them (their loss pass and evaluation, not part of
    any runtime) runs in a second thread alongside the next fit, so that fit's measured
    runtime can grow when the two share a core or memory bandwidth.
    """

    threads: int | None = SOLVER_BLAS_THREADS

    def __call__(self, sweep: Sweep, tasks: Iterable[Task], post: Post, stop: threading.Event) -> None:
        # Measuring the ranks of one SVD-sharing algorithm (a pass over A and W, not part of
        # its runtime) overlaps with fitting the next one: on two free cores, each gets one.
        with blas_threads(self.threads), ThreadPoolExecutor(1, thread_name_prefix="wlra-measure") as measurer:
            for task in tasks:
                if stop.is_set():
                    return
                problem = sweep.problems[task.problem]
                post(TaskProgress(f"running {task.method.label} (trial {task.trial + 1})"))
                try:
                    run_task(problem, task, sweep.seed, evaluation=sweep.evaluation, should_stop=stop.is_set,
                             on_result=lambda row, result, task=task: post(TaskResult(task, row, result)),
                             progress=lambda fraction, message: post(TaskProgress(message)),
                             measure_in=_Reporting(measurer, task, post, stop))
                except Stopped:
                    return
                except Exception as err:  # a solver bug must not kill the sweep or the page
                    post(TaskRaised(task, task_error(task, err)))


@dataclass
class _Reporting:
    """An executor that runs a task's measuring in ``executor`` and posts what it raises."""

    executor: ThreadPoolExecutor
    task: Task
    post: Post
    stop: threading.Event

    def submit(self, job: Callable[[], object]):
        def reported():
            if self.stop.is_set():
                return None
            try:
                return job()
            except Exception as err:  # reported like a task's error; the sweep goes on
                self.post(TaskRaised(self.task, task_error(self.task, err)))
                return None

        return self.executor.submit(reported)


@dataclass(frozen=True)
class _Ended:
    """The executor returned; ``error`` says why it could not run, if it could not."""

    error: str | None = None


def _work(executor, sweep: Sweep, tasks: Iterable[Task], post: Post, stop: threading.Event,
          end: Callable[[_Ended], None]) -> None:
    error = None
    try:
        executor(sweep, tasks, post, stop)
    except Stopped:
        pass
    except Exception as err:  # an unreachable scheduler or a lost worker must not kill the caller
        error = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
    end(_Ended(error))


def _claimed(sweep: Sweep, wanted: Mapping[tuple, tuple[str, Method, int, int]], cache: ResultCache, run: object,
             post: Callable[[object], None]) -> Iterator[Task]:
    """The tasks of the ``wanted`` results (key -> problem, method, trial, rank), each with the
    ranks ``run`` claims when the executor reaches it: ranks another run claimed meanwhile are
    left to it (``post`` hears of them, see :meth:`ResultCache.claim`)."""
    units: dict[tuple[str, Method, int], list[tuple[int, tuple]]] = {}
    for key, (problem, method, trial, rank) in wanted.items():
        units.setdefault((problem, method, trial), []).append((rank, key))
    for (problem, method, trial), ranks in units.items():
        claimed = cache.claim([key for _, key in ranks], run, post)
        mine = tuple(rank for (rank, _), ok in zip(ranks, claimed) if ok)
        if mine:
            yield Task(problem, method, mine, trial)


def run(sweep: Sweep, cache: ResultCache | None = None, executor=None, *, tick_seconds: float = 0.25,
        results: dict | None = None, wait_on_close: float = 0.0) -> Iterator[Update]:
    """Run the results of ``sweep`` missing from ``cache``, yielding each as it arrives.

    The executor (default :class:`InProcess`) works in a background thread; this generator
    stays in the caller's thread and yields a :class:`ProgressEvent` at least every
    ``tick_seconds`` so a UI can redraw and notice a Stop. Each new result is stored in
    ``cache`` before its :class:`ResultEvent` is yielded; a task that raised is a
    :class:`TaskError`, an executor that could not run a :class:`Fatal` (the last event).
    Closing the generator (a Stop, or the caller going away) asks the executor to stop at
    its next check, and waits up to ``wait_on_close`` seconds for it to have stopped (the
    CLI waits, so that a Dask cluster it started shuts down before the process exits). A run
    that got every result returns only once its executor's thread has ended.

    A result another run sharing ``cache`` is computing is not computed again: this run
    waits for it and yields it when it arrives; if that run stops or fails, this one
    computes it after its own tasks.

    ``results``, when given, is a dict that receives every ``(row, result)`` of the sweep
    by key as the run has it -- those in ``cache`` at the start, then each new one -- so the
    caller keeps this run's results whatever happens to the cache meanwhile (another session
    clearing it); ``sweep.rows(results)`` lists them in sweep order.
    """
    cache = ResultCache() if cache is None else cache
    results = {} if results is None else results
    wanted: dict[tuple, tuple[str, Method, int, int]] = {}  # not yet delivered: key -> problem, method, trial, rank
    for problem, method, trial in sweep.units():
        for rank in sweep.ranks:
            key = sweep.key(problem, method, rank, trial)
            entry = cache.get(key)
            if entry is None:
                wanted[key] = (problem, method, trial, rank)
            else:
                results[key] = sweep._labelled(entry, problem, method)
    done = sweep.size - len(wanted)
    if not wanted:
        return
    events: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    me = object()  # this run, in the cache's claims

    def post(message: Posted) -> None:
        # In the executor's threads: a result is stored (and handed to the runs waiting for
        # it) at once, not when this generator gets to it.
        match message:
            case TaskResult(task=task, row=row, result=result):
                cache.put(sweep.key(task.problem, task.method, row.rank, task.trial), row, result,
                          sweep.problems[task.problem])
            case TaskRaised(task=task):
                cache.release(me, [sweep.key(task.problem, task.method, k, task.trial) for k in task.ranks])
        events.put(message)

    def start(keys: list[tuple]) -> None:
        """A round: the executor runs the tasks of ``keys`` in a thread, claiming them as it goes."""
        def end(ended: _Ended) -> None:
            cache.release(me, keys)  # what it claimed and did not finish (a stop)
            events.put(ended)

        tasks = _claimed(sweep, {key: wanted[key] for key in keys}, cache, me, events.put)
        workers.append(threading.Thread(target=_work, args=(executor or InProcess(), sweep, tasks, post, stop, end),
                                        name="wlra-sweep", daemon=True))
        workers[-1].start()

    workers: list[threading.Thread] = []
    complete = False
    message = "starting"
    released: dict[tuple, None] = {}  # keys another run gave up, to compute after this round
    failed: set[tuple[str, Method, int]] = set()  # (problem, method, trial) of the tasks that raised here
    last_tick = time.perf_counter()
    start(list(wanted))
    running = True
    try:
        while True:
            try:
                event = events.get(timeout=tick_seconds)
            except queue.Empty:
                event = None
            match event:
                case _Ended(error=error):
                    if error is not None:
                        yield Fatal(done, sweep.size, message, error)
                        return
                    running = False
                case TaskResult(task=task, row=row, result=result):
                    key = sweep.key(task.problem, task.method, row.rank, task.trial)
                    if wanted.pop(key, None) is not None:
                        results[key] = (row, result)
                        done += 1
                        message = f"{task.method.label}: rank {row.rank} done (trial {task.trial + 1})"
                        last_tick = time.perf_counter()
                        yield ResultEvent(done, sweep.size, message, row, result)
                case _Shared(key=key, row=row, result=result) if key in wanted:
                    problem, method, trial, rank = wanted.pop(key)
                    results[key] = row, result = sweep._labelled((row, result), problem, method)
                    done += 1
                    message = f"{method.label}: rank {rank} done by another run (trial {trial + 1})"
                    last_tick = time.perf_counter()
                    yield ResultEvent(done, sweep.size, message, row, result)
                case _Released(keys=keys):
                    for key in keys:
                        if key not in wanted:
                            continue
                        if wanted[key][:3] in failed:
                            del wanted[key]
                        else:
                            released[key] = None
                case TaskRaised(task=task, message=error):
                    # Not retried: the error is the result of the task's ranks, and of the
                    # ranks of its unit this run would compute later (given up by another run).
                    unit = (task.problem, task.method, task.trial)
                    failed.add(unit)
                    for rank in task.ranks:
                        wanted.pop(sweep.key(task.problem, task.method, rank, task.trial), None)
                    for key in [key for key in released if key in wanted and wanted[key][:3] == unit]:
                        del wanted[key]
                    yield TaskError(done, sweep.size, message, error)
                case TaskProgress(message=text):
                    message = text
            if not wanted:
                complete = True
                return
            if not running:
                if released:
                    start([key for key in released if key in wanted])
                    running = True
                    released.clear()
                else:
                    message = f"waiting for {len(wanted)} results another run is computing"
            now = time.perf_counter()
            if now - last_tick >= tick_seconds:
                last_tick = now
                yield ProgressEvent(done, sweep.size, message)
    finally:
        stop.set()
        cache.release(me)
        deadline = time.monotonic() + wait_on_close
        for worker in workers:
            # A complete run's executor has nothing left but to return: waiting for it means
            # nothing of the sweep (its problems, the BLAS limit it holds) outlives the call.
            worker.join(None if complete else max(0.0, deadline - time.monotonic()))


def run_all(sweep: Sweep, cache: ResultCache | None = None, executor=None, *,
            on_update: Callable[[Update], None] | None = None,
            wait_on_close: float = 0.0) -> tuple[list[ResultRow], list[str]]:
    """Run ``sweep`` to the end; return its rows (sweep order) and the error messages
    (of :class:`TaskError` and :class:`Fatal` events). ``wait_on_close``: see :func:`run`
    (an exception in ``on_update``, or a Ctrl-C, closes the run)."""
    results: dict = {}
    errors = []
    for update in run(sweep, cache, executor, results=results, wait_on_close=wait_on_close):
        if isinstance(update, (TaskError, Fatal)):
            errors.append(update.error)
        if on_update is not None:
            on_update(update)
    return sweep.rows(results), errors
