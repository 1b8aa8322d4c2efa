"""svd on arrays is fitted to A as given, and validation's pass over A and W is the pass that
measures the fit (wlra_core.problem.scan_residual): its results must be those of validating
first (a Problem), including where A turns out to need the ordinary path (NaN, ±Inf, extreme
scale), and its refusals the same messages."""
import numpy as np
import pytest

import wlra_core
from wlra_core.problem import validate_problem


def _problem(w_scale=1.0, a_scale=1.0, missing=False, weights=True):
    rng = np.random.default_rng(21)
    A = a_scale * (rng.standard_normal((60, 14)) @ rng.standard_normal((14, 40)))
    W = w_scale * rng.random(A.shape)
    W[3] = 0.0
    if missing:
        gone = rng.random(A.shape) < 0.1
        A = np.where(gone, np.nan, A)
        W[gone] = 0.0
    return A, (W if weights else None)


@pytest.mark.parametrize("case", [
    {}, {"w_scale": 2.0**-1060}, {"w_scale": 1e250}, {"weights": False},
    {"missing": True}, {"missing": True, "weights": False},
    {"a_scale": 2.0**300}, {"a_scale": 2.0**-300},
], ids=str)
def test_svd_on_arrays_equals_svd_on_the_validated_problem(case):
    A, W = _problem(**case)
    given = wlra_core.solve("svd", A, W, 3, svd_method="randomized")
    validated = wlra_core.solve("svd", wlra_core.Problem(A, W), None, 3, svd_method="randomized")
    assert not given.failed, given.message
    for name, array in validated.factors.arrays.items():
        np.testing.assert_array_equal(given.factors.arrays[name], array, err_msg=name)
    assert (given.loss, given.relative_loss, given.max_abs) == (validated.loss, validated.relative_loss,
                                                                validated.max_abs)
    assert given.warnings == validated.warnings


def test_the_loss_of_svd_on_arrays_is_the_weighted_loss_of_its_approximation():
    A, W = _problem(missing=True)
    result = wlra_core.solve("svd", A, W, 4)
    observed = np.where(W > 0, A, 0.0)
    expected = np.sum((W * (observed - result.approx)) ** 2)
    assert result.loss == pytest.approx(expected, rel=1e-12)
    assert result.relative_loss == pytest.approx(expected / np.sum((W * observed) ** 2), rel=1e-12)
    assert result.max_abs == pytest.approx(np.abs(result.approx).max(), rel=1e-12)


@pytest.mark.parametrize("make", [
    lambda A, W: (np.where(np.arange(A.size).reshape(A.shape) == 7, np.inf, A), W),
    lambda A, W: (A, np.where(np.arange(A.size).reshape(A.shape) == 5, -1.0, W)),
    lambda A, W: (A, np.where(np.arange(A.size).reshape(A.shape) == 5, np.nan, W)),
    lambda A, W: (np.where(np.arange(A.size).reshape(A.shape) == 9, np.nan, A), W + 1.0),
    lambda A, W: (A, W[:, :-1]),
])
def test_svd_on_arrays_refuses_what_validation_refuses_with_its_message(make):
    A, W = make(*_problem())
    with pytest.raises(ValueError) as expected:
        validate_problem(A, W)
    with pytest.raises(ValueError) as given:
        wlra_core.solve("svd", A, W, 2)
    assert str(given.value) == str(expected.value)


def test_svd_on_arrays_in_range_reads_them_once_before_the_measuring_pass(monkeypatch):
    # The ordinary validation (a pass over A and W before the fit) runs only where A needs it.
    import wlra_core.api

    calls = []
    monkeypatch.setattr(wlra_core.api, "normalized_problem",
                        lambda *args: calls.append(args) or wlra_core.problem.normalized_problem(*args))
    wlra_core.solve("svd", *_problem(w_scale=1e-8), 3)
    assert calls == []
    wlra_core.solve("svd", *_problem(missing=True), 3)
    assert len(calls) == 1
