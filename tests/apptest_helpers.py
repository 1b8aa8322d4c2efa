"""What the test modules share: opening a page with a given problem, reading plotly
figures back from their specs (arrays arrive as base64 ``bdata``), uploads as the loader
sees them, and, for the browser suites, a freshly started server (:func:`streamlit_server`)."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from wlra_core.problem import Problem

if TYPE_CHECKING:  # streamlit's import is left to the tests that open the app
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths against the test file's folder
TIMEOUT = 120  # first runs import plotly/scipy; the machine may be shared


def open_page(page: str | None = None, problem=None, *, timeout: float = TIMEOUT) -> AppTest:
    """A fresh session of the app on ``page`` (e.g. ``"app_pages/compare.py"``), with
    ``problem`` loaded into it when given; fails on an exception element."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if problem is not None:
        at.session_state["problem"] = problem
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(array) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata", "shape"}`` of little-endian bytes."""
    if isinstance(array, dict):
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
        shape = array.get("shape")
        return flat.reshape([int(x) for x in str(shape).split(",")]) if shape else flat
    return np.asarray(array)


def charts(at: AppTest) -> list[dict]:
    """Every plotly chart of the page, in page order."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def figures(at: AppTest) -> dict[str, dict]:
    """Every plotly chart of the page by its title."""
    return {spec["layout"]["title"]["text"]: spec for spec in charts(at)}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def svg_panels(at: AppTest) -> list[str]:
    """The home page's example panels: SVG images sent as base64 data URLs."""
    return [base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode() for image in at.get("image")]


def generate(generator: str, **params) -> AppTest:
    """The Data page after Generate with ``generator`` and these number inputs."""
    at = open_page("app_pages/data.py")
    at.radio(key="data-source").set_value("synthetic").run()
    at.selectbox(key="synthetic-generator").set_value(generator).run()
    for name, value in params.items():
        at.number_input(key=f"synthetic-{generator}-{name}").set_value(value)
    at.button(key="load-synthetic").click().run()
    return at


def method_traces(figure: dict) -> dict[str, dict]:
    """The traces of a chart that draw one method each (not bands, rings or reference lines),
    by name without its "(failed at ...)" and "(same curve as ...)" notes."""
    return {re.sub(r"( \((failed at|same curve as) [^)]*\))+$", "", t["name"]): t for t in figure["data"]
            if t.get("name") and t.get("showlegend", True) is not False
            and not t["name"].endswith("flagged (!)") and t["name"] != "Pareto front"}


def xy(trace: dict) -> tuple[np.ndarray, np.ndarray]:
    return decode(trace["x"]).astype(float), decode(trace["y"]).astype(float)


# ``python -m streamlit`` with the pipeline's disk cache in a temporary folder (argv[1]), as the
# AppTest suites do: training in a browser test must neither read nor write the checkout's data/cache.
SERVER = ("import sys; from wlra_core.datasets import pipeline; "
          "pipeline.DEFAULT_CACHE_DIR = sys.argv.pop(1); "
          "from streamlit.web.cli import main; sys.argv[0] = 'streamlit'; main()")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(tmp_path_factory, script: str = "app.py"):
    """A freshly started ``streamlit run script`` (``app.py``, or ``serve.py`` as the launcher
    serves it) on a free local port: yields its URL and its log's path; stopped by its PID."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    cache_dir = tmp_path_factory.mktemp("pipeline-cache")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(cache_dir), "run", script, "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Upload(io.BytesIO):
    """What Streamlit's UploadedFile offers to the loader: a BytesIO with a name."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name


# The small trained-MLP problem of mlp_problem: 4 x 4 images, 8 hidden units, 3 classes.
IMAGE_SHAPE = (4, 4, 1)
HIDDEN, CLASSES, N_TEST = 8, 3, 400
SCALE = 1 / 255


def mlp_problem(seed=0, name="tiny_mlp"):
    """A small trained-MLP problem whose labels mostly agree with the network."""
    rng = np.random.default_rng(seed)
    n_inputs = int(np.prod(IMAGE_SHAPE))
    kernel = 2 * rng.standard_normal((n_inputs, HIDDEN))
    model = {
        "hidden_bias": -0.5 * kernel.sum(axis=0),  # centres the pre-activations
        "output_kernel": rng.standard_normal((HIDDEN, CLASSES)),
        "output_bias": rng.standard_normal(CLASSES) / 10,
        "x_test": rng.integers(0, 256, size=(N_TEST, n_inputs)).astype(np.uint8),
    }
    x = model["x_test"] * SCALE
    logits = np.maximum(x @ kernel + model["hidden_bias"], 0) @ model["output_kernel"] + model["output_bias"]
    labels = np.argmax(logits, axis=1)
    flip = rng.random(N_TEST) < 0.2
    labels[flip] = rng.integers(0, CLASSES, size=int(flip.sum()))
    model["y_test"] = labels
    W = rng.random((n_inputs, 1)) @ rng.random((1, HIDDEN)) + 0.01 * rng.random((n_inputs, HIDDEN))
    W[0] = 0.0  # a dead pixel: zero Fisher row
    meta = {"input_scale": SCALE, "image_shape": list(IMAGE_SHAPE), "hidden": HIDDEN}
    return Problem(kernel, W, name=name, meta=meta, model=model)


# --- Chromium (Playwright): what a walk does in a tab ----------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000


def new_tab(browser, url: str):
    """A tab in a fresh browser context (a new visitor: no cookies, a new Streamlit session) at ``url``."""
    tab = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(url)
    return tab


# Streamlit marks its root with the script's run state ("running", "notRunning", ...). A click
# reaches the server only after a round trip, so "idle" means idle for SETTLE_MS in a row.
SETTLE_MS = 600
_IDLE_FOR = """settle => {
    const state = document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state');
    const now = performance.now();
    if (state !== 'notRunning' || window.__wlraIdleSince === undefined) window.__wlraIdleSince = now;
    return state === 'notRunning' && now - window.__wlraIdleSince >= settle;
}"""


def wait_idle(page) -> None:
    """Wait until the script run finished and no other run started for ``SETTLE_MS``."""
    page.evaluate("() => { window.__wlraIdleSince = undefined; }")
    page.wait_for_function(_IDLE_FOR, arg=SETTLE_MS, timeout=TIMEOUT_MS, polling=100)


def go_to_page(page, title: str) -> None:
    """Click the page ``title`` in the sidebar and wait for it to finish running."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)


def no_exception(page) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.all_inner_texts()


def set_number(page, key: str, value) -> None:
    """Type ``value`` into the number input with this widget key and commit it (Enter)."""
    field = page.locator(f".st-key-{key} input")
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)
