"""Issue 12's dashboard defects, checked on what a user sees: AppTest element values and the
plotly figure specs the browser receives, against independent computations."""
import math
import re

import numpy as np
import pytest
import streamlit as st

from test_app import ROOT, captions, decode, figures, fit_direction, fresh_app, generate, svg_panels
from app_pages._charts import count_ticks
from app_pages._views import doc_description, spectrum_view, teaching_example

EPS = np.finfo(np.float64).eps


# --- Data: training twice, offline tfds, generator descriptions -------------------------


def train_digits(at, hidden: int = 6, epochs: int = 2):
    """Click "Train MLP" for digits with these settings; the loaded problem."""
    at.radio(key="data-source").set_value("digits").run()
    at.number_input(key="digits-digits-hidden").set_value(hidden)
    at.number_input(key="digits-digits-epochs").set_value(epochs)
    at.button(key="load-digits").click().run(timeout=180)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.get("progress")  # the bar is gone once the problem is loaded
    return at.session_state["problem"]


def test_digits_trained_twice_and_in_a_new_session_loads_without_error(tmp_path, monkeypatch):
    from wlra_core.datasets import pipeline

    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", tmp_path)
    at = fresh_app("app_pages/data.py")
    first = train_digits(at)
    assert first.shape == (64, 6) and first.meta["epochs"] == 2
    saved = list(tmp_path.glob("digits-h6-e2-*.npz"))
    assert len(saved) == 1
    # Same session, same settings: the trained problem itself, not a retraining.
    assert train_digits(at) is first
    # A new session of the same server: the same problem too.
    assert train_digits(fresh_app("app_pages/data.py")) is first
    # After a server restart (memory caches gone) the pipeline's disk cache serves it:
    # training again would fail here.
    st.cache_resource.clear()
    monkeypatch.setattr(pipeline, "train_mlp", lambda *args, **kwargs: pytest.fail("retrained"))
    reloaded = train_digits(fresh_app("app_pages/data.py"))
    np.testing.assert_array_equal(reloaded.W, first.W)
    np.testing.assert_array_equal(reloaded.A, first.A)
    assert list(tmp_path.glob("digits-h6-e2-*.npz")) == saved


def test_offline_tfds_error_leaves_no_progress_bar_and_names_the_checkbox(tmp_path, monkeypatch):
    monkeypatch.setenv("WLRA_TFDS_DIR", str(tmp_path))
    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("tfds").run()
    at.selectbox(key="tfds-dataset").set_value("mnist").run()
    at.button(key="load-tfds").click().run(timeout=120)
    assert not at.exception
    [error] = at.error
    checkbox = at.checkbox(key="tfds-download").label
    assert checkbox.startswith("Allow download")
    assert "mnist" in error.value and "tick 'Allow download'" in error.value
    assert not at.get("progress")
    assert at.session_state["problem"].source == "shipped"


SPHINX_MARKUP = re.compile(r":\w+:`|``")


def test_every_generator_description_is_free_of_sphinx_markup():
    at = fresh_app("app_pages/data.py")
    at.radio(key="data-source").set_value("synthetic").run()
    generators = at.selectbox(key="synthetic-generator").options
    assert "fisher_like" in generators and len(generators) >= 8
    for generator in generators:
        at.selectbox(key="synthetic-generator").set_value(generator).run()
        assert not at.exception
        text = " ".join(m.value for m in at.main.markdown)
        assert not SPHINX_MARKUP.search(text), (generator, SPHINX_MARKUP.search(text))
        assert ":class:" not in text
    # fisher_like's cross-reference reads as the class name in code.
    at.selectbox(key="synthetic-generator").set_value("fisher_like").run()
    assert "See `FisherLike` for generating blocks" in " ".join(m.value for m in at.main.markdown)


def described():
    r"""Fit :class:`~wlra_core.problem.Problem` with :func:`wlra_core.solve` and ``rank``.

    Uses :meth:`the solver <wlra_core.api.solve>` once.

    Parameters
    ----------
    rank : int
        Not part of the description.
    """


def test_doc_description_keeps_the_text_and_drops_the_markup():
    assert doc_description(described) == (
        "Fit `Problem` with `wlra_core.solve` and `rank`.\n\nUses `the solver` once."
    )
    assert doc_description(lambda: None) == ""


# --- Weights: the spectrum stops at the numerical rank ----------------------------------


@pytest.mark.parametrize("largest, ticks", [(1, [1]), (4, [1, 2, 3, 4]), (10, list(range(1, 11))),
                                            (116, [1, 2, 5, 10, 20, 50, 100]),
                                            (1000, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])])
def test_count_ticks_are_whole_numbers_up_to_the_largest(largest, ticks):
    assert count_ticks(largest) == ticks


def test_spectrum_view_round_off_is_numpys_rank_tolerance():
    rng = np.random.default_rng(0)
    for W in (np.kron(np.eye(4), np.ones((30, 30))), rng.random((50, 3)) @ rng.random((3, 40))):
        view = spectrum_view(W)
        s = np.linalg.svd(W, compute_uv=False)
        assert view.round_off == pytest.approx(s[0] * EPS * max(W.shape), rel=1e-12)
        assert view.numerical_rank == np.linalg.matrix_rank(W)


def spectrum_figures(at):
    figs = {f["layout"].get("title", {}).get("text"): f for f in figures(at)}
    return figs["Singular values of W"], figs["Cumulative Frobenius mass of W"]


