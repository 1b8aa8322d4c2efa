"""AppTest of the Compression, Feature selection and Communication pages: they render from a
fresh session and what they plot equals what wlra_core computes for the same inputs."""
import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import wlra_core
from wlra_core.communication import Setting, lower_bound_instance, make_instance, run_protocol
from wlra_core.compression import mlp_accuracy
from wlra_core.feature_selection import references, selection_curve, size_grid
from wlra_core.views import fingerprint

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths against this file's folder
TIMEOUT = 90  # first runs import plotly/scipy; the machine may be shared

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_compression import mlp_problem  # noqa: E402  (the same small MLP problem)


def open_page(page: str, problem=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if problem is not None:
        at.session_state["problem"] = problem
        at.session_state["problem_fingerprint"] = fingerprint(problem)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(array) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata"}`` with base64 little-endian bytes."""
    if isinstance(array, dict):
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
        shape = array.get("shape")
        return flat.reshape([int(x) for x in str(shape).split(",")]) if shape else flat
    return np.asarray(array)


def figures(at: AppTest) -> dict[str, dict]:
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def trace(figure: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    for t in figure["data"]:
        if t.get("name") == name:
            return decode(t["x"]), decode(t["y"])
    raise KeyError(f"no trace {name!r} in {[t.get('name') for t in figure['data']]}")


def test_compression_page_plots_the_accuracy_wlra_core_computes():
    problem = mlp_problem()
    at = open_page("pages/compression.py", problem)
    assert any("Press Run" in i.value for i in at.info)
    at.slider(key="compression-ranks").set_value((1, 3))
    at.multiselect(key="compression-algorithms").set_value(["svd", "svd_w"])
    at.button(key="compression-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    charts = figures(at)
    assert set(charts) == {"Test accuracy vs rank", "Test accuracy vs stored parameters",
                           "Fisher-weighted loss vs rank", "Accuracy vs Fisher-weighted loss"}
    for name in ("svd", "svd_w"):
        ranks, accuracy = trace(charts["Test accuracy vs rank"], name)
        np.testing.assert_array_equal(ranks, [1, 2, 3])
        expected = [mlp_accuracy(problem, wlra_core.solve(name, problem.A, problem.W, k).approx) for k in (1, 2, 3)]
        np.testing.assert_allclose(accuracy, expected, rtol=0, atol=0)
        params, _ = trace(charts["Test accuracy vs stored parameters"], name)
        np.testing.assert_array_equal(params, [wlra_core.solve(name, problem.A, problem.W, k).n_params for k in (1, 2, 3)])
        _, loss = trace(charts["Fisher-weighted loss vs rank"], name)
        np.testing.assert_allclose(loss, [wlra_core.solve(name, problem.A, problem.W, k).relative_loss for k in (1, 2, 3)],
                                   rtol=1e-9)
    # The uncompressed accuracy is drawn as a horizontal line.
    lines = [s for s in charts["Test accuracy vs rank"]["layout"]["shapes"] if s["y0"] == s["y1"]]
    assert lines[0]["y0"] == pytest.approx(mlp_accuracy(problem, problem.A))
    assert all(c.value for c in at.caption)
    assert at.get("download_button")
    # Same settings again: every result comes from the cache.
    at.run()
    assert any("come from the cache" in i.value for i in at.info)


def test_compression_page_explains_a_problem_without_model():
    plain = wlra_core.Problem(np.random.default_rng(0).random((6, 5)), None, name="plain")
    at = open_page("pages/compression.py", plain)
    assert any("no trained model" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    assert at.session_state["problem"].name == "plain"  # the loaded problem is kept


def test_feature_selection_page_curve_and_pixel_mask():
    problem = mlp_problem()
    at = open_page("pages/feature_selection.py", problem)
    charts = figures(at)
    curve = charts["Weighted loss vs number of selected rows"]
    n = problem.shape[0]
    sizes = size_grid(min(n, 20), 12)
    rows = selection_curve(problem.A, problem.W, sizes, selections=["pivoted_qr"], axis="rows", rank=5, weight_rank=1)
    x, y = trace(curve, "pivoted QR")
    np.testing.assert_array_equal(x, sizes)
    np.testing.assert_allclose(y, [r["relative_loss"] for r in rows], rtol=1e-12)
    refs = references(problem.A, problem.W, 5, 1, axis="rows")
    lines = [s["y0"] for s in curve["layout"]["shapes"] if s["type"] == "line" and s["y0"] == s["y1"]]
    # svd_w's loss is ||(W o A)_{-rk}||^2 here (W's zeros form a whole row, where (W o A)_rk is 0
    # too), so the page draws one line for both.
    assert refs["svd_w_loss"] == pytest.approx(refs["lower_bound"], rel=1e-9)
    np.testing.assert_allclose(lines, [refs["lower_bound"] / refs["reference"]], rtol=1e-9)
    mask = charts["16 selected pixels"]
    z = decode(mask["data"][0]["z"]).astype(float)
    assert z.shape == (4, 4) and z.sum() == 16  # 16 of the 16 pixels: every row selected
    # Switch to columns (hidden units): the bars mark the chosen columns.
    at.radio(key="fs-axis").set_value("columns").run()
    assert not at.exception
    assert "Weighted loss vs number of selected columns" in figures(at)


def test_communication_page_counts_the_bits_of_a_real_run():
    at = open_page("pages/communication.py")
    charts = figures(at)
    bars = charts["Bits to get a WLRA to the coordinator"]["data"][0]
    bits = dict(zip(bars["y"], decode(bars["x"])))
    setting = Setting(n=200, d=200, sparsity=100, rank=2, weight_rank=2, eps=0.5, servers=1, bit_width=32)
    A, W = make_instance(setting, noise=1, seed=0)
    run = run_protocol(A, W, setting)
    assert bits["CSS protocol (this run)"] == run.n_bits
    assert bits["send A raw (dense)"] == 200 * 200 * 32
    assert bits["lower bound srk"] == 100 * 2 * 2
    assert "Bits vs column sparsity s" in charts
    # The lower-bound tab: svd_w recovers every bit; the unweighted SVD does not.
    assert any("recovers A on the mask" in s.value for s in at.success)
    instance = lower_bound_instance(24, 3, 4, 2, seed=0)
    recovered = decode(charts["A_dense read from the solution"]["data"][0]["z"]).astype(float)
    np.testing.assert_array_equal(recovered, instance.A_dense)
    at.radio(key="lb-method").set_value("svd (unweighted)").run()
    assert not at.exception
    assert any("bits of A_dense wrong" in e.value for e in at.error)
    # A bad setting is a message, not a traceback; the lower-bound tab still renders.
    at.number_input(key="comm-s").set_value(500).run()
    assert not at.exception
    assert any("cannot exceed n=200" in e.value for e in at.error)
    assert "Mask W (Definition 3.2)" in figures(at)
