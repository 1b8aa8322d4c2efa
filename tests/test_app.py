"""The dashboard through Streamlit's AppTest: every page from a fresh session, live Compare
numbers against wlra_core, uploads, and the problem surviving page switches."""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

import wlra_core
from wlra_core.datasets.io import default_problem
from wlra_core.views import relative_history, teaching_example

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths against this file's folder
TIMEOUT = 60  # the first run of a page may import heavy modules


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch):
    """Run app.py on every AppTest run, as the server does.

    AppTest resets ``PagesManager.uses_pages_directory`` before each run; with a
    ``pages/`` folder next to app.py, Streamlit then re-enters its old multipage mode and
    runs the page file alone, without app.py (no sidebar). The server leaves that mode
    for good at the first ``st.navigation`` call; this restores that behaviour.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def fresh_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def decode(array) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata"}`` with base64 little-endian bytes."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
    return np.asarray(array, dtype=float)


def traces(figure: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {t["name"].split(" (")[0]: (decode(t["x"]), decode(t["y"])) for t in figure["data"]}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


@pytest.fixture(scope="module")
def shipped():
    return default_problem()


def test_home_explains_and_moves_the_weighted_fit(shipped):
    at = fresh_app()
    assert "Weighted low rank approximation" in at.markdown[0].value
    assert at.session_state["problem"].name == shipped.name
    assert shipped.name in " ".join(m.value for m in at.sidebar.markdown)
    before = figures(at)
    assert len(before) == 2 and len(captions(at)) >= 2
    at.slider[0].set_value(30.0).run()
    after = figures(at)
    svd_line = lambda fig: decode(fig["data"][1]["y"])  # noqa: E731 - trace 1 is the fitted line
    # The SVD line ignores the weights; the weighted line moves to the exact optimum.
    np.testing.assert_allclose(svd_line(before[0]), svd_line(after[0]))
    assert not np.allclose(svd_line(before[1]), svd_line(after[1]))
    example = teaching_example(30.0)
    line = np.column_stack([decode(after[1]["data"][1]["x"]), decode(after[1]["data"][1]["y"])])
    direction = line[1] / np.linalg.norm(line[1])
    assert abs(direction @ example.direction(example.weighted)) == pytest.approx(1.0, abs=1e-9)


def test_data_page_shows_the_facts_of_the_shipped_problem(shipped):
    at = fresh_app("pages/data.py")
    table = at.table[0].value
    facts = dict(zip(table["fact"], table["value"]))
    assert facts["shape"] == "784 x 128"
    assert facts["zero rows of W"] == str(int(np.sum(~shipped.W.any(axis=1))))
    assert facts["zero columns of W"] == str(int(np.sum(~shipped.W.any(axis=0))))
    assert facts["A range"] == f"[{shipped.A.min():.4g}, {shipped.A.max():.4g}]"


def test_weights_page_heatmaps_spectrum_and_pixels(shipped):
    at = fresh_app("pages/weights.py")
    figs = figures(at)
    heatmaps = [f for f in figs if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 4  # W, A, W o A and the pixel image
    for fig in heatmaps[:3]:
        z = fig["data"][0]["z"]
        assert len(z["shape"].split(",")) == 2 if isinstance(z, dict) else True
    s = np.linalg.svd(shipped.W, compute_uv=False)
    spectrum = next(f for f in figs if f["layout"]["title"]["text"] == "Singular values of W")
    np.testing.assert_allclose(decode(spectrum["data"][0]["y"]), s, rtol=1e-10)
    metric = next(m for m in at.metric if m.label.startswith("% Frobenius mass"))
    assert metric.value == f"{100 * s[0] ** 2 / np.sum(s ** 2):.2f}%"
    pixels = heatmaps[3]["data"][0]
    assert pixels["colorbar"]["title"]["text"] == "row sum of W"
    assert len(captions(at)) >= len(figs)
    # The log toggle switches every heatmap to log10 of magnitudes.
    at.toggle[0].set_value(False).run()
    titles = [f["data"][0]["colorbar"]["title"]["text"] for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    assert titles[:3] == ["value", "value", "value"]


def test_compare_run_plots_exactly_what_wlra_core_returns(shipped):
    at = fresh_app("pages/compare.py")
    assert at.multiselect(key="compare-algorithms").value == [a for a in wlra_core.ALGORITHMS if a != "adam"]
    assert at.slider(key="compare-ranks-128").value == (1, 20)
    names, ranks = ["svd", "svd_w", "svd_w_practical", "em"], [1, 2, 3]
    at.multiselect(key="compare-algorithms").set_value(names)
    at.slider(key="compare-ranks-128").set_value((1, 3))
    at.number_input(key="opt-em-n_iter").set_value(4)
    at.button(key="compare-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    loss_fig, time_fig, params_fig = figures(at)
    plotted, plotted_params = traces(loss_fig), traces(params_fig)
    assert list(plotted) == names
    for name in names:
        options = {"n_iter": 4} if name == "em" else {}
        expected = [wlra_core.solve(name, shipped.A, shipped.W, k, **options) for k in ranks]
        x, y = plotted[name]
        np.testing.assert_array_equal(x, ranks)
        np.testing.assert_allclose(y, [r.relative_loss for r in expected], rtol=1e-9)
        np.testing.assert_array_equal(plotted_params[name][0], [r.n_params for r in expected])
        assert np.all(traces(time_fig)[name][1] > 0)
    # Absolute loss on request, from the cache (same settings: nothing recomputed).
    at.toggle(key="compare-relative").set_value(False).run()
    assert "from the cache" in at.info[0].value
    x, y = traces(figures(at)[0])["svd_w"]
    np.testing.assert_allclose(y, [wlra_core.solve("svd_w", shipped.A, shipped.W, k).loss for k in ranks], rtol=1e-9)
    # Tables at ranks 5/10/20 only list ranks that were run; the CSV holds every result.
    assert list(at.dataframe[0].value.columns) == ["algorithm"]  # ranks 1-3: none of 5, 10, 20
    csv = at.get("download_button")[0]
    assert csv.proto.label.startswith("Download every result")


def test_compare_shows_a_diverged_run_as_failed():
    at = fresh_app("pages/compare.py")
    at.multiselect(key="compare-algorithms").set_value(["svd", "adam"]).run()  # adam's settings appear
    at.slider(key="compare-ranks-128").set_value((5, 5))
    at.number_input(key="opt-adam-n_epochs").set_value(2)
    at.number_input(key="opt-adam-learning_rate").set_value(1e30)
    at.button(key="compare-run").click().run()
    assert not at.exception
    assert any("adam" in e.value and "diverged" in e.value for e in at.error)
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert "adam (failed at rank 5)" in names
    table = at.dataframe[0].value
    assert table.set_index("algorithm").loc["adam", "rank 5"] == "failed"


def test_compare_rejects_an_invalid_option_with_its_message():
    at = fresh_app("pages/compare.py")
    at.multiselect(key="compare-algorithms").set_value(["svd_w"]).run()
    at.number_input(key="opt-svd_w-weight_rank").set_value(0).run()
    assert any("invalid weight_rank" in e.value for e in at.error)


def test_refine_plots_em_histories_from_three_starts(shipped):
    at = fresh_app("pages/refine.py")
    at.slider(key="refine-rank-100").set_value(5)
    at.slider(key="refine-iterations").set_value(6)
    at.button(key="refine-run").click().run()
    assert not at.exception and not at.error
    by_iteration, by_seconds = figures(at)
    curves = traces(by_iteration)
    assert list(curves) == ["EM from svd_w_practical", "EM from zero", "EM from svd"]
    expected = wlra_core.solve("em", shipped.A, shipped.W, 5, n_iter=6, init="zero")
    x, y = curves["EM from zero"]
    np.testing.assert_array_equal(x, np.arange(7))
    np.testing.assert_allclose(y, relative_history(expected)["relative_loss"], rtol=1e-9)
    start = wlra_core.solve("svd_w_practical", shipped.A, shipped.W, 5)
    assert curves["EM from svd_w_practical"][1][0] == pytest.approx(start.relative_loss, rel=1e-9)
    assert len(traces(by_seconds)) == 3


def test_bad_upload_shows_the_loader_message_and_keeps_the_problem(shipped):
    at = fresh_app("pages/data.py")
    at.radio(key="data-source").set_value("upload").run()
    at.file_uploader(key="upload-A").set_value(("ragged.csv", b"1,2,3\n4,5\n", "text/csv")).run()
    at.button(key="load-upload").click().run()
    assert not at.exception
    assert any("ragged.csv" in e.value and "ragged rows" in e.value for e in at.error)
    assert at.session_state["problem"].name == shipped.name
    # A good upload (A and W in one .npz) replaces it, and every page then sees it.
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((30, 20)), rng.random((30, 20))
    buffer = io.BytesIO()
    np.savez(buffer, A=A, W=W)
    at.file_uploader(key="upload-A").set_value(("mine.npz", buffer.getvalue(), "application/octet-stream")).run()
    at.button(key="load-upload").click().run()
    assert not at.error
    assert at.session_state["problem"].name == "mine"
    np.testing.assert_array_equal(at.session_state["problem"].W, W)
    for page in ("pages/weights.py", "pages/compare.py", "pages/refine.py", "pages/home.py", "pages/data.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert at.session_state["problem"].name == "mine"
        assert "**mine**" in " ".join(m.value for m in at.sidebar.markdown)
    table = at.table[0].value
    assert dict(zip(table["fact"], table["value"]))["shape"] == "30 x 20"


def test_synthetic_problem_survives_page_switches():
    at = fresh_app("pages/data.py")
    at.radio(key="data-source").set_value("synthetic").run()
    at.selectbox(key="synthetic-generator").set_value("block_diagonal").run()
    at.number_input(key="synthetic-block_diagonal-n").set_value(60)
    at.number_input(key="synthetic-block_diagonal-blocks").set_value(3)
    at.button(key="load-synthetic").click().run()
    problem = at.session_state["problem"]
    assert problem.source == "synthetic" and problem.shape == (60, 60)
    np.testing.assert_array_equal(problem.W, np.kron(np.eye(3), np.ones((20, 20))))
    at.switch_page("pages/weights.py").run()
    assert at.session_state["problem"] is problem
    assert next(m for m in at.metric if m.label.startswith("Numerical rank")).value == "3"
    # An invalid generator setting is the generator's message; the problem stays.
    at.switch_page("pages/data.py").run()
    at.number_input(key="synthetic-block_diagonal-blocks").set_value(7)
    at.button(key="load-synthetic").click().run()
    assert any("multiple of blocks" in e.value for e in at.error)
    assert at.session_state["problem"] is problem


def test_tfds_without_data_says_what_to_do(tmp_path, monkeypatch):
    # An empty tfds folder and no download allowed: the pipeline must answer at once
    # with what to do, and the page must keep the problem.
    monkeypatch.setenv("WLRA_TFDS_DIR", str(tmp_path))
    at = fresh_app("pages/data.py")
    at.radio(key="data-source").set_value("tfds").run()
    at.selectbox(key="tfds-dataset").set_value("smallnorb").run()
    assert at.checkbox(key="tfds-download").value is False
    at.button(key="load-tfds").click().run()
    assert not at.exception
    assert any("smallnorb" in e.value and "download" in e.value for e in at.error)
    assert at.session_state["problem"].source == "shipped"