def assert_spectrum_above_round_off(at, W):
    singular, cumulative = spectrum_figures(at)
    drawn = decode(singular["data"][0]["y"])
    s = np.linalg.svd(W, compute_uv=False)
    cutoff = s[0] * EPS * max(W.shape)
    assert drawn.min() > cutoff
    assert drawn.size == np.linalg.matrix_rank(W)  # NumPy's rank uses the same cutoff
    np.testing.assert_allclose(drawn, s[:drawn.size], rtol=1e-10)
    # The log axis spans the drawn values, labelled on whole decades only.
    bottom, top = singular["layout"]["yaxis"]["range"]
    assert bottom < np.log10(drawn.min()) and np.log10(drawn.max()) < top
    assert singular["layout"]["yaxis"]["dtick"] >= 1 and top - bottom < np.log10(drawn.max() / drawn.min()) + 2.2
    np.testing.assert_allclose(decode(cumulative["data"][0]["y"]),
                               100 * np.cumsum(s[:drawn.size] ** 2) / np.sum(s ** 2), rtol=1e-10)
    # Whole-number tick labels on the log axis (plotly's own read "10 2 5 100").
    axis = cumulative["layout"]["xaxis"]
    assert axis["type"] == "log"
    assert [int(t) for t in axis["ticktext"]] == list(axis["tickvals"])
    assert axis["tickvals"][0] == 1 and np.all(np.diff(axis["tickvals"]) > 0)
    assert axis["tickvals"][-1] <= drawn.size < 10 * axis["tickvals"][-1]
    if drawn.size < s.size:
        assert f"The other {s.size - drawn.size} are below" in " ".join(captions(at))
    return drawn


def test_weights_spectrum_of_the_shipped_problem_stops_at_round_off(shipped):
    at = fresh_app("app_pages/weights.py")
    drawn = assert_spectrum_above_round_off(at, shipped.W)
    assert drawn.size == 116 and drawn.min() > 1e-20  # all 128 reached down to 6e-28


def test_weights_spectrum_of_block_diagonal_shows_its_rank():
    at = generate("block_diagonal")
    W = at.session_state["problem"].W
    at.switch_page("app_pages/weights.py").run()
    drawn = assert_spectrum_above_round_off(at, W)
    np.testing.assert_allclose(drawn, [30.0] * 4)  # four all-ones 30 x 30 blocks


@pytest.fixture(scope="module")
def shipped():
    from wlra_core.datasets.io import default_problem

    return default_problem()


# --- Home: a slider that moves the line, honest text, every page linked ------------------


def angle(svg: str) -> float:
    """Angle in degrees, in [0, 180), of the drawn weighted line."""
    x, y = fit_direction(svg)
    return math.degrees(math.atan2(y, x)) % 180


def test_home_slider_moves_the_line_across_its_range():
    at = fresh_app()
    slider = at.select_slider(key="home-weight")
    options = [float(o) for o in slider.options]
    assert options[0] == 1.0 and np.all(np.diff(options) > 0)
    angles = []
    for value in (options[0], options[len(options) // 2], options[-1]):
        at.select_slider(key="home-weight").set_value(value).run()
        angles.append(angle(svg_panels(at)[1]))
    first, middle, last = angles
    assert last - first > 30  # degrees
    assert middle - first >= (last - first) / 3


def loss_sentence(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Weighted loss"))


def test_home_sentence_matches_the_losses():
    at = fresh_app()
    at.select_slider(key="home-weight").set_value(1.0).run()
    sentence = loss_sentence(at)
    assert "gives up" not in sentence and "same line" in sentence
    assert angle(svg_panels(at)[0]) == pytest.approx(angle(svg_panels(at)[1]), abs=0.1)
    at.select_slider(key="home-weight").set_value(3.0).run()
    sentence = loss_sentence(at)
    # Oracle: per-point weighted squared residuals of the two fits, split by weight.
    example = teaching_example(3.0)
    w = example.W[:, 0]

    def split(result):
        per_point = w ** 2 * np.sum((example.A - result.approx) ** 2, axis=1)
        return per_point[w == 1].sum(), per_point[w == 3].sum()

    (svd_light, svd_heavy), (fit_light, fit_heavy) = split(example.svd), split(example.weighted)
    assert fit_light > svd_light and fit_heavy < svd_heavy  # the trade-off the text claims
    assert f"their loss {svd_light:.2f} -> {fit_light:.2f}" in sentence
    assert f"({svd_heavy:.2f} -> {fit_heavy:.2f})" in sentence


def test_home_links_every_other_page():
    at = fresh_app()
    linked = {link.proto.page for link in at.get("page_link")}  # URL paths: the file stems
    pages = {p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.name.startswith("_")} - {"home"}
    assert len(pages) == 7
    assert linked == pages
    caption = " ".join(captions(at))
    assert "svd_w_practical -- scale each row of A by its weight" in caption


# --- Feature selection: reference lines and the axis --------------------------------------


def curve_figure(at) -> dict:
    return next(f for f in figures(at) if f["layout"].get("title", {}).get("text", "").startswith("Weighted loss vs"))


@pytest.mark.parametrize("weight_rank", [1, 2])
def test_feature_selection_labels_sit_on_their_lines_and_the_axis_fits_the_data(weight_rank):
    at = fresh_app("app_pages/feature_selection.py")
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
