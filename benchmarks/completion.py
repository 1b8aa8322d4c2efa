"""Completion benchmark: wlra_core.complete and em against fancyimpute and wpca, side by side.

Usage::

    .venv/bin/python benchmarks/completion.py          # writes benchmarks/results/completion.{txt,csv}
    .venv/bin/python benchmarks/completion.py --problems china30,digits50 --skip-compare
    .venv/bin/python benchmarks/completion.py --only compare   # target 3 alone: compare_workload.{txt,csv}

Problems: scikit-learn's sample photos (china, flower; 427 x 640 grayscale) with 30% and
50% of the pixels observed, and the digits table (1797 x 64, scaled to [0, 1]) with 50%
observed; each mask is seeded (seed 0). The peers -- fancyimpute 0.7's SoftImpute and
IterativeSVD, wpca's EMPCA -- run in their own environment, benchmarks/.peers-venv,
which this script creates on first use from benchmarks/peers-requirements.txt (pinned),
in a subprocess given the very same masked matrices through an .npz file. Both sides
run with one BLAS thread.

Targets (issue 17), each printed with met / not met:

1. complete()'s RMSE on the missing entries, its algorithm, rank and lambda chosen on its
   own validation split of the observed entries, <= the best peer's, the peer's rank
   (5, 10 or 20) picked on the missing entries themselves (in the peer's favour);
2. em at rank 10 (default options) reaches <= 1.01 x IterativeSVD's fitted loss at rank 10
   in <= IterativeSVD's time;
3. Compare on a 427 x 640 masked photo, 10 algorithms x ranks 1-20 through the sweep
   engine (wlra_core.sweep.run_all), finishes in <= 15 s. Printed with it: each algorithm's
   own sweep (wall and CPU seconds, the CPU ones from time.process_time, which other
   processes on the machine do not inflate) and the load average.

The peers' conventions, read from their installed source, are printed with the results
(:data:`PEER_CONVENTIONS`).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_file import write_atomically

ROOT = Path(__file__).resolve().parents[1]
PEERS_VENV = ROOT / "benchmarks" / ".peers-venv"
PEERS_REQUIREMENTS = ROOT / "benchmarks" / "peers-requirements.txt"
RANKS = (5, 10, 20)
PROBLEMS = {"china30": ("china", 0.3), "china50": ("china", 0.5), "flower30": ("flower", 0.3),
            "flower50": ("flower", 0.5), "digits50": ("digits", 0.5)}
COMPARE_TEN = ("svd", "svd_w", "svd_w_practical", "em", "svd_w_em", "greedy", "sample", "als", "fwsvd", "css")

PEER_CONVENTIONS = """\
peer conventions (read from the installed sources in benchmarks/.peers-venv):
  fancyimpute 0.7 (SoftImpute, IterativeSVD): missing entries are NaN; Solver.fit_transform
    returns the observed entries unchanged and the missing ones from the last reconstruction.
    So the fitted loss is scored on the last low-rank reconstruction itself, captured through
    the public Solver.clip hook that solve() applies to every reconstruction (a subclass
    records its argument; nothing private is touched). The global NumPy RNG (randomized_svd
    and ARPACK starts with random_state=None) is seeded with 0 before each run.
  SoftImpute: shrinkage = (largest singular value of the zero-filled matrix) / 50 by default,
    stops when the missing entries change by < 0.001 (relative) or after 100 iterations;
    max_rank = the rank given (randomized_svd with 1 power iteration), else full SVDs.
  IterativeSVD: TruncatedSVD(arpack) of the filled matrix each iteration, rank doubling
    1, 2, 4, ... up to the rank given (gradual_rank_increase), stops when the missing
    entries change by < 1e-5 (relative squared) or after 200 iterations.
  wpca EMPCA: weights multiply the residual as W does here (its normal equations use w^2);
    it first subtracts the weighted column means (its model is mean + rank k, storing
    k(n + d) + d numbers), starts from a random orthonormal basis (random_state=0) and runs a
    fixed 100 EM iterations; its reconstruction (fit_reconstruct) covers every entry."""


# ---------------------------------------------------------------------------- peer side
# Runs inside benchmarks/.peers-venv: numpy, fancyimpute and wpca only (no wlra_core).


def run_peers(inp: str, out: str) -> None:
    import warnings

    warnings.simplefilter("ignore")  # fancyimpute's force_all_finite deprecation, per call
    from fancyimpute import IterativeSVD, SoftImpute
    from wpca import EMPCA

    def recording(cls):
        class Recording(cls):
            def solve(self, X, missing_mask):
                self.recording = True
                try:
                    return super().solve(X, missing_mask)
                finally:
                    self.recording = False

            def clip(self, X):
                X = super().clip(X)
                if getattr(self, "recording", False):
                    self.last_reconstruction = np.array(X, copy=True)
                return X

        return Recording

    data = np.load(inp)
    results = {}
    for key in data.files:
        if not key.endswith("/A"):
            continue
        name = key[:-2]
        A, W = data[key], data[name + "/W"]
        with_nan = np.where(W > 0, A, np.nan)
        for rank in RANKS:
            for method, make in (
                ("SoftImpute", lambda k: recording(SoftImpute)(max_rank=k, verbose=False)),
                ("IterativeSVD", lambda k: recording(IterativeSVD)(rank=k, verbose=False)),
            ):
                np.random.seed(0)
                solver = make(rank)
                start = time.perf_counter()
                solver.fit_transform(with_nan.copy())
                seconds = time.perf_counter() - start
                results[f"{name}/{method}/{rank}"] = (solver.last_reconstruction, seconds)
            start = time.perf_counter()
            X = EMPCA(n_components=rank, random_state=0).fit_reconstruct(np.where(W > 0, A, 0.0), weights=W)
            results[f"{name}/EMPCA/{rank}"] = (X, time.perf_counter() - start)
    arrays = {f"{key}/X": X for key, (X, _) in results.items()}
    arrays["seconds"] = np.array(json.dumps({key: s for key, (_, s) in results.items()}))
    np.savez(out, **arrays)


# ---------------------------------------------------------------------------- our side


def ensure_peers_venv(out) -> Path:
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / "requirements.installed"
    wanted = PEERS_REQUIREMENTS.read_text()
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    out(f"creating {PEERS_VENV.relative_to(ROOT)} (pinned peers, first run only)...")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEERS_REQUIREMENTS)], check=True)
    marker.write_text(wanted)
    return python


def make_problem(kind: str, observed: float):
    from wlra_core.datasets.masked import masked_digits, masked_image

    return masked_digits(observed, seed=0) if kind == "digits" else masked_image(kind, observed, seed=0)


def rmse(X, truth, where) -> float:
    return float(np.sqrt(np.mean((X - truth)[where] ** 2)))


def fitted_loss(X, A, W) -> float:
    return float(np.sum((W * (A - X)) ** 2))


def compare_with_peers(names: list[str], out, target, rows: list[dict]) -> None:
    """Targets 1 and 2 on the named problems: the peers in their environment, then ours."""
    import wlra_core
    from wlra_core.sweep import blas_threads

    problems = {name: make_problem(*PROBLEMS[name]) for name in names}
    python = ensure_peers_venv(out)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        inp, peer_out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, **{f"{n}/{k}": getattr(p, k) for n, p in problems.items() for k in ("A", "W")})
        out(f"running the peers in {PEERS_VENV.relative_to(ROOT)} on {', '.join(names)} (ranks {RANKS})...")
        start = time.perf_counter()
        subprocess.run([str(python), str(Path(__file__).resolve()), "--peer", str(inp), str(peer_out)],
                       check=True, env=env)
        out(f"  peers done in {time.perf_counter() - start:.0f} s")
        peer = np.load(peer_out)
        peer_seconds = json.loads(str(peer["seconds"]))
        peer_X = {key[:-2]: peer[key] for key in peer.files if key.endswith("/X")}

    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
    out("peers: " + ", ".join(p for p in freeze if p.split("==")[0].lower() in ("fancyimpute", "wpca", "scikit-learn",
                                                                                   "numpy")))
    out(PEER_CONVENTIONS)
    out()
    with blas_threads(1):
        for name, problem in problems.items():
            A, W, truth = problem.A, problem.W, problem.truth
            missing = W == 0
            out(f"== {name}: {problem.name}, {A.shape[0]} x {A.shape[1]}, {int(missing.sum()):,} missing entries")
            out(f"  {'method':<28}{'rank':>5}{'seconds':>9}{'fitted loss':>14}{'missing RMSE':>14}")

            def record(side, method, rank, seconds, loss, error, options=""):
                out(f"  {side + ' ' + method:<28}{rank:>5}{seconds:>9.2f}{loss:>14.6g}{error:>14.5f}"
                    f"{'  ' + options if options else ''}")
                rows.append({"problem": name, "side": side, "method": method, "rank": rank, "options": options,
                             "seconds": seconds, "fitted_loss": loss, "missing_rmse": error})

            best_peer = (np.inf, "")
            for method in ("SoftImpute", "IterativeSVD", "EMPCA"):
                for rank in RANKS:
                    X = peer_X[f"{name}/{method}/{rank}"]
                    error = rmse(X, truth, missing)
                    record("peer", method, rank, peer_seconds[f"{name}/{method}/{rank}"], fitted_loss(X, A, W), error)
                    best_peer = min(best_peer, (error, f"{method} rank {rank}"))
            for method, options in (("em", {}), ("soft_impute", {}), ("als", {"l2": 0.003}), ("svd", {})):
                for rank in RANKS:
                    result = wlra_core.solve(method, problem, rank=rank, **options)
                    record("ours", method, rank, result.seconds, result.loss, rmse(result.approx, truth, missing),
                           ", ".join(f"{k}={v}" for k, v in options.items()))
            start = time.perf_counter()
            completion = wlra_core.complete(problem.A, problem.W, seed=0)
            seconds = time.perf_counter() - start
            chosen = completion.chosen.as_dict()["options"]
            error = rmse(completion.approx, truth, missing)
            record("ours", "complete()", completion.rank, seconds, completion.result.loss, error,
                   f"chose {completion.algorithm} {chosen}".strip())
            target(f"{name}: complete() missing RMSE {error:.5f} <= best peer {best_peer[0]:.5f} ({best_peer[1]}, "
                   f"rank picked on the missing entries)", error <= best_peer[0])
            em = wlra_core.solve("em", problem, rank=10)
            svd_loss = fitted_loss(peer_X[f"{name}/IterativeSVD/10"], A, W)
            svd_seconds = peer_seconds[f"{name}/IterativeSVD/10"]
            target(f"{name}: em rank 10 loss {em.loss:.6g} = {em.loss / svd_loss:.4f} x IterativeSVD's {svd_loss:.6g} "
                   f"(<= 1.01) in {em.seconds:.2f} s vs {svd_seconds:.2f} s ({len(em.history) - 1} iterations)",
                   em.loss <= 1.01 * svd_loss and em.seconds <= svd_seconds)
            out()


def compare_workload(out, target, rows: list[dict]) -> None:
    """Target 3: the Compare page's default sweep on the 30%-observed china photo, timed per
    algorithm (each in its own sweep) and as a whole (10 algorithms, and the page's default of
    11 on a masked image: those 10 and soft_impute)."""
    from wlra_core.sweep import make_sweep, run_all

    problem = make_problem("china", 0.3)
    out(f"== Compare workload: {problem.name}, {len(COMPARE_TEN)} algorithms x ranks 1-20, 1 trial, "
        "sweep engine (run_all, 1 BLAS thread)")
    out(f"  load average before: {load_average()}")
    out(f"  {'algorithm':<18}{'wall s':>8}{'CPU s':>8}")
    walls, cpus = {}, {}
    for algorithm in COMPARE_TEN + ("soft_impute",):
        wall, cpu = time.perf_counter(), time.process_time()
        run_all(make_sweep(problem, [algorithm], range(1, 21)))
        walls[algorithm], cpus[algorithm] = time.perf_counter() - wall, time.process_time() - cpu
        out(f"  {algorithm:<18}{walls[algorithm]:>8.2f}{cpus[algorithm]:>8.2f}")
    out(f"  {'sum of the 10':<18}{sum(walls[a] for a in COMPARE_TEN):>8.2f}{sum(cpus[a] for a in COMPARE_TEN):>8.2f}")
    for algorithms in (COMPARE_TEN, COMPARE_TEN + ("soft_impute",)):
        wall, cpu = time.perf_counter(), time.process_time()
        compare_rows, errors = run_all(make_sweep(problem, algorithms, range(1, 21)))
        seconds, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out(f"  {len(algorithms)} algorithms in one sweep: {seconds:.1f} s wall, {cpu:.1f} s CPU "
            f"({len(compare_rows)} results, {len(errors)} errors)")
        rows.append({"problem": "china30", "side": "ours", "method": f"Compare {len(algorithms)} algorithms",
                     "rank": 20, "options": "", "seconds": seconds, "fitted_loss": np.nan, "missing_rmse": np.nan})
        if algorithms == COMPARE_TEN:
            target(f"Compare, 10 algorithms x ranks 1-20 on 427 x 640: {seconds:.1f} s (<= 15 s)", seconds <= 15)
    for algorithm in COMPARE_TEN + ("soft_impute",):
        rows.append({"problem": "china30", "side": "ours", "method": f"Compare: {algorithm} alone", "rank": 20,
                     "options": f"cpu_seconds={cpus[algorithm]:.2f}", "seconds": walls[algorithm],
                     "fitted_loss": np.nan, "missing_rmse": np.nan})
    out(f"  load average after: {load_average()}")
    out()


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:  # not Linux
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--skip-compare", action="store_true", help="do not time the Compare workload")
    parser.add_argument("--only", choices=["compare"],
                        help="time the Compare workload alone (no peers; default --out results/compare_workload)")
    parser.add_argument("--out", help="path without suffix: writes .txt and .csv "
                                      "(default benchmarks/results/completion)")
    args = parser.parse_args()
    if args.peer:
        run_peers(*args.peer)
        return 0

    sys.path.insert(0, str(ROOT))
    lines: list[str] = []
    rows: list[dict] = []
    targets: list[tuple[str, bool]] = []

    def out(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    def target(text: str, met: bool) -> None:
        targets.append((text, met))
        out(f"  TARGET {'met' if met else 'NOT MET'}: {text}")

    results = ROOT / "benchmarks" / "results"
    base = Path(args.out or results / ("compare_workload" if args.only == "compare" else "completion"))
    names = [] if args.only == "compare" else [p.strip() for p in args.problems.split(",") if p.strip()]
    if names:
        compare_with_peers(names, out, target, rows)
    if not args.skip_compare:
        compare_workload(out, target, rows)
    met = sum(ok for _, ok in targets)
    out(f"targets met: {met} of {len(targets)}")
    for text, ok in targets:
        out(f"  {'met    ' if ok else 'NOT MET'}  {text}")

    base.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(base.with_suffix(".txt"), "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(base.with_suffix(".csv"), buffer.getvalue())
    print(f"wrote {base.with_suffix('.txt')} and {base.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
