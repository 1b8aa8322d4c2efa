"""The contract every registered algorithm keeps, checked for each name in ``wlra_core.ALGORITHMS``.

Adding an algorithm (one module, one line in the registry) adds it to every test here. The
oracles are numpy's: losses recomputed from ``factors.dense()``, full-rank problems that every
method must reproduce. Algorithm-specific oracles live in ``test_algorithms.py``.

adam trains with TensorFlow; it runs here with the fewest epochs each check allows
(:data:`CHEAP`), and is exempt only where its answer is an optimiser's approximation
(exactness at full rank, the zero matrix).
"""
import dataclasses
import importlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wlra_core
from wlra_core import ALGORITHMS, get_algorithm
from wlra_core.algorithms import COMMON_KEYWORDS, SVD_METHOD, Algorithm, iterations
from wlra_core.factors import LowRank
from wlra_core.options import ArrayAllowed, Choices, InstanceOf, Interval, NoneAllowed

N, D, K = 30, 20, 3  # the shape of conftest.py's problem fixture (two zero rows of W), and a rank

# The cheapest options each slow method's contract checks allow.
CHEAP = {"adam": {"n_epochs": 15}, "em": {"n_iter": 5}, "svd_w_em": {"n_iter": 3}, "als": {"n_iter": 5}}
# Methods that do not reach the optimum at full rank exactly: adam descends towards it.
APPROXIMATE = {"adam"}
# Regularised methods: their solution is shrunk towards 0 by design, so even a 1 x 1 matrix is
# not reproduced exactly (soft_impute stops its lambda path at the first solution of rank k).
SHRUNK = {"soft_impute"}


def moments(n, d, seed=0):
    """Calibration moments of random inputs and gradients (whiten and kfac need them)."""
    rng = np.random.default_rng(seed)
    x, delta = rng.standard_normal((3 * n, n)), rng.standard_normal((3 * d, d))
    return {"input_moment": x.T @ x / (3 * n), "grad_moment": delta.T @ delta / (3 * d)}


def solve(name, A, W, rank, **options):
    """wlra_core.solve with the cheap options and, for the methods that need them, moments of A's shape."""
    model = moments(*np.shape(A)) if get_algorithm(name).requires else None
    result = wlra_core.solve(name, A, W, rank, model=model, **{**CHEAP.get(name, {}), **options})
    assert not result.failed, (name, result.message)
    return result


def weighted_loss(A, W, X):
    return float(np.sum((W * (A - X)) ** 2))


# --- The declaration -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALGORITHMS)
def test_the_module_exports_one_declaration_whose_keywords_are_fits(name):
    module = importlib.import_module(f"wlra_core.algorithms.{name}")
    algorithm = get_algorithm(name)
    assert [v for v in vars(module).values() if isinstance(v, Algorithm)] == [algorithm]
    assert algorithm.name == name and algorithm.summary and algorithm.reference
    algorithm.check_keywords()  # also run when the module was imported


@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_option_is_declared_and_its_default_valid(name):
    algorithm = get_algorithm(name)
    for option in algorithm.options.values():
        assert option.help
        assert all(isinstance(c, (Interval, Choices, NoneAllowed, ArrayAllowed, InstanceOf)) for c in option.constraints)
    assert algorithm.resolve_options({}) == {key: o.default for key, o in algorithm.options.items()}


def bad_value(option):
    """A value the option's declaration must reject."""
    interval = option.interval
    if option.choices is not None:
        return "no-such-choice"
    if interval.kind is int:
        return interval.low - 1 if interval.low is not None else 1.5
    if interval.high is not None:
        return interval.high + 1.0
    return interval.low if interval.closed in ("right", "neither") else interval.low - 1.0


