"""greedy's ranks from one run of its steps: each rank's result is the fit at that rank alone."""
import numpy as np

import wlra_core
from wlra_core.datasets.synthetic import planted_low_rank


def test_ranks_from_one_run_equal_each_rank_fitted_alone():
    problem = planted_low_rank(n=60, d=40, rank=4, weight_rank=2, noise=0.1, seed=1)
    together = wlra_core.solve_ranks("greedy", problem, ranks=[5, 2, 3], seed=4)
    assert [r.rank for r in together] == [5, 2, 3]
    for result in together:
        alone = wlra_core.solve("greedy", problem, rank=result.rank, seed=4)
        np.testing.assert_array_equal(result.factors.U, alone.factors.U)
        np.testing.assert_array_equal(result.factors.V, alone.factors.V)
        assert result.loss == alone.loss
        # Its history is that of its own steps: iterations 0..k, the same losses.
        assert [(h.iteration, h.loss) for h in result.history] == [(h.iteration, h.loss) for h in alone.history]
    by_rank = {r.rank: r for r in together}
    assert by_rank[2].seconds <= by_rank[3].seconds <= by_rank[5].seconds


def test_ranks_past_an_exact_fit_repeat_it():
    # On a zero matrix the gradient vanishes after one direction: every higher rank is that fit.
    A, W = np.zeros((20, 10)), np.random.default_rng(0).random((20, 10))
    results = wlra_core.solve_ranks("greedy", A, W, ranks=[1, 2, 4])
    alone = wlra_core.solve("greedy", A, W, 4)
    assert [r.factors.V.shape[0] for r in results] == [alone.factors.V.shape[0]] * 3
    assert all(r.loss == alone.loss == 0 for r in results)
