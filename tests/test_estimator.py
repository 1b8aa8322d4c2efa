"""WeightedLowRank: the fit equals solve for every algorithm; scikit-learn's parameter protocol."""
import doctest
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import wlra_core
import wlra_core.estimator
from wlra_core import ALGORITHMS, Problem, SolverFailed, WeightedLowRank, get_algorithm, solve
from wlra_core.datasets.io import default_problem
from wlra_core.estimator import FitFailedError, FlaggedResultWarning

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


# --- The fit is solve's result ---------------------------------------------------------


@pytest.mark.parametrize("name", ALGORITHMS)
def test_fitted_attributes_equal_solve(problem, moments, name):
    model = model_for(name, moments)
    options = QUICK.get(name, {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = WeightedLowRank(name, n_components=K, **options).fit(*problem, model=model)
    expected = solve(name, *problem, K, seed=0, model=model, **options)
    assert not expected.failed
    # Each note of the result is re-emitted (svd_w_practical, svd_w_em: zero rows of W).
    assert [str(w.message) for w in caught if w.category is FlaggedResultWarning] == [
        f"{name} at n_components={K}: {note}" for note in expected.warnings]
    assert np.array_equal(est.approx_, expected.approx)
    assert est.approx_.shape == (N, D)
    assert est.loss_ == expected.loss
    assert est.relative_loss_ == expected.relative_loss
    assert est.n_params_ == expected.n_params
    assert est.warnings_ == expected.warnings
    assert est.result_.algorithm == name and est.result_.rank == K
    # x @ factors_ is x @ X, without forming X.
    x = np.random.default_rng(2).standard_normal((4, N))
    np.testing.assert_allclose(x @ est.factors_, x @ expected.approx, rtol=1e-10, atol=1e-10)


def test_a_problem_brings_its_weights_and_model(problem, moments):
    A, W = problem
    for name in ("svd_w", "kfac"):
        from_problem = WeightedLowRank(name, K).fit(Problem(A, W, model=moments))
        from_arrays = WeightedLowRank(name, K).fit(A, W, model=moments)
        assert np.array_equal(from_problem.approx_, from_arrays.approx_)
        assert from_problem.loss_ == from_arrays.loss_
    with pytest.raises(ValueError, match="give W inside the Problem"):
        WeightedLowRank("svd_w", K).fit(Problem(A, W), W)


def test_missing_calibration_moments_are_a_clear_error(problem):
    with pytest.raises(ValueError, match="whiten needs the calibration moment input_moment"):
        WeightedLowRank("whiten", K).fit(*problem)


def test_fit_returns_self_and_weights_default_to_ones(problem):
    A, _ = problem
    est = WeightedLowRank("svd", K)
    assert est.fit(A) is est
    # Unweighted rank-K approximation: the loss is the tail of the singular values.
    s = np.linalg.svd(A, compute_uv=False)
    assert est.loss_ == pytest.approx(np.sum(s[K:] ** 2), rel=1e-12)
    assert est.n_params_ == K * (N + D)


# --- scikit-learn's parameter protocol -------------------------------------------------


def test_clone_gives_an_equal_unfitted_estimator(problem):
    init = np.random.default_rng(3).standard_normal((N, D))
    est = WeightedLowRank("em", n_components=4, random_state=7, n_iter=np.int64(3), init=init)
    est.fit(*problem)
    copy = clone(est)
    assert type(copy) is WeightedLowRank and copy is not est
    params, copied = est.get_params(), copy.get_params()
    assert params.keys() == copied.keys() == {"method", "n_components", "random_state", "n_iter", "init"}
    assert np.array_equal(copied.pop("init"), params.pop("init"))
    assert copied == params
    assert not hasattr(copy, "result_") and not hasattr(copy, "approx_")
    assert not any(key.endswith("_") for key in vars(copy))
    # An exact clone: the same fit.
    assert np.array_equal(copy.fit(*problem).approx_, est.approx_)
    assert repr(copy) == repr(est) == ("WeightedLowRank(method='em', n_components=4, random_state=7, "
                                       "n_iter=np.int64(3), init=<array of shape (30, 20)>)")


def test_pickle_round_trips_a_fitted_estimator(problem):
    est = WeightedLowRank("svd_w", K, weight_floor=0.1).fit(*problem)
    again = pickle.loads(pickle.dumps(est))
    assert again.get_params() == est.get_params()
    assert np.array_equal(again.approx_, est.approx_) and again.loss_ == est.loss_


def test_get_params_set_params_round_trip():
    est = WeightedLowRank("css", n_components=5, random_state=3, selection="uniform", n_columns=7)
    assert est.get_params() == est.get_params(deep=False) == {
        "method": "css", "n_components": 5, "random_state": 3, "selection": "uniform", "n_columns": 7}
    other = WeightedLowRank()
    assert other.get_params() == {"method": "svd_w", "n_components": 10, "random_state": 0}
    assert other.set_params(**est.get_params()) is other
    assert other.get_params() == est.get_params()
    assert other.selection == "uniform" and other.n_components == 5  # options read like parameters
    # Options are checked against the method being set.
    other.set_params(method="em", n_iter=4)
    assert other.method == "em" and other.n_iter == 4


@pytest.mark.parametrize("params, match", [
    ({"n_iter": 3}, "invalid parameter 'n_iter' for WeightedLowRank with method='svd_w'; parameters: method, "
                    "n_components, random_state and svd_w's options: svd_method, weight_floor, weight_rank"),
    ({"method": "svd", "weight_floor": 0.1}, "invalid parameter 'weight_floor'.*svd's options: svd_method$"),
    ({"rank": 3}, "invalid parameter 'rank'"),
    ({"method": "pca", "n_iter": 3}, "unknown algorithm 'pca'"),
])
def test_set_params_rejects_unknown_names(params, match):
    est = WeightedLowRank("svd_w", K, weight_floor=0.1)
    before = est.get_params()
    with pytest.raises(ValueError, match=match):
        est.set_params(**params)
    assert est.get_params() == before


def test_repr_shows_only_what_differs_from_the_defaults():
    assert repr(WeightedLowRank()) == "WeightedLowRank()"
    assert repr(WeightedLowRank("svd_w", 10, random_state=0)) == "WeightedLowRank()"
    assert (repr(WeightedLowRank("svd", 3, weight_floor=0.5))
            == "WeightedLowRank(method='svd', n_components=3, weight_floor=0.5)")


def test_unfitted_attributes_say_so():
    est = WeightedLowRank()
    for name in ("approx_", "loss_", "factors_", "result_"):
        with pytest.raises(AttributeError, match=f"not fitted yet: call fit before reading {name}"):
            getattr(est, name)
    with pytest.raises(AttributeError, match="has no attribute 'weight_floor'"):
        est.weight_floor  # declared by svd_w but never set


# --- Validation happens in fit ---------------------------------------------------------


@pytest.mark.parametrize("method, n_components, options, match", [
    ("svd_w", K, {"weight_floor": 2.0}, "svd_w: invalid weight_floor=2.0; weight_floor must be a number in \\[0, 1\\]"),
    ("em", K, {"n_iter": 0}, "em: invalid n_iter=0"),
    ("em", K, {"n_iter": 2.5}, "em: invalid n_iter=2.5"),
    ("css", K, {"selection": "best"}, "selection must be one of"),
    ("adam", K, {"learning_rate": -1.0}, "adam: invalid learning_rate=-1.0"),
    ("svd_w", K, {"weight_rank": 21}, "weight_rank must be at most min\\(n, d\\) = 20"),
    ("svd", K, {"weight_floor": 0.1}, "svd has no option 'weight_floor' \\(options: svd_method\\)"),
    ("pca", K, {}, "unknown algorithm 'pca'"),
    ("svd_w", 0, {}, "invalid n_components=0: rank must be between 1 and min\\(n, d\\) = 20"),
    ("svd_w", 21, {}, "invalid n_components=21"),
    ("svd_w", 2.5, {}, "invalid n_components=2.5: rank must be an integer"),
    ("svd_w", K, {"random_state": -1}, "random_state must be a non-negative integer"),
    ("svd_w", K, {"random_state": np.random.default_rng(0)}, "random_state must be"),
])
def test_invalid_parameters_raise_at_fit_naming_them(problem, method, n_components, options, match):
    est = WeightedLowRank(method, n_components, **options)  # __init__ stores them as given
    assert est.get_params()["n_components"] is n_components
    with pytest.raises(ValueError, match=match):
        est.fit(*problem)


def test_a_fit_that_raises_leaves_nothing_of_an_earlier_fit(problem):
    est = WeightedLowRank("svd_w", K).fit(*problem)
    est.set_params(weight_floor=2.0)
    with pytest.raises(ValueError, match="weight_floor"):
        est.fit(*problem)
    assert not any(key.endswith("_") for key in vars(est)) and not hasattr(est, "approx_")


def test_bad_matrices_raise_the_problem_messages(problem):
    A, W = problem
    with pytest.raises(ValueError, match="W has 600 negative entries"):
        WeightedLowRank("svd_w", K).fit(A, -W - 1)
    with pytest.raises(ValueError, match="must match"):
        WeightedLowRank("svd_w", K).fit(A, W[:, 1:])


def test_numpy_scalar_options_are_accepted(problem):
    est = WeightedLowRank("svd_w_em", np.int64(K), random_state=np.uint8(0), n_iter=np.int32(2),
                          weight_floor=np.float32(0.25), weight_rank=np.int64(1)).fit(*problem)
    expected = solve("svd_w_em", *problem, K, n_iter=2, weight_floor=0.25, weight_rank=1)
    assert np.array_equal(est.approx_, expected.approx) and est.loss_ == expected.loss
    assert type(est.result_.options["n_iter"]) is int and est.result_.options["weight_floor"] == 0.25
    assert type(est.get_params()["n_iter"]) is np.int32  # stored as given


# --- Seeds ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, options", [("sample", {}), ("css", {"selection": "uniform"})])
def test_the_same_random_state_gives_the_same_fit(problem, name, options):
    def fit(seed):
        return WeightedLowRank(name, K, random_state=seed, **options).fit(*problem).approx_

    assert np.array_equal(fit(5), fit(5))
    assert np.array_equal(fit(None), fit(0))  # None means 0, solve's default seed
    assert np.array_equal(fit(np.random.SeedSequence(5)), fit(5))
    assert not np.allclose(fit(5), fit(6))  # the seed reaches the algorithm
    assert np.array_equal(fit(5), solve(name, *problem, K, seed=5, **options).approx)


# --- Failures and flagged results -------------------------------------------------------


def test_a_failed_run_raises_with_the_result(problem):
    est = WeightedLowRank("svd", K).fit(*problem)
    est.set_params(method="adam", n_epochs=20, learning_rate=1e6)
    with pytest.raises(FitFailedError, match="adam failed at n_components=3: adam diverged") as info:
        est.fit(*problem)
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
        floored = WeightedLowRank("svd_w", 10, weight_floor=1e-3).fit(shipped)
    assert floored.warnings_ == ["stores 109,472 numbers, more than the 100,352 entries of A"]
    assert [str(w.message) for w in caught] == [f"svd_w at n_components=10: {floored.warnings_[0]}"]


def test_docstring_example_runs():
    assert doctest.testmod(wlra_core.estimator, raise_on_error=False).failed == 0


def test_exported_from_the_package():
    assert wlra_core.WeightedLowRank is WeightedLowRank and "WeightedLowRank" in wlra_core.__all__
