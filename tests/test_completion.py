"""wlra_core.complete: NaN and mask inputs agree, missing entries are never read, the choice
is the best held-out candidate and the refit is that candidate on every observed entry."""
import numpy as np
import pytest

import wlra_core

RANKS = (1, 2, 4)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((30, 2)) @ rng.standard_normal((2, 20)) + 0.05 * rng.standard_normal((30, 20))
    mask = (rng.random(truth.shape) < 0.6).astype(float)
    return truth, mask


@pytest.fixture(scope="module")
def completed(planted):
    truth, mask = planted
    return wlra_core.complete(np.where(mask > 0, truth, np.nan), ranks=RANKS, seed=1)


def test_nan_input_and_mask_input_give_the_same_answer(planted, completed):
    truth, mask = planted
    for A in (truth * mask, np.where(mask > 0, truth, 1e300)):  # whatever sits on the W = 0 entries
        other = wlra_core.complete(A, mask, ranks=RANKS, seed=1)
        assert (other.algorithm, other.rank, other.options) == (completed.algorithm, completed.rank,
                                                                 completed.options)
        np.testing.assert_array_equal(other.approx, completed.approx)
        assert [row.as_dict() | {"seconds": 0} for row in other.validation] == \
            [row.as_dict() | {"seconds": 0} for row in completed.validation]


def test_choice_is_the_best_held_out_candidate_refitted_on_every_observed_entry(planted, completed):
    truth, mask = planted
    scores = [row.error.weighted_rmse for row in completed.validation]
    chosen = completed.chosen
    assert chosen.score == min(scores)
    assert (chosen.algorithm, chosen.rank, chosen.options) == (completed.algorithm, completed.rank,
                                                               completed.options)
    assert {row.algorithm for row in completed.validation} == {"soft_impute", "em", "svd"}
    assert {row.rank for row in completed.validation} == set(RANKS)
    refit = wlra_core.solve(completed.algorithm, truth * mask, mask, completed.rank, seed=1, **completed.options)
    np.testing.assert_array_equal(completed.approx, refit.approx)
    np.testing.assert_array_equal(completed.filled[mask > 0], truth[mask > 0])
    np.testing.assert_array_equal(completed.filled[mask == 0], completed.approx[mask == 0])


def test_completion_recovers_the_planted_matrix(planted, completed):
    truth, mask = planted
    missing = mask == 0
    error = np.sqrt(np.mean((completed.approx - truth)[missing] ** 2))
    zero_filled = wlra_core.solve("svd", truth * mask, mask, 2).approx
    assert error < 0.1 * np.sqrt(np.mean((zero_filled - truth)[missing] ** 2))
    assert error < 0.1 * np.std(truth)


def test_bad_settings_are_one_line_errors(planted):
    truth, mask = planted
    with pytest.raises(ValueError, match="unknown algorithm 'pca'"):
        wlra_core.complete(truth, mask, algorithms=["pca"])
    with pytest.raises(ValueError, match="rank must be between 1 and min"):
        wlra_core.complete(truth, mask, ranks=[50])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        wlra_core.complete(truth, mask, holdout=0)
