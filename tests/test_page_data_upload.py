"""The Data page's uploader with hostile files: one file per refusal class of the corpus
(``REFUSAL_CLASSES`` in ``tests/hostile_corpus.py``) and one per way a file loads
(``LOADING_CLASSES``). A refused file gives one line that names the file and its defect,
never an exception element, and keeps the previously loaded problem; a file that loads
is announced, with one warning per dropped extra, and then every page renders it.

Every corpus file's message itself is checked at the loader, in test_hostile_inputs.py.
"""
from __future__ import annotations

import json
import re

import pytest

from apptest_helpers import APP, Upload
from hostile_corpus import CASES, CASES_BY_NAME, LOADING_CLASSES, REFUSAL_CLASSES, Case
from wlra_core.datasets.io import load_problem
from wlra_core.problem import fingerprint

PAGES = ["home", "data", "weights", "compare", "refine", "compression", "feature_selection", "communication"]


def check_message(message: str, case: Case) -> None:
    """One line, naming the file at fault, with the defect the case expects under the upload caps."""
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(case.label + ": "), message
    assert re.search(case.expected(True), message), f"{message!r} does not match {case.expected(True)!r}"


def open_upload_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/data.py").run()
    at.radio(key="data-source").set_value("upload").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at, case: Case) -> None:
    """Choose the case's files in the uploaders and press Load (one run once enabled)."""
    at.file_uploader(key="upload-A").set_value((case.name, case.make(), "application/octet-stream"))
    weights = (case.weights[0], case.weights[1](), "application/octet-stream") if case.weights else None
    at.file_uploader(key="upload-W").set_value(weights)
    if at.button(key="load-upload").disabled:
        at.run()
    at.button(key="load-upload").click().run()


@pytest.fixture(scope="module")
def upload_page():
    return open_upload_page()


@pytest.mark.parametrize("name", [*REFUSAL_CLASSES.values(), *LOADING_CLASSES.values()])
def test_upload(name, upload_page):
    case = CASES_BY_NAME[name]
    at = upload_page
    before = at.session_state["problem"]
    upload(at, case)
    assert not at.exception, [e.value for e in at.exception]
    if not case.loads:
        assert at.session_state["problem"] is before  # the previously loaded problem is kept
        (error,) = [e.value for e in at.error]
        prefix = "Could not load the upload: "
        assert error.startswith(prefix) and error.endswith("  \nThe previously loaded problem is kept."), error
        check_message(error[len(prefix):error.index("  \n")], case)
        return
    problem = at.session_state["problem"]
    assert problem is not before and not at.error
    assert problem.shape == case.shape
    assert [s.value for s in at.success] == [f"Loaded {problem.name}."]
    assert len(at.warning) == len(case.warnings)
    for pattern in case.warnings:
        assert any(re.search(pattern, w.value) for w in at.warning), (pattern, [w.value for w in at.warning])


def page_signature(problem) -> str:
    """What the pages see of a problem besides its name: equal signatures render alike."""
    meta = {k: v for k, v in problem.meta.items() if k not in ("file", "load_warnings")}
    model = {k: (v.shape, str(v.dtype)) for k, v in problem.model.items()}
    return json.dumps([fingerprint(problem), meta, model], sort_keys=True, default=str)


@pytest.fixture(scope="module")
def distinct_loaded_problems() -> dict[str, object]:
    """One loaded problem per distinct problem of the corpus (UTF-16, CR-only, v3 ...
    variants of one matrix render the same pages), by file name; built when first asked for."""
    seen, problems = set(), {}
    for case in CASES:
        if case.loads and case.on_disk:
            weights = Upload(case.weights[0], case.weights[1]()) if case.weights else None
            problem = load_problem(Upload(case.name, case.make()), weights=weights)
            signature = page_signature(problem)
            if signature not in seen:
                seen.add(signature)
                problems[case.name] = problem
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_every_distinct_loaded_file(page, distinct_loaded_problems):
    """Each distinct problem the loader accepts is put into one session (the upload itself is
    tested above) and the page is rendered: no exception element. One test per page, so that
    the pages render in parallel."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)  # the timeout guards against a hang only
    at.run()
    failures = []
    for name, problem in distinct_loaded_problems.items():
        at.session_state["problem"] = problem
        at.switch_page(f"app_pages/{page}.py").run()
        if at.exception:
            failures.append(f"{name} on {page}: {' '.join(str(at.exception[0].value).split())[:300]}")
        assert at.session_state["problem"] is problem
    assert not failures, failures
