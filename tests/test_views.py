"""wlra_core.views: what the dashboard draws, checked against direct computations."""
import json
import threading

import numpy as np
import pytest

import wlra_core
from wlra_core.datasets.synthetic import planted_low_rank
from wlra_core.linalg import first_singular_mass
from wlra_core.problem import Problem
from wlra_core.views import (
    REFINE_STARTS,
    ResultCache,
    blas_threads,
    cached_rows,
    curves,
    fingerprint,
    heatmap_view,
    make_plan,
    option_choices,
    parse_option_text,
    pixel_importance,
    rank_table,
    refine_runs,
    relative_history,
    rows_to_csv,
    run_compare,
    spectrum_view,
    teaching_example,
)


@pytest.fixture(scope="module")
def problem():
    return planted_low_rank(n=60, d=40, rank=4, weight_rank=2, noise=0.1, seed=3)


def test_fingerprint_depends_on_content_only(problem):
    same = Problem(problem.A.copy(), problem.W.copy(), name="other name")
    changed = Problem(problem.A.copy(), problem.W.copy())
    changed.W[0, 0] += 1e-12
    assert fingerprint(problem) == fingerprint(same)
    assert fingerprint(problem) != fingerprint(changed)


def test_heatmap_blocks_are_means_of_the_blocks():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((1001, 37))
    view = heatmap_view(M, max_cells=100)
    assert view.z.shape[0] <= 100 and view.z.shape[1] == 37
    assert view.block == (11, 1) and view.signed and not view.log
    rows = np.append(view.rows, 1001)
    expected = np.array([M[a:b].mean(axis=0) for a, b in zip(rows[:-1], rows[1:])])
    np.testing.assert_allclose(view.z, expected, rtol=1e-5, atol=1e-6)  # float32 for display


def test_heatmap_log_is_log_of_mean_magnitude_with_gaps_for_zeros():
    M = np.array([[-4.0, 0.0], [-6.0, 0.0], [1.0, 0.0]])
    view = heatmap_view(M, log=True, max_cells=2)
    # Row blocks [0, 2) and [2, 3); columns are not aggregated.
    np.testing.assert_allclose(view.z[:, 0], np.log10([5.0, 1.0]), rtol=1e-6)
    assert np.isnan(view.z[:, 1]).all()
    assert not view.signed


def test_small_matrix_is_not_aggregated():
    M = np.arange(12.0).reshape(3, 4)
    view = heatmap_view(M)
    assert view.block == (1, 1)
    np.testing.assert_array_equal(view.z, M.astype(np.float32))


def test_spectrum_view_matches_linalg(problem):
    view = spectrum_view(problem.W)
    np.testing.assert_allclose(view.singular_values, np.linalg.svd(problem.W, compute_uv=False))
    assert view.first_mass == pytest.approx(first_singular_mass(problem.W))
    assert view.cumulative_mass[-1] == pytest.approx(1.0)
    assert np.all(np.diff(view.cumulative_mass) >= 0)


def test_pixel_importance_is_row_sums_as_image():
    rng = np.random.default_rng(1)
    W = rng.random((2 * 3 * 2, 5))
    p = Problem(rng.standard_normal(W.shape), W, meta={"image_shape": [2, 3, 2]})
    image = pixel_importance(p)
    assert image.shape == (2, 3)
    expected = W.sum(axis=1).reshape(2, 3, 2).sum(axis=2)
    np.testing.assert_allclose(image, expected)
    assert pixel_importance(Problem(W, W)) is None  # no image shape
    assert pixel_importance(Problem(W, W, meta={"image_shape": [5, 5, 1]})) is None  # size mismatch


def test_option_choices_come_from_help_and_pass_the_check():
    options = wlra_core.get_algorithm("svd_w_practical").options
    assert option_choices(options["approximate"]) == ["weights", "inverse"]
    assert option_choices(options["svd_method"]) == ["auto", "exact", "randomized"]
    assert option_choices(options["weight_rank"]) is None
    init = option_choices(wlra_core.get_algorithm("em").options["init"])
    assert init[0] == "zero" and "svd_w_practical" in init and "em" not in init


