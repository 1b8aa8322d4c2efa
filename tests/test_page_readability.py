"""Readable charts and controls (issue 19 item 12), as AppTest sees them: Refine's log axis
labels whole decades; Compare draws min-max bands only for a few methods unless asked,
names a curve that hides another, groups a flag repeated over ranks into one line, labels
counts in short SI form; the ranks slider spans 1-20 with a way to go higher."""
import numpy as np
import pytest

import wlra_core

from apptest_helpers import decode, figures, open_page
from wlra_core import Problem
from wlra_core.datasets.synthetic import random_mask
from wlra_core.sweep import blas_threads

COMPARE = "app_pages/compare.py"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with blas_threads(1):
        yield


def small_problem(W=None, seed=0) -> Problem:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 12))
    return Problem(A, rng.random((30, 12)) + 0.2 if W is None else W, name="small")


def run(at, algorithms, ranks, trials=1):
    at.multiselect(key="compare-algorithms").set_value(algorithms).run()
    at.slider(key="compare-ranks-12").set_value(ranks)
    at.number_input(key="compare-trials").set_value(trials)
    at.button(key="compare-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return figures(at)


def bands(chart) -> list[dict]:
    return [t for t in chart["data"] if t.get("name", "").endswith("min-max")]


def test_refine_labels_decades_only():
    at = open_page("app_pages/refine.py", small_problem())
    at.button(key="refine-run").click().run()
    assert not at.exception
    for title, chart in figures(at).items():
        axis = chart["layout"]["yaxis"]
        assert axis["type"] == "log" and axis["dtick"] >= 1 and float(axis["dtick"]).is_integer(), title


def test_bands_only_for_a_few_methods_unless_asked_and_lighter():
    at = open_page(COMPARE, small_problem())
    few = run(at, ["svd", "em", "als"], (1, 3), trials=3)["Runtime vs rank"]
    assert bands(few) and all(b["opacity"] <= 0.1 for b in bands(few))
    many = ["svd", "svd_w", "svd_w_practical", "em", "als", "greedy", "sample"]
    assert not bands(run(at, many, (1, 3), trials=3)["Runtime vs rank"])
    at.toggle(key="compare-bands").set_value(True).run()
    assert bands(figures(at)["Runtime vs rank"])


def test_a_curve_hiding_another_says_so_in_the_legend():
    # W constant: fwsvd's row weights are equal, so fwsvd is svd and its curve covers svd's.
    charts = run(open_page(COMPARE, small_problem(W=np.full((30, 12), 2.0))), ["svd", "fwsvd", "sample"], (1, 3))
    names = [t["name"] for t in charts["Weighted loss vs rank"]["data"]]
    assert "fwsvd (same curve as svd, drawn over it)" in names
    assert "svd" in names and "sample" in names  # a different curve: not named


def test_a_flag_repeated_over_ranks_is_one_line_and_one_legend_entry():
    problem = random_mask(30, 12, 2, 0.5, 0.0, 0)
    at = open_page(COMPARE, problem)
    charts = run(at, ["svd", "svd_w"], (1, 4))
    box = next(w.value for w in at.warning if w.value.startswith("Flagged results"))
    # The held-out check is on for a mask: the methods see W = 0 on its held-out entries too.
    unweighted = int((wlra_core.holdout(problem, fraction=0.1, seed=0).fit.W == 0).sum())
    line = f"**svd_w** at ranks 1–4: fills nothing: the approximation is 0 on all {unweighted:,} entries with W = 0"
    assert line in box.split("  \n")
    assert box.count("fills nothing") == 1
    legend = [t for t in charts["Weighted loss vs rank"]["data"] if t.get("showlegend", True) is not False]
    assert sum(t["name"] == "flagged (!)" for t in legend) == 1


def test_stored_numbers_read_as_short_si_labels(shipped):
    at = open_page(COMPARE)
    at.multiselect(key="compare-algorithms").set_value(["svd", "svd_w"]).run()
    at.slider(key="compare-ranks-128").set_value((1, 5))
    at.button(key="compare-run").click().run()
    assert figures(at)["Weighted loss vs stored numbers"]["layout"]["xaxis"]["tickformat"] == "~s"


def test_ranks_slider_spans_one_to_twenty_until_raised(shipped):
    at = open_page(COMPARE)
    slider = at.slider(key="compare-ranks-128")
    assert (slider.min, slider.max, slider.value) == (1, 20, (1, 20))
    at.number_input(key="compare-ranks-128-top").set_value(128).run()
    assert at.slider(key="compare-ranks-128").max == 128
    assert at.number_input(key="compare-ranks-128-top").max == 128  # the problem's largest rank
