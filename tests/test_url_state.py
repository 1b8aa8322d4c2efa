"""The page state lives in the URL, so a reload or a shared link restores it.

Each problem source is loaded in one AppTest session; a NEW session opened with the query
parameters that session wrote must hold the same problem (same fingerprint) and name it in
the sidebar. A link that cannot be followed says so in one message and loads the shipped
problem; the Compare selection round-trips through its bound widgets, and a reload shows
Compare results only from the server's cache. The parsing itself is tested without Streamlit.
"""
import io
import re

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages._links import (PROBLEM_KEYS, LinkError, ProblemLink, ShippedLink, SyntheticLink, TrainedLink, UploadLink,
                              ignored_values, is_widget_key, parameter_kind, parse_link)
from app_pages._sources import SYNTHETIC, SYNTHETIC_MAX_ENTRIES, synthetic_defaults
from apptest_helpers import APP, TIMEOUT, figures, method_traces, xy
from wlra_core.datasets.io import default_problem, save_problem
from wlra_core.datasets.synthetic import random_mask
from wlra_core.problem import fingerprint
from wlra_core.sweep import blas_threads

DATA, COMPARE = "app_pages/data.py", "app_pages/compare.py"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def shipped():
    return default_problem()


def session(query: dict, page: str | None = None, *, timeout: float = TIMEOUT) -> AppTest:
    """A new session opened at ``page`` with this URL query (a reload, or a shared link)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def reload(at: AppTest, page: str | None = None) -> AppTest:
    """A new session with the URL ``at`` ended on."""
    return session(dict(at.query_params), page)


def problem_query(at: AppTest) -> dict:
    """The URL's problem parameters."""
    return {k: v for k, v in at.query_params.items() if k in PROBLEM_KEYS}


def loaded(at: AppTest):
    return at.session_state["problem"]


