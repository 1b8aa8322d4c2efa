"""The Compare page through AppTest: plotted numbers equal wlra_core's, one colour per
algorithm, readable log axes, flagged and failed results said next to the points, Dask
errors first, and every problem shape the loader accepts."""
import numpy as np
import pytest

import wlra_core
from apptest_helpers import figures, method_traces, open_page, xy
from wlra_core.datasets.synthetic import random_mask
from wlra_core.seeding import trial_seed

PAGE = "app_pages/compare.py"


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def run_compare(at, names, ranks, **numbers):
    at.multiselect(key="compare-algorithms").set_value(names).run()  # their option widgets appear
    max_rank = min(at.session_state["problem"].shape)
    at.slider(key=f"compare-ranks-{max_rank}").set_value(ranks)
    for key, value in numbers.items():
        at.number_input(key=key).set_value(value)
    at.button(key="compare-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_compare_run_plots_exactly_what_wlra_core_returns(shipped):
    at = open_page(PAGE)
    assert at.multiselect(key="compare-algorithms").value == [a for a in wlra_core.ALGORITHMS
                                                               if not wlra_core.get_algorithm(a).slow]
    assert at.slider(key="compare-ranks-128").value == (1, 20)
    names, ranks = ["svd", "svd_w", "svd_w_practical", "em"], [1, 2, 3]
    run_compare(at, names, (1, 3), **{"opt-em-n_iter": 4})
    assert not at.error, [e.value for e in at.error]
    charts = figures(at)
    loss, time, params = (method_traces(charts[t]) for t in (
        "Weighted loss vs rank", "Runtime vs rank", "Weighted loss vs stored numbers"))
    assert list(loss) == names
    for name in names:
        options = {"n_iter": 4} if name == "em" else {}
        expected = wlra_core.solve_ranks(name, shipped, ranks=ranks, seed=trial_seed(0, 0), **options)
        x, y = xy(loss[name])
        np.testing.assert_array_equal(x, ranks)
        np.testing.assert_allclose(y, [r.relative_loss for r in expected], rtol=1e-9)
        np.testing.assert_array_equal(xy(params[name])[0], [r.n_params for r in expected])
        assert np.all(xy(time[name])[1] > 0)
    # svd_w stores W itself: on the shipped kernel it sits to the right of the matrix's own size.
    assert xy(params["svd_w"])[0].min() > 784 * 128 > xy(params["svd"])[0].max()
    caption = " ".join(c.value for c in at.caption)
    assert "store all n·d weights too" in caption
    # Absolute loss on request, from the cache (same settings: nothing recomputed).
    at.toggle(key="compare-relative").set_value(False).run()
    assert "from the cache" in at.info[0].value
    x, y = xy(method_traces(figures(at)["Weighted loss vs rank"])["svd_w"])
    np.testing.assert_allclose(y, [wlra_core.solve("svd_w", shipped, rank=k).loss for k in ranks], rtol=1e-9)
    # Tables at ranks 5/10/20 only list ranks that were run; the CSV holds every result.
    assert list(at.table[0].value.columns) == ["method"]
    assert at.get("download_button")[0].proto.label.startswith("Download every result")


def test_every_algorithm_has_its_own_colour_and_marker_in_every_chart():
    problem = random_mask(n=40, d=30, rank=3, seed=1)
    at = open_page(PAGE, problem)
    # Every algorithm this problem can run (whiten and kfac need an MLP's moments).
    names = [a for a in wlra_core.ALGORITHMS if a != "adam" and not wlra_core.get_algorithm(a).requires]
    assert at.multiselect(key="compare-algorithms").value == names
    run_compare(at, names, (1, 2), **{"opt-em-n_iter": 2, "opt-als-n_iter": 2, "opt-svd_w_em-n_iter": 2})
    styles = {}
    for title, chart in figures(at).items():
        traces = method_traces(chart)
        assert set(traces) == set(names), title
        colours = [t["line"]["color"] for t in traces.values()]
        symbols = [t["marker"]["symbol"] for t in traces.values()]
        assert len(set(colours)) == len(names) and len(set(symbols)) == len(names), title
        for name, t in traces.items():  # the same algorithm looks the same on every chart
            assert styles.setdefault(name, (t["line"]["color"], t["marker"]["symbol"])) == \
                (t["line"]["color"], t["marker"]["symbol"])


def test_log_axes_stay_readable_and_bands_never_leave_the_data():
    at = open_page(PAGE, wlra_core.Problem(np.random.default_rng(3).random((9, 8)), None, name="never run"))
    # Before Run the charts are empty: no log axis full of stacked labels.
    for chart in figures(at).values():
        assert chart["layout"]["yaxis"].get("showticklabels") is False
        assert chart["layout"]["yaxis"].get("type") != "log"
    # random_mask: losses from ~1e-30 to 1 (exact recovery at the planted rank).
    problem = random_mask(n=60, d=40, rank=3, seed=0)
    at = open_page(PAGE, problem)
    at.number_input(key="compare-trials").set_value(3)
    run_compare(at, ["svd_w", "sample", "als"], (1, 6))  # ALS recovers the planted rank-3 matrix
    chart = figures(at)["Weighted loss vs rank"]
    y = np.concatenate([xy(t)[1] for t in method_traces(chart).values()])
    assert np.log10(y[y > 0].max() / y[y > 0].min()) > 6
    # Many decades: whole-decade ticks chosen by plotly, never a label for every digit.
    assert chart["layout"]["yaxis"]["type"] == "log" and chart["layout"]["yaxis"].get("dtick") is None
    # Spread over trials is a min-max band: on a log axis it never runs below the data.
    bands = [t for t in chart["data"] if t.get("fill") == "toself"]
    assert bands and all(xy(band)[1].min() > 0 for band in bands)
    sample = method_traces(chart)["sample"]
    band = next(b for b in bands if b["name"] == "sample min-max")
    assert xy(band)[1].min() <= xy(sample)[1].min() and xy(band)[1].max() >= xy(sample)[1].max()


def test_flagged_and_failed_results_are_said_next_to_their_points(shipped):
    at = open_page(PAGE)
    at.multiselect(key="compare-algorithms").set_value(["svd", "svd_w", "adam"]).run()
    at.number_input(key="opt-adam-n_epochs").set_value(2)
    at.number_input(key="opt-adam-learning_rate").set_value(1e30)
    run_compare(at, ["svd", "svd_w", "adam"], (5, 6))
    # adam diverges: a failed run, listed and marked in the legend and the table.
    assert any("adam" in e.value and "diverged" in e.value for e in at.error)
    chart = figures(at)["Weighted loss vs rank"]
    assert "adam (failed at rank 5, 6)" in [t["name"] for t in chart["data"]]
    table = at.table[0].value.set_index("method")
    assert table.loc["adam", "rank 5"] == "failed"
    # svd_w divides by Fisher weights down to 1e-11: flagged, with a ring on each point.
    rings = next(t for t in chart["data"] if t["name"] == "flagged (!)" and t["text"][0].startswith("svd_w:"))
    np.testing.assert_array_equal(xy(rings)[0], [5, 6])
    warning = " ".join(w.value for w in at.warning)
    assert "svd_w" in warning and "x max|A|" in warning
    assert table.loc["svd_w", "rank 5"].endswith("(!)") and not table.loc["svd", "rank 5"].endswith("(!)")


def test_a_stopped_sweep_reads_not_run_in_the_table():
    at = open_page(PAGE)
    run_compare(at, ["svd"], (5, 10))
    run_compare(at, ["svd", "em"], (5, 5), **{"opt-em-n_iter": 2})
    # Back to ranks 5-10 for both without running: em reached rank 5 only (as after a Stop).
    at.multiselect(key="compare-algorithms").set_value(["svd", "em"])
    at.slider(key="compare-ranks-128").set_value((5, 10)).run()
    table = at.table[0].value.set_index("method")
    assert table.loc["em", "rank 10"] == "not run" and "±" in table.loc["svd", "rank 10"]
    assert not table.isna().any().any()


def test_option_widgets_come_from_the_declarations():
    at = open_page(PAGE)
    at.multiselect(key="compare-algorithms").set_value(["svd_w", "adam", "css"]).run()
    rank = at.number_input(key="opt-svd_w-weight_rank")
    assert (rank.min, rank.max, rank.value) == (1, 128, 1)  # declared >= 1, limited by min(n, d)
    floor = at.number_input(key="opt-svd_w-weight_floor")
    assert (floor.min, floor.max, floor.value) == (0.0, 1.0, 0.0)
    assert at.selectbox(key="opt-css-selection").options == ["leverage", "pivoted_qr", "uniform"]
    assert at.number_input(key="opt-css-n_columns").value is None  # None: the declared default rule
    # learning_rate > 0 is an open interval: 0 gets the declaration's message, the problem stays.
    at.number_input(key="opt-adam-learning_rate").set_value(0.0).run()
    assert any("invalid learning_rate=0.0; learning_rate must be a number > 0" in e.value for e in at.error)


def test_a_dask_scheduler_must_be_allowed_and_its_failure_comes_first(shipped, monkeypatch):
    monkeypatch.delenv("WLRA_DASK_SCHEDULERS", raising=False)
    at = open_page(PAGE)
    at.multiselect(key="compare-algorithms").set_value(["svd"])
    at.radio(key="compare-where").set_value("Dask cluster").run()
    at.text_input(key="compare-scheduler").set_value("tcp://127.0.0.1:1").run()
    assert any("is not allowed" in e.value and "$WLRA_DASK_SCHEDULERS" in e.value for e in at.error)
    assert not at.get("plotly_chart")
    monkeypatch.setenv("WLRA_DASK_SCHEDULERS", "tcp://127.0.0.1:1")
    at.run()
    at.button(key="compare-run").click().run(timeout=60)
    assert not at.exception
    # The status line (above the charts) says what failed; nothing claims "Done".
    first = at.error[0].value
    assert first.startswith("Could not run: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert not at.success and not any("Done" in w.value for w in at.warning)
    kept = at.session_state["problem"]
    assert kept.shape == shipped.shape and np.array_equal(kept.A, shipped.A)


def test_compare_on_a_local_dask_cluster_plots_what_wlra_core_returns(shipped, monkeypatch):
    from wlra_core.distributed import OnDask

    schedulers = []
    original = OnDask.__call__

    def spy(self, *args, **kwargs):
        schedulers.append(self.scheduler)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OnDask, "__call__", spy)
    at = open_page(PAGE)
    at.radio(key="compare-where").set_value("Dask cluster").run()
    assert at.text_input(key="compare-scheduler").value == "local"
    at.multiselect(key="compare-algorithms").set_value(["svd_w", "em"])
    at.slider(key="compare-ranks-128").set_value((2, 4))
    at.number_input(key="opt-em-n_iter").set_value(3)
    at.button(key="compare-run").click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert schedulers == ["local"]
    plotted = method_traces(figures(at)["Weighted loss vs rank"])
    for name in ("svd_w", "em"):
        options = {"n_iter": 3} if name == "em" else {}
        expected = wlra_core.solve_ranks(name, shipped, ranks=[2, 3, 4], seed=trial_seed(0, 0), **options)
        np.testing.assert_allclose(xy(plotted[name])[1], [r.relative_loss for r in expected], rtol=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1)])
def test_a_single_row_or_column_problem_runs_at_rank_one(shape):
    rng = np.random.default_rng(0)
    problem = wlra_core.Problem(rng.standard_normal(shape), rng.random(shape) + 0.1, name="thin")
    at = open_page(PAGE, problem)
    assert "Rank 1" in " ".join(m.value for m in at.markdown)
    at.multiselect(key="compare-algorithms").set_value(["svd", "svd_w", "em"])
    at.button(key="compare-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    plotted = method_traces(figures(at)["Weighted loss vs rank"])
    np.testing.assert_array_equal(xy(plotted["svd"])[0], [1])
    assert xy(plotted["svd"])[1][0] == pytest.approx(wlra_core.solve("svd", problem, rank=1).relative_loss)


def test_forget_button_says_it_forgets_every_sessions_results():
    at = open_page(PAGE)
    forget = at.button(key="compare-clear")
    assert forget.label == "Forget cached results"
    assert "every session" in forget.help and "on this server" in forget.help
