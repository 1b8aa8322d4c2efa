"""The Refine page: EM histories from three starts, equal to wlra_core's, each start drawn in
its algorithm's colour."""
import numpy as np
import pytest

import wlra_core
from app_pages._views import relative_history
from apptest_helpers import charts, decode, open_page
from wlra_core.seeding import trial_seed

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def traces(figure: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {t["name"].split(" (")[0]: (decode(t["x"]), decode(t["y"])) for t in figure["data"]}

@pytest.fixture(scope="module")
def refined(one_blas_thread):
    """The page's charts after a run at rank 5 with 6 EM iterations, on the shipped problem."""
    at = open_page("app_pages/refine.py")
    at.slider(key="refine-rank-100").set_value(5)
    at.slider(key="refine-iterations").set_value(6)
    at.button(key="refine-run").click().run()
    assert not at.exception and not at.error
    return charts(at)


def test_refine_plots_em_histories_from_three_starts(shipped, refined):
    by_iteration, by_seconds = refined
    curves = traces(by_iteration)
    assert list(curves) == ["EM from svd_w_practical", "EM from zero", "EM from svd"]
    expected = wlra_core.solve("em", shipped.A, shipped.W, 5, n_iter=6, init="zero", seed=trial_seed(0, 0))
    x, y = curves["EM from zero"]
    np.testing.assert_array_equal(x, np.arange(7))
    np.testing.assert_allclose(y, relative_history(expected).relative_loss, rtol=1e-9)
    start = wlra_core.solve("svd_w_practical", shipped.A, shipped.W, 5, seed=trial_seed(0, 0))
    assert curves["EM from svd_w_practical"][1][0] == pytest.approx(start.relative_loss, rel=1e-9)
    assert len(traces(by_seconds)) == 3

def test_refine_draws_each_start_in_its_algorithms_colour(refined):
    from app_pages._charts import algorithm_style

    for figure in refined:
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
