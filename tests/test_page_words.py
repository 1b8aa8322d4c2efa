"""What the pages say, in words a new user reads (issue 19 item 15): generator descriptions
name the chosen numbers, not template names; singular and plural agree with the count, on
whole-number ticks; metric labels are short enough to show whole; "CSS" and "rk" are spelled
out where they first appear."""
import re

import numpy as np
import pytest

from apptest_helpers import figures, open_page
from wlra_core import Problem
from wlra_core.sweep import blas_threads


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with blas_threads(1):
        yield


def test_generator_description_names_the_chosen_ranks():
    at = open_page("app_pages/data.py")
    at.radio(key="data-source").set_value("synthetic").run()
    at.selectbox(key="synthetic-generator").set_value("planted_low_rank").run()
    at.number_input(key="synthetic-planted_low_rank-rank").set_value(7).run()
    at.number_input(key="synthetic-planted_low_rank-weight_rank").set_value(3).run()
    text = " ".join(m.value for m in at.markdown)
    assert "Planted rank-7 A plus noise, nonnegative rank-3 W" in text
    assert "at rank 7 computes" in text
    assert not re.search(r"rank[- ]`(rank|weight_rank)`", text)
    at.selectbox(key="synthetic-generator").set_value("banded").run()
    assert "W = nonnegative rank-1 part" in " ".join(m.value for m in at.markdown)


def test_a_rank_one_w_is_named_in_the_singular_on_whole_number_ticks():
    rng = np.random.default_rng(0)
    W = np.outer(rng.random(12) + 0.1, rng.random(9) + 0.1)  # rank 1
    at = open_page("app_pages/weights.py", Problem(rng.standard_normal((12, 9)), W, name="rank-1 W"))
    captions = " ".join(c.value for c in at.caption)
    assert "W's only numerically nonzero singular value: W has rank 1" in captions
    assert "1 numerically nonzero singular values" not in captions
    assert "The other one is below" in captions or "The other 8 are below" in captions
    axis = figures(at)["Singular values of W"]["layout"]["xaxis"]
    assert axis["tickvals"] == [1] and axis["range"] == [0.5, 1.5]


def test_communication_metric_labels_are_short_and_terms_spelled_out():
    at = open_page("app_pages/communication.py")
    labels = [m.label for m in at.metric]
    assert "Loss / lower bound" in labels
    assert max(map(len, labels)) <= 26, labels  # four metrics share a row: longer labels were cut off
    intro = at.markdown[0].value if at.markdown else ""
    text = " ".join(m.value for m in at.markdown)
    first_css = text.index("CSS")
    assert text[first_css - len("column subset selection ("):first_css] == "column subset selection ("
    assert "rk = r·k, the weight rank times the target rank" in text, intro


def test_home_spells_out_rk():
    at = open_page()
    assert "(the rank $r$ of $W$ times the\ntarget rank $k$)" in " ".join(m.value for m in at.markdown)
