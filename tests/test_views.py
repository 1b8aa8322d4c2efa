"""app_pages._views: what the dashboard draws, checked against direct computations."""
import pickle

import numpy as np
import pytest

import wlra_core
from app_pages._views import (
    REFINE_STARTS,
    curves,
    doc_description,
    heatmap_view,
    pixel_importance,
    refine_sweep,
    relative_history,
    spectrum_view,
    teaching_example,
)
from wlra_core.datasets.synthetic import planted_low_rank
from wlra_core.linalg import first_singular_mass
from wlra_core.problem import Problem, fingerprint
from wlra_core.report import info_lines, mass_rank, problem_info
from wlra_core.seeding import trial_seed
from wlra_core.sweep import ResultCache, run_all
from wlra_core.tables import rank_table, rows_to_csv


@pytest.fixture(scope="module")
def problem():
    return planted_low_rank(n=60, d=40, rank=4, weight_rank=2, noise=0.1, seed=3)


def test_fingerprint_depends_on_content_only(problem):
    same = Problem(problem.A.copy(), problem.W.copy(), name="other name")
    changed = Problem(problem.A.copy(), problem.W.copy())
    changed.W[0, 0] += 1e-12
    assert fingerprint(problem) == fingerprint(same)
    assert fingerprint(problem) != fingerprint(changed)


def test_fingerprint_covers_the_model_arrays(problem):
    rng = np.random.default_rng(2)
    moment = rng.standard_normal((60, 60))
    model = {"input_moment": moment, "y_test": np.arange(5)}

    def with_model(**arrays):
        return fingerprint(Problem(problem.A, problem.W, model=arrays))

    base = with_model(**model)
    # Equal content, whatever the objects and memory layout: equal fingerprints.
    assert with_model(y_test=np.arange(5), input_moment=np.asfortranarray(moment)) == base
    changed = moment.copy()
    changed[0, 0] += 1e-12
    assert with_model(input_moment=changed, y_test=np.arange(5)) != base
    assert with_model(input_moment=moment, y_test=np.arange(5.0)) != base  # dtype
    assert with_model(input_moment=moment, y_test=np.arange(5).reshape(5, 1)) != base  # shape
    assert with_model(input_moment=moment, labels=np.arange(5)) != base  # name
    assert with_model(input_moment=moment) != base
    assert with_model() == fingerprint(problem)


def test_pickled_problem_leaves_its_scaled_arrays_behind(problem):
    p = Problem(problem.A, 3.0 * problem.W)  # largest weight outside [1, 2): normalized holds a scaled copy
    size = len(pickle.dumps(p))
    expected = wlra_core.solve("svd_w", p, rank=3)
    assert p.normalized.W is not p.W
    assert len(pickle.dumps(p)) == size
    copy = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(copy.normalized.W, p.normalized.W)
    assert copy.fingerprint == p.fingerprint
    again = wlra_core.solve("svd_w", copy, rank=3)
    assert again.loss == expected.loss and again.relative_loss == expected.relative_loss


@pytest.mark.parametrize("c", [1.0, 1e200, 1e-200])
def test_spectrum_facts_are_one_rule_at_any_scale_of_w(problem, c):
    # Oracle: NumPy's SVD and matrix_rank of the unscaled W.
    s = np.linalg.svd(problem.W, compute_uv=False)
    first = s[0] ** 2 / np.sum(s**2)
    W = c * problem.W
    view = spectrum_view(W)
    assert view.numerical_rank == np.linalg.matrix_rank(problem.W) == 2
    assert view.first_mass == pytest.approx(first, rel=1e-12)
    np.testing.assert_allclose(view.cumulative_mass, np.cumsum(s**2) / np.sum(s**2), rtol=1e-12)
    info = problem_info(Problem(problem.A, W), view.singular_values)
    assert info.numerical_rank == view.numerical_rank
    assert dict(info_lines(info))["% Frobenius mass of W in s_1"] == f"{100 * first:.2f}%"
    holding_99 = int(np.argmax(np.cumsum(s**2) >= 0.99 * np.sum(s**2))) + 1
    assert info.mass_rank_99 == mass_rank(c * s, 0.99) == holding_99


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