def test_parse_option_text():
    assert parse_option_text("", None) is None
    assert parse_option_text("  ", 7) == 7
    assert parse_option_text("12", None) == 12
    assert parse_option_text("0.5", None) == 0.5
    assert parse_option_text("leverage", None) == "leverage"


def test_make_plan_validates_with_clear_messages(problem):
    key = fingerprint(problem)
    with pytest.raises(ValueError, match="at least one algorithm"):
        make_plan(problem, key, [], [1])
    with pytest.raises(ValueError, match="unknown algorithm"):
        make_plan(problem, key, ["nope"], [1])
    with pytest.raises(ValueError, match="rank must be between 1 and"):
        make_plan(problem, key, ["svd"], [41])
    with pytest.raises(ValueError, match="invalid weight_rank"):
        make_plan(problem, key, ["svd_w"], [1], options={"svd_w": {"weight_rank": 0}})
    # Options equal to the defaults give the same plan (and so the same cache keys).
    plain = make_plan(problem, key, ["svd_w"], [1, 2])
    explicit = make_plan(problem, key, ["svd_w"], [2, 1], options={"svd_w": {"weight_rank": 1}})
    assert plain == explicit


def test_run_compare_streams_wlra_core_results_and_caches_them(problem):
    names, ranks = ["svd", "svd_w", "em"], [1, 3, 5]
    plan = make_plan(problem, fingerprint(problem), names, ranks, trials=2, seed=4,
                     options={"em": {"n_iter": 3}})
    cache = ResultCache()
    updates = list(run_compare(problem, plan, cache))
    rows = [u.row for u in updates if u.row is not None]
    assert len(rows) == plan.size == 18
    assert updates[-1].done == plan.size
    assert [u.done for u in updates if u.row] == list(range(1, 19))
    for row in rows:
        options = {"n_iter": 3} if row["algorithm"] == "em" else {}
        expected = wlra_core.solve(row["algorithm"], problem.A, problem.W, row["rank"],
                                   seed=4 + row["trial"], **options)
        assert row["loss"] == pytest.approx(expected.loss, rel=1e-10)
        assert row["relative_loss"] == pytest.approx(expected.relative_loss, rel=1e-10)
        assert row["n_params"] == expected.n_params
        assert json.loads(row["options"])["svd_method"] == "auto"
    # A second run with the same settings computes nothing and finds every row cached.
    assert list(run_compare(problem, plan, cache)) == []
    assert sorted(map(str, cached_rows(plan, cache))) == sorted(map(str, rows))
    # A larger rank range only computes the new ranks.
    wider = make_plan(problem, fingerprint(problem), names, ranks + [6], trials=2, seed=4,
                      options={"em": {"n_iter": 3}})
    new = [u.row for u in run_compare(problem, wider, cache) if u.row]
    assert sorted(r["rank"] for r in new) == [6] * 6


def test_closing_run_compare_stops_the_worker(problem):
    plan = make_plan(problem, fingerprint(problem), ["em"], range(1, 21), options={"em": {"n_iter": 200}})
    cache = ResultCache()
    updates = run_compare(problem, plan, cache, tick_seconds=0.01)
    next(updates)
    updates.close()  # what a Stop (or leaving the page) does
    worker = next(t for t in threading.enumerate() if t.name == "wlra-compare")
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert len(cache) < plan.size


