"""WeightedLowRank(n_components="auto"): the rank (and lambda) chosen by wlra_core.complete."""
import numpy as np
import pytest

from wlra_core import WeightedLowRank, complete


def _masked(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30)) + 0.05 * rng.standard_normal((40, 30))
    A[rng.random(A.shape) < 0.3] = np.nan
    return A


def test_auto_rank_is_completes_choice_and_refit():
    A = _masked()
    est = WeightedLowRank("soft_impute", n_components="auto", random_state=0).fit(A)
    chosen = complete(A, algorithms=["soft_impute"], seed=0)
    assert est.n_components_ == chosen.rank == est.completion_.rank
    assert est.completion_.options == chosen.options
    np.testing.assert_array_equal(est.approx_, chosen.approx)


def test_auto_refuses_options():
    with pytest.raises(ValueError, match="options cannot be given with n_components='auto'"):
        WeightedLowRank("em", n_components="auto", options={"n_iter": 5}).fit(_masked())


def test_fixed_rank_reports_it():
    est = WeightedLowRank("em", n_components=3, random_state=0).fit(_masked())
    assert est.n_components_ == 3 and not hasattr(est, "completion_")