@pytest.mark.parametrize("name", ALGORITHMS)
def test_option_validation_messages_and_the_integer_rule(name):
    algorithm = get_algorithm(name)
    for key, option in algorithm.options.items():
        for bad in (bad_value(option), True, np.bool_(False)):
            with pytest.raises(ValueError, match=f"{name}: invalid {key}=.*; {key} must be {re.escape(option.describe())}"):
                algorithm.resolve_options({key: bad})
        default = option.default
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            as_numpy = (np.int64 if isinstance(default, int) else np.float64)(default)
            resolved = algorithm.resolve_options({key: as_numpy})[key]
            assert resolved == default and type(resolved) is type(default)
    with pytest.raises(ValueError, match=f"{name} has no option 'no_such_option' \\(options: "):
        algorithm.resolve_options({"no_such_option": 1})


def test_a_declaration_that_differs_from_its_fit_is_refused(monkeypatch):
    def fit(A, W, rank, *, seed, monitor, n_iter, lam):
        raise AssertionError("never run")

    with pytest.raises(TypeError, match=r"demo: the keyword parameters of fit do not match its declaration "
                                        r"\(declared but not taken: svd_method; taken but not declared: lam\)"):
        Algorithm("demo", "summary", "reference", {"n_iter": iterations(3), "svd_method": SVD_METHOD}, fit_fn=fit)

    def prepare(A, W, max_rank, *, seed, monitor, input_moment):
        raise AssertionError("never run")

    with pytest.raises(TypeError, match=r"demo: the keyword parameters of prepare .*declared but not taken: grad_moment"):
        Algorithm("demo", "s", "r", prepare=prepare, finish=lambda state, rank: state,
                  requires=("input_moment", "grad_moment"))

    def loose(A, W, rank, *, seed, monitor, **options):
        raise AssertionError("never run")

    with pytest.raises(TypeError, match="demo: loose must take three positional parameters"):
        Algorithm("demo", "s", "r", fit_fn=loose)
    assert set(COMMON_KEYWORDS) == {"seed", "monitor"}
    # The registry refuses a module whose declaration names another algorithm.
    module = importlib.import_module("wlra_core.algorithms.svd")
    monkeypatch.setattr(module, "ALGORITHM", dataclasses.replace(module.ALGORITHM, name="svd2"))
    with pytest.raises(TypeError, match="wlra_core.algorithms.svd declares the algorithm 'svd2', not 'svd'"):
        get_algorithm("svd")


# --- The result ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALGORITHMS)
def test_reported_numbers_are_those_of_the_stored_factors(problem, name):
    A, W = problem  # two zero rows of W
    res = solve(name, A, W, K)
    X = res.factors.dense()
    assert X.shape == res.factors.shape == res.approx.shape == (N, D)
    assert np.isfinite(X).all()
    assert res.loss == pytest.approx(weighted_loss(A, W, X), rel=1e-12)
    assert res.relative_loss == pytest.approx(res.loss / weighted_loss(A, W, 0.0), rel=1e-12)
    assert res.n_params == sum(array.size for array in res.factors.arrays.values()) > 0
    assert res.max_abs == pytest.approx(np.abs(X).max(), rel=1e-12)
    if isinstance(res.factors, LowRank):  # a rank-k product: at most k terms
        assert res.factors.width <= K and np.linalg.matrix_rank(X) <= K
        np.testing.assert_array_equal(res.factors.arrays["U"] @ res.factors.arrays["V"], X)
    assert res.history and res.history[-1].loss == pytest.approx(res.loss, rel=1e-9)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_equal_seeds_give_equal_results(problem, name):
    A, W = problem
    # The randomized SVD where the method has a choice, so that the seed matters.
    options = {"svd_method": "randomized"} if "svd_method" in get_algorithm(name).options else {}
    first = solve(name, A, W, K, seed=123, **options)
    second = solve(name, A, W, K, seed=123, **options)
    np.testing.assert_array_equal(first.approx, second.approx)
    assert first.loss == second.loss and first.options == second.options


@pytest.mark.parametrize("name", ALGORITHMS)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), n=st.integers(12, 30), d=st.integers(4, 10),
       zero_fraction=st.sampled_from([0.0, 0.2]))
