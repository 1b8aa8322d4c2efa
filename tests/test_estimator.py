"""WeightedLowRank: the fit equals solve for every algorithm; transform, components_, score and
random_state have the meanings scikit-learn gives them; scikit-learn's own estimator checks."""
import doctest
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import check_estimator

import wlra_core
import wlra_core.estimator
from wlra_core import ALGORITHMS, LowRank, Problem, SolverFailed, get_algorithm, solve
from wlra_core.datasets.io import default_problem
from wlra_core.estimator import FitFailedError, FlaggedResultWarning, WeightedLowRank

N, D, K = 30, 20, 3  # N, D: the shape of conftest.py's problem fixture

# Options keeping the slow methods quick; everything else runs with its defaults.
QUICK = {"adam": {"n_epochs": 5}, "em": {"n_iter": 5}}


@pytest.fixture(scope="module")
def moments():
    """Random calibration moments: E[x x^T] of 50 inputs, E[g g^T] of 50 gradients."""
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((50, N)), rng.standard_normal((50, D))
    return {"input_moment": x.T @ x / 50, "grad_moment": g.T @ g / 50}


def model_for(name, moments):
    return {key: moments[key] for key in get_algorithm(name).requires} or None


def weighted_coordinates(A, W, basis):
    """Oracle for transform: each row's weighted least-squares fit on ``basis``, by numpy's lstsq."""
    return np.array([np.linalg.lstsq(w[:, None] * basis.T, w * a, rcond=None)[0] for a, w in zip(A, W)])


# --- The fit is solve's result ---------------------------------------------------------