def test_curves_and_tables_are_mean_and_std_over_trials():
    rows = []
    for trial, (a, b) in enumerate([(1.0, 10.0), (3.0, 30.0)]):
        rows += [
            {"algorithm": "x", "rank": 5, "trial": trial, "loss": a, "relative_loss": a / 10,
             "seconds": b, "n_params": 50, "failed": False, "message": ""},
            {"algorithm": "x", "rank": 10, "trial": trial, "loss": a / 2, "relative_loss": a / 20,
             "seconds": b, "n_params": 100, "failed": False, "message": ""},
        ]
    rows.append({"algorithm": "y", "rank": 5, "trial": 0, "loss": float("nan"), "relative_loss": float("nan"),
                 "seconds": 1.0, "n_params": 0, "failed": True, "message": "diverged"})
    series = curves(rows, "loss")
    np.testing.assert_array_equal(series["x"]["rank"], [5, 10])
    np.testing.assert_allclose(series["x"]["mean"], [2.0, 1.0])
    np.testing.assert_allclose(series["x"]["std"], [1.0, 0.5])  # population std over trials
    np.testing.assert_array_equal(series["x"]["n_params"], [50, 100])
    assert series["y"]["rank"].size == 0 and list(series["y"]["failed_ranks"]) == [5]
    table = rank_table(rows, value="loss")
    assert table == [{"algorithm": "x", "rank 5": "2 ± 1", "rank 10": "1 ± 0.5"},
                     {"algorithm": "y", "rank 5": "failed"}]
    text = rows_to_csv(rows).splitlines()
    assert text[0].split(",")[:4] == ["algorithm", "rank", "trial", "loss"]
    assert len(text) == len(rows) + 1


def test_refine_runs_are_the_three_em_starts(problem):
    runs = refine_runs(problem.A, problem.W, 3, 4, seed=0)
    assert list(runs) == list(REFINE_STARTS)
    for label, (name, options) in REFINE_STARTS.items():
        expected = wlra_core.solve(name, problem.A, problem.W, 3, n_iter=4, **options)
        curve = relative_history(runs[label])
        np.testing.assert_array_equal(curve["iteration"], np.arange(5))
        reference = wlra_core.weighted_mass(problem.A, problem.W)
        np.testing.assert_allclose(curve["relative_loss"], [h[1] / reference for h in expected.history], rtol=1e-9)
        assert np.all(np.diff(curve["seconds"]) >= 0)
    zero = relative_history(runs["EM from zero"])["relative_loss"]
    assert zero[0] == pytest.approx(1.0)  # X = 0 has relative loss 1
    assert np.all(np.diff(zero) <= 1e-12)  # EM never increases the loss


@pytest.mark.parametrize("weight", [1.0, 5.0, 30.0])
def test_teaching_example_weighted_line_is_the_weighted_optimum(weight):
    example = teaching_example(weight)
    A, w = example.A, example.W[:, 0]
    # Oracle: with one weight per point, the best line through 0 is the top eigenvector of
    # A^T diag(w^2) A (weighted PCA without centering).
    vals, vecs = np.linalg.eigh(A.T @ (w[:, None] ** 2 * A))
    oracle = vecs[:, -1]
    direction = example.direction(example.weighted)
    assert abs(direction @ oracle) == pytest.approx(1.0, abs=1e-9)
    assert example.weighted.loss <= example.svd.loss + 1e-9
    # The unweighted SVD does not move with the weights.
    assert abs(example.direction(example.svd) @ np.linalg.svd(A)[2][0]) == pytest.approx(1.0, abs=1e-9)


def test_teaching_example_line_turns_toward_heavy_points():
    light, heavy = teaching_example(1.0), teaching_example(30.0)
    toward = heavy.A[heavy.heavy][0] / np.linalg.norm(heavy.A[heavy.heavy][0])
    assert abs(heavy.direction(heavy.weighted) @ toward) > abs(light.direction(light.weighted) @ toward) + 0.3
    with pytest.raises(ValueError, match="heavy_weight"):
        teaching_example(0.0)


def test_heatmap_colour_range_ignores_tiny_outliers():
    M = np.full((50, 50), 1e-3)
    M[0, 0] = 1e-20  # one near-zero weight must not stretch the log scale over 17 decades
    low, high = heatmap_view(M, log=True).color_range
    assert -4 < low <= -3 <= high
    signed = heatmap_view(np.array([[-2.0, 1.0], [0.5, 100.0]]))
    assert signed.color_range[0] == -signed.color_range[1]
    constant = heatmap_view(np.ones((3, 3)))
    assert constant.color_range[0] < 1 < constant.color_range[1]


def test_blas_threads_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads_now():
        return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    before = blas_threads_now()
    with blas_threads(1):
        assert blas_threads_now() == {1}
    assert blas_threads_now() == before
    with blas_threads(None):
        assert blas_threads_now() == before
