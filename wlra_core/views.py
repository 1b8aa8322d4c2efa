"""The numbers the dashboard pages draw, prepared without Streamlit.

The pages in ``pages/`` hold widgets and plots only; everything they display is computed
here (or elsewhere in :mod:`wlra_core`) so that it can be tested without a browser:

* :func:`fingerprint` -- a content hash of a problem, the key of every cache;
* :func:`heatmap_view` -- a matrix block-aggregated to at most ``max_cells`` rows and
  columns, so a 67500 x 1024 kernel never travels to the browser whole;
* :func:`spectrum_view` and :func:`pixel_importance` -- W's singular spectrum with its
  cumulative Frobenius mass, and W's row sums reshaped to the input image;
* :class:`ComparePlan`, :func:`run_compare` -- the Compare page's sweep, streamed result
  by result from a worker thread and cached per (problem, algorithm, options, rank, seed);
* :func:`curves`, :func:`rank_table`, :func:`rows_to_csv` -- chart series, the paper's
  Tables 3-5 (mean +- std over trials) and the CSV export;
* :func:`refine_runs` -- the paper's Figure 4 (EM from three starting points);
* :func:`teaching_example` -- the landing page's rank-1 line fit with weighted points.
"""
from __future__ import annotations

import hashlib
import json
import math
import queue
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .algorithms import Option, get_algorithm
from .api import solve, solve_ranks
from . import bench
from .bench import ROW_FIELDS, result_row, summarize, trial_seed
from .linalg import spectrum, truncated_svd
from .problem import Problem, validate_rank
from .result import Stopped, WLRAResult

__all__ = [
    "DISPLAY_CELLS",
    "SOLVER_BLAS_THREADS",
    "blas_threads",
    "fingerprint",
    "HeatmapView",
    "heatmap_view",
    "SpectrumView",
    "spectrum_view",
    "pixel_importance",
    "ComparePlan",
    "CompareUpdate",
    "ResultCache",
    "option_choices",
    "parse_option_text",
    "make_plan",
    "cached_rows",
    "run_compare",
    "curves",
    "rank_table",
    "CSV_FIELDS",
    "rows_to_csv",
    "REFINE_STARTS",
    "refine_runs",
    "relative_history",
    "TeachingExample",
    "teaching_example",
]

# Largest number of heatmap rows (and columns) sent to the browser.
DISPLAY_CELLS = 200
# BLAS threads while the dashboard solves. Its matrices are small (784 x 128 SVDs gain
# nothing from a second thread), and OpenBLAS's spinning threads collapse when another
# process shares the cores: measured on the 2-core machine with one competing process,
# em over ranks 1-20 on the shipped problem took 3.5 s with 1 thread and > 300 s with 2.
SOLVER_BLAS_THREADS = 1


@contextmanager
def blas_threads(limit: int | None = SOLVER_BLAS_THREADS):
    """Limit BLAS (OpenBLAS/MKL) threads for the enclosed solves; None leaves them alone.

    The limit is process-wide while active (that is how BLAS libraries work).
    """
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def fingerprint(problem: Problem) -> str:
    """Hex digest of ``A`` and ``W`` (shape and bytes): equal problems share cached results."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(problem.shape).encode())
    digest.update(memoryview(problem.A))
    digest.update(memoryview(problem.W))
    return digest.hexdigest()


# --- Weights page ----------------------------------------------------------------------


@dataclass
class HeatmapView:
    """A matrix reduced for display.

    Attributes
    ----------
    z : ndarray of shape (r, c), float32
        Block means (of the values, or of their magnitudes in log10 when ``log``);
        NaN marks blocks whose magnitude is exactly zero on a log scale.
    rows, cols : ndarray of int
        First row / column index of each block (axis labels in matrix coordinates).
    block : tuple of int
        Rows and columns per block (1 x 1 when nothing was aggregated).
    log : bool
    signed : bool
        True when ``z`` holds signed values (draw with a diverging colour scale).
    color_range : tuple of float
        Colour limits that ignore outliers: the 2nd to 100th percentile on a log scale
        (a few 1e-20 weights would otherwise wash out every other decade), +- the 99th
        percentile of magnitudes for signed values, else the 0.5th to 99.5th percentile.
    """

    z: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    block: tuple[int, int]
    log: bool
    signed: bool
    color_range: tuple[float, float]


def _block_starts(length: int, max_blocks: int) -> np.ndarray:
    size = max(1, math.ceil(length / max_blocks))
    return np.arange(0, length, size)


def heatmap_view(M: np.ndarray, *, log: bool = False, max_cells: int = DISPLAY_CELLS) -> HeatmapView:
    """Block means of ``M`` on a grid of at most ``max_cells`` x ``max_cells`` blocks.

    With ``log=True`` the blocks average magnitudes ``|M|`` and the result is their
    log10 (zero blocks become NaN: plotted as gaps, not as -inf). Blocks at the end of
    an axis may be smaller; each is averaged over its own size.
    """
    n, d = M.shape
    rows, cols = _block_starts(n, max_cells), _block_starts(d, max_cells)
    values = np.abs(M) if log else M
    sums = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, n)), np.diff(np.append(cols, d)))
    z = sums / counts
    if log:
        z = np.log10(z, out=np.full_like(z, np.nan), where=z > 0)
    signed = not log and bool((M < 0).any())
    block = (int(rows[1] - rows[0]) if rows.size > 1 else n, int(cols[1] - cols[0]) if cols.size > 1 else d)
    return HeatmapView(z.astype(np.float32), rows, cols, block, log, signed, _color_range(z, log, signed))


def _color_range(z: np.ndarray, log: bool, signed: bool) -> tuple[float, float]:
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return (0.0, 1.0)
    if log:
        low, high = np.percentile(finite, [2, 100])
    elif signed:
        high = float(np.percentile(np.abs(finite), 99))
        low = -high
    else:
        low, high = np.percentile(finite, [0.5, 99.5])
    if not high > low:  # constant matrix
        low, high = low - 0.5, high + 0.5
    return float(low), float(high)


@dataclass
class SpectrumView:
    """W's singular values and the fraction of ``||W||_F^2`` in the first ``i`` of them."""

    singular_values: np.ndarray
    cumulative_mass: np.ndarray

    @property
    def first_mass(self) -> float:
        """``s_1^2 / ||W||_F^2`` (the paper's Table 2)."""
        return float(self.cumulative_mass[0])


