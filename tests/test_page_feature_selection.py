"""The Feature selection page: its curve and pixel mask equal wlra_core's, the reference
lines carry their labels at their heights, rules drawn in css's colour, the pixel importance
map shared with the Weights page, and settings kept across page switches."""
import math

import numpy as np
import pytest

from apptest_helpers import captions, decode, figures, mlp_problem, open_page, xy
from wlra_core.feature_selection import references, selection_curve, size_grid


def trace(figure: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    for t in figure["data"]:
        if t.get("name") == name:
            return xy(t)
    raise KeyError(f"no trace {name!r} in {[t.get('name') for t in figure['data']]}")

def test_feature_selection_page_curve_and_pixel_mask():
    problem = mlp_problem()
    at = open_page("app_pages/feature_selection.py", problem)
    charts = figures(at)
    curve = charts["Weighted loss vs number of selected rows"]
    n = problem.shape[0]
    sizes = size_grid(min(n, 20), 12)
    rows, errors = selection_curve(problem.A, problem.W, sizes, selections=["pivoted_qr"], axis="rows", rank=5,
                                   weight_rank=1)
    assert errors == []
    x, y = trace(curve, "pivoted QR")
    np.testing.assert_array_equal(x, sizes)
    np.testing.assert_allclose(y, [r.row.relative_loss for r in rows], rtol=1e-12)
    refs = references(problem.A, problem.W, 5, 1, axis="rows")
    lines = [s["y0"] for s in curve["layout"]["shapes"] if s["type"] == "line" and s["y0"] == s["y1"]]
    # svd_w's loss is ||(W o A)_{-rk}||^2 here (W's zeros form a whole row, where (W o A)_rk is 0
    # too), so the page draws one line for both.
    assert refs.svd_w_loss == pytest.approx(refs.lower_bound, rel=1e-9)
    np.testing.assert_allclose(lines, [refs.lower_bound / refs.reference], rtol=1e-9)
    mask = charts["16 selected pixels"]
    z = decode(mask["data"][0]["z"]).astype(float)
    assert z.shape == (4, 4) and z.sum() == 16  # 16 of the 16 pixels: every row selected
    # Switch to columns (hidden units): the bars mark the chosen columns.
    at.radio(key="fs-axis").set_value("columns").run()
    assert not at.exception
    assert "Weighted loss vs number of selected columns" in figures(at)

def test_feature_selection_draws_css_and_svd_w_in_their_colours():
    from wlra_core import Problem
    from app_pages._charts import algorithm_style

    # A 0/1 mask of rank > 1: svd_w's loss is not the line ||(W o A)_-rk||², so both are drawn.
    rng = np.random.default_rng(4)
    problem = Problem(rng.standard_normal((30, 12)), (rng.random((30, 12)) > 0.3).astype(float), name="mask")
    at = open_page("app_pages/feature_selection.py", problem)
    assert not at.error, [e.value for e in at.error]
    curve = figures(at)["Weighted loss vs number of selected columns"]
    css = algorithm_style("css")
    rules = [t for t in curve["data"] if t["name"] in ("leverage-score sampling", "pivoted QR",
                                                       "uniform random (baseline)")]
    assert len(rules) == 3
    for t in rules:  # every rule runs css: its colour and marker shape, a dash and a fill per rule
        assert t["line"]["color"] == t["marker"]["color"] == css["color"]
        assert t["marker"]["symbol"].startswith(css["symbol"])
    assert len({(t["line"].get("dash", "solid"), t["marker"]["symbol"]) for t in rules}) == 3
    refs = references(problem.A, problem.W, 5, 1)
    assert not refs.svd_w_meets_bound
    lines = {s["line"]["color"]: s["y0"] for s in curve["layout"]["shapes"] if s.get("yref") == "y"}
    assert lines[algorithm_style("svd_w")["color"]] == pytest.approx(refs.relative_svd_w, rel=1e-9)
    assert lines["black"] == pytest.approx(refs.relative_lower_bound, rel=1e-9)
    bars = next(f for title, f in figures(at).items() if " selected columns (" in title)["data"][0]
    assert bars["marker"]["color"] == css["color"]

def test_weights_and_feature_selection_show_one_pixel_importance_map():
    from app_pages._views import pixel_importance

    problem = mlp_problem()
    at = open_page("app_pages/feature_selection.py", problem)
    on_feature_selection = figures(at)["Pixel importance: row sums of W"]
    at.switch_page("app_pages/weights.py").run()
    assert not at.exception
    on_weights = figures(at)["Pixel importance: row sums of W"]
    for figure in (on_feature_selection, on_weights):
        heatmap = figure["data"][0]
        np.testing.assert_array_equal(decode(heatmap["z"]).astype(float), pixel_importance(problem))
        assert heatmap["colorbar"]["title"]["text"] == "row sum of W"
    assert on_feature_selection["data"] == on_weights["data"]

def test_feature_selection_and_communication_settings_survive_a_page_switch():
    problem = mlp_problem()
    at = open_page("app_pages/feature_selection.py", problem)
    chosen = {"fs-rank": 3, "fs-weight-rank": 2, "fs-largest": 6, "fs-trials": 3, "fs-seed": 7, "fs-mask-size": 5}
    at.radio(key="fs-axis").set_value("columns")
    for key, value in chosen.items():
        at.number_input(key=key).set_value(value)
    at.multiselect(key="fs-selections").set_value(["pivoted_qr", "uniform"]).run()
    at.selectbox(key="fs-mask-rule").set_value("uniform").run()
    at.switch_page("app_pages/communication.py").run()
    assert not at.exception
    comm = {"comm-n": 150, "comm-eps": 0.25, "comm-noise": 3, "lb-r": 2, "lb-seed": 9}
    for key, value in comm.items():
        at.number_input(key=key).set_value(value)
    at.selectbox(key="comm-bits").set_value(16)
    at.selectbox(key="comm-selection").set_value("leverage")
    at.radio(key="lb-method").set_value("em").run()
    at.selectbox(key="comm-sweep").set_value("d").run()
    at.switch_page("app_pages/feature_selection.py").run()
    assert not at.exception
    assert at.radio(key="fs-axis").value == "columns"
    assert {key: at.number_input(key=key).value for key in chosen} == chosen
    assert at.multiselect(key="fs-selections").value == ["pivoted_qr", "uniform"]
    assert at.selectbox(key="fs-mask-rule").value == "uniform"
    assert "Weighted loss vs number of selected columns" in figures(at)
    at.switch_page("app_pages/communication.py").run()
    assert not at.exception
    assert {key: at.number_input(key=key).value for key in comm} == comm
    assert at.selectbox(key="comm-bits").value == 16 and at.selectbox(key="comm-selection").value == "leverage"
    assert at.radio(key="lb-method").value == "em" and at.selectbox(key="comm-sweep").value == "d"
    assert "Bits vs columns d" in figures(at)


def curve_figure(at) -> dict:
    return next(f for f in figures(at).values() if f["layout"].get("title", {}).get("text", "").startswith("Weighted loss vs"))

@pytest.mark.parametrize("weight_rank", [1, 2])
def test_feature_selection_labels_sit_on_their_lines_and_the_axis_fits_the_data(weight_rank):
    at = open_page("app_pages/feature_selection.py")
    assert at.radio(key="fs-axis").value == "rows"  # an MLP kernel: rows are input pixels
    at.number_input(key="fs-weight-rank").set_value(weight_rank).run()
    assert not at.exception
    fig = curve_figure(at)
    layout = fig["layout"]
    lines = [s for s in layout["shapes"] if s.get("yref") == "y"]
    labels = layout["annotations"]
    assert len(labels) == len(lines) >= 1
    assert any(a["text"].startswith("svd_w at rank") for a in labels)
    # Plotly takes an annotation's y on a log axis as log10 of the value: each label sits
    # at its own line's height.
    for line, label in zip(lines, labels):  # added in pairs
        assert line["y0"] == line["y1"]
        assert label["y"] == pytest.approx(math.log10(line["y0"]), abs=1e-12), label["text"]
    # The axis spans the data, the lines and the error bars, and not decades more.
    drawn = [line["y0"] for line in lines]
    for trace in fig["data"]:
        y = decode(trace["y"])
        error = trace.get("error_y", {})
        std = decode(error["array"]) if error.get("visible") else 0.0
        drawn.extend(np.concatenate([y - std, y + std]))
    drawn = np.array(drawn)
    low, high = np.log10(drawn[drawn > 0].min()), np.log10(drawn[drawn > 0].max())
    bottom, top = layout["yaxis"]["range"]
    assert bottom <= low and high <= top
    assert top - high <= 0.1 * (top - bottom) and low - bottom <= 0.1 * (top - bottom)
    xaxis = layout["xaxis"]
    assert [int(t) for t in xaxis["ticktext"]] == xaxis["tickvals"] == [1, 2, 5, 10, 20]  # s up to 20
    caption = captions(at)[0]
    assert "rows are kept" in caption and "columns" not in caption
    at.radio(key="fs-axis").set_value("columns").run()
    assert "columns are kept" in captions(at)[0]
