"""The Data page: the facts of the loaded problem, uploads (a bad one keeps the problem), the
uploaders' limit, synthetic generators and their descriptions, the digits MLP trained from
the page, and tfds without data."""
import io
import re

import numpy as np
import pytest
import streamlit as st

from apptest_helpers import charts, generate, open_page

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_data_page_shows_the_facts_of_the_shipped_problem(shipped):
    at = open_page("app_pages/data.py")
    table = at.table[0].value
    facts = dict(zip(table["fact"], table["value"]))
    assert facts["shape"] == "784 x 128"
    assert facts["zero rows of W"] == str(int(np.sum(~shipped.W.any(axis=1))))
    assert facts["zero columns of W"] == str(int(np.sum(~shipped.W.any(axis=0))))
    assert facts["A range"] == f"[{shipped.A.min():.4g}, {shipped.A.max():.4g}]"

def test_bad_upload_shows_the_loader_message_and_keeps_the_problem(shipped):
    at = open_page("app_pages/data.py")
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

    at = open_page("app_pages/data.py")
    at.radio(key="data-source").set_value("upload").run()
    # Streamlit's uploader counts megabytes of 10^6 bytes (in most browsers): one limit for both.
    assert MAX_FILE_BYTES == 200_000_000
    for key in ("upload-A", "upload-W"):
        uploader = at.file_uploader(key=key)
        assert uploader.proto.max_upload_size_mb * 10**6 == MAX_FILE_BYTES
        assert uploader.help == "At most 200 MB (200,000,000 bytes) per file."
    assert any("at most 200 MB (200,000,000 bytes) per file" in m.value for m in at.markdown)

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


SPHINX_MARKUP = re.compile(r":\w+:`|``")

def test_every_generator_description_is_free_of_sphinx_markup():
    at = open_page("app_pages/data.py")
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


def train_digits(at, hidden: int, epochs: int):
    """Click "Train MLP" for digits with these settings; the loaded problem."""
    at.radio(key="data-source").set_value("digits").run()
    at.number_input(key="digits-digits-hidden").set_value(hidden)
    at.number_input(key="digits-digits-epochs").set_value(epochs)
    at.button(key="load-digits").click().run(timeout=180)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.get("progress")  # the bar is gone once the problem is loaded
    return at.session_state["problem"]


def test_digits_mlp_loads_once_per_server_and_then_from_the_disk_cache(digits_trained, monkeypatch):
    """The page asks the pipeline for the digits network of its settings (here found in the
    pipeline's disk cache; training through the page is tested in test_cache_faults.py), keeps
    it in the server's memory for this and every other session, and after a restart (memory
    caches gone) reads it back from the disk cache."""
    from wlra_core.datasets import pipeline

    trained, cache = digits_trained
    hidden, epochs = trained.meta["hidden"], trained.meta["epochs"]
    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", cache)
    monkeypatch.setattr(pipeline, "train_mlp", lambda *args, **kwargs: pytest.fail("retrained"))
    st.cache_resource.clear()
    at = open_page("app_pages/data.py")
    first = train_digits(at, hidden, epochs)
    assert first.shape == (64, hidden) and first.source == "sklearn"
    assert first.image_shape == (8, 8, 1) and 0 < first.meta["test_accuracy"] <= 1
    np.testing.assert_array_equal(first.W, trained.W)
    np.testing.assert_array_equal(first.A, trained.A)
    # Same session, same settings: the loaded problem itself.
    assert train_digits(at, hidden, epochs) is first
    # A new session of the same server: the same problem too.
    assert train_digits(open_page("app_pages/data.py"), hidden, epochs) is first
    # After a server restart the pipeline's disk cache serves it again.
    st.cache_resource.clear()
    reloaded = train_digits(open_page("app_pages/data.py"), hidden, epochs)
    np.testing.assert_array_equal(reloaded.W, first.W)
    at.switch_page("app_pages/weights.py").run()
    assert len([f for f in charts(at) if f["data"][0]["type"] == "heatmap"]) == 4  # with the 8 x 8 pixel map


def test_tfds_without_data_says_what_to_do(tmp_path, monkeypatch):
    # An empty tfds folder and no download allowed: the pipeline must answer at once
    # with what to do, and the page must keep the problem.
    monkeypatch.setenv("WLRA_TFDS_DIR", str(tmp_path))
    at = open_page("app_pages/data.py")
    at.radio(key="data-source").set_value("tfds").run()
    at.selectbox(key="tfds-dataset").set_value("smallnorb").run()
    assert at.checkbox(key="tfds-download").value is False
    at.button(key="load-tfds").click().run()
    assert not at.exception
    assert any("smallnorb" in e.value and "download" in e.value for e in at.error)
    assert at.session_state["problem"].source == "shipped"


def test_offline_tfds_error_leaves_no_progress_bar_and_names_the_checkbox(tmp_path, monkeypatch):
    monkeypatch.setenv("WLRA_TFDS_DIR", str(tmp_path))
    at = open_page("app_pages/data.py")
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
