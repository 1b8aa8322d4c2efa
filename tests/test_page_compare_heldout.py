"""Compare on a masked matrix: the held-out check (on by default for a 0/1 mask, off for Fisher
weights), its chart and the true error on the missing entries against an independent
computation, the picture (observed | filled | truth) with its measured error, and the advice
computed from W."""
import numpy as np
import pytest

from apptest_helpers import figures, method_traces, open_page, xy
from wlra_core import holdout, solve
from wlra_core.datasets.io import default_problem
from wlra_core.datasets.masked import masked_image
from wlra_core.seeding import trial_seed

COMPARE = "app_pages/compare.py"
METHODS = ["svd", "svd_w", "em", "soft_impute"]
pytestmark = pytest.mark.usefixtures("one_blas_thread")  # the engine's BLAS threads: bit-identical oracles


@pytest.fixture(scope="module")
def demo():
    return masked_image("china", observed=0.3, seed=0, downscale=8)  # 53 x 80, 30% observed


@pytest.fixture(scope="module")
def ran(demo):
    at = open_page(COMPARE, demo)
    assert at.toggle(key="compare-holdout-mask").value  # on by default: W is a 0/1 mask with zeros
    at.multiselect(key="compare-algorithms").set_value(METHODS)
    at.slider(key="compare-ranks-53").set_value((1, 4))
    at.slider(key="compare-holdout-fraction").set_value(0.2)
    at.run()
    at.button(key="compare-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def independent(problem, fraction, algorithm, rank):
    """The held-out RMSE and the true RMSE on the missing entries, computed here with numpy."""
    split = holdout(problem, fraction=fraction, seed=0)
    X = solve(algorithm, split.fit, rank=rank, seed=trial_seed(0, 0)).approx
    missing = problem.W == 0
    return (np.sqrt(np.mean((X[split.check] - problem.A[split.check]) ** 2)),
            np.sqrt(np.mean((X[missing] - problem.truth[missing]) ** 2)))


def test_held_out_and_true_error_charts_equal_an_independent_computation(ran, demo):
    charts = figures(ran)
    held, true = (method_traces(charts[title]) for title in
                  ("Held-out error vs rank", "True error on the missing entries vs rank"))
    assert set(held) == set(true) == set(METHODS)
    for name in METHODS:
        ranks, held_y = xy(held[name])
        _, true_y = xy(true[name])
        assert list(ranks) == [1, 2, 3, 4]
        expected = np.array([independent(demo, 0.2, name, int(k)) for k in ranks])
        np.testing.assert_allclose(held_y, expected[:, 0], rtol=1e-9)
        np.testing.assert_allclose(true_y, expected[:, 1], rtol=1e-9)
    # svd_w fills nothing: on the missing entries it is as bad as returning zeros.
    missing = demo.W == 0
    _, svd_w = xy(true["svd_w"])
    np.testing.assert_allclose(svd_w, np.sqrt(np.mean(demo.truth[missing] ** 2)), rtol=1e-9)
    tabs = [t.label for t in ran.tabs]
    assert "Held-out error" in tabs and "True error on the missing entries" in tabs


def test_flags_and_advice_name_what_the_svd_w_family_does_here(ran):
    flagged = " ".join(w.value for w in ran.warning if w.value.startswith("Flagged results"))
    assert "**svd_w**" in flagged and "fills nothing" in flagged and "more than the 4,240 entries of A" in flagged
    advice = " ".join(m.value for m in ran.markdown)
    assert "2,970 of the 4,240 entries (70.0%) are missing" in advice
    assert "W is a 0/1 mask" in advice and "fill nothing" in advice and "soft_impute or em" in advice


def test_the_picture_measures_the_error_on_the_missing_pixels(ran, demo):
    ran.selectbox(key="compare-image-method").set_value("soft_impute").run()
    ran.select_slider(key="compare-image-rank-soft_impute").set_value(3).run()
    assert not ran.exception
    metrics = {m.label: m.value for m in ran.metric}
    held, true = independent(demo, 0.2, "soft_impute", 3)
    assert float(metrics["RMSE on the missing entries (truth)"]) == pytest.approx(true, rel=1e-3)
    assert float(metrics["Held-out error"]) == pytest.approx(held, rel=1e-3)
    images = ran.get("image")
    assert [image.proto.imgs[0].caption for image in images] == [  # observed | filled | truth
        "observed (blue: not seen by the method)", "filled by soft_impute at rank 3", "truth"]


def test_fisher_weights_get_no_held_out_check_by_default_and_other_advice():
    at = open_page(COMPARE, default_problem())
    assert at.toggle(key="compare-holdout-weights").value is False
    advice = " ".join(m.value for m in at.markdown)
    assert "close to low rank" in advice and "fill nothing" not in advice
    assert "do not count in the loss" in advice  # the shipped W has exact zeros


def test_an_upload_can_be_shown_as_an_image():
    rng = np.random.default_rng(1)
    digits = rng.random((30, 12))  # each row a 3 x 4 image
    at = open_page(COMPARE, _problem(digits))
    at.multiselect(key="compare-algorithms").set_value(["svd"])
    at.slider(key="compare-ranks-12").set_value((1, 2))
    at.run()
    at.button(key="compare-run").click().run()
    at.toggle(key="compare-as-image").set_value(True).run()
    at.number_input(key="compare-image-height").set_value(5).run()
    assert any("neither A (30 x 12) nor one of its rows (12 entries)" in e.value for e in at.error)
    at.number_input(key="compare-image-height").set_value(3)
    at.number_input(key="compare-image-width").set_value(4).run()
    assert not at.error and not at.exception
    # Nothing was hidden from svd: the approximation itself, and no truth for an upload.
    assert [image.proto.imgs[0].caption for image in at.get("image")] == [
        "observed (blue: not seen by the method)", "approximated by svd at rank 2"]
    assert any("each row of A is an image of 3 x 4 pixels" in c.value for c in at.caption)


def _problem(A):
    from wlra_core import Problem

    return Problem(A, None, name="upload.npy", source="upload")