def spectrum_view(W: np.ndarray) -> SpectrumView:
    """Singular spectrum of ``W`` and its cumulative Frobenius mass."""
    s = spectrum(W)
    energy = np.cumsum(s**2)
    return SpectrumView(s, energy / energy[-1])


def pixel_importance(problem: Problem) -> np.ndarray | None:
    """Row sums of W reshaped to the input image (channels summed), or None.

    For a problem made from an MLP the rows of A are input pixels, so this image shows
    which pixels the Fisher information says matter. None when the problem has no
    ``image_shape`` or its size does not match the number of rows.
    """
    shape = problem.image_shape
    if shape is None or int(np.prod(shape)) != problem.shape[0]:
        return None
    image = problem.W.sum(axis=1).reshape(shape)
    return image.sum(axis=2) if image.ndim == 3 else image


# --- Compare page ----------------------------------------------------------------------

CSV_FIELDS = ROW_FIELDS + ("seed", "options")


@dataclass(frozen=True)
class ComparePlan:
    """Everything that determines a Compare sweep's results (and so its cache keys).

    Build it with :func:`make_plan`, which validates the inputs and resolves options.
    """

    fingerprint: str
    algorithms: tuple[str, ...]
    ranks: tuple[int, ...]
    trials: int
    seed: int
    options: tuple[tuple[str, str], ...]  # (algorithm, JSON of its resolved options)

    def options_for(self, name: str) -> dict:
        return json.loads(dict(self.options)[name])

    @property
    def size(self) -> int:
        return len(self.algorithms) * len(self.ranks) * self.trials

    def key(self, name: str, rank: int, trial: int) -> tuple:
        """Cache key of one result: problem, algorithm, its options, rank and seed."""
        return (self.fingerprint, name, dict(self.options)[name], rank, trial_seed(self.seed, trial))


def _accepts(option: Option, value) -> bool:
    try:
        return bool(option.check(value))
    except (TypeError, ValueError):
        return False


def option_choices(option: Option) -> list[str] | None:
    """The valid values of a string option, for a select box; None if it has no short list.

    Candidates are the default and every quoted word of the option's help text (which
    lists the choices, e.g. ``'"auto", "exact" or "randomized"'``); each is kept only
    if the option's own check accepts it.
    """
    if not isinstance(option.default, str):
        return None
    quoted = re.findall(r"[\"']([A-Za-z0-9_]+)[\"']", option.help)
    choices = [c for c in dict.fromkeys([option.default, *quoted]) if _accepts(option, c)]
    return choices if len(choices) > 1 else None