def test_multiplying_w_by_a_constant_changes_nothing(name, seed, n, d, zero_fraction):
    # Random well-posed problems (with fewer rows than sample's draws can tell apart, its
    # sampled matrix may be rank deficient and its subspace is then decided by rounding), each
    # with a zero row. Powers of two are exact; 3 is not, and the extremes would overflow or
    # underflow W^2.
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    W = np.outer(rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, d)) * rng.uniform(0.5, 1.5, (n, d))
    W[rng.random((n, d)) < zero_fraction] = 0.0
    W[1] = 0.0
    W[0, 0] = 1.0  # never all zero
    base = solve(name, A, W, 2, seed=seed)
    for c in (3.0, 1e-300, 7.7e150):
        scaled = solve(name, A, c * W, 2, seed=seed)
        assert scaled.relative_loss == pytest.approx(base.relative_loss, rel=1e-9, abs=1e-15), c
        # The approximation itself is in A's units: it does not move either.
        np.testing.assert_allclose(scaled.approx, base.approx, rtol=1e-6, atol=1e-9 * np.abs(A).max(),
                                   err_msg=f"{name}, c = {c}")


def fisher_like_weights(rng, n, d):
    """Nearly rank-1 positive weights with a heavy tail, zero rows and zero entries."""
    W = np.outer(rng.gamma(0.5, size=n), rng.gamma(0.5, size=d)) * np.exp(0.5 * rng.standard_normal((n, d)))
    W[rng.random((n, d)) < 0.1] = 0.0
    W[[2, 17]] = 0.0
    return W


# Methods whose answer can never be worse than the zero matrix (a projection, a least-squares
# refit or a monotone descent from zero).
NEVER_WORSE_THAN_ZERO = ("svd_w", "em", "greedy", "sample", "als", "css")


@pytest.mark.parametrize("name", ALGORITHMS)
def test_zero_and_tiny_weights_give_finite_outputs(name):
    rng = np.random.default_rng(2)
    A, W = rng.standard_normal((N, D)), fisher_like_weights(rng, N, D)
    W[:, 5] = 0.0  # a zero column as well as zero rows and entries
    W[10, :] = 1e-12  # a row of tiny weights
    W[11, :8] = 1e-160  # weights whose squares underflow to subnormals
    res = solve(name, A, W, K)
    assert np.isfinite(res.approx).all() and np.isfinite(res.loss)
    if name in NEVER_WORSE_THAN_ZERO:
        assert res.loss <= weighted_loss(A, W, 0.0) * (1 + 1e-9)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_zero_matrix_is_approximated_by_zero(name):
    # Degenerate paths: sample falls back to uniform row probabilities, greedy stops adding
    # directions once the gradient vanishes, adam rescales by 1 instead of by RMS(A) = 0.
    rng = np.random.default_rng(3)
    A, W = np.zeros((N, D)), fisher_like_weights(rng, N, D)
    res = solve(name, A, W, K)
    assert np.isfinite(res.approx).all()
    if name not in APPROXIMATE:  # adam only gets close to 0 by descent
        assert res.loss == 0.0


@pytest.mark.parametrize("shape", [(1, 1), (12, 3), (3, 12)], ids=["1x1", "tall", "wide"])
@pytest.mark.parametrize("name", ALGORITHMS)
def test_one_by_one_tall_and_wide_problems(name, shape):
    rng = np.random.default_rng(4)
    A, W = rng.standard_normal(shape), rng.uniform(0.5, 2.0, shape)
    for rank in sorted({1, min(shape)}):
        res = solve(name, A, W, rank)
        assert res.approx.shape == shape and np.isfinite(res.approx).all()
    # At full rank every method does better than the zero matrix, and a 1 x 1 matrix is its own
    # rank-1 approximation (adam only descends towards it; soft_impute shrinks it).
    assert res.relative_loss < 1
    if shape == (1, 1) and name not in APPROXIMATE | SHRUNK:
        assert res.relative_loss < 1e-20
