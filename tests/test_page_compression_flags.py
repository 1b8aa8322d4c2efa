"""Compression's flags (issue 19 item 11): a method that does not minimise the weighted loss
(kfac, whiten, svd) is not ringed for a relative weighted loss above 1 -- the page says so
instead --, the flags are listed once per method and note, each chart's legend has one
"flagged (!)" entry, and the "why entrywise Fisher weighting" paragraph uses the weight_floor
set on the page."""
import json

import numpy as np
import pytest

import wlra_core
from apptest_helpers import figures, open_page
from app_pages._flags import rank_span

PAGE = "app_pages/compression.py"
RANKS = (1, 4)
FLOOR = 1e-3

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def floored_run(shipped):
    at = open_page(PAGE)
    at.slider(key="compression-ranks-128").set_value(RANKS)
    at.number_input(key="compression-floor").set_value(FLOOR)
    at.button(key="compression-run").click().run(timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    return shipped, at


def test_kfac_is_not_ringed_for_a_loss_it_does_not_minimise(floored_run):
    shipped, at = floored_run
    above_one = [k for k in range(RANKS[0], RANKS[1] + 1)
                 if wlra_core.solve("kfac", shipped, rank=k).relative_loss > 1]  # the oracle
    assert above_one, "kfac's relative weighted loss is above 1 somewhere at ranks 1-4 on the shipped problem"
    for title, chart in figures(at).items():
        rings = [t for t in chart["data"] if t.get("name") == "flagged (!)"]
        assert not any(text.startswith("kfac:") for t in rings for text in t["text"]), title
        assert sum(t.get("showlegend", True) is not False for t in rings) <= 1, title  # one legend entry
    said = " ".join(c.value for c in at.caption)
    assert f"kfac at {rank_span(above_one)}" in said.split("Not flagged: ")[1], said
    table = at.dataframe[0].value
    assert not table[table["method"] == "kfac"]["flags"].str.contains("relative loss").any()


def test_flags_are_listed_once_per_method_and_note(floored_run):
    _, at = floored_run
    box = next(w.value for w in at.warning if w.value.startswith("Flagged results"))
    lines = box.split("  \n")[1:]
    assert lines and len(lines) == len(set(lines))
    table = at.dataframe[0].value
    flagged = table[(table["flags"] != "") & (table["method"] != "uncompressed")]
    for method in set(flagged["method"]):
        assert any(line.startswith(f"**{method}** at rank") for line in lines), (method, lines)


def test_why_paragraph_uses_the_floor_set_on_the_page(floored_run):
    shipped, at = floored_run
    paragraph = next(m.value for m in at.markdown if m.value.startswith("**Why entrywise Fisher weighting"))
    W = shipped.W
    smallest = W[W > 0].min() / W.max()
    assert smallest < FLOOR  # so the floor, not the weight, is what svd_w divides by at least
    assert f"(weight_floor = {FLOOR:g})" in paragraph
    assert f"by numbers down to {max(smallest, FLOOR):.2g} of the largest weight" in paragraph
    svd_w = wlra_core.solve("svd_w", shipped, rank=RANKS[1], weight_floor=FLOOR)
    assert f"entries up to {svd_w.max_abs:.3g}" in paragraph