def parse_option_text(text: str, default=None):
    """A typed-in parameter value: empty means ``default``, JSON numbers/booleans/null
    are parsed, anything else is taken as a string. Validity is the callee's to judge."""
    text = text.strip()
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def make_plan(problem: Problem, problem_fingerprint: str, algorithms, ranks, trials: int = 1,
              seed: int = 0, options: dict[str, dict] | None = None) -> ComparePlan:
    """Validate the Compare settings and freeze them into a :class:`ComparePlan`.

    Raises
    ------
    ValueError
        No algorithm or rank, unknown algorithm, rank outside ``1..min(n, d)``,
        ``trials < 1``, or an invalid option (the algorithm's own message).
    """
    algorithms = tuple(dict.fromkeys(algorithms))
    if not algorithms:
        raise ValueError("choose at least one algorithm")
    ranks = tuple(sorted({validate_rank(int(k), problem.shape) for k in ranks}))
    if not ranks:
        raise ValueError("choose at least one rank")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    options = options or {}
    resolved = tuple(
        (name, json.dumps(get_algorithm(name).resolve_options(options.get(name, {})), sort_keys=True))
        for name in algorithms
    )
    return ComparePlan(problem_fingerprint, algorithms, ranks, int(trials), int(seed), resolved)


class ResultCache:
    """Result rows by :meth:`ComparePlan.key`, oldest evicted beyond ``max_rows``.

    Rows are small dicts (no matrices), so even 100 000 of them fit in a few tens of MB.
    """

    def __init__(self, max_rows: int = 100_000):
        self.max_rows = max_rows
        self._rows: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: tuple) -> dict | None:
        return self._rows.get(key)

    def put(self, key: tuple, row: dict) -> None:
        with self._lock:
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def cached_rows(plan: ComparePlan, cache: ResultCache) -> list[dict]:
    """The rows of ``plan`` already in ``cache``, in plan order."""
    rows = []
    for name in plan.algorithms:
        for trial in range(plan.trials):
            for rank in plan.ranks:
                row = cache.get(plan.key(name, rank, trial))
                if row is not None:
                    rows.append(row)
    return rows


@dataclass
class CompareUpdate:
    """One step of :func:`run_compare`.

    ``row`` is a new result row (None for a progress tick); ``done`` counts finished
    results of the plan, cached ones included; ``error`` reports an algorithm that
    raised instead of returning (the sweep goes on with the next one).
    """

    done: int
    total: int
    message: str
    row: dict | None = None
    error: str | None = None


def _pending_tasks(plan: ComparePlan, cache: ResultCache) -> list[bench.SweepTask]:
    tasks = []
    for name in plan.algorithms:
        for trial in range(plan.trials):
            missing = tuple(k for k in plan.ranks if cache.get(plan.key(name, k, trial)) is None)
            if missing:
                tasks.append(bench.SweepTask(name, trial, missing, plan.options_for(name)))
    return tasks


def _task_failed(events: queue.SimpleQueue, task: bench.SweepTask, message: str) -> None:
    events.put(("error", f"{task.name} (trial {task.trial}) raised {message}"))


def _work(A, W, plan: ComparePlan, tasks: list[bench.SweepTask], events: queue.SimpleQueue,
          stop: threading.Event, threads: int | None):
    """Worker thread: run each task with solve_ranks and post its rows as they come."""
    with blas_threads(threads):
        for task in tasks:
            if stop.is_set():
                break
            try:
                solve_ranks(
                    task.name, A, W, task.ranks, seed=trial_seed(plan.seed, task.trial), keep_approx=False,
                    should_stop=stop.is_set,
                    on_result=lambda result, task=task: events.put(("row", task, result_row(result, task.trial))),
                    progress=lambda fraction, message: events.put(("progress", message)),
                    **task.options,
                )
            except Stopped:
                break
            except Exception as err:  # a solver bug must not kill the sweep or the page
                _task_failed(events, task, f"{type(err).__name__}: {err}")
    events.put(("finished", None))


def _work_on_cluster(A, W, plan: ComparePlan, tasks: list[bench.SweepTask], events: queue.SimpleQueue,
                     stop: threading.Event, scheduler: str):
    """Worker thread: the same tasks as Dask tasks on ``scheduler``; rows arrive per task."""
    from .distributed import run_tasks

    def rows_done(task, rows):
        for row in rows:
            events.put(("row", task, row))

    events.put(("progress", f"starting the Dask cluster ({scheduler})" if scheduler == "local"
                else f"connecting to the Dask scheduler at {scheduler}"))
    try:
        run_tasks(A, W, tasks, seed=plan.seed, scheduler=scheduler, on_rows=rows_done,
                  on_error=lambda task, message: _task_failed(events, task, message),
                  should_stop=stop.is_set)
    except Stopped:
        pass
    except Exception as err:  # an unreachable scheduler or a lost worker must not kill the page
        events.put(("error", f"Dask: {err}" if isinstance(err, ValueError) else f"Dask: {type(err).__name__}: {err}"))
    events.put(("finished", None))