def sidebar(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def alerts(at: AppTest) -> list[str]:
    return [a.value for kind in ("error", "warning", "info") for a in at.get(kind)]


def link_alerts(at: AppTest) -> list[str]:
    """Alerts about the link itself (not, say, flags on results other tests left in the server's cache)."""
    return [a for a in alerts(at) if "link" in a.lower() or "shipped problem is loaded instead" in a]


def generate(generator: str, **params) -> AppTest:
    """The Data page after Generate with ``generator``; numbers go to number inputs, text to text inputs."""
    at = session({}, DATA)
    at.radio(key="data-source").set_value("synthetic").run()
    at.selectbox(key="synthetic-generator").set_value(generator).run()
    for name, value in params.items():
        widget = at.text_input if isinstance(value, str) else at.number_input
        widget(key=f"synthetic-{generator}-{name}").set_value(value)
    at.button(key="load-synthetic").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def assert_same_problem(at: AppTest, problem) -> None:
    assert fingerprint(loaded(at)) == fingerprint(problem)
    assert f"**{problem.name}**" in sidebar(at)


# --- The URL format, without Streamlit --------------------------------------------------


def as_query(link: ProblemLink) -> dict[str, list[str]]:
    return {key: [value] for key, value in link.query().items()}


@pytest.mark.parametrize("link", [
    ShippedLink(),
    TrainedLink("digits", 32, 50),
    TrainedLink("mnist", 64, 3),
    SyntheticLink.of("low_rank_plus_diagonal", {"n": 40, "d": 25, "noise": 0.1 + 0.2}),
    SyntheticLink.of("low_rank_plus_diagonal", {"n": 40}),  # d=None: omitted, read back as None
    SyntheticLink.of("fisher_like", {"n": 300, "d": 40, "tail": 2.5, "seed": 3}),
    UploadLink("0123456789abcdef" * 2),
])
def test_every_link_reads_back_as_itself(link):
    assert parse_link(as_query(link)) == link
    # Widget keys are the widgets' business, not the problem's.
    assert parse_link({**as_query(link), "compare-trials": ["3"]}) == link


def test_the_url_names_each_source_by_its_settings():
    assert ShippedLink().query() == {}
    assert parse_link({}) == parse_link({"compare-seed": ["2"]}) == ShippedLink()
    # Widget keys have a dash, problem parameters none: the two never mix.
    assert not any(map(is_widget_key, PROBLEM_KEYS)) and is_widget_key("compare-ranks-128")
    assert parse_link({"source": ["shipped"]}) == ShippedLink()
    assert TrainedLink("digits", 8, 3).query() == {"source": "digits", "hidden": "8", "epochs": "3"}
    assert TrainedLink("mnist", 8, 3).query() == {"source": "tfds", "dataset": "mnist", "hidden": "8",
                                                  "epochs": "3"}
    # Defaults: Table 1's settings; tfds means fashion_mnist.
    assert parse_link({"source": ["digits"]}) == TrainedLink("digits", 32, 50)
    assert parse_link({"source": ["tfds"]}) == TrainedLink("fashion_mnist", 128, 5)
    # Every generator parameter is written, so a later change of a default cannot change the problem.
    assert SyntheticLink.of("random_mask", {"n": 30}).query() == {
        "source": "synthetic", "generator": "random_mask", "n": "30", "d": "80", "rank": "5", "observed": "0.3",
        "noise": "0.0", "seed": "0"}


HOSTILE = [
    ({"source": "nope"}, "unknown source 'nope'"),
    ({"source": "x" * 5000}, "unknown source 'xxxx"),
    ({"source": ["digits", "tfds"]}, "'source' is given 2 times"),
    ({"source": "digits", "hidden": "1e9"}, "hidden must be an integer from 1 to 4096, got '1e9'"),
    ({"source": "digits", "hidden": "99999"}, "hidden must be an integer from 1 to 4096, got 99999"),
    ({"source": "digits", "epochs": "0"}, "epochs must be an integer from 1 to 200, got 0"),
    ({"source": "digits", "dataset": "mnist"}, "source=digits does not use 'dataset'"),
    ({"source": "tfds", "dataset": "../../etc/passwd"}, "unknown tfds dataset '../../etc/passwd'"),
    ({"source": "tfds", "dataset": "digits"}, "unknown tfds dataset 'digits'"),
    ({"source": "synthetic"}, "unknown generator ''"),
    ({"source": "synthetic", "generator": "__import__"}, "unknown generator '__import__'"),
    ({"source": "synthetic", "generator": "random_mask", "n": "ten"}, "n must be an integer, got 'ten'"),
    ({"source": "synthetic", "generator": "random_mask", "noise": "nan"}, "noise must be a finite number"),
    ({"source": "synthetic", "generator": "random_mask", "bogus": "1"}, "source=synthetic does not use 'bogus'"),
    ({"source": "synthetic", "generator": "random_mask", "n": "100000", "d": "100000"},
     f"A (100000 x 100000) has 10,000,000,000 entries; the limit is {SYNTHETIC_MAX_ENTRIES:,}"),
    ({"source": "synthetic", "generator": "block_diagonal", "n": "999999999999"},  # n x n
     "has 999,999,999,998,000,000,000,001 entries"),
    ({"source": "upload", "upload": "../../secret"}, "the upload key must be 32 hexadecimal digits"),
    ({"source": "upload"}, "the upload key must be 32 hexadecimal digits, got ''"),
]


@pytest.mark.parametrize("query, message", HOSTILE)
def test_a_bad_link_is_refused_in_one_line(query, message):
    with pytest.raises(LinkError) as err:
        parse_link({k: v if isinstance(v, list) else [v] for k, v in query.items()})
    assert message in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 400


def test_ignored_values_names_what_a_widget_did_not_take():
    linked = {"compare-algorithms": ["svd", "bogus"], "compare-trials": ["007"], "compare-seed": ["2.5"],
              "compare-where": []}
    used = {"compare-algorithms": ["svd"], "compare-trials": ["7"], "compare-seed": ["2"], "compare-where": ["x"]}
    assert ignored_values(linked, used) == ["compare-algorithms=bogus", "compare-seed=2.5"]


def test_a_generator_parameter_is_typed_alike_by_the_data_page_and_by_links():
    assert [parameter_kind(v) for v in (3, 0.5, None, "x", [1, 2], True)] == [
        "integer", "number", "text", "text", "text", "text"]
    for generator in SYNTHETIC:
        for name, default in synthetic_defaults(generator).items():
            kind = parameter_kind(default)
            if kind == "text":
                continue
            text = "3" if kind == "integer" else "0.5"
            value = dict(parse_link({"source": ["synthetic"], "generator": [generator], name: [text]}).params)[name]
            assert type(value) is (int if kind == "integer" else float), (generator, name)


# --- Each source: load, reload, the same problem ------------------------------------------
# --- Each source: load, reload, the same problem ------------------------------------------


def test_the_shipped_problem_has_a_clean_url_and_comes_back(shipped):
    at = generate("random_mask", n=30, d=20)
    at.radio(key="data-source").set_value("shipped").run()
    at.button(key="load-shipped").click().run()
    assert problem_query(at) == {}  # the shipped problem is the default: nothing to say
    assert_same_problem(reload(at), shipped)
    explicit = session({"source": "shipped"}, COMPARE)
    assert_same_problem(explicit, shipped)
    assert problem_query(explicit) == {} and not link_alerts(explicit)


def test_a_generated_problem_is_regenerated_from_its_url():
    at = generate("low_rank_plus_sparse", n=40, d=30, rank=3, density=0.05, spike=4.5, seed=5)
    problem = loaded(at)
    assert problem_query(at) == {"source": "synthetic", "generator": "low_rank_plus_sparse", "n": "40", "d": "30",
                                 "rank": "3", "weight_rank": "1", "density": "0.05", "spike": "4.5", "noise": "0.1",
                                 "seed": "5"}
    again = reload(at, COMPARE)
    assert_same_problem(again, problem)
    assert not link_alerts(again)
    # The Data page of the new session starts from the link's settings.
    again.switch_page(DATA).run()
    assert again.radio(key="data-source").value == "synthetic"
    assert again.selectbox(key="synthetic-generator").value == "low_rank_plus_sparse"
    assert again.number_input(key="synthetic-low_rank_plus_sparse-density").value == 0.05
    assert again.number_input(key="synthetic-low_rank_plus_sparse-seed").value == 5
    # A parameter typed as text (d=None means d = n).
    typed = generate("low_rank_plus_diagonal", n=30, d="25")
    assert problem_query(typed)["d"] == "25" and loaded(typed).shape == (30, 25)
    assert_same_problem(reload(typed), loaded(typed))


def test_the_data_page_refuses_a_generated_problem_over_the_cap_before_making_it(shipped):
    at = session({}, DATA)
    at.radio(key="data-source").set_value("synthetic").run()
    at.number_input(key="synthetic-planted_low_rank-n").set_value(10**6)
    at.number_input(key="synthetic-planted_low_rank-d").set_value(10**5)
    at.button(key="load-synthetic").click().run()
    assert not at.exception
    [error] = at.error
    assert "A (1000000 x 100000) has 100,000,000,000 entries; the limit is" in error.value
    assert "previously loaded problem is kept" in error.value
    assert_same_problem(at, shipped)


def upload(content: bytes, name: str = "mine.npz") -> AppTest:
    """A new session's Data page after loading ``content`` as the upload of A."""
    at = session({}, DATA)
    at.radio(key="data-source").set_value("upload").run()
    at.file_uploader(key="upload-A").set_value((name, content, "application/octet-stream")).run()
    at.button(key="load-upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def npz_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, A=rng.standard_normal((30, 20)), W=rng.random((30, 20)))
    return buffer.getvalue()


def test_an_upload_key_cannot_be_derived_from_the_contents():
    content = npz_bytes(2)
    first, second = upload(content), upload(content)
    keys = [problem_query(at)["upload"] for at in (first, second)]
    # The same file uploaded twice gets two unrelated random keys, neither the content's fingerprint.
    assert keys[0] != keys[1]
    assert fingerprint(loaded(first)) == fingerprint(loaded(second)) not in keys
    for key, at in zip(keys, (first, second)):
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        assert_same_problem(reload(at), loaded(at))  # each key is a working link to its upload


def test_an_upload_comes_back_while_the_server_keeps_it_and_is_said_gone_after(shipped):
    at = upload(npz_bytes(1))
    problem = loaded(at)
    assert problem.name == "mine.npz"
    key = problem_query(at)["upload"]
    assert problem_query(at) == {"source": "upload", "upload": key} and key != fingerprint(problem)
    again = reload(at, "app_pages/weights.py")
    assert_same_problem(again, problem)
    assert not alerts(again)
    # A server restart forgets uploads: the link says so and loads the shipped problem.
    st.cache_resource.clear()
    gone = reload(at)
    [warning] = gone.warning
    assert "uploaded problem is no longer on this server" in warning.value
    assert "upload the files again on the Data page" in warning.value
    assert_same_problem(gone, shipped)
    assert problem_query(gone) == {}
    assert not gone.error and not gone.info
    # The notice is said once, not on every later page.
    gone.switch_page(COMPARE).run()
    assert not gone.warning


def test_a_trained_problem_comes_back_and_an_untrained_one_waits_for_train(tmp_path, monkeypatch, shipped,
                                                                          digits_trained):
    import shutil

    from wlra_core.datasets import pipeline

    from app_pages._sources import trained_problems

    trained, trained_cache = digits_trained
    assert (trained.meta["hidden"], trained.meta["epochs"]) == (6, 2)
    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", tmp_path)
    trained_problems.clear()  # a server that never trained these settings (other tests here did)
    # A link to settings this server never trained: nothing trains, the Data page offers them.
    pending = session({"source": "digits", "hidden": "6", "epochs": "2"}, DATA)
    [notice] = pending.info
    assert "digits with 6 hidden units and 2 epochs" in notice.value and "not trained yet" in notice.value
    assert_same_problem(pending, shipped)
    assert not list(tmp_path.iterdir())
    assert pending.radio(key="data-source").value == "digits"
    assert pending.number_input(key="digits-digits-hidden").value == 6
    assert pending.number_input(key="digits-digits-epochs").value == 2
    assert problem_query(pending) == {"source": "digits", "hidden": "6", "epochs": "2"}  # a reload asks again
    pending.switch_page(COMPARE).run()
    assert pending.info[0].value == notice.value  # until the problem is loaded
    # The preselected Train button gets it from the pipeline (whose disk cache now holds the
    # session's network of these settings: the training itself is tested in
    # test_cache_faults.py); the notice goes, the URL already names it.
    for file in trained_cache.iterdir():
        shutil.copy(file, tmp_path)
    monkeypatch.setattr(pipeline, "train_mlp", lambda *args, **kwargs: pytest.fail("trained again"))
    pending.switch_page(DATA).run()
    pending.button(key="load-digits").click().run(timeout=180)
    assert not pending.exception and not pending.error and not pending.info
    problem = loaded(pending)
    assert problem.shape == (64, 6) and problem.source == "sklearn"
    np.testing.assert_array_equal(problem.W, trained.W)
    assert problem_query(pending) == {"source": "digits", "hidden": "6", "epochs": "2"}
    # A reload finds it in memory, and after a server restart in the pipeline's disk cache.
    assert_same_problem(reload(pending, COMPARE), problem)
    st.cache_resource.clear()
    restarted = reload(pending)
    assert_same_problem(restarted, problem)
    assert not alerts(restarted)


@pytest.mark.parametrize("query, message", [HOSTILE[0], HOSTILE[4], HOSTILE[10], HOSTILE[14], HOSTILE[16],
                                            ({"source": "synthetic", "generator": "random_mask", "observed": "2"},
                                             "observed must be a number in (0, 1]")])
def test_a_bad_link_gives_one_message_and_the_shipped_problem(query, message, shipped):
    at = session(query, COMPARE)
    # One message about the link (results other tests cached on this server may add their own
    # flag warnings and cache notices on Compare).
    [warning] = [w for w in at.warning if "loaded instead" in w.value]
    assert message in warning.value and "The shipped problem is loaded instead." in warning.value
    assert not at.error and not any("link" in notice.value for notice in at.info)
    assert_same_problem(at, shipped)
    assert not any(key in PROBLEM_KEYS for key in at.query_params)  # the bad parameters leave the URL
    assert at.title[0].value == "Compare"  # and the page still renders


# --- Compare's selection ------------------------------------------------------------------------


def test_the_compare_selection_round_trips_through_the_url():
    query = {"compare-algorithms": ["svd", "em"], "compare-ranks-128": ["2", "6"], "compare-trials": "3",
             "compare-seed": "7", "compare-where": "Dask cluster"}
    at = session(query, COMPARE)
    assert at.multiselect(key="compare-algorithms").value == ["svd", "em"]
    assert at.slider(key="compare-ranks-128").value == (2, 6)
    assert at.number_input(key="compare-trials").value == 3
    assert at.number_input(key="compare-seed").value == 7
    assert at.radio(key="compare-where").value == "Dask cluster"
    assert at.text_input(key="compare-scheduler").value == "local"
    assert not alerts(at)
    assert at.query_params == query  # the scheduler's address is never in the URL
    # A page switch clears the URL (Streamlit); coming back writes the selection again.
    at.switch_page("app_pages/refine.py").run()
    at.switch_page(COMPARE).run()
    assert at.number_input(key="compare-trials").value == 3 and at.query_params["compare-trials"] == "3"


def test_bad_compare_values_in_a_link_are_named_and_ignored():
    at = session({"compare-algorithms": ["svd", "bogus"], "compare-trials": "500", "compare-seed": "-3",
                  "compare-where": "tcp://10.0.0.1:8786", "compare-ranks-128": ["9", "3"]}, COMPARE)
    [warning] = at.warning
    for said in ("compare-algorithms=bogus", "compare-trials=500", "compare-seed=-3",
                 "compare-where=tcp://10.0.0.1:8786", "read as ranks 3 to 9"):
        assert said in warning.value
    assert at.multiselect(key="compare-algorithms").value == ["svd"]
    assert at.number_input(key="compare-trials").value == 1
    assert at.number_input(key="compare-seed").value == 0
    assert at.radio(key="compare-where").value == "this process"
    assert "bogus" not in str(at.query_params) and "10.0.0.1" not in str(at.query_params)
    at.button(key="compare-run").click().run()
    assert not at.exception and not at.error
    x, _ = xy(method_traces(figures(at)["Weighted loss vs rank"])["svd"])
    np.testing.assert_array_equal(x, np.arange(3, 10))


def test_a_reload_shows_cached_compare_results_and_never_runs_by_itself():
    at = generate("random_mask", n=30, d=20, seed=11)
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare-algorithms").set_value(["svd", "svd_w"]).run()
    at.slider(key="compare-ranks-20").set_value((1, 3))
    at.button(key="compare-run").click().run()
    before = method_traces(figures(at)["Weighted loss vs rank"])
    assert list(before) == ["svd", "svd_w"]
    # The browser writes the bound widgets' values into the URL; AppTest does not, so here they are.
    link = {**problem_query(at), "compare-algorithms": ["svd", "svd_w"], "compare-ranks-20": ["1", "3"]}
    again = session(link, COMPARE)
    assert any("6 of 6 results for these settings come from the cache" in a for a in alerts(again))
    after = method_traces(figures(again)["Weighted loss vs rank"])
    for name in before:
        np.testing.assert_array_equal(xy(after[name])[1], xy(before[name])[1])
    # Settings nothing has run for: empty charts that say Press Run, nothing computed.
    other = session({**link, "compare-seed": "1"}, COMPARE)
    loss = figures(other)["Weighted loss vs rank"]
    assert not method_traces(loss) and "Press Run" in loss["layout"]["annotations"][0]["text"]
    assert not other.get("dataframe")


def test_a_link_loads_what_the_pipeline_cached_on_disk_and_train_reuses_it(tmp_path, monkeypatch):
    from wlra_core.datasets import pipeline

    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", tmp_path)
    monkeypatch.setattr(pipeline, "train_mlp", lambda *args, **kwargs: pytest.fail("trained"))
    cached = random_mask(64, 7, seed=11)  # stands in for a digits MLP with 7 hidden units
    save_problem(cached, pipeline.cache_path(tmp_path, "digits", hidden=7, epochs=4, seed=0, max_train=None))
    at = session({"source": "digits", "hidden": "7", "epochs": "4"}, COMPARE)
    assert fingerprint(loaded(at)) == fingerprint(cached)
    assert not link_alerts(at) and problem_query(at) == {"source": "digits", "hidden": "7", "epochs": "4"}
    # Train with the same settings on the Data page: the problem the link loaded, no training.
    at.switch_page(DATA).run()
    assert at.radio(key="data-source").value == "digits"
    at.button(key="load-digits").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.get("progress")
    assert fingerprint(loaded(at)) == fingerprint(cached)


class RecordingHash:
    """A blake2b that records what it hashes (the array behind each memoryview)."""

    def __init__(self, digest, seen: list):
        self._digest, self._seen = digest, seen

    def update(self, data) -> None:
        self._seen.append(getattr(data, "obj", data))
        self._digest.update(data)

    def __getattr__(self, name):
        return getattr(self._digest, name)


def test_a_loaded_problem_is_hashed_once(monkeypatch):
    import hashlib

    seen, blake2b = [], hashlib.blake2b
    monkeypatch.setattr(hashlib, "blake2b", lambda *args, **kwargs: RecordingHash(blake2b(*args, **kwargs), seen))
    at = generate("random_mask", n=23, d=17, seed=97531)  # a problem no other test generates
    problem = loaded(at)
    for page in (COMPARE, "app_pages/weights.py", DATA):
        at.switch_page(page).run()
        assert not at.exception
    assert sum(array is problem.A for array in seen) == 1  # its fingerprint, computed once
