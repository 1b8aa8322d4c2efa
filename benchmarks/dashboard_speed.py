"""Dashboard speed figures (issue 4), measured, printed, never asserted.

Targets: the landing page renders <= 2 s after the server is up, with no TensorFlow
import on its path; Compare on the shipped problem with svd, svd_w, svd_w_practical, em,
svd_w_em, greedy, als, fwsvd and sample over ranks 1-20, 1 trial, finishes <= 30 s with
the first points on screen within 2 s.

Usage::

    .venv/bin/python benchmarks/dashboard_speed.py            # everything
    .venv/bin/python benchmarks/dashboard_speed.py --no-browser

What is measured:

1. Import path: the home page run in-process (AppTest); which heavy modules it loaded.
2. Landing page: ``streamlit run app.py`` started (``--servers`` times, default 3); seconds
   until /_stcore/health answers; then, for new sessions (tabs of a freshly launched
   Chromium via Playwright), seconds from navigation until the title, and until the whole
   page (both example panels and the links) shows. Each server's first session also pays
   the server's first imports and the shipped problem's load, and an empty browser cache.
3. Compare, orchestration only (no browser): the sweep engine (:func:`wlra_core.sweep.run`)
   with the nine algorithms; seconds to the first result, in total and per algorithm.
4. Compare in the browser: the Compare page with the same nine algorithms (css removed
   from the default selection), Run clicked; seconds until the first curve is drawn and
   until the run reports Done.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NINE = ("svd", "svd_w", "svd_w_practical", "em", "svd_w_em", "greedy", "als", "fwsvd", "sample")
HEAVY_MODULES = ("tensorflow", "tensorflow_datasets", "sklearn", "pandas", "scipy.io", "dask")


# What app.py and app_pages/home.py import (the shipped problem's loader included).
LANDING_IMPORTS = ("streamlit", "plotly.graph_objects", "wlra_core", "app_pages._state", "app_pages._views",
                   "app_pages._charts", "wlra_core.sweep", "wlra_core.datasets.io")


def import_times() -> None:
    """``python -X importtime`` of the landing page's imports, in a fresh interpreter."""
    code = "import " + ", ".join(LANDING_IMPORTS)
    report = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT,
                            capture_output=True, text=True, check=True).stderr
    cumulative = {}
    for line in report.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            cumulative[parts[2].strip()] = int(parts[1]) / 1e6
    top = ", ".join(f"{name} {cumulative[name]:.2f} s" for name in LANDING_IMPORTS if name in cumulative)
    tf = sorted(name for name in cumulative if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "keras"))
    print(f"python -X importtime, landing imports (cumulative): {top}")
    print(f"TensorFlow/Keras modules among them: {len(tf)}")


def import_path() -> None:
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    seconds = time.perf_counter() - start
    loaded = [m for m in HEAVY_MODULES if m in sys.modules]
    print(f"home page, in-process first run: {seconds:.2f} s; exceptions: {len(at.exception)}")
    print(f"heavy modules loaded on the landing path: {', '.join(loaded) or 'none'}"
          f"  (tensorflow imported: {'tensorflow' in sys.modules})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, log):
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return process, time.perf_counter() - start
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("streamlit exited; see its log")
            time.sleep(0.05)


def browser_figures(sessions: int, servers: int, large: tuple[int, int] | None = None) -> None:
    """Landing page timings on ``servers`` freshly started servers (a new browser profile
    each: empty cache), then Compare (and the ``large`` (n, d) problem) on the last one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        for server in range(1, servers + 1):
            port = free_port()
            log_path = Path("/tmp") / f"wlra_dashboard_speed_{port}.log"
            with open(log_path, "w") as log:
                process, up = start_server(port, log)
            url = f"http://127.0.0.1:{port}"
            print(f"server {server}: up (health ok) after {up:.2f} s")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                landing_sessions(browser, url, sessions)
                if server == servers:
                    compare_in_browser(browser, url)
                    if large is not None:
                        large_problem_in_browser(browser, url, *large)
                    print(f"server's peak memory (VmHWM) so far: {peak_memory_gb(process.pid):.2f} GB")
            finally:
                browser.close()
                process.terminate()
                process.wait(timeout=15)


def landing_sessions(browser, url: str, sessions: int) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    for session in range(1, sessions + 1):
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="WLRA Explorer", level=1).wait_for(timeout=120_000)
        title = time.perf_counter() - start
        page.locator('[data-testid="stImage"] img').nth(1).wait_for(timeout=120_000)
        page.locator('[data-testid="stPageLink"]').last.wait_for(timeout=120_000)
        label = "cold server, empty browser cache" if session == 1 else "browser cache warm"
        print(f"  landing page, session {session} ({label}): title {title:.2f} s, whole page "
              f"(both example panels, links) {time.perf_counter() - start:.2f} s after navigation")
        page.close()
    context.close()


def compare_in_browser(browser, url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    open_page(page, "Compare")
    page.locator(".js-plotly-plot").nth(2).wait_for()  # the empty charts
    keep_algorithms(page, NINE)
    start = time.perf_counter()
    page.locator(".st-key-compare-run button").click()
    page.locator(".js-plotly-plot .scatterlayer path.point").first.wait_for()  # the first point drawn
    first = time.perf_counter() - start
    page.get_by_text(re.compile(r"^Done: ")).wait_for(timeout=600_000)
    total = time.perf_counter() - start
    legend = [name for name in page.locator(".js-plotly-plot").first.locator(".legendtext").all_text_contents()
              if not name.endswith("flagged (!)")]  # the rings marking flagged results have their own entries
    print(f"Compare in the browser ({len(legend)} algorithms: {', '.join(legend)}), ranks 1-20, 1 trial: "
          f"first points {first:.2f} s after Run, Done after {total:.2f} s")
    context.close()


def peak_memory_gb(pid: int) -> float:
    """Peak resident memory of a process (Linux /proc VmHWM), in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=600_000)


