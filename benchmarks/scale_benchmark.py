"""Scale figures: the paper's largest kernel size (67500 x 1024) on one machine and on Dask.

Run:  .venv/bin/python benchmarks/scale_benchmark.py [--n 67500] [--d 1024] [--rank 20]
      (smaller: --n 9216 --d 1024, the paper's smallnorb size; --skip em,algorithms,... to omit parts)

Prints, from one run, and writes to benchmarks/results/scale.txt (after each part, atomically):

0. The one-shot methods (svd, svd_w, fwsvd, svd_w_practical, css) against their floors: the
   least arithmetic each must do, with scikit-learn's randomized_svd(M, rank, n_iter=2) as the
   SVD (FLOORS below says what each floor is; svd also gets a second floor, SECOND_FLOORS, that
   adds the pass over A and W its weighted loss needs, and both ratios). A method's time is the whole
   ``wlra_core.solve`` call on the raw arrays (validation, scaling, fit, and the loss and
   largest entry of the result); floors and methods alternate, best of 3 each. Also: loss
   over the exact one (the same method with a full LAPACK SVD; for svd_w and css the exact
   svd_w, whose loss is the tail mass of W o A beyond rank 20 where W > 0) and peak memory.
   Target: each method <= 1.3 x its floor; svd_w at <= 1.01 x the exact tail loss.
   Run alone (--skip svd_w,em,sweep,dask_svd_w,algorithms --out benchmarks/results/scale_one_shot.txt)
   it takes a few minutes; /proc/loadavg is printed before and after the table.
1. svd_w at rank 20 vs a full LAPACK SVD (gesdd) of W o A: time ratio (target <= 1/5) and
   relative loss vs the exact svd_w (target within 1%); peak memory of each.
2. em (wlra_core, truncated SVDs) vs a plain reference EM with full SVDs written below:
   time per iteration (target >= 3x faster) and loss after 25 iterations (target equal).
3. A sweep (several Fisher-like "layers" x algorithms x ranks 5/10/20 x trials) on a 2-worker
   LocalCluster vs in-process (BLAS with its default threads, and single-threaded like the
   workers): same rows, wall-time speedup.
4. svd_w_dask on the big problem column-partitioned over workers (generated there, never
   gathered): time and relative loss vs the exact svd_w.
5. Every algorithm at rank 20 on the big problem, each in its own process: time, peak RSS,
   relative loss.

Peak memory is the process's peak resident set over one step (Linux VmHWM, reset through
/proc/self/clear_refs), also given in units of one n x d float64 matrix.
The machine is shared and small: the load average and BLAS threads are printed with the
figures; ratios measured in one run are what counts.
"""
from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.linalg
from sklearn.utils.extmath import randomized_svd

# Run as a script from any directory: the package lives one level up.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import wlra_core  # noqa: E402
from wlra_core.sweep import InProcess, make_sweep, run_all  # noqa: E402
from wlra_core.datasets.fisher_like import FisherLike  # noqa: E402
from wlra_core.linalg import divide_by_weights, truncated_svd, weighted_loss, weighted_mass  # noqa: E402

PARTS = ("floors", "svd_w", "em", "sweep", "dask_svd_w", "algorithms")
SWEEP_ALGORITHMS = ("svd", "svd_w", "svd_w_practical", "em", "svd_w_em", "greedy", "sample", "als",
                    "fwsvd", "css")
SWEEP_RANKS = (5, 10, 20)


# ---------------------------------------------------------------------------- memory / timing