@pytest.mark.parametrize("name", ALGORITHMS)
def test_fitted_attributes_equal_solve(problem, moments, name):
    A, W = problem
    model = model_for(name, moments)
    options = QUICK.get(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = WeightedLowRank(name, n_components=K, options=options, random_state=0).fit(A, W=W, model=model)
    expected = solve(name, A, W, K, seed=0, model=model, **(options or {}))
    assert not expected.failed
    # Each note of the result, if any, is re-emitted.
    assert [str(w.message) for w in caught if w.category is FlaggedResultWarning] == [
        f"{name} at n_components={K}: {note}" for note in expected.warnings]
    assert np.array_equal(est.approx_, expected.approx)
    assert est.loss_ == expected.loss and est.relative_loss_ == expected.relative_loss
    assert est.n_params_ == expected.n_params and est.warnings_ == expected.warnings
    assert est.result_.algorithm == name and est.result_.rank == K
    assert est.n_iter_ == expected.history[-1].iteration >= 1
    assert est.n_features_in_ == D
    # x @ factors_ is x @ X, without forming X.
    x = np.random.default_rng(2).standard_normal((4, N))
    np.testing.assert_allclose(x @ est.factors_, x @ expected.approx, rtol=1e-10, atol=1e-10)
    if isinstance(est.factors_, LowRank):
        # components_: k orthonormal rows whose span holds every row of X.
        C = est.components_
        assert C.shape == (K, D)
        np.testing.assert_allclose(C @ C.T, np.eye(K), atol=1e-12)
        np.testing.assert_allclose(est.approx_ @ C.T @ C, est.approx_, atol=1e-10 * np.abs(est.approx_).max())
    else:
        assert not hasattr(est, "components_")


def test_n_iter_is_the_iterations_run(problem):
    A, W = problem
    assert WeightedLowRank("em", K, options={"n_iter": 7}).fit(A, W=W).n_iter_ == 7
    assert WeightedLowRank("svd_w", K).fit(A, W=W).n_iter_ == 1  # one-shot
    # Greedy stops adding directions once the gradient vanishes: one step on a zero A.
    greedy = WeightedLowRank("greedy", K).fit(np.zeros((N, D)), W=W)
    assert greedy.n_iter_ == 1 and greedy.components_.shape == (1, D)


def test_a_problem_brings_its_weights_and_model(problem, moments):
    A, W = problem
    for name in ("svd_w", "kfac"):
        from_problem = WeightedLowRank(name, K, random_state=0).fit(Problem(A, W, model=moments))
        from_arrays = WeightedLowRank(name, K, random_state=0).fit(A, W=W, model=moments)
        assert np.array_equal(from_problem.approx_, from_arrays.approx_)
        assert from_problem.loss_ == from_arrays.loss_
    with pytest.raises(ValueError, match="give W inside the Problem"):
        WeightedLowRank("svd_w", K).fit(Problem(A, W), W=W)


def test_missing_calibration_moments_are_a_clear_error(problem):
    A, W = problem
    with pytest.raises(ValueError, match="whiten needs the calibration moment input_moment"):
        WeightedLowRank("whiten", K).fit(A, W=W)


def test_fit_returns_self_and_weights_default_to_ones(problem):
    A, _ = problem
    est = WeightedLowRank("svd", K)
    assert est.fit(A) is est
    # Unweighted rank-K approximation: the loss is the tail of the singular values, and
    # components_ are A's top right singular vectors (numpy's SVD, signs aside).
    _, s, Vt = np.linalg.svd(A)
    assert est.loss_ == pytest.approx(np.sum(s[K:] ** 2), rel=1e-12)
    assert est.n_params_ == K * (N + D)
    np.testing.assert_allclose(np.abs(est.components_ @ Vt[:K].T), np.eye(K), atol=1e-10)


# --- Weights are never mistaken for y --------------------------------------------------


def test_weights_passed_as_y_are_refused(problem):
    A, W = problem
    est = WeightedLowRank("svd_w", K)
    with pytest.raises(ValueError, match=r"fit\(A, y\) ignores y, and this y is a 2-D array: pass weights by name, "
                                         r"fit\(A, W=W\)"):
        est.fit(A, W)
    assert not hasattr(est, "result_")
    est.fit(A, np.arange(N), W=W)  # a 1-D y (as scikit-learn's tools pass) is ignored
    assert est.loss_ == WeightedLowRank("svd_w", K).fit(A, W=W).loss_
    with pytest.raises(ValueError, match=r"score\(A, W=W\)"):
        est.score(A, W)


# --- transform, inverse_transform, components_ -----------------------------------------


def test_transform_gives_weighted_least_squares_coordinates(problem):
    A, W = problem  # rows 1 and 4 of W are zero
    est = WeightedLowRank("als", K, options={"n_iter": 5}).fit(A, W=W)
    Z = est.transform(A, W)
    np.testing.assert_allclose(Z, weighted_coordinates(A, W, est.components_), atol=1e-10)
    assert np.all(Z[[1, 4]] == 0)  # zero-weight rows
    np.testing.assert_allclose(est.transform(A, 1e-200 * W), Z, atol=1e-10)  # W's scale does not matter
    # ALS refits every row by weighted least squares: its approximation is inverse_transform(Z).
    X = est.inverse_transform(Z)
    np.testing.assert_allclose(X, Z @ est.components_)
    np.testing.assert_allclose(X, est.approx_, atol=1e-9)
    # Without weights, the orthogonal projection on the components.
    np.testing.assert_allclose(est.transform(A), A @ est.components_.T, atol=1e-12)
    # New rows (any number of them) work the same way.
    rows = np.random.default_rng(5).standard_normal((4, D))
    np.testing.assert_allclose(est.transform(rows, W[:4] + 1), weighted_coordinates(rows, W[:4] + 1, est.components_),
                               atol=1e-10)


def test_fit_transform_is_fit_then_transform(problem):
    A, W = problem
    est = WeightedLowRank("sample", K, random_state=0)
    Z = est.fit_transform(A, W=W)
    np.testing.assert_array_equal(Z, clone(est).fit(A, W=W).transform(A, W))
    np.testing.assert_array_equal(est.fit_transform(Problem(A, W)), Z)


def test_results_that_divide_by_weights_have_no_components(problem):
    A, W = problem
    for name in ("svd_w", "css"):
        est = WeightedLowRank(name, K).fit(A, W=W)
        assert not hasattr(est, "components_")
        message = f"method='{name}'\\) has no components_: its approximation divides .* not of rank n_components=3"
        for call in (lambda: est.components_, lambda: est.transform(A, W), lambda: est.inverse_transform(np.ones((2, K)))):
            with pytest.raises(AttributeError, match=message):
                call()
        assert est.score(A, W=W) < 0  # score needs no components


def test_inverse_transform_checks_the_number_of_components(problem):
    est = WeightedLowRank("svd", K).fit(problem[0])
    with pytest.raises(ValueError, match="Z has 2 columns, but this fit has 3 components"):
        est.inverse_transform(np.ones((5, 2)))


# --- score --------------------------------------------------------------------------------


def test_score_is_minus_the_weighted_rms_error_of_the_fit(problem):
    A, W = problem
    est = WeightedLowRank("em", K, options={"n_iter": 5}).fit(A, W=W)
    assert est.score(A, W=W) == pytest.approx(-np.sqrt(est.loss_ / np.sum(W**2)), rel=1e-12)
    # On other entries: the RMS error of approx_ there (a 0/1 mask), whatever W's scale.
    mask = (np.random.default_rng(6).random((N, D)) < 0.3).astype(float)
    error = (A - est.approx_)[mask > 0]
    assert est.score(A, W=mask) == pytest.approx(-np.sqrt(np.mean(error**2)), rel=1e-12)
    assert est.score(A, W=7.5e100 * mask) == pytest.approx(est.score(A, W=mask), rel=1e-12)
    assert est.score(Problem(A, mask)) == est.score(A, W=mask)
    with pytest.raises(ValueError, match=r"score compares A with the fitted 30 x 20 approximation, but A has shape "
                                         r"\(10, 20\)"):
        est.score(A[:10])


def test_grid_search_picks_the_rank_by_held_out_entries():
    # A noisy rank-2 matrix, 70 % observed; a quarter of the observed entries are held out.
    # Fit on the rest, score on the held-out ones: rank 2 wins (measured held-out RMS 0.83,
    # 0.11, 0.23, 0.37, 0.54 for ranks 1-5, noise 0.1).
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 30)) + 0.1 * rng.standard_normal((40, 30))
    observed = rng.random(A.shape) < 0.7
    held_out = observed & (rng.random(A.shape) < 0.25)
    with sklearn.config_context(enable_metadata_routing=True):
        est = WeightedLowRank("als", random_state=0).set_fit_request(W="W_train").set_score_request(W="W_test")
        rows = np.arange(A.shape[0])
        search = GridSearchCV(est, {"n_components": [1, 2, 3, 4, 5]}, cv=[(rows, rows)])
        search.fit(A, W_train=(observed & ~held_out).astype(float), W_test=held_out.astype(float))
    assert search.best_params_ == {"n_components": 2}
    assert search.best_score_ == pytest.approx(-0.108, abs=0.005)