def open_page(page, title: str) -> float:
    """Seconds from the navigation click until the page's script run has finished."""
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)
    return time.perf_counter() - start


def keep_algorithms(page, names) -> None:
    """Deselect every algorithm not in ``names``; a click landing during a rerun is retried."""
    from wlra_core import ALGORITHMS

    box = page.locator(".st-key-compare-algorithms")
    for _ in range(3 * len(ALGORITHMS)):
        extra = [label for label in ALGORITHMS
                 if label not in names and box.locator(f'button[aria-label="Remove {label}"]').count()]
        if not extra:
            return
        remove = box.locator(f'button[aria-label="Remove {extra[0]}"]')
        remove.click()
        remove.wait_for(state="detached")
        wait_idle(page)
    raise RuntimeError(f"could not deselect {extra}")


def choose_option(page, key: str, option: str) -> None:
    """Open the select box ``key`` and pick ``option`` (the click is retried if a rerun swallowed it)."""
    for _ in range(5):
        page.locator(f".st-key-{key}").click()
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(timeout=5_000)
        except Exception:  # noqa: BLE001 - the list did not open: click again
            wait_idle(page)
            continue
        choice.click()
        wait_idle(page)
        return
    raise RuntimeError(f"could not choose {option} in {key}")


def large_problem_in_browser(browser, url: str, n: int, d: int) -> None:
    """A paper-sized Fisher-like problem through the dashboard: generate, Weights, Compare, Stop."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(600_000)
    page.goto(url)
    page.get_by_role("heading", name="WLRA Explorer", level=1).wait_for()
    open_page(page, "Data")
    page.get_by_text("Synthetic", exact=True).click()
    wait_idle(page)
    choose_option(page, "synthetic-generator", "fisher_like")
    for name, value in (("n", n), ("d", d)):
        field = page.locator(f".st-key-synthetic-fisher_like-{name} input")
        field.fill(str(value))
        field.press("Enter")
        wait_idle(page)
    start = time.perf_counter()
    page.locator(".st-key-load-synthetic button").click()
    page.get_by_text(f"{n} x {d}", exact=True).wait_for()  # the facts table of the new problem
    wait_idle(page)
    print(f"large problem {n} x {d} in the browser: generated and its facts shown after "
          f"{time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    open_page(page, "Weights")
    page.locator(".js-plotly-plot").nth(4).wait_for()  # 3 block-mean heatmaps, spectrum, cumulative mass
    print(f"  Weights page (3 block-mean heatmaps, spectrum) ready after {time.perf_counter() - start:.1f} s")
    print(f"  Compare page ready after {open_page(page, 'Compare'):.1f} s")
    keep_algorithms(page, ("svd", "svd_w", "svd_w_practical", "fwsvd"))
    start = time.perf_counter()
    page.locator(".st-key-compare-run button").click()
    page.locator(".js-plotly-plot .scatterlayer path.point").first.wait_for()
    first = time.perf_counter() - start
    page.get_by_text(re.compile(r"^Done: ")).wait_for()
    print(f"  Compare svd, svd_w, svd_w_practical, fwsvd x ranks 1-20: first points {first:.1f} s after Run, "
          f"Done after {time.perf_counter() - start:.1f} s")
    keep_algorithms(page, ("svd",))
    page.locator(".st-key-compare-algorithms input").fill("em")
    page.get_by_role("option", name="em", exact=True).click()
    keep_algorithms(page, ("em",))
    page.locator(".st-key-compare-run button").click()
    stop = page.locator(".st-key-compare-stop button")
    stop.wait_for()
    page.wait_for_timeout(5000)
    start = time.perf_counter()
    stop.click()
    page.get_by_text(re.compile(r"^Stopped\b")).wait_for()  # "Stopped." or "Stopped before any result..."
    print(f"  em started, Stop clicked after 5 s: the page said Stopped {time.perf_counter() - start:.1f} s later")
    context.close()


def compare_orchestration() -> None:
    from wlra_core.datasets.io import default_problem
    from wlra_core.sweep import ResultEvent, make_sweep, run

    problem = default_problem()
    sweep = make_sweep(problem, NINE, range(1, 21), trials=1)
    start = time.perf_counter()
    first = None
    finished: dict[str, float] = {}
    for update in run(sweep):
        if isinstance(update, ResultEvent):
            now = time.perf_counter() - start
            first = now if first is None else first
            finished[update.row.method] = now
    total = time.perf_counter() - start
    print(f"Compare orchestration ({len(NINE)} algorithms x 20 ranks, 1 trial, {problem.shape[0]} x "
          f"{problem.shape[1]}): first result {first:.2f} s, all {sweep.size} results {total:.2f} s")
    previous = 0.0
    for name in NINE:
        print(f"  {name:<16} {finished[name] - previous:7.2f} s")
        previous = finished[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-browser", action="store_true", help="skip the server and browser figures")
    parser.add_argument("--sessions", type=int, default=3, help="landing page sessions to time per server")
    parser.add_argument("--servers", type=int, default=3, help="cold server starts to time the landing page on")
    parser.add_argument("--large", nargs=2, type=int, metavar=("N", "D"),
                        help="also drive a Fisher-like N x D problem through Data, Weights and Compare "
                             "(e.g. 67500 1024, the paper's largest kernel)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    import_times()
    import_path()
    compare_orchestration()
    if not args.no_browser:
        if not Path(CHROMIUM).exists():
            print(f"browser figures skipped: {CHROMIUM} is not installed")
        else:
            browser_figures(args.sessions, args.servers, args.large)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
