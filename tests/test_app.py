"""The dashboard through Streamlit's AppTest: every page from a fresh session, live Compare
numbers against wlra_core, uploads, and the problem surviving page switches."""
import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import wlra_core
from app_pages._views import relative_history, teaching_example
from wlra_core.seeding import trial_seed

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths against this file's folder
TIMEOUT = 60  # the first run of a page may import heavy modules


pytestmark = pytest.mark.usefixtures("one_blas_thread")


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


def svg_panels(at: AppTest) -> list[str]:
    """The home page's example panels: SVG images sent as base64 data URLs."""
    return [base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode() for image in at.get("image")]


def fit_direction(svg: str) -> np.ndarray:
    """Unit direction of the drawn rank-1 line, in data coordinates (SVG y points down)."""
    x0, y0, x1, y1 = map(float, re.search(
        r'<line class="fit" x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)"', svg).groups())
    v = np.array([x1 - x0, y0 - y1])
    return v / np.linalg.norm(v)


def test_home_explains_and_moves_the_weighted_fit(shipped):
    at = fresh_app()
    assert "Weighted low rank approximation" in at.markdown[0].value
    assert at.session_state["problem"].name == shipped.name
    assert shipped.name in " ".join(m.value for m in at.sidebar.markdown)
    assert len(svg_panels(at)) == 2 and len(captions(at)) >= 2
    at.select_slider(key="home-weight").set_value(1.0).run()
    before = svg_panels(at)
    at.select_slider(key="home-weight").set_value(30.0).run()
    after = svg_panels(at)
    # The SVD line ignores the weights; the weighted line turns to the weighted optimum.
    assert fit_direction(before[0]) @ fit_direction(after[0]) == pytest.approx(1.0, abs=1e-12)
    assert abs(fit_direction(before[1]) @ fit_direction(after[1])) < 0.9
    example = teaching_example(30.0)
    A, w = example.A, example.W[:, 0]
    # Oracle: one weight per point, so the best line through 0 is the top eigenvector of
    # A^T diag(w^2) A; the drawing is rounded to 0.1 pixel.
    oracle = np.linalg.eigh(A.T @ (w[:, None] ** 2 * A))[1][:, -1]
    assert abs(fit_direction(after[1]) @ oracle) == pytest.approx(1.0, abs=1e-4)
    loss = wlra_core.weighted_loss(A, example.W, np.outer(A @ oracle, oracle))
    assert f"weighted loss {loss:.1f}" in after[1]


def test_data_page_shows_the_facts_of_the_shipped_problem(shipped):
    at = fresh_app("app_pages/data.py")
    table = at.table[0].value
    facts = dict(zip(table["fact"], table["value"]))
    assert facts["shape"] == "784 x 128"
    assert facts["zero rows of W"] == str(int(np.sum(~shipped.W.any(axis=1))))
    assert facts["zero columns of W"] == str(int(np.sum(~shipped.W.any(axis=0))))
    assert facts["A range"] == f"[{shipped.A.min():.4g}, {shipped.A.max():.4g}]"


