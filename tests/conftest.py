"""Fixtures the test modules share, and the helpers of the Chromium suites (test_browser*.py):
a freshly started ``streamlit run app.py`` (the ``server`` fixture), Debian's Chromium driven
by Playwright (``browser``), and what a walk does in a tab."""
from pathlib import Path

import numpy as np
import pytest

from apptest_helpers import streamlit_server
from wlra_core.datasets.io import default_problem
from wlra_core.sweep import blas_threads
from wlra_core.tables import ResultRow


@pytest.fixture(scope="session")
def shipped():
    """The shipped Fashion-MNIST problem (loaded once)."""
    return default_problem()


@pytest.fixture(scope="module")
def one_blas_thread():
    """Oracle solves with one BLAS thread, like the dashboard's engine: bit-identical numbers."""
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def problem():
    """A 30 x 20 problem (A, W) with random weights and two zero rows of W.

    Modules that need another problem define their own ``problem`` fixture, which
    overrides this one.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 20))
    W = rng.random((30, 20))
    W[[1, 4]] = 0.0
    return A, W


@pytest.fixture(scope="session")
def make_row():
    """A factory of :class:`wlra_core.tables.ResultRow` for tests of what consumes rows: the
    fields a test does not give get placeholders (problem "p", method "m", zero measurements)."""
    def make(**fields) -> ResultRow:
        placeholders = dict(problem="p", method="m", algorithm="svd", rank=1, loss=0.0, relative_loss=0.0,
                            seconds=0.0, n_params=1)
        return ResultRow(**{**placeholders, **fields})

    return make


class CorpusFiles:
    """The hostile corpus's files, each written to disk the first time a test asks for it
    (in its own folder under ``root``): ``files[name]`` is ``(file, weights file or None)``."""

    def __init__(self, root: Path):
        self.root = root
        self.written: dict[str, tuple[Path, Path | None]] = {}

    def __getitem__(self, name: str) -> tuple[Path, Path | None]:
        from hostile_corpus import CASES_BY_NAME, write_case

        if name not in self.written:
            self.written[name] = write_case(CASES_BY_NAME[name], self.root / f"{len(self.written):03d}")
        return self.written[name]

    def __contains__(self, name: str) -> bool:
        from hostile_corpus import CASES_BY_NAME

        return name in CASES_BY_NAME and CASES_BY_NAME[name].on_disk


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> CorpusFiles:
    """The hostile corpus's on-disk files, each written when a test first asks for it."""
    return CorpusFiles(tmp_path_factory.mktemp("hostile"))


# The digits MLP the tests share, trained once per session (per xdist worker: the tests that
# use it share an xdist group, so one worker trains it).
DIGITS_SETTINGS = dict(hidden=6, epochs=2, seed=0)


@pytest.fixture(scope="session")
def digits_trained(tmp_path_factory):
    """``(problem, cache_dir)``: the scikit-learn digits MLP of :data:`DIGITS_SETTINGS` and the
    pipeline cache folder it was saved to by :func:`fisher_problem`."""
    pytest.importorskip("tensorflow")
    from wlra_core.datasets import fisher_problem

    cache = tmp_path_factory.mktemp("digits-cache")
    return fisher_problem("digits", **DIGITS_SETTINGS, cache_dir=cache), cache


def pytest_collection_modifyitems(items):
    """Under pytest-xdist (``--dist loadgroup``), keep on one worker the tests that would
    otherwise each start their own copy of something costly: the browser tests (a Streamlit
    server and Chromium) and the users of the trained digits network."""
    for item in items:
        if item.path.name.startswith("test_browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif "digits_trained" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("digits"))


# --- Chromium (Playwright) -----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_tab(browser, url: str):
    """A tab in a fresh browser context (a new visitor: no cookies, a new Streamlit session) at ``url``."""
    tab = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(url)
    return tab


def wait_idle(page) -> None:
    """Wait until the script run finished (Streamlit shows its status widget while running)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=TIMEOUT_MS)


def open_page(page, title: str) -> None:
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