def _status_mb(key: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


@contextmanager
def measured(record: dict):
    """Fill ``record`` with seconds, resident MB before, and peak resident MB during the block."""
    record["rss_before_mb"] = _status_mb("VmRSS")
    record["peak_is_lifetime"] = not _reset_peak()
    start = time.perf_counter()
    yield record
    record["seconds"] = time.perf_counter() - start
    record["peak_mb"] = _status_mb("VmHWM")


def _mem(record: dict, matrix_mb: float) -> str:
    extra = record["peak_mb"] - record["rss_before_mb"]
    note = " (process lifetime peak)" if record["peak_is_lifetime"] else ""
    return (f"peak RSS {record['peak_mb'] / 1024:.2f} GB, {extra / 1024:.2f} GB above the start "
            f"= {extra / matrix_mb:.1f} n x d matrices{note}")


def _source_digest() -> str:
    # Worker and child processes import wlra_core when they start: if the sources change
    # during a long run, parts of it compare different code. The digest shows that.
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "wlra_core").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _warm_up_memory(n_bytes: int) -> None:
    # On this VM the first touch of never-used guest memory is several times slower than
    # later reuse; touch the working set once so timings measure the algorithms.
    block = np.ones(n_bytes // 8)
    del block


# ---------------------------------------------------------------------------- floors

def _rsvd(M, k, seed):
    return randomized_svd(M, k, n_iter=2, random_state=seed)


def floor_svd(A, W, k, seed):
    _rsvd(A, k, seed)


def floor_svd_w(A, W, k, seed):
    _rsvd(W * A, k, seed)


def floor_fwsvd(A, W, k, seed):
    rho = np.sqrt(np.vecdot(W, W))
    _rsvd(rho[:, None] * A, k, seed)


def floor_svd_w_practical(A, W, k, seed):
    u, s, vt = _rsvd(W, 1, seed)  # the rank-1 stand-in a b^T for W (its Perron pair)
    M = np.abs(u[:, 0])[:, None] * s[0] * A
    M *= np.abs(vt[0])
    _rsvd(M, k, seed)


def floor_css(A, W, k, seed):
    M = W * A
    vt = _rsvd(M, k, seed)[2]
    scores = np.einsum("ij,ij->j", vt, vt)
    columns = np.sort(np.random.default_rng(seed).choice(M.shape[1], k, replace=False, p=scores / scores.sum()))
    Q, R = np.linalg.qr(M[:, columns])
    scipy.linalg.lstsq(R, Q.T @ M, check_finite=False)


def floor_svd_loss(A, W, k, seed):
    """randomized_svd(A), then ||W o (A - U S V^T)||_F^2 by plain numpy, 32 MB of rows at a time."""
    U, s, Vt = _rsvd(A, k, seed)
    US = U * s
    step = max(1, 2**22 // A.shape[1])
    total = 0.0
    for start in range(0, A.shape[0], step):
        rows = slice(start, start + step)
        residual = A[rows] - US[rows] @ Vt
        residual *= W[rows]
        total += float(np.vdot(residual, residual))
    return total


FLOORS = {
    "svd": (floor_svd, "randomized_svd(A)"),
    "svd_w": (floor_svd_w, "form W o A, randomized_svd"),
    "fwsvd": (floor_fwsvd, "row norms of W, form diag(rho) A, randomized_svd"),
    "svd_w_practical": (floor_svd_w_practical, "randomized_svd(W, 1) for a b^T, form diag(a) A diag(b), "
                        "randomized_svd"),
    "css": (floor_css, "form W o A, randomized_svd for leverage scores, sample k columns, C^+ (W o A) by "
            "QR of C"),
}

# A second floor where the first leaves out work the method cannot skip: svd ignores W, so its
# SVD alone is the first floor, but reporting its weighted loss takes a pass over A and W that
# no closed form replaces. Both ratios are printed.
SECOND_FLOORS = {
    "svd": (floor_svd_loss, "randomized_svd(A) + one numpy pass summing ||W o (A - U S V^T)||^2 (32 MB of "
            "rows at a time)"),
}


def part_floors(problem, args, out, matrix_mb):
    A, W = problem.A, problem.W
    k = args.rank
    out(f"[0] one-shot methods vs their floors, rank {k}, {A.shape[0]} x {A.shape[1]}: best of 3, floors and "
        f"methods alternating; BLAS threads {_blas_threads()}; /proc/loadavg {_loadavg()}")
    out("    a method's time is the whole solve(name, A, W, rank) call: validation, scaling, fit, loss and "
        "largest entry")
    out("    peak RSS: the process's peak resident set (VmHWM, reset through /proc/self/clear_refs before each "
        "call), the largest of the 3 calls; in brackets, above the resident set before the call, in n x d matrices")
    out(f"    {'method':<16}{'seconds':>8}{'floor s':>9}{'ratio':>7}{'loss/exact':>12}  {'peak RSS method (above)':<26}"
        f"{'floor (above)':<22}target <= 1.3x")
    exact = {}
    for name in FLOORS:
        floor, _ = FLOORS[name]
        second = SECOND_FLOORS[name][0] if name in SECOND_FLOORS else None
        method_times, floor_times, second_times = [], [], []
        method_records, floor_records = [], []
        for _ in range(3):
            rec_floor, rec_method = {}, {}
            with measured(rec_floor):
                floor(A, W, k, args.seed)
            floor_times.append(rec_floor["seconds"])
            floor_records.append(rec_floor)
            if second is not None:
                start = time.perf_counter()
                second(A, W, k, args.seed)
                second_times.append(time.perf_counter() - start)
            with measured(rec_method):
                result = wlra_core.solve(name, A, W, k, seed=args.seed)
            method_times.append(rec_method["seconds"])
            method_records.append(rec_method)
        if name != "css":
            exact[name] = wlra_core.solve(name, A, W, k, seed=args.seed, svd_method="exact").loss
        reference = exact["svd_w"] if name in ("svd_w", "css") else exact[name]
        ratio = min(method_times) / min(floor_times)
        out(f"    {name:<16}{min(method_times):8.2f}{min(floor_times):9.2f}{ratio:6.2f}x{result.loss / reference:12.5f}"
            f"  {_peak(method_records, matrix_mb):<26}{_peak(floor_records, matrix_mb):<22}"
            f"{'met' if ratio <= 1.3 else 'NOT met'}")
        out(f"    {'':<16}runs {', '.join(f'{t:.2f}' for t in method_times)} s; floor runs "
            f"{', '.join(f'{t:.2f}' for t in floor_times)} s; relative loss {result.relative_loss:.6f}")
        if second is not None:
            second_ratio = min(method_times) / min(second_times)
            out(f"    {name + ' (floor 2)':<16}{min(method_times):8.2f}{min(second_times):9.2f}{second_ratio:6.2f}x"
                f"  floor 2 runs {', '.join(f'{t:.2f}' for t in second_times)} s: "
                f"{'met' if second_ratio <= 1.3 else 'NOT met'} against floor 2 (the ratio above is to floor 1)")
    out(f"    /proc/loadavg after the table: {_loadavg()}")
    out("    floors (scikit-learn's randomized_svd(M, 20, n_iter=2), no validation, no loss): "
        + "; ".join(f"{name}: {text}" for name, (_, text) in FLOORS.items()))
    out("    floor 2 (the least a method that ignores W does to report its weighted loss): "
        + "; ".join(f"{name}: {text}" for name, (_, text) in SECOND_FLOORS.items()))
    out("    loss/exact: over the same method with a full LAPACK SVD; svd_w and css over the exact svd_w "
        "(the tail mass of W o A beyond the rank, where W > 0)")


def _loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def _peak(records: list[dict], matrix_mb: float) -> str:
    """The largest peak resident set of ``records``, and how far it rose above its call's start."""
    top = max(records, key=lambda record: record["peak_mb"])
    extra = top["peak_mb"] - top["rss_before_mb"]
    note = " (lifetime peak)" if top["peak_is_lifetime"] else ""
    return f"{top['peak_mb'] / 1024:.2f} GB ({extra / matrix_mb:+.1f}){note}"


def _blas_threads() -> str:
    from threadpoolctl import threadpool_info

    return ", ".join(f"{info['internal_api']} {info['num_threads']}" for info in threadpool_info()
                     if info["user_api"] == "blas") or "unknown"


def _write(lines: list[str], path: Path) -> None:
    """Write the figures so far to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    os.replace(temporary, path)


# ---------------------------------------------------------------------------- reference EM

def reference_em(A, W, rank, n_iter):
    """Plain EM (Srebro & Jaakkola 2003) with a full LAPACK SVD per iteration: the baseline.

    Returns the final X, the loss after each iteration and the seconds of each iteration.
    """
    Q = W**2 / np.max(W**2)
    X = np.zeros_like(A)
    losses, seconds = [], []
    for _ in range(n_iter):
        start = time.perf_counter()
        filled = Q * A + (1 - Q) * X
        U, s, Vt = scipy.linalg.svd(filled, full_matrices=False, lapack_driver="gesdd", check_finite=False)
        X = (U[:, :rank] * s[:rank]) @ Vt[:rank]
        seconds.append(time.perf_counter() - start)
        losses.append(weighted_loss(A, W, X))
    return X, losses, seconds


# ---------------------------------------------------------------------------- parts

def part_svd_w(problem, args, out, matrix_mb):
    A, W = problem.A, problem.W
    k = args.rank
    rec_fast = {}
    with measured(rec_fast):
        # Median of 3 solves: one is well under a second's noise on a shared machine.
        runs = [wlra_core.solve("svd_w", A, W, k, seed=args.seed) for _ in range(3)]
    fast = sorted(runs, key=lambda result: result.seconds)[1]
    rec_full = {}
    with measured(rec_full):
        M = W * A
        U, s, Vt = scipy.linalg.svd(M, full_matrices=False, lapack_driver="gesdd", check_finite=False)
        del M
    exact = divide_by_weights((U[:, :k] * s[:k]) @ Vt[:k], W)
    exact_loss = weighted_loss(A, W, exact)
    del exact, U, Vt
    reference = weighted_mass(A, W)
    tail = float(np.sum(s[k:] ** 2))
    exact_rel = exact_loss / reference
    ratio_time = fast.seconds / rec_full["seconds"]
    ratio_loss = fast.relative_loss / exact_rel
    out(f"[1] svd_w rank {k} vs full LAPACK SVD (gesdd) of W o A, {A.shape[0]} x {A.shape[1]}")
    out(f"    svd_w (solve, svd_method=auto): {fast.seconds:.2f} s (median of 3: "
        f"{', '.join(f'{r.seconds:.2f}' for r in runs)}); {_mem(rec_fast, matrix_mb)}")
    out(f"    full SVD of W o A (incl. forming it): {rec_full['seconds']:.2f} s; {_mem(rec_full, matrix_mb)}")
    out(f"    time ratio svd_w / full SVD = {ratio_time:.3f}  (target <= 0.2: {'met' if ratio_time <= 0.2 else 'NOT met'})")
    out(f"    relative loss: svd_w {fast.relative_loss:.6f}, exact svd_w {exact_rel:.6f} "
        f"(<= tail mass {tail / reference:.6f}, Theorem 1.2); ratio {ratio_loss:.5f}  "
        f"(target <= 1.01: {'met' if ratio_loss <= 1.01 else 'NOT met'})")
    return exact_rel


def part_em(problem, args, out, matrix_mb):
    A, W = problem.A, problem.W
    k, n_iter = args.rank, args.em_iters
    rec = {}
    with measured(rec):
        fast = wlra_core.solve("em", A, W, k, seed=args.seed, n_iter=n_iter)
    rec_ref = {}
    with measured(rec_ref):
        _, ref_losses, ref_seconds = reference_em(A, W, k, n_iter)
    per_fast = fast.seconds / n_iter
    per_ref = float(np.mean(ref_seconds))
    ratio = per_ref / per_fast
    loss_ratio = fast.loss / ref_losses[-1]
    out(f"[2] em rank {k}, {n_iter} iterations, {A.shape[0]} x {A.shape[1]}")
    out(f"    wlra_core em: {per_fast:.2f} s/iteration ({fast.seconds:.1f} s total); {_mem(rec, matrix_mb)}")
    out(f"    reference EM (full SVDs): {per_ref:.2f} s/iteration ({sum(ref_seconds):.1f} s total); "
        f"{_mem(rec_ref, matrix_mb)}")
    out(f"    speedup per iteration = {ratio:.2f}x  (target >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
    out(f"    relative loss after {n_iter}: em {fast.relative_loss:.6f}, reference "
        f"{ref_losses[-1] / weighted_mass(A, W):.6f}; loss ratio {loss_ratio:.6f}")


def _sweep(layers, ranks, args):
    return make_sweep(layers, SWEEP_ALGORITHMS, ranks, args.sweep_trials, args.seed)


def _compare(rows, expected) -> str:
    keys = [(r.problem, r.method, r.rank, r.trial) for r in rows]
    same_keys = keys == [(r.problem, r.method, r.rank, r.trial) for r in expected]
    losses = np.array([r.loss for r in rows])
    expected_losses = np.array([r.loss for r in expected])
    identical = int(np.sum(losses == expected_losses))
    max_rel = float(np.max(np.abs(losses - expected_losses) / np.maximum(np.abs(expected_losses), 1e-300)))
    return (f"row order {'identical' if same_keys else 'DIFFERENT'}, losses bit-identical in "
            f"{identical}/{len(rows)} rows, max relative difference {max_rel:.1e}")


def part_sweep(args, out):
    from distributed import Client

    from wlra_core.distributed import OnDask, local_cluster

    layers = {f"layer{i}": FisherLike(args.sweep_n, args.sweep_d, seed=args.seed + i).problem()
              for i in range(args.sweep_layers)}
    ranks = [k for k in SWEEP_RANKS if k <= min(args.sweep_n, args.sweep_d)]
    out(f"[3] sweep: {args.sweep_layers} layers of {args.sweep_n} x {args.sweep_d} x {len(SWEEP_ALGORITHMS)} "
        f"algorithms ({', '.join(SWEEP_ALGORITHMS)}) x ranks {ranks} x {args.sweep_trials} trials")
    timings = {}
    runs = {}
    for label, threads in (("in-process, BLAS default threads", None), ("in-process, BLAS 1 thread", 1)):
        start = time.perf_counter()
        runs[label], errors = run_all(_sweep(layers, ranks, args), executor=InProcess(threads))
        for error in errors:  # report and go on: one failing algorithm must not hide the rest
            out(f"    {label}: {error}")
        timings[label] = time.perf_counter() - start
        out(f"    {label}: {timings[label]:.1f} s ({len(runs[label])} rows)")
    start = time.perf_counter()
    try:
        with local_cluster(2) as cluster, Client(cluster) as client:
            ready = time.perf_counter()
            rows, errors = run_all(_sweep(layers, ranks, args), executor=OnDask(client))
            done = time.perf_counter()
        for error in errors:
            out(f"    2-worker LocalCluster: {error}")
    except Exception as err:
        out(f"    2-worker LocalCluster: FAILED with {type(err).__name__}: {err}")
        return
    startup, on_cluster = ready - start, done - ready
    out(f"    2-worker LocalCluster (1 thread each): {on_cluster:.1f} s (+ {startup:.1f} s cluster start)")
    for label, seconds in timings.items():
        out(f"    speedup vs {label}: {seconds / on_cluster:.2f}x ({seconds / (on_cluster + startup):.2f}x "
            f"incl. cluster start); {_compare(rows, runs[label])}")


def part_dask_svd_w(args, out, exact_rel):
    from distributed import Client, wait

    from wlra_core.distributed import column_partitioned, local_cluster, svd_w_dask

    spec = FisherLike(args.n, args.d, seed=args.seed)
    with local_cluster(2) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        A, W = column_partitioned(functools.partial(spec.block, slice(None)), args.n, args.d, args.chunks)
        A, W = client.persist([A, W])
        wait([A, W])
        generated = time.perf_counter() - start
        client.run(_reset_peak)
        fit = svd_w_dask(A, W, args.rank, seed=args.seed)
        peaks = client.run(_status_mb, "VmHWM")
    sketch = inspect.signature(svd_w_dask).parameters
    check = ""
    if exact_rel is not None:
        gap = abs(fit.relative_loss - exact_rel) / exact_rel
        check = (f", exact svd_w {exact_rel:.6f}; relative difference {gap:.1e}  "
                 f"(target <= 1e-6: {'met' if gap <= 1e-6 else 'NOT met'})")
    out(f"[4] svd_w_dask rank {args.rank}, {args.n} x {args.d} in {args.chunks} column chunks on 2 workers")
    out(f"    chunks generated on the workers in {generated:.1f} s; svd_w_dask {fit.seconds:.2f} s "
        f"({', '.join(f'{name}={sketch[name].default}' for name in ('n_power_iter', 'n_oversamples'))})")
    out(f"    relative loss {fit.relative_loss:.6f}{check}")
    out("    worker peak RSS: " + ", ".join(f"{mb / 1024:.2f} GB" for mb in peaks.values())
        + f" (each holds about half of A and W: {2 * args.n * args.d * 8 / 2**30 / 2:.2f} GB)")


def one_algorithm(args) -> None:
    """Child-process mode: generate the problem, run one algorithm, print a JSON line."""
    problem = FisherLike(args.n, args.d, seed=args.seed).problem()
    options = {"dtype": args.adam_dtype} if args.one_algorithm == "adam" else {}
    record = {}
    with measured(record):
        result = wlra_core.solve(args.one_algorithm, problem.A, problem.W, args.rank, seed=args.seed, **options)
    record.update(seconds_solve=result.seconds, relative_loss=result.relative_loss,
                  failed=result.failed, message=result.message, options=result.options)
    print("RESULT " + json.dumps(record))


def part_algorithms(args, out, matrix_mb):
    out(f"[5] every algorithm at rank {args.rank} on {args.n} x {args.d}, one process each "
        f"(limit {args.algorithm_timeout:.0f} s)")
    # whiten and kfac need an MLP's calibration moments, which a Fisher-like problem has not.
    for name in (n for n in wlra_core.ALGORITHMS if not wlra_core.get_algorithm(n).requires):
        command = [sys.executable, __file__, "--one-algorithm", name, "--n", str(args.n), "--d", str(args.d),
                   "--rank", str(args.rank), "--seed", str(args.seed), "--adam-dtype", args.adam_dtype]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.algorithm_timeout)
        except subprocess.TimeoutExpired:
            out(f"    {name:<16} did not finish within {args.algorithm_timeout:.0f} s")
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            out(f"    {name:<16} exit code {done.returncode}: {tail}")
            continue
        rec = json.loads(lines[-1][len("RESULT "):])
        status = f"FAILED: {rec['message']}" if rec["failed"] else f"relative loss {rec['relative_loss']:.6f}"
        extra = f" (dtype {args.adam_dtype})" if name == "adam" else ""
        out(f"    {name:<16} {rec['seconds_solve']:8.1f} s  {status}; {_mem(rec, matrix_mb)}{extra}")


# ---------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=67500)
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--em-iters", type=int, default=25)
    parser.add_argument("--chunks", type=int, default=8, help="column chunks for svd_w_dask")
    parser.add_argument("--sweep-layers", type=int, default=4)
    parser.add_argument("--sweep-n", type=int, default=2000)
    parser.add_argument("--sweep-d", type=int, default=256)
    parser.add_argument("--sweep-trials", type=int, default=2)
    parser.add_argument("--adam-dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--algorithm-timeout", type=float, default=3600.0)
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {','.join(PARTS)}")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.txt"))
    parser.add_argument("--one-algorithm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_algorithm:
        one_algorithm(args)
        return
    skip = {part for part in args.skip.split(",") if part}
    unknown = skip - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) to skip: {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}")

    lines: list[str] = []
    out_path = Path(args.out)

    def out(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        _write(lines, out_path)

    matrix_mb = args.n * args.d * 8 / 2**20
    start_digest = _source_digest()
    out(f"scale benchmark: {args.n} x {args.d} Fisher-like problem (seed {args.seed}), rank {args.rank}; "
        f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}")
    needs_problem = {"floors", "svd_w", "em"} - skip
    problem, exact_rel = None, None
    if needs_problem:
        rec = {}
        with measured(rec):
            problem = FisherLike(args.n, args.d, seed=args.seed).problem()
        s1 = truncated_svd(problem.W, 1, method="randomized", seed=0)[1][0]
        mass = s1**2 / float(np.einsum("ij,ij->", problem.W, problem.W))
        out(f"    generated in {rec['seconds']:.1f} s ({_mem(rec, matrix_mb)}); first singular value of W holds "
            f"{100 * mass:.1f}% of its mass; {int((~problem.W.any(axis=1)).sum())} zero rows")
        _warm_up_memory(4 * args.n * args.d * 8)
    if "floors" not in skip:
        part_floors(problem, args, out, matrix_mb)
    if "svd_w" not in skip:
        exact_rel = part_svd_w(problem, args, out, matrix_mb)
    if "em" not in skip:
        part_em(problem, args, out, matrix_mb)
    del problem
    if "sweep" not in skip:
        part_sweep(args, out)
    if "dask_svd_w" not in skip:
        part_dask_svd_w(args, out, exact_rel)
    if "algorithms" not in skip:
        part_algorithms(args, out, matrix_mb)
    digest = _source_digest()
    drift = "" if digest == start_digest else f" -- CHANGED during the run (was {start_digest}): parts ran different code"
    out(f"load average at end {os.getloadavg()[0]:.1f}; wlra_core sources {digest}{drift}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
