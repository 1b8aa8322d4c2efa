"""The zero weights are counted by validation's one pass over A and W, on the scaled W the
algorithms see (wlra_core.problem), and the "fills nothing" warning reports that count."""
import numpy as np

import wlra_core
from wlra_core.problem import normalized_problem


def test_zero_weights_are_those_of_the_scaled_w():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 40))
    W = rng.uniform(0.5, 1.0, A.shape)
    W[rng.random(A.shape) < 0.05] = 0.0
    zeros = int(np.sum(W == 0))
    assert normalized_problem(A, W)[1].zero_weights == zeros
    # No zero weight, but scaled to a largest entry in [1, 2) (by 2**-996) the least positive
    # float64 becomes 0: the algorithms see one zero weight.
    W_wide = rng.uniform(0.5, 1.0, A.shape) * 1e300
    W_wide[0, 0] = 5e-324
    problem = normalized_problem(A, W_wide)[1]
    assert problem.zero_weights == int(np.sum(problem.W == 0)) == 1
    assert normalized_problem(A)[1].zero_weights == 0


def test_svd_w_fills_nothing_on_every_zero_weight():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((60, 20))
    W = rng.uniform(0.5, 1.0, A.shape)
    W[rng.random(A.shape) < 0.1] = 0.0
    result = wlra_core.solve("svd_w", A, W, 2)
    assert np.all(result.factors.dense()[W == 0] == 0)
    assert f"fills nothing: the approximation is 0 on all {int(np.sum(W == 0)):,} entries with W = 0" in result.warnings
    assert not any("fills nothing" in note for note in wlra_core.solve("svd", A, W, 2).warnings)


def test_fills_nothing_is_found_without_forming_rows_whose_factor_is_zero():
    # fwsvd and svd_w_practical give W's zero rows a zero left factor: X is 0 there. A zero
    # weight in a row whose factor is not zero (X != 0 there) must still be seen.
    rng = np.random.default_rng(3)
    A = rng.standard_normal((90, 30))
    W = np.outer(rng.uniform(0.2, 1.0, 90), rng.uniform(0.5, 1.5, 30))
    W[[4, 50]] = 0.0
    for name in ("fwsvd", "svd_w_practical"):
        result = wlra_core.solve(name, A, W, 2)
        assert np.all(result.factors.dense()[W == 0] == 0), name
        assert "fills nothing: the approximation is 0 on all 60 entries with W = 0" in result.warnings, name
    W[10, 3] = 0.0
    result = wlra_core.solve("fwsvd", A, W, 2)
    assert result.factors.dense()[10, 3] != 0
    assert not any("fills nothing" in note for note in result.warnings)