# --- scikit-learn's parameter protocol -------------------------------------------------


def test_clone_gives_an_equal_unfitted_estimator(problem):
    A, W = problem
    init = np.random.default_rng(3).standard_normal((N, D))
    est = WeightedLowRank("em", n_components=4, options={"n_iter": np.int64(3), "init": init}, random_state=7)
    est.fit(A, W=W)
    copy = clone(est)
    assert type(copy) is WeightedLowRank and copy is not est
    params, copied = est.get_params(), copy.get_params()
    assert params.keys() == copied.keys() == {"method", "n_components", "options", "random_state"}
    assert np.array_equal(copied["options"].pop("init"), init) and copied["options"] == {"n_iter": 3}
    assert not any(key.endswith("_") for key in vars(copy))
    # An exact clone: the same fit.
    assert np.array_equal(copy.set_params(options={"n_iter": 3, "init": init}).fit(A, W=W).approx_, est.approx_)


def test_fit_leaves_the_parameters_as_given(problem):
    A, W = problem
    options = {"n_iter": np.int32(2), "weight_floor": np.float32(0.25)}
    est = WeightedLowRank("svd_w_em", np.int64(K), options=options, random_state=np.uint8(0)).fit(A, W=W)
    assert est.options is options and type(options["n_iter"]) is np.int32  # not normalised in place
    expected = solve("svd_w_em", A, W, K, n_iter=2, weight_floor=0.25)
    assert np.array_equal(est.approx_, expected.approx) and est.loss_ == expected.loss
    assert type(est.result_.options["n_iter"]) is int and est.result_.options["weight_floor"] == 0.25


def test_pickle_round_trips_a_fitted_estimator(problem):
    A, W = problem
    est = WeightedLowRank("svd_w", K, options={"weight_floor": 0.1}).fit(A, W=W)
    again = pickle.loads(pickle.dumps(est))
    assert again.get_params() == est.get_params()
    assert np.array_equal(again.approx_, est.approx_) and again.loss_ == est.loss_


def test_get_params_set_params_and_repr():
    est = WeightedLowRank("css", n_components=5, options={"selection": "uniform"}, random_state=3)
    assert est.get_params() == {"method": "css", "n_components": 5, "options": {"selection": "uniform"},
                                "random_state": 3}
    assert " ".join(repr(est).split()) == ("WeightedLowRank(method='css', n_components=5, "
                                           "options={'selection': 'uniform'}, random_state=3)")
    assert repr(WeightedLowRank()) == repr(WeightedLowRank("als", 10)) == "WeightedLowRank()"
    other = WeightedLowRank().set_params(**est.get_params())
    assert other.get_params() == est.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'n_iter' for estimator WeightedLowRank"):
        other.set_params(n_iter=3)  # options go in the options dict


