"""Compare's link keeps every setting a teacher changes: svd_w's weight_rank, another
algorithm's options, and the Relative loss / Log y axis toggles. A NEW session opened with
the query the first one wrote shows the same settings (and draws with them)."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import APP, TIMEOUT, figures
from wlra_core.sweep import blas_threads

COMPARE = "app_pages/compare.py"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with blas_threads(1):
        yield


def session(query: dict) -> AppTest:
    """A new session opened on Compare with this URL query (a shared link)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(COMPARE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_link_restores_algorithm_options_and_chart_toggles():
    # The link a teacher copies after choosing these settings (bound widgets write their keys).
    link = {"compare-algorithms": ["svd", "svd_w", "em"], "opt-svd_w-weight_rank": "3", "opt-em-tol": "0.01",
            "compare-relative": "false", "compare-log-y": "false"}
    default = session({"compare-algorithms": ["svd", "svd_w", "em"]})
    assert default.number_input(key="opt-svd_w-weight_rank").value == 1
    assert default.toggle(key="compare-log-y").value is True

    shared = session(link)
    assert shared.number_input(key="opt-svd_w-weight_rank").value == 3
    assert shared.number_input(key="opt-em-tol").value == pytest.approx(0.01)
    assert shared.number_input(key="opt-em-n_iter").value == default.number_input(key="opt-em-n_iter").value
    assert shared.toggle(key="compare-relative").value is False
    assert shared.toggle(key="compare-log-y").value is False
    loss_chart = figures(shared)["Weighted loss vs rank"]
    assert loss_chart["layout"]["yaxis"]["title"]["text"].startswith("loss ||W o (A - X)||²")
    assert not shared.warning or "Not used from the link" not in " ".join(w.value for w in shared.warning)


def test_a_link_with_an_option_out_of_range_says_it_was_not_used():
    at = session({"compare-algorithms": ["svd", "svd_w"], "opt-svd_w-weight_rank": "0"})
    assert at.number_input(key="opt-svd_w-weight_rank").value == 1
    assert any("opt-svd_w-weight_rank=0" in w.value for w in at.warning), [w.value for w in at.warning]