def test_weights_page_heatmaps_spectrum_and_pixels(shipped):
    at = fresh_app("app_pages/weights.py")
    figs = figures(at)
    heatmaps = [f for f in figs if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 4  # W, A, W o A and the pixel image
    for fig in heatmaps[:3]:
        z = fig["data"][0]["z"]
        assert len(z["shape"].split(",")) == 2 if isinstance(z, dict) else True
    s = np.linalg.svd(shipped.W, compute_uv=False)
    spectrum = next(f for f in figs if f["layout"].get("title", {}).get("text") == "Singular values of W")
    # Drawn down to the numerical rank: the rest is round-off (tests/test_ui_defects.py).
    rank = np.linalg.matrix_rank(shipped.W)
    np.testing.assert_allclose(decode(spectrum["data"][0]["y"]), s[:rank], rtol=1e-10)
    metric = next(m for m in at.metric if m.label.startswith("% Frobenius mass"))
    assert metric.value == f"{100 * s[0] ** 2 / np.sum(s ** 2):.2f}%"
    pixels = heatmaps[3]["data"][0]
    assert pixels["colorbar"]["title"]["text"] == "row sum of W"
    assert len(captions(at)) >= len(figs)
    # The log toggle switches every heatmap to log10 of magnitudes.
    at.toggle[0].set_value(False).run()
    titles = [f["data"][0]["colorbar"]["title"]["text"] for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    assert titles[:3] == ["value", "value", "value"]


def test_refine_plots_em_histories_from_three_starts(shipped):
    at = fresh_app("app_pages/refine.py")
    at.slider(key="refine-rank-100").set_value(5)
    at.slider(key="refine-iterations").set_value(6)
    at.button(key="refine-run").click().run()
    assert not at.exception and not at.error
    by_iteration, by_seconds = figures(at)
    curves = traces(by_iteration)
    assert list(curves) == ["EM from svd_w_practical", "EM from zero", "EM from svd"]
    expected = wlra_core.solve("em", shipped.A, shipped.W, 5, n_iter=6, init="zero", seed=trial_seed(0, 0))
    x, y = curves["EM from zero"]
    np.testing.assert_array_equal(x, np.arange(7))
    np.testing.assert_allclose(y, relative_history(expected)["relative_loss"], rtol=1e-9)
    start = wlra_core.solve("svd_w_practical", shipped.A, shipped.W, 5, seed=trial_seed(0, 0))
    assert curves["EM from svd_w_practical"][1][0] == pytest.approx(start.relative_loss, rel=1e-9)
    assert len(traces(by_seconds)) == 3


def test_refine_draws_each_start_in_its_algorithms_colour():
    from app_pages._charts import algorithm_style

    at = fresh_app("app_pages/refine.py")
    at.slider(key="refine-rank-100").set_value(5)
    at.slider(key="refine-iterations").set_value(6)
    at.button(key="refine-run").click().run()
    assert not at.exception and not at.error
    for figure in figures(at):
        lines = {t["name"].split(" (")[0]: (t["line"], t["marker"]) for t in figure["data"]}
        svd_w_em, em = algorithm_style("svd_w_em"), algorithm_style("em")
        line, marker = lines["EM from svd_w_practical"]
        assert line["color"] == marker["color"] == svd_w_em["color"] and marker["symbol"] == svd_w_em["symbol"]
        # Both EM starts in em's colour and marker shape (as on Compare), told apart by dash and fill.
        (zero_line, zero_marker), (svd_line, svd_marker) = lines["EM from zero"], lines["EM from svd"]
        assert zero_line["color"] == svd_line["color"] == zero_marker["color"] == svd_marker["color"] == em["color"]
        assert zero_marker["symbol"] == em["symbol"] and svd_marker["symbol"].startswith(em["symbol"])
        assert (zero_line.get("dash", "solid"), zero_marker["symbol"]) != (svd_line.get("dash", "solid"),
                                                                           svd_marker["symbol"])


def test_home_fit_lines_have_their_algorithms_colours_and_neutral_points():
    from app_pages._charts import ALGORITHM_STYLES, algorithm_style

    at = fresh_app()
    svd_panel, weighted_panel = svg_panels(at)
    for panel, algorithm in ((svd_panel, "svd"), (weighted_panel, "svd_w_practical")):
        [fit] = re.findall(r'<line class="fit"[^>]*stroke="(#[0-9a-f]{6})"', panel)
        assert fit == algorithm_style(algorithm)["color"]
        # The points are no algorithm's colour, and the three heavy ones stand apart.
        fills = re.findall(r'<circle[^>]*fill="(#[0-9a-f]{6})"', panel)
        assert not set(fills) & {color for color, _ in ALGORITHM_STYLES.values()}
        assert len(set(fills)) == 2 and sorted(map(fills.count, set(fills))) == [3, len(fills) - 3]
    assert "three black points" in at.select_slider(key="home-weight").label


def test_bad_upload_shows_the_loader_message_and_keeps_the_problem(shipped):
    at = fresh_app("app_pages/data.py")
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
    assert at.session_state["problem"].name == "mine.npz"  # named after the file, extension included
    np.testing.assert_array_equal(at.session_state["problem"].W, W)
    for page in ("app_pages/weights.py", "app_pages/compare.py", "app_pages/refine.py", "app_pages/home.py", "app_pages/data.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert at.session_state["problem"].name == "mine.npz"
        assert "**mine.npz**" in " ".join(m.value for m in at.sidebar.markdown)
    table = at.table[0].value
    assert dict(zip(table["fact"], table["value"]))["shape"] == "30 x 20"


def test_the_uploaders_state_the_loaders_limit_in_streamlits_megabytes():
    from wlra_core.datasets.limits import MAX_FILE_BYTES

    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("upload").run()
    # Streamlit's uploader counts megabytes of 10^6 bytes (in most browsers): one limit for both.
    assert MAX_FILE_BYTES == 200_000_000
    for key in ("upload-A", "upload-W"):
        uploader = at.file_uploader(key=key)
        assert uploader.proto.max_upload_size_mb * 10**6 == MAX_FILE_BYTES
        assert uploader.help == "At most 200 MB (200,000,000 bytes) per file."
    assert any("at most 200 MB (200,000,000 bytes) per file" in m.value for m in at.markdown)


def generate(generator: str, **params) -> AppTest:
    """The Data page after Generate with ``generator`` and these number inputs."""
    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("synthetic").run()
    at.selectbox(key="synthetic-generator").set_value(generator).run()
    for name, value in params.items():
        at.number_input(key=f"synthetic-{generator}-{name}").set_value(value)
    at.button(key="load-synthetic").click().run()
    return at


def test_synthetic_problem_survives_page_switches():
    at = generate("block_diagonal", n=60, blocks=3)
    problem = at.session_state["problem"]
    assert problem.source == "synthetic" and problem.shape == (60, 60)
    np.testing.assert_array_equal(problem.W, np.kron(np.eye(3), np.ones((20, 20))))
    at.switch_page("app_pages/weights.py").run()
    assert at.session_state["problem"] is problem
    assert next(m for m in at.metric if m.label.startswith("Numerical rank")).value == "3"
    # An invalid generator setting is the generator's message; the problem stays.
    at.switch_page("app_pages/data.py").run()
    at.number_input(key="synthetic-block_diagonal-blocks").set_value(7)
    at.button(key="load-synthetic").click().run()
    assert any("multiple of blocks" in e.value for e in at.error)
    assert at.session_state["problem"] is problem


def test_fisher_like_generator_loads_the_same_problem_as_wlra_core():
    from wlra_core.datasets.fisher_like import fisher_like_problem

    at = generate("fisher_like", n=300, d=40, seed=3)
    assert not at.exception and not at.error
    problem = at.session_state["problem"]
    expected = fisher_like_problem(300, 40, seed=3)
    np.testing.assert_array_equal(problem.A, expected.A)
    np.testing.assert_array_equal(problem.W, expected.W)
    table = at.table[0].value
    facts = dict(zip(table["fact"], table["value"]))
    assert facts["shape"] == "300 x 40"
    assert facts["zero rows of W"] == str(int((~expected.W.any(axis=1)).sum()))


def test_digits_trains_an_mlp_and_loads_its_fisher_problem(tmp_path, monkeypatch):
    from wlra_core.datasets import pipeline

    # Keep the pipeline's disk cache out of the repository's data/cache.
    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", tmp_path)
    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("digits").run()
    at.number_input(key="digits-digits-hidden").set_value(8)
    at.number_input(key="digits-digits-epochs").set_value(3)
    at.button(key="load-digits").click().run(timeout=180)
    assert not at.exception and not at.error, [e.value for e in at.error]
    problem = at.session_state["problem"]
    assert problem.shape == (64, 8) and problem.source == "sklearn"
    assert problem.image_shape == (8, 8, 1) and 0 < problem.meta["test_accuracy"] <= 1
    assert list(tmp_path.glob("digits-h8-e3-*.npz"))
    at.switch_page("app_pages/weights.py").run()
    assert len([f for f in figures(at) if f["data"][0]["type"] == "heatmap"]) == 4  # with the 8 x 8 pixel map


def test_tfds_without_data_says_what_to_do(tmp_path, monkeypatch):
    # An empty tfds folder and no download allowed: the pipeline must answer at once
    # with what to do, and the page must keep the problem.
    monkeypatch.setenv("WLRA_TFDS_DIR", str(tmp_path))
    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("tfds").run()
    at.selectbox(key="tfds-dataset").set_value("smallnorb").run()
    assert at.checkbox(key="tfds-download").value is False
    at.button(key="load-tfds").click().run()
    assert not at.exception
    assert any("smallnorb" in e.value and "download" in e.value for e in at.error)
    assert at.session_state["problem"].source == "shipped"