def test_unfitted_attributes_say_so():
    est = WeightedLowRank()
    for name in ("approx_", "loss_", "factors_", "result_", "components_", "n_iter_"):
        with pytest.raises(AttributeError, match=f"not fitted yet: call fit before reading {name}"):
            getattr(est, name)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        est.transform(np.ones((2, 2)))


# --- Validation happens in fit ---------------------------------------------------------


@pytest.mark.parametrize("method, n_components, params, match", [
    ("svd_w", K, {"options": {"weight_floor": 2.0}},
     "svd_w: invalid weight_floor=2.0; weight_floor must be a number in \\[0, 1\\]"),
    ("em", K, {"options": {"n_iter": 0}}, "em: invalid n_iter=0"),
    ("em", K, {"options": {"n_iter": 2.5}}, "em: invalid n_iter=2.5"),
    ("em", K, {"options": {"n_iter": np.bool_(True)}}, "em: invalid n_iter=np.True_"),
    ("css", K, {"options": {"selection": "best"}}, "selection must be one of"),
    ("svd_w", K, {"options": {"weight_rank": 21}}, "weight_rank must be at most min\\(n, d\\) = 20"),
    ("svd", K, {"options": {"weight_floor": 0.1}}, "svd has no option 'weight_floor' \\(options: svd_method\\)"),
    ("svd", K, {"options": {"seed": 1}}, "svd has no option 'seed'"),
    ("svd", K, {"options": [("svd_method", "exact")]}, "invalid options=.*; options must be None .* or a dict"),
    ("pca", K, {}, "unknown algorithm 'pca'"),
    ("svd_w", 0, {}, "invalid n_components=0: rank must be between 1 and min\\(n, d\\) = 20"),
    ("svd_w", 21, {}, "invalid n_components=21"),
    ("svd_w", 2.5, {}, "invalid n_components=2.5: rank must be an integer"),
    ("svd_w", K, {"random_state": -1}, "WeightedLowRank: invalid random_state=-1; random_state must be None"),
    ("svd_w", K, {"random_state": True}, "invalid random_state=True"),
])
def test_invalid_parameters_raise_at_fit_naming_them(problem, method, n_components, params, match):
    A, W = problem
    est = WeightedLowRank(method, n_components, **params)  # __init__ stores them as given
    assert est.get_params()["n_components"] is n_components
    with pytest.raises(ValueError, match=match):
        est.fit(A, W=W)


def test_a_fit_that_raises_leaves_nothing_of_an_earlier_fit(problem):
    A, W = problem
    est = WeightedLowRank("svd_w", K).fit(A, W=W)
    est.set_params(options={"weight_floor": 2.0})
    with pytest.raises(ValueError, match="weight_floor"):
        est.fit(A, W=W)
    # Only the failed fit's own column count is left (scikit-learn's validate_data records it first).
    assert [key for key in vars(est) if key.endswith("_")] == ["n_features_in_"] and not hasattr(est, "approx_")


def test_bad_matrices_raise_the_problem_messages(problem):
    A, W = problem
    with pytest.raises(ValueError, match="W has 600 negative entries"):
        WeightedLowRank("svd_w", K).fit(A, W=-W - 1)
    with pytest.raises(ValueError, match="must match"):
        WeightedLowRank("svd_w", K).fit(A, W=W[:, 1:])
    est = WeightedLowRank("svd", K).fit(A, W=W)
    with pytest.raises(ValueError, match="X has 19 features, but WeightedLowRank is expecting 20 features"):
        est.transform(A[:, 1:])


# --- random_state, as in scikit-learn ----------------------------------------------------------


def test_random_state_follows_scikit_learn(problem):
    A, W = problem

    def fit(random_state):
        return WeightedLowRank("css", K, options={"selection": "uniform"}, random_state=random_state).fit(A, W=W)

    # An int: the same fit every time, the fit solve gives with that seed.
    assert np.array_equal(fit(5).approx_, fit(5).approx_)
    assert np.array_equal(fit(5).approx_, solve("css", A, W, K, seed=5, selection="uniform").approx)
    assert not np.allclose(fit(5).approx_, fit(6).approx_)
    assert np.array_equal(fit(np.random.SeedSequence(5)).approx_, fit(5).approx_)
    # None: fresh entropy from NumPy's global RandomState, which numpy.random.seed fixes.
    np.random.seed(0)
    first = fit(None)
    np.random.seed(0)
    assert np.array_equal(fit(None).approx_, first.approx_)
    assert not np.array_equal(fit(None).approx_, first.approx_)  # the global state moved on
    # The seed drawn is recorded: solve reproduces the fit from it.
    seed = first.result_.options["seed"]
    assert np.array_equal(solve("css", A, W, K, seed=seed, selection="uniform").approx, first.approx_)
    # A RandomState or Generator is drawn from: equal states give equal fits, and it advances.
    for make in (np.random.RandomState, np.random.default_rng):
        source = make(3)
        a, b = fit(source).approx_, fit(source).approx_
        assert not np.array_equal(a, b)
        assert np.array_equal(fit(make(3)).approx_, a)


