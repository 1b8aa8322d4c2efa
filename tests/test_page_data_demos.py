"""Data page: the offline demos of missing entries (a masked sample photograph, masked digits)
load with their truth and are named in the URL, so a new session with that URL makes the same
problem; an upload with NaN loads with W = 0 there, and the Data, Weights and Compare pages and
the CLI count the same missing entries."""
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages._links import PROBLEM_KEYS, DemoLink, LinkError, parse_link
from apptest_helpers import APP, TIMEOUT
from wlra_core.cli import main
from wlra_core.datasets.masked import masked_digits, masked_image
from wlra_core.problem import fingerprint

DATA = "app_pages/data.py"


def session(query: dict, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_masked_image_demo_loads_with_its_truth_and_a_link_makes_it_again():
    at = session({}, DATA)
    at.radio(key="data-source").set_value("demo").run()
    at.selectbox(key="demo-generator").set_value("masked_image").run()
    at.selectbox(key="synthetic-masked_image-image").set_value("flower")
    at.number_input(key="synthetic-masked_image-observed").set_value(0.3)
    at.number_input(key="synthetic-masked_image-seed").set_value(7)
    at.number_input(key="synthetic-masked_image-downscale").set_value(10)
    at.button(key="load-demo").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    expected = masked_image("flower", observed=0.3, seed=7, downscale=10)
    problem = at.session_state["problem"]
    assert fingerprint(problem) == fingerprint(expected) and problem.truth is not None
    query = {k: v for k, v in at.query_params.items() if k in PROBLEM_KEYS}
    assert query == {"source": "demo", "generator": "masked_image", "image": '"flower"', "observed": "0.3",
                     "seed": "7", "downscale": "10"}
    missing = int((expected.W == 0).sum())
    assert any(f"**{missing:,} of the {expected.W.size:,} entries" in m.value for m in at.markdown)
    again = session(query, DATA)  # a reload, or the link shared
    assert fingerprint(again.session_state["problem"]) == fingerprint(expected)


def test_demo_links_name_only_demos():
    link = parse_link({"source": ["demo"], "generator": ["masked_digits"], "observed": ["0.25"]})
    assert link == DemoLink("masked_digits", (("observed", 0.25), ("seed", 0)))
    assert fingerprint(link.load()) == fingerprint(masked_digits(0.25, 0))
    with pytest.raises(LinkError, match="unknown generator 'random_mask'; the generators are masked_image, "
                                        "masked_digits"):
        parse_link({"source": ["demo"], "generator": ["random_mask"]})


def test_nan_upload_counts_the_same_missing_entries_on_every_page_and_in_the_cli(tmp_path, capsys):
    A = np.arange(1.0, 13.0).reshape(4, 3)
    A[0, 1] = A[2, 2] = np.nan
    text = "\n".join(",".join("nan" if np.isnan(v) else f"{v:g}" for v in row) for row in A)
    at = session({}, DATA)
    at.radio(key="data-source").set_value("upload").run()
    at.file_uploader(key="upload-A").set_value(("gaps.csv", text.encode(), "text/csv")).run()
    at.button(key="load-upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    problem = at.session_state["problem"]
    np.testing.assert_array_equal(problem.W, np.where(np.isnan(A), 0.0, 1.0))
    line = "**2 of the 12 entries (16.7%) are missing** (W = 0): no algorithm is fitted to them."
    assert line in [m.value for m in at.markdown]
    at.switch_page("app_pages/weights.py").run()
    assert any(line in m.value for m in at.markdown)
    at.switch_page("app_pages/compare.py").run()
    assert any(line in m.value for m in at.markdown)
    assert at.toggle(key="compare-holdout-mask").value  # the held-out check is on for a mask
    path = tmp_path / "gaps.csv"
    path.write_text(text)
    assert main(["info", str(path)]) == 0
    assert re.search(r"^zero entries of W +2 \(16\.67%\)$", capsys.readouterr().out, re.MULTILINE)
