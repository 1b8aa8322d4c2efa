"""Fixtures the test modules share, among them the Chromium suites' (test_browser*.py): a
freshly started ``streamlit run app.py`` (``server``) and Debian's Chromium driven by Playwright
(``browser``); what a walk does in a tab is in apptest_helpers."""
import fcntl
import os
from pathlib import Path

import numpy as np
import pytest

from apptest_helpers import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, streamlit_server
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


# The digits MLP the tests share, trained once per test run.
DIGITS_SETTINGS = dict(hidden=6, epochs=2, seed=0)


@pytest.fixture(scope="session")
def digits_trained(tmp_path_factory):
    """``(problem, cache_dir)``: the scikit-learn digits MLP of :data:`DIGITS_SETTINGS` and the
    pipeline cache folder it was saved to by :func:`fisher_problem`.

    The pytest-xdist workers of one run share the cache folder: the first to get its lock
    trains the network, the others read it from the cache.
    """
    pytest.importorskip("tensorflow")
    from wlra_core.datasets import fisher_problem

    base = tmp_path_factory.getbasetemp()
    run_folder = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(run_folder / "digits-cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = run_folder / "digits-cache"
        cache.mkdir(exist_ok=True)
        return fisher_problem("digits", **DIGITS_SETTINGS, cache_dir=cache), cache


# --- Chromium (Playwright): helpers in apptest_helpers --------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # the page's own timeout: a loaded machine redraws slowly
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
