"""Several visitors running Compare at once (issue 19 items 1 and 8), measured, never asserted.

Target: 8 sessions running the default Compare (every algorithm but adam, ranks 1-20, one
trial) on the shipped problem together finish within 2x the time of one session alone;
none shows an exception. Sessions share their work in progress: a result one session is
computing is awaited, not recomputed, by the others (:class:`wlra_core.sweep.ResultCache`).

Usage::

    .venv/bin/python benchmarks/concurrency.py                  # 1, 4 and 8 sessions
    .venv/bin/python benchmarks/concurrency.py --sessions 1 8

For each count a freshly started server (a cold one: nothing imported or cached yet) gets
that many browser contexts (Chromium via Playwright) on ``/compare``; Run is clicked in each
as fast as the browser allows, then every tab is polled. Per count: seconds from a tab's own
click to its first curve (legend) and to its "Done" line (median and slowest over the
tabs), the time until the last tab was done (from the first click), the server's peak
memory (VmHWM) and the errors shown (exception boxes, error boxes, failed runs). The same
sweep is also driven without a browser, by N threads on one result cache (the engine's
share of the figures). Results: ``benchmarks/results/concurrency.txt`` (written atomically).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

from dashboard_speed import CHROMIUM, CHROMIUM_ARGS, free_port, peak_memory_gb, start_server
from results_file import write_with_load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "concurrency.txt"
POLL_SECONDS = 0.2
LIMIT_SECONDS = 1200


def browser_sessions(browser, url: str, count: int) -> dict:
    """``count`` tabs press Run on Compare together; what each saw and when."""
    tabs = []
    for _ in range(count):
        tab = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        tab.set_default_timeout(LIMIT_SECONDS * 1000)
        tab.goto(f"{url}/compare")
        tabs.append(tab)
    for tab in tabs:
        tab.locator(".js-plotly-plot").nth(2).wait_for()  # the empty charts: the page is ready
    clicks = []
    for tab in tabs:
        tab.locator(".st-key-compare-run button").click()
        clicks.append(time.perf_counter())
    first, done, finished = [None] * count, [None] * count, None
    while None in done and time.perf_counter() - clicks[0] < LIMIT_SECONDS:
        for i, tab in enumerate(tabs):
            now = time.perf_counter()
            if first[i] is None and tab.locator(".js-plotly-plot .legendtext").count():
                first[i] = now - clicks[i]
            if done[i] is None and (tab.get_by_text(re.compile(r"^(Done|Could not run)")).count()
                                    or tab.locator('[data-testid="stException"]').count()):
                done[i] = now - clicks[i]
                finished = now
        time.sleep(POLL_SECONDS)
    errors = []
    for tab in tabs:
        tab.wait_for_timeout(1000)  # the error boxes under the charts follow the Done line
        errors += [f"exception: {text[:120]}" for text in tab.locator('[data-testid="stException"]').all_inner_texts()]
        errors += [f"error: {text[:120]}" for text in
                   tab.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
        tab.context.close()
    return {"first": first, "done": done, "all_done": (finished or time.perf_counter()) - clicks[0], "errors": errors}


def engine_sessions(count: int) -> float:
    """Seconds for ``count`` threads running the default Compare sweep on one result cache."""
    from wlra_core import ALGORITHMS, get_algorithm
    from wlra_core.datasets.io import default_problem
    from wlra_core.sweep import ResultCache, make_sweep, run

    problem = default_problem()
    names = [a for a in ALGORITHMS if not get_algorithm(a).slow
             and set(get_algorithm(a).requires) <= set(problem.model)]
    sweep = make_sweep(problem, names, range(1, 21))
    cache = ResultCache()
    threads = [threading.Thread(target=lambda: list(run(sweep, cache))) for _ in range(count)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def seconds(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "none"
    return f"{statistics.median(values):.1f} / {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    lines = [f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
             "", "engine only (N threads, one result cache, the default Compare sweep on the shipped problem):"]
    alone = None
    for count in args.sessions:
        total = engine_sessions(count)
        alone = total if alone is None else alone
        lines.append(f"  {count} sessions: all done after {total:.1f} s ({total / alone:.2f}x the first count)")
        print(lines[-1], flush=True)
    if not args.no_browser and Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        lines += ["", "browser (N Chromium contexts on a freshly started server, Run clicked in each):",
                  f"  {'sessions':>8}  {'first point s (median / max)':>28}  {'done s (median / max)':>22}  "
                  f"{'last done s':>11}  {'peak memory':>11}  errors"]
        alone = None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for count in args.sessions:
                    port = free_port()
                    with open(Path("/tmp") / f"wlra_concurrency_{port}.log", "w") as log:
                        process, _ = start_server(port, log)
                    try:
                        seen = browser_sessions(browser, f"http://127.0.0.1:{port}", count)
                        peak = peak_memory_gb(process.pid)
                    finally:
                        process.terminate()
                        process.wait(timeout=30)
                    alone = seen["all_done"] if alone is None else alone
                    lines.append(f"  {count:>8}  {seconds(seen['first']):>28}  {seconds(seen['done']):>22}  "
                                 f"{seen['all_done']:>11.1f}  {peak:>9.2f} GB  {len(seen['errors'])}"
                                 f"   ({seen['all_done'] / alone:.2f}x the first count)")
                    lines += [f"            {error}" for error in seen["errors"]]
                    print("\n".join(lines[-1 - len(seen["errors"]):]), flush=True)
            finally:
                browser.close()
    write_with_load(RESULTS, lines)


if __name__ == "__main__":
    main()