# --- Failures and flagged results -------------------------------------------------------


def test_a_failed_run_raises_with_the_result(problem):
    A, W = problem
    est = WeightedLowRank("svd", K).fit(A, W=W)
    est.set_params(method="adam", options={"n_epochs": 20, "learning_rate": 1e6})
    with pytest.raises(FitFailedError, match="adam failed at n_components=3: adam diverged") as info:
        est.fit(A, W=W)
    assert isinstance(info.value, SolverFailed) and isinstance(info.value, RuntimeError)
    assert info.value.result.failed and "diverged" in info.value.result.message
    assert not hasattr(est, "result_") and not hasattr(est, "approx_")


def test_flagged_result_on_the_shipped_problem_warns():
    shipped = default_problem()
    expected = solve("svd_w", shipped, rank=10)
    assert expected.warnings  # the shipped Fisher has tiny weights that svd_w divides by
    with pytest.warns(FlaggedResultWarning, match="svd_w at n_components=10: entries up to .* x max\\|A\\|"):
        est = WeightedLowRank("svd_w", 10).fit(shipped)
    assert est.warnings_ == expected.warnings and est.loss_ == expected.loss
    # Bounding the division removes the blow-up flag; the one for storing W beside the
    # factors (more numbers than A has entries) stays.
    with pytest.warns(FlaggedResultWarning) as caught:
        floored = WeightedLowRank("svd_w", 10, options={"weight_floor": 1e-3}).fit(shipped)
    assert floored.warnings_ == ["stores 109,472 numbers, more than the 100,352 entries of A"]
    assert [str(w.message) for w in caught] == [f"svd_w at n_components=10: {floored.warnings_[0]}"]


# --- scikit-learn's estimator checks -----------------------------------------------------------

# svd_w's (and css's) approximation divides by W, so it has no components_: every check that
# calls transform or fit_transform does not apply to it (they raise AttributeError saying so).
NO_COMPONENTS = "svd_w divides by W: its result is not of rank k, so it has no components_ and no transform"
NOT_RANK_K_CHECKS = dict.fromkeys([
    "check_fit_score_takes_y", "check_estimators_dtypes", "check_dtype_object", "check_pipeline_consistency",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent",
], NO_COMPONENTS)


@pytest.mark.parametrize("estimator, expected_failures", [
    (WeightedLowRank(n_components=1, random_state=0), {}),
    (WeightedLowRank("svd_w_practical", n_components=2), {}),
    (WeightedLowRank("svd_w", n_components=1, random_state=0), NOT_RANK_K_CHECKS),
], ids=["als", "svd_w_practical", "svd_w"])
def test_scikit_learn_estimator_checks(estimator, expected_failures):
    results = check_estimator(estimator, expected_failed_checks=expected_failures, on_fail=None, on_skip=None)
    outcome = {}
    for result in results:
        outcome.setdefault(result["check_name"], set()).add(result["status"])
    # Skipped by scikit-learn itself: array API inputs are checked only with SCIPY_ARRAY_API=1
    # set before SciPy is imported (this package computes with NumPy float64 throughout).
    assert outcome.pop("check_array_api_input") <= {"skipped", "passed"}
    failed = {name for name, statuses in outcome.items() if statuses - {"passed"}}
    assert failed == set(expected_failures)  # every listed check fails, and no other
    assert all(statuses <= {"passed", "xfail"} for statuses in outcome.values())
    assert len(outcome) >= 40  # the checks did run


def test_docstring_example_runs():
    assert doctest.testmod(wlra_core.estimator, raise_on_error=False).failed == 0


def test_exported_from_the_package_and_imported_when_first_used():
    assert wlra_core.WeightedLowRank is WeightedLowRank and "WeightedLowRank" in wlra_core.__all__
    # `import wlra_core` does not pay for scikit-learn (about 1.5 s here).
    check = "import sys, wlra_core; assert 'sklearn' not in sys.modules; wlra_core.WeightedLowRank; " \
            "assert 'sklearn' in sys.modules"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, timeout=120).returncode == 0
