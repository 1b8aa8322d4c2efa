"""The disk cache when it fails: a truncated cache file is set aside and the network trained
again, a cache that cannot be written keeps the trained network (in the app's memory), and a
local Dask cluster whose scratch folder cannot be written says so -- each told in one line
without a server path (the paths go to the log).

chmod cannot make a folder read-only for root, so an unwritable cache is a folder under a
regular file: every write there fails with an OSError, as on a read-only disk.
"""
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from apptest_helpers import open_page  # noqa: E402
from wlra_core import Problem  # noqa: E402
from wlra_core.datasets import pipeline  # noqa: E402
from wlra_core.datasets.io import load_problem, save_problem  # noqa: E402
from wlra_core.datasets.pipeline import cache_path, cached_fisher_problem, fisher_problem  # noqa: E402

NOT_SAVED = "The trained network could not be saved to the disk cache (Not a directory); it is kept in memory only."


def unwritable(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder's parent should be")
    return blocker / "cache"


def never_train(*args, **kwargs):
    pytest.fail("trained again")


def test_a_truncated_cache_file_is_set_aside_and_the_network_trained_again(tmp_path, caplog, monkeypatch):
    cache = tmp_path / "cache"
    path = cache_path(cache, "digits", hidden=5, epochs=1, seed=0, max_train=None)
    rng = np.random.default_rng(0)
    save_problem(Problem(rng.standard_normal((64, 5)), rng.random((64, 5))), path)
    truncated = path.read_bytes()[:-200]
    path.write_bytes(truncated)
    notices = []
    problem = fisher_problem("digits", hidden=5, epochs=1, cache_dir=cache, notify=notices.append)
    assert problem.shape == (64, 5) and problem.meta["epochs"] == 1 and problem.source == "sklearn"
    (aside,) = cache.glob(f"{path.name}.corrupt-*")
    assert aside.read_bytes() == truncated  # kept for a look, out of the way
    np.testing.assert_array_equal(load_problem(path).W, problem.W)  # the new network took its place
    assert len(notices) == 1 and str(tmp_path) not in notices[0]
    assert notices[0].startswith("The cached network for these settings could not be read (")
    assert "not a readable .npz archive" in notices[0] and "it was set aside and the network is trained again" in notices[0]
    assert str(path) in caplog.text and aside.name in caplog.text
    # From now on the cache serves it, silently.
    monkeypatch.setattr(pipeline, "train_mlp", never_train)
    notices.clear()
    np.testing.assert_array_equal(fisher_problem("digits", hidden=5, epochs=1, cache_dir=cache,
                                                 notify=notices.append).W, problem.W)
    assert notices == []
    # A lookup that never trains (a link) sets a corrupt file aside too, and finds nothing.
    path.write_bytes(b"PK\x03\x04 not a zip")
    assert cached_fisher_problem("digits", hidden=5, epochs=1, cache_dir=cache, notify=notices.append) is None
    assert len(list(cache.glob(f"{path.name}.corrupt-*"))) == 2 and len(notices) == 1


def test_the_data_page_keeps_a_network_it_could_not_save_and_says_so(tmp_path, monkeypatch, caplog):
    cache = unwritable(tmp_path)
    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", cache)
    at = open_page("app_pages/data.py")
    at.radio(key="data-source").set_value("digits").run()
    at.number_input(key="digits-digits-hidden").set_value(7)  # settings no other test trains
    at.number_input(key="digits-digits-epochs").set_value(1)
    at.button(key="load-digits").click().run(timeout=180)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [w.value for w in at.warning] == [NOT_SAVED]  # the page's words: no server path
    assert str(cache) in caplog.text  # the server's log has it
    assert at.success[0].value.startswith("Loaded digits MLP")
    trained = at.session_state["problem"]
    assert trained.shape == (64, 7)
    # A second click, here or in another session, finds it in the server's memory.
    monkeypatch.setattr(pipeline, "train_mlp", never_train)
    other = open_page("app_pages/data.py")
    other.radio(key="data-source").set_value("digits").run()
    other.number_input(key="digits-digits-hidden").set_value(7)
    other.number_input(key="digits-digits-epochs").set_value(1)
    other.button(key="load-digits").click().run(timeout=60)
    assert not other.exception and not other.error and not other.warning
    assert other.session_state["problem"] is trained


def test_a_local_dask_cluster_without_a_writable_scratch_folder_says_so(tmp_path, monkeypatch, caplog):
    pytest.importorskip("distributed")
    from wlra_core import distributed
    from wlra_core.sweep import make_sweep, run_all

    cache = unwritable(tmp_path)
    monkeypatch.setattr(distributed, "CACHE_DIR", cache)
    rows, errors = run_all(make_sweep(Problem(np.ones((5, 4)), None), ["svd"], [1]),
                           executor=distributed.OnDask("local"))
    assert rows == [] and errors == ["cannot start a local Dask cluster: its scratch folder in the server's "
                                     "cache cannot be written (Not a directory)"]
    assert str(cache) in caplog.text
