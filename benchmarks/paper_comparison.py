"""The paper's comparison (Figures 2-3) on the shipped Fashion-MNIST problem: every
algorithm at ranks 5, 10 and 20, 3 trials; loss and time tables.

Usage::

    .venv/bin/python benchmarks/paper_comparison.py            # writes benchmarks/results/paper_comparison.{txt,csv}
    .venv/bin/python benchmarks/paper_comparison.py --trials 1 --algorithms svd,svd_w

Trial t uses ``SeedSequence(seed, spawn_key=(t,))``; the sweep engine runs BLAS
single-threaded (OpenBLAS threads spin against any other load on this 2-core machine, see
README). Every figure is measured in this run.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import wlra_core  # noqa: E402
from wlra_core.datasets.io import default_problem  # noqa: E402
from wlra_core.tables import rank_table  # noqa: E402
from wlra_core.sweep import Fatal, ResultEvent, TaskError, make_sweep, run_all  # noqa: E402
from wlra_core.tables import format_summary, summarize, write_csv  # noqa: E402

RANKS = (5, 10, 20)


def text_table(records: list[dict]) -> list[str]:
    """Aligned text lines of :func:`wlra_core.tables.rank_table`'s records."""
    columns = list(records[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in records)) + 2 for c in columns}
    lines = ["".join(f"{c:<{widths[c]}}" for c in columns)]
    lines += ["".join(f"{str(r.get(c, '')):<{widths[c]}}" for c in columns) for r in records]
    return ["  " + line.rstrip() for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default=",".join(wlra_core.ALGORITHMS))
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "paper_comparison"),
                        help="path without suffix: writes .txt and .csv")
    args = parser.parse_args()
    algorithms = [name.strip() for name in args.algorithms.split(",") if name.strip()]

    problem = default_problem()
    lines: list[str] = []

    def out(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    out(f"paper comparison (Figures 2-3): {problem.name}, "
        f"ranks {', '.join(map(str, RANKS))}, {args.trials} trials (seed {args.seed}, one stream per trial); "
        f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}, BLAS 1 thread")
    if "adam" in algorithms:  # adam's first solve would otherwise include importing TensorFlow
        start = time.perf_counter()
        importlib.import_module("tensorflow")
        out(f"TensorFlow imported before the sweep in {time.perf_counter() - start:.1f} s (not in any timing)")
    def progress(update) -> None:
        if isinstance(update, ResultEvent):
            row = update.row
            print(f"  {row.method:<16} rank {row.rank:>2} trial {row.trial}: relative loss "
                  f"{row.relative_loss:.6f}  {row.seconds:.3f} s", flush=True)
        elif isinstance(update, (TaskError, Fatal)):
            out(f"  error: {update.error}")

    start = time.perf_counter()
    rows, _ = run_all(make_sweep(problem, algorithms, RANKS, args.trials, args.seed), on_update=progress)
    out(f"sweep: {len(rows)} results in {time.perf_counter() - start:.1f} s")
    for value, title in (("relative_loss", "relative loss ||W o (A - X)||^2 / ||W o A||^2"),
                         ("seconds", "seconds per solve")):
        out()
        out(f"{title}, mean ± std over trials")
        for line in text_table(rank_table(rows, RANKS, value=value)):
            out(line)
    out()
    out(format_summary(summarize(rows, RANKS)))
    out(f"load average at end {os.getloadavg()[0]:.1f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".txt").write_text("\n".join(lines) + "\n")
    write_csv(rows, args.out + ".csv")
    print(f"wrote {args.out}.txt and {args.out}.csv")


if __name__ == "__main__":
    main()