def _row(plan: ComparePlan, task: bench.SweepTask, row: dict) -> dict:
    row = dict(row)
    row["seed"] = trial_seed(plan.seed, task.trial)
    row["options"] = dict(plan.options)[task.name]
    return row


def run_compare(problem: Problem, plan: ComparePlan, cache: ResultCache, *, tick_seconds: float = 0.25,
                threads: int | None = SOLVER_BLAS_THREADS, scheduler: str | None = None) -> Iterator[CompareUpdate]:
    """Run the results of ``plan`` missing from ``cache``, yielding each as it arrives.

    In-process (``scheduler=None``) the solvers run in one worker thread, one at a time
    (so measured runtimes are not distorted by each other), each rank's result posted as
    it finishes; ``threads`` limits BLAS threads there (see :data:`SOLVER_BLAS_THREADS`).
    With ``scheduler`` (``"local"`` or an address, see :func:`wlra_core.distributed.connect`)
    each (algorithm, trial) is a Dask task and its ranks arrive together.
    This generator stays in the caller's thread and yields a progress tick at least every
    ``tick_seconds`` so a UI can redraw and notice a Stop. Each new row is stored in
    ``cache`` before it is yielded. Closing the generator (a Stop, or the caller going
    away) asks the worker to stop at its next check.
    """
    tasks = _pending_tasks(plan, cache)
    done = plan.size - sum(len(t.ranks) for t in tasks)
    if not tasks:
        return
    events: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    if scheduler is None:
        target, extra = _work, threads
    else:
        target, extra = _work_on_cluster, scheduler
    worker = threading.Thread(target=target, args=(problem.A, problem.W, plan, tasks, events, stop, extra),
                              name="wlra-compare", daemon=True)
    message = f"running {tasks[0].name}"
    last_tick = time.perf_counter()
    worker.start()
    try:
        while True:
            try:
                kind, *payload = events.get(timeout=tick_seconds)
            except queue.Empty:
                kind, payload = "tick", []
            if kind == "finished":
                return
            if kind == "row":
                task, row = payload
                row = _row(plan, task, row)
                cache.put(plan.key(task.name, row["rank"], task.trial), row)
                done += 1
                message = f"{task.name}: rank {row['rank']} done (trial {task.trial + 1})"
                last_tick = time.perf_counter()
                yield CompareUpdate(done, plan.size, message, row=row)
            elif kind == "error":
                yield CompareUpdate(done, plan.size, message, error=payload[0])
            else:
                if kind == "progress":
                    message = payload[0]
                now = time.perf_counter()
                if now - last_tick >= tick_seconds:
                    last_tick = now
                    yield CompareUpdate(done, plan.size, message)
    finally:
        stop.set()


def curves(rows: list[dict], value: str = "relative_loss") -> dict[str, dict[str, np.ndarray]]:
    """Chart series per algorithm: mean and std over trials of ``value`` at each rank.

    ``value`` is ``"loss"``, ``"relative_loss"`` or ``"seconds"``. Each series has arrays
    ``rank``, ``n_params``, ``mean``, ``std`` (ranks where every trial failed are left
    out) and ``failed_ranks``. Means and stds are :func:`wlra_core.bench.summarize`'s.
    """
    ranks = sorted({r["rank"] for r in rows})
    table = summarize(rows, ranks)
    series: dict[str, dict[str, np.ndarray]] = {}
    for name in dict.fromkeys(r["algorithm"] for r in rows):
        entries = [e for e in table if e["algorithm"] == name]
        ok = [e for e in entries if e["trials"] > 0]
        series[name] = {
            "rank": np.array([e["rank"] for e in ok], dtype=int),
            "n_params": np.array([e["n_params"] for e in ok], dtype=int),
            "mean": np.array([e[f"{value}_mean"] for e in ok], dtype=float),
            "std": np.array([e[f"{value}_std"] for e in ok], dtype=float),
            "failed_ranks": np.array([e["rank"] for e in entries if e["failed"]], dtype=int),
        }
    return series


def _mean_std(mean: float, std: float) -> str:
    return "failed" if math.isnan(mean) else f"{mean:.4g} ± {std:.2g}"