def test_curves_and_tables_are_mean_and_min_max_over_trials(make_row):
    rows = []
    for trial, (a, b) in enumerate([(1.0, 10.0), (3.0, 30.0)]):
        rows += [
            make_row(method="x", algorithm="svd", rank=5, trial=trial, loss=a, relative_loss=a / 10,
                     seconds=b, n_params=50, failed=False, message="", warnings=""),
            make_row(method="x", algorithm="svd", rank=10, trial=trial, loss=a / 2, relative_loss=a / 20,
                     seconds=b, n_params=100, failed=False, message="", warnings="big" if trial else ""),
        ]
    rows.append(make_row(method="y", algorithm="adam", rank=5, trial=0, loss=float("nan"),
                         relative_loss=float("nan"), seconds=1.0, n_params=0, failed=True,
                         message="diverged", warnings=""))
    series = curves(rows, "loss")
    np.testing.assert_array_equal(series["x"].rank, [5, 10])
    np.testing.assert_allclose(series["x"].mean, [2.0, 1.0])
    np.testing.assert_allclose(series["x"].std, [1.0, 0.5])  # population std over trials
    np.testing.assert_allclose(series["x"].min, [1.0, 0.5])
    np.testing.assert_allclose(series["x"].max, [3.0, 1.5])
    np.testing.assert_array_equal(series["x"].n_params, [50, 100])
    assert series["x"].warnings == ["", "big"] and series["x"].algorithm == "svd"
    assert series["y"].rank.size == 0 and list(series["y"].failed_ranks) == [5]
    table = rank_table(rows, value="loss")
    # A rank a method did not reach reads "not run", never an empty cell.
    assert table == [{"method": "x", "rank 5": "2 ± 1", "rank 10": "1 ± 0.5 (!)"},
                     {"method": "y", "rank 5": "failed", "rank 10": "not run"}]
    text = rows_to_csv(rows).splitlines()
    # The header is the row type's fields in order: problem first, then method, algorithm, rank, trial.
    assert text[0].split(",")[1:5] == ["method", "algorithm", "rank", "trial"]
    assert len(text) == len(rows) + 1


def test_refine_sweep_is_the_three_em_starts(problem):
    sweep = refine_sweep(problem, 3, 4, seed=0)
    cache = ResultCache()
    run_all(sweep, cache)
    entries = {row.method: result for row, result in sweep.entries(cache)}
    assert list(entries) == list(REFINE_STARTS)
    reference = wlra_core.weighted_mass(problem.A, problem.W)
    for label, (name, options) in REFINE_STARTS.items():
        expected = wlra_core.solve(name, problem.A, problem.W, 3, n_iter=4, seed=trial_seed(0, 0), **options)
        curve = relative_history(entries[label])
        np.testing.assert_array_equal(curve.iteration, np.arange(5))
        np.testing.assert_allclose(curve.relative_loss, [p.loss / reference for p in expected.history], rtol=1e-9)
        assert np.all(np.diff(curve.seconds) >= 0)
    zero = relative_history(entries["EM from zero"]).relative_loss
    assert zero[0] == pytest.approx(1.0)  # X = 0 has relative loss 1
    assert np.all(np.diff(zero) <= 1e-12)  # EM never increases the loss (to rounding)


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


def test_spectrum_view_round_off_is_numpys_rank_tolerance():
    rng = np.random.default_rng(0)
    for W in (np.kron(np.eye(4), np.ones((30, 30))), rng.random((50, 3)) @ rng.random((3, 40))):
        view = spectrum_view(W)
        s = np.linalg.svd(W, compute_uv=False)
        assert view.round_off == pytest.approx(s[0] * np.finfo(np.float64).eps * max(W.shape), rel=1e-12)
        assert view.numerical_rank == np.linalg.matrix_rank(W)
