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
tabs), the seconds the server's run loop took by each tab's own "Done: ... in X s" line (the
server's side alone: from the run's start to its last message sent, before the tab drew it),
the time until the last tab was done (from the first click), the websocket messages a tab
received from its click until it was read, a second or more after the last tab was done (each
one its browser renders), the server's peak memory (VmHWM) and the errors shown (exception
boxes, error boxes, failed runs).

Where the time goes: the CPU seconds (``/proc/<pid>/stat``: user + system, with reaped
children) from the first click until the last tab was done, of the server process, of the
browser (every Chromium process) and of the harness (this script and Playwright's driver,
polling the tabs). In real use each visitor's browser runs on the visitor's own machine, not
on the server's cores; ``--browser-priority nice`` comes closer to that by running Chromium at
nice 19 (a wrapper executable ``nice -n 19 /usr/bin/chromium "$@"``): the server and its
solvers get the cores first, though the tabs still use them after it. By default every count
is run both ways, alternated (normal, nice) on fresh servers, and both tables are written.

The same sweep is also driven without a browser, by N threads on one result cache (the
engine's share of the figures). Results: ``benchmarks/results/concurrency.txt`` (written
atomically).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What a tab shows, read in one round trip with CSS queries: [a curve is drawn, the run ended
# ("Done..." or "Could not run..." in an alert, or an exception)]. Playwright's text locators
# scan every text node of the page per call; polled in 8 tabs 5 times a second they were
# browser work the dashboard did not cause.
TAB_STATE = """() => [
  document.querySelector('.js-plotly-plot .legendtext') !== null,
  document.querySelector('[data-testid="stException"]') !== null
    || [...document.querySelectorAll('[data-testid^="stAlertContent"]')]
         .some(alert => /^\\s*(Done|Could not run)/.test(alert.textContent))
]"""
# Counts the websocket messages a tab receives (each one the dashboard renders): window.wlraMessages.
COUNT_MESSAGES = """(() => {
  window.wlraMessages = 0;
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) { super(...args); this.addEventListener('message', () => { window.wlraMessages += 1; }); }
  };
})()"""
# How Chromium is started, by --browser-priority: as it is, or at the lowest CPU priority.
NICE_WRAPPER = f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n'


def process_table() -> dict[int, tuple[int, str, float]]:
    """Every process: pid -> (parent pid, command name, CPU seconds of it and of its reaped
    children: utime + stime + cutime + cstime of ``/proc/<pid>/stat``)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # The command name is in parentheses and may itself hold spaces or parentheses.
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), name, sum(int(f) for f in fields[11:15]) / CLOCK_TICKS)
    return table


def descendants(table: dict, root: int) -> set[int]:
    """``root`` and every process below it in ``table``."""
    children = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found & set(table) | {root}


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server, the browser (Chromium's processes) and the harness
    (this process and Playwright's driver, the ``node`` process that drives Chromium)."""
    table = process_table()
    server = descendants(table, server_pid)
    mine = descendants(table, os.getpid()) - server
    harness = {os.getpid()} | {pid for pid in mine if table.get(pid, (0, ""))[1].startswith("node")}
    browser = {pid for pid in mine - harness if pid in table}
    # Only this process's own time: its reaped children are the servers of earlier counts.
    own = sum(os.times()[:2])
    return {"server": sum(table[pid][2] for pid in server if pid in table),
            "browser": sum(table[pid][2] for pid in browser),
            "harness": own + sum(table[pid][2] for pid in harness - {os.getpid()})}


def browser_sessions(browser, url: str, count: int, server_pid: int) -> dict:
    """``count`` tabs press Run on Compare together; what each saw and when, and the CPU
    seconds of the server, the browser and the harness from the first click to the last
    tab's "Done"."""
    tabs = []
    for _ in range(count):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.add_init_script(COUNT_MESSAGES)
        tab = context.new_page()
        tab.set_default_timeout(LIMIT_SECONDS * 1000)
        tab.goto(f"{url}/compare")
        tabs.append(tab)
    for tab in tabs:
        tab.locator(".js-plotly-plot").nth(2).wait_for()  # the empty charts: the page is ready
    loaded = [tab.evaluate("window.wlraMessages") for tab in tabs]
    clicks, cpu_before = [], cpu_seconds(server_pid)
    for tab in tabs:
        tab.locator(".st-key-compare-run button").click()
        clicks.append(time.perf_counter())
    first, done, finished = [None] * count, [None] * count, None
    while None in done and time.perf_counter() - clicks[0] < LIMIT_SECONDS:
        for i, tab in enumerate(tabs):
            if done[i] is not None:
                continue
            drawn, ended = tab.evaluate(TAB_STATE)
            now = time.perf_counter()
            if first[i] is None and drawn:
                first[i] = now - clicks[i]
            if ended:
                done[i] = now - clicks[i]
                finished = now
        time.sleep(POLL_SECONDS)
    cpu_after = cpu_seconds(server_pid)
    errors, served, messages = [], [], []
    for tab, before in zip(tabs, loaded):
        tab.wait_for_timeout(1000)  # the error boxes under the charts follow the Done line
        messages.append(tab.evaluate("window.wlraMessages") - before)
        # The seconds the server's run loop took, as the tab's own status line reports them.
        for text in tab.locator('[data-testid^="stAlertContent"]').all_inner_texts():
            if text.startswith("Done") and (took := re.search(r" results in ([0-9.]+) s", text)):
                served.append(float(took[1]))
        errors += [f"exception: {text[:120]}" for text in tab.locator('[data-testid="stException"]').all_inner_texts()]
        errors += [f"error: {text[:120]}" for text in
                   tab.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
        tab.context.close()
    return {"first": first, "done": done, "served": served, "messages": messages,
            "all_done": (finished or time.perf_counter()) - clicks[0], "errors": errors,
            "cpu": {what: cpu_after[what] - cpu_before[what] for what in cpu_before}}


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


def browser_run(playwright, executable: str, count: int) -> dict:
    """:func:`browser_sessions` of ``count`` tabs in a freshly launched ``executable`` on a
    freshly started server; with the server's peak memory and the load average after it."""
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    try:
        port = free_port()
        with open(Path("/tmp") / f"wlra_concurrency_{port}.log", "w") as log:
            process, _ = start_server(port, log)
        try:
            seen = browser_sessions(browser, f"http://127.0.0.1:{port}", count, process.pid)
            seen["peak"] = peak_memory_gb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        browser.close()
    seen["load"] = os.getloadavg()[0]
    return seen


BROWSER_HEADER = (f"  {'sessions':>8}  {'first point s':>13}  {'done s':>11}  {'server run s':>12}  {'last done s':>16}  "
                  f"{'server CPU s (per session)':>26}  {'browser CPU s':>13}  {'harness CPU s':>13}  "
                  f"{'messages':>8}  {'peak memory':>11}  {'load':>5}  errors")


def browser_line(count: int, seen: dict, alone: float) -> str:
    cpu = seen["cpu"]
    return (f"  {count:>8}  {seconds(seen['first']):>13}  {seconds(seen['done']):>11}  {seconds(seen['served']):>12}  "
            f"{seen['all_done']:>6.1f} ({seen['all_done'] / alone:.2f}x)  "
            f"{cpu['server']:>12.1f} ({cpu['server'] / count:>5.1f})       {cpu['browser']:>13.1f}  "
            f"{cpu['harness']:>13.1f}  {statistics.median(seen['messages']):>8.0f}  {seen['peak']:>8.2f} GB  "
            f"{seen['load']:>5.1f}  {len(seen['errors'])}")


PRIORITIES = {"normal": "Chromium at normal priority (on the server's cores, competing with it)",
              "nice": "Chromium at nice 19 (a wrapper running `nice -n 19 /usr/bin/chromium`): the server's "
                      "work first, closer to browsers on the visitors' own machines (the tabs still use "
                      "these cores after the server)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--browser-priority", nargs="+", choices=list(PRIORITIES), default=list(PRIORITIES),
                        help="run Chromium as it is and/or at nice 19 (default: both, alternated per count)")
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

        tables = {priority: [] for priority in args.browser_priority}
        with tempfile.TemporaryDirectory(prefix="wlra_concurrency_") as folder, sync_playwright() as playwright:
            niced = Path(folder) / "chromium"
            niced.write_text(NICE_WRAPPER)
            niced.chmod(0o755)
            executables = {"normal": CHROMIUM, "nice": str(niced)}
            for count in args.sessions:
                for priority, table in tables.items():
                    seen = browser_run(playwright, executables[priority], count)
                    table.append((count, seen))
                    print(f"{priority}: " + browser_line(count, seen, table[0][1]["all_done"]).strip(), flush=True)
                    for error in seen["errors"]:
                        print(f"    {error}", flush=True)
        for priority, table in tables.items():
            lines += ["", f"browser, {PRIORITIES[priority]}: N Chromium contexts on a freshly started server, "
                          "Run clicked in each; first point and done s: median / slowest tab; CPU s from the "
                          "first click to the last Done; messages: websocket messages a tab received from its click "
                          "until it was read, a second or more after the last Done (median over the tabs); load: "
                          "1-minute load average after the count",
                      BROWSER_HEADER]
            for count, seen in table:
                lines.append(browser_line(count, seen, table[0][1]["all_done"]))
                lines += [f"            {error}" for error in seen["errors"]]
    write_with_load(RESULTS, lines)


if __name__ == "__main__":
    main()