def rank_table(rows: list[dict], ranks=(5, 10, 20), value: str = "relative_loss") -> list[dict]:
    """The paper's Tables 3-5: one row per algorithm, a "mean ± std" column per rank.

    Only ranks present in ``rows`` appear. A cell reads ``failed`` when every trial
    failed at that rank, and notes ``(k failed)`` when some did.
    """
    present = [k for k in ranks if any(r["rank"] == k for r in rows)]
    table = summarize(rows, present)
    out = []
    for name in dict.fromkeys(r["algorithm"] for r in rows):
        line = {"algorithm": name}
        for e in (e for e in table if e["algorithm"] == name):
            cell = _mean_std(e[f"{value}_mean"], e[f"{value}_std"])
            if e["failed"] and e["trials"]:
                cell += f" ({e['failed']} failed)"
            line[f"rank {e['rank']}"] = cell
        out.append(line)
    return out


def rows_to_csv(rows: list[dict]) -> str:
    """Every result row as CSV text (columns :data:`CSV_FIELDS`)."""
    return bench.rows_to_csv(rows, CSV_FIELDS)


# --- Refine page (the paper's Figure 4) ------------------------------------------------

# Label -> (algorithm, options). The EM iterations count is added by refine_runs.
REFINE_STARTS = {
    "EM from svd_w_practical (svd_w_em)": ("svd_w_em", {}),
    "EM from zero": ("em", {"init": "zero"}),
    "EM from svd": ("em", {"init": "svd"}),
}


def refine_runs(A: np.ndarray, W: np.ndarray, rank: int, n_iter: int, *, seed: int = 0,
                threads: int | None = SOLVER_BLAS_THREADS) -> dict[str, WLRAResult]:
    """Run EM for ``n_iter`` iterations from each start in :data:`REFINE_STARTS`.

    Each result's ``history`` holds ``(iteration, loss, elapsed)``; elapsed time includes
    computing the start (so svd_w_em's curve begins after its SVD, as in Figure 4).
    """
    with blas_threads(threads):
        return {
            label: solve(name, A, W, rank, seed=seed, keep_approx=False, n_iter=n_iter, **options)
            for label, (name, options) in REFINE_STARTS.items()
        }


def relative_history(result: WLRAResult) -> dict[str, np.ndarray]:
    """A result's loss history as arrays ``iteration``, ``seconds``, ``relative_loss``.

    The relative loss divides by ``||W o A||_F^2``, the same reference as
    ``result.relative_loss`` (whose ratio to ``result.loss`` supplies it).
    """
    history = np.array(result.history, dtype=float).reshape(-1, 3)
    scale = result.relative_loss / result.loss if result.loss > 0 else 0.0
    return {
        "iteration": history[:, 0].astype(int),
        "seconds": history[:, 2],
        "relative_loss": history[:, 1] * scale,
    }


# --- Home page -------------------------------------------------------------------------


@dataclass
class TeachingExample:
    """Points in the plane (rows of A), their weights and two rank-1 fits.

    ``W`` gives each point (row) one weight on both coordinates, so W has rank 1 and
    ``svd_w_practical`` returns the exact weighted optimum.
    """

    A: np.ndarray  # (n, 2) points
    W: np.ndarray  # (n, 2) weights, equal across each row
    heavy: np.ndarray  # bool (n,): the points whose weight the slider sets
    svd: WLRAResult
    weighted: WLRAResult

    @staticmethod
    def direction(result: WLRAResult) -> np.ndarray:
        """Unit direction of a rank-1 fit's line through the origin."""
        return truncated_svd(result.approx, 1, method="exact")[2][0]


def teaching_example(heavy_weight: float, *, n_points: int = 14, n_heavy: int = 3, seed: int = 0) -> TeachingExample:
    """A cloud of points along one direction plus ``n_heavy`` points off it.

    The off-direction points get weight ``heavy_weight``, all others 1. The unweighted
    rank-1 SVD ignores the weights; the weighted rank-1 solution turns toward the heavy
    points as their weight grows.
    """
    if heavy_weight <= 0:
        raise ValueError(f"heavy_weight must be > 0, got {heavy_weight}")
    rng = np.random.default_rng(seed)
    t = rng.uniform(-3, 3, n_points - n_heavy)
    main = np.column_stack([t, 0.35 * t]) + 0.25 * rng.standard_normal((t.size, 2))
    angle = np.deg2rad(70)
    s = rng.uniform(1.2, 2.2, n_heavy) * rng.choice([-1, 1], n_heavy)
    off = np.column_stack([s * np.cos(angle), s * np.sin(angle)]) + 0.1 * rng.standard_normal((n_heavy, 2))
    A = np.vstack([main, off])
    heavy = np.arange(n_points) >= n_points - n_heavy
    W = np.where(heavy, float(heavy_weight), 1.0)[:, None] * np.ones((1, 2))
    return TeachingExample(A, W, heavy, solve("svd", A, W, 1), solve("svd_w_practical", A, W, 1))

