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
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Mapping, Protocol

import numpy as np

from .algorithms import get_algorithm
from .api import fit_ranks, solve_ranks
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


@contextmanager
def blas_threads(limit: int | None = SOLVER_BLAS_THREADS):
    """Limit BLAS (OpenBLAS/MKL) threads for the enclosed solves; None leaves them alone.

    The limit is process-wide while active (that is how BLAS libraries work). It needs
    threadpoolctl (installed with the app; without it nothing is limited).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a bare `pip install .`: numpy and scipy only
        threadpool_limits = None
    if limit is None or threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


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

    def pending(self, cache: "ResultCache") -> list[Task]:
        """The tasks whose results ``cache`` lacks (only their missing ranks)."""
        tasks = []
        for problem, method, trial in self.units():
            missing = tuple(k for k in self.ranks if cache.get(self.key(problem, method, k, trial)) is None)
            if missing:
                tasks.append(Task(problem, method, missing, trial))
        return tasks

    def entries(self, cache: "ResultCache") -> list[tuple[ResultRow, WLRAResult]]:
        """``(row, result)`` of every result of this sweep in ``cache``, in sweep order, each
        row under this sweep's problem and method labels."""
        out = []
        for problem, method, trial in self.units():
            for rank in self.ranks:
                entry = cache.get(self.key(problem, method, rank, trial))
                if entry is not None:
                    row, result = entry
                    out.append((replace(row, problem=problem, method=method.label), result))
        return out

    def rows(self, cache: "ResultCache") -> list[ResultRow]:
        return [row for row, _ in self.entries(cache)]


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


class ResultCache:
    """Results by :meth:`Sweep.key`: the row and the result (with its factors).

    Rows are small and kept for ``max_rows`` results (oldest evicted). Factors are kept
    while their arrays, not counting arrays the problem owns (svd_w's divisor is W
    itself), total at most ``max_factor_bytes``; beyond that the oldest results lose
    their factors but keep their rows.
    """

    def __init__(self, max_rows: int = 100_000, max_factor_bytes: int = 2**30):
        self.max_rows = max_rows
        self.max_factor_bytes = max_factor_bytes
        self._entries: OrderedDict[tuple, tuple[ResultRow, WLRAResult]] = OrderedDict()
        self._bytes: dict[tuple, int] = {}
        self._total_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> tuple[ResultRow, WLRAResult] | None:
        return self._entries.get(key)

    def put(self, key: tuple, row: ResultRow, result: WLRAResult, problem: Problem | None = None) -> None:
        owned = {id(problem.A), id(problem.W)} if problem is not None else set()
        size = 0 if result.factors is None else sum(
            a.nbytes for a in result.factors.arrays.values() if id(a) not in owned)
        with self._lock:
            self._total_bytes += size - self._bytes.get(key, 0)
            self._entries[key] = (row, result)
            self._entries.move_to_end(key)
            self._bytes[key] = size
            while len(self._entries) > self.max_rows:
                old, _ = self._entries.popitem(last=False)
                self._total_bytes -= self._bytes.pop(old, 0)
            if self._total_bytes <= self.max_factor_bytes:
                return
            # Oldest first. Only values are replaced below, never keys: no copy of the keys needed.
            for old in self._entries:
                if self._total_bytes <= self.max_factor_bytes or old == key:
                    break
                if self._bytes[old]:
                    old_row, old_result = self._entries[old]
                    self._entries[old] = (old_row, replace(old_result, factors=None))
                    self._total_bytes -= self._bytes[old]
                    self._bytes[old] = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes.clear()
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

    def __call__(self, sweep: Sweep, tasks: list[Task], post: Post, stop: threading.Event) -> None:
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


def _work(executor, sweep: Sweep, tasks: list[Task], events: queue.SimpleQueue, stop: threading.Event) -> None:
    error = None
    try:
        executor(sweep, tasks, events.put, stop)
    except Stopped:
        pass
    except Exception as err:  # an unreachable scheduler or a lost worker must not kill the caller
        error = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
    events.put(_Ended(error))


def run(sweep: Sweep, cache: ResultCache | None = None, executor=None, *,
        tick_seconds: float = 0.25) -> Iterator[Update]:
    """Run the results of ``sweep`` missing from ``cache``, yielding each as it arrives.

    The executor (default :class:`InProcess`) works in a background thread; this generator
    stays in the caller's thread and yields a :class:`ProgressEvent` at least every
    ``tick_seconds`` so a UI can redraw and notice a Stop. Each new result is stored in
    ``cache`` before its :class:`ResultEvent` is yielded; a task that raised is a
    :class:`TaskError`, an executor that could not run a :class:`Fatal` (the last event).
    Closing the generator (a Stop, or the caller going away) asks the executor to stop at
    its next check.
    """
    cache = ResultCache() if cache is None else cache
    tasks = sweep.pending(cache)
    done = sweep.size - sum(len(t.ranks) for t in tasks)
    if not tasks:
        return
    events: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    worker = threading.Thread(target=_work, args=(executor or InProcess(), sweep, tasks, events, stop),
                              name="wlra-sweep", daemon=True)
    message = f"running {tasks[0].method.label}"
    last_tick = time.perf_counter()
    worker.start()
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
                case TaskResult(task=task, row=row, result=result):
                    cache.put(sweep.key(task.problem, task.method, row.rank, task.trial), row, result,
                              sweep.problems[task.problem])
                    done += 1
                    message = f"{task.method.label}: rank {row.rank} done (trial {task.trial + 1})"
                    last_tick = time.perf_counter()
                    yield ResultEvent(done, sweep.size, message, row, result)
                    continue
                case TaskRaised(message=error):
                    yield TaskError(done, sweep.size, message, error)
                    continue
                case TaskProgress(message=text):
                    message = text
            now = time.perf_counter()
            if now - last_tick >= tick_seconds:
                last_tick = now
                yield ProgressEvent(done, sweep.size, message)
    finally:
        stop.set()


def run_all(sweep: Sweep, cache: ResultCache | None = None, executor=None, *,
            on_update: Callable[[Update], None] | None = None) -> tuple[list[ResultRow], list[str]]:
    """Run ``sweep`` to the end; return its rows (sweep order) and the error messages
    (of :class:`TaskError` and :class:`Fatal` events)."""
    cache = ResultCache() if cache is None else cache
    errors = []
    for update in run(sweep, cache, executor):
        if isinstance(update, (TaskError, Fatal)):
            errors.append(update.error)
        if on_update is not None:
            on_update(update)
    return sweep.rows(cache), errors
