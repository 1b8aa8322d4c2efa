"""Weighted feature selection: exactness at s = d, monotone pivoted QR, the lower bounds."""
import numpy as np
import pytest

import wlra_core
from wlra_core.feature_selection import (
    AXES,
    SELECTIONS,
    references,
    select_features,
    selection_curve,
    selection_mask,
    summarize_curve,
)
from wlra_core.linalg import numerical_rank, tail_mass


def planted(n=40, d=15, r=2, seed=0, zeros=True):
    """Random A and a nonnegative W of rank exactly r (with a zero row and zero column)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    U, V = rng.random((n, r)), rng.random((d, r))
    if zeros:
        U[3] = 0.0  # zero row of W (a dead pixel)
        V[5] = 0.0  # zero column of W
    return A, U @ V.T


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("selection", SELECTIONS)
def test_selecting_everything_reproduces_A_where_weighted(axis, selection):
    A, W = planted()
    everything = A.shape[1] if axis == "columns" else A.shape[0]
    result = select_features(A, W, everything, selection=selection, axis=axis, rank=2, weight_rank=2)
    supported = W > 0
    np.testing.assert_allclose(result.approx[supported], A[supported], rtol=1e-9, atol=1e-9)
    assert np.all(result.approx[~supported] == 0.0)
    assert result.loss == pytest.approx(0.0, abs=1e-15 * wlra_core.weighted_mass(A, W))
    assert sorted(result.extra[axis]) == list(range(everything))


@pytest.mark.parametrize("axis", AXES)
def test_pivoted_qr_loss_never_increases_with_more_columns(axis):
    A, W = planted(seed=1)
    limit = A.shape[1] if axis == "columns" else A.shape[0]
    rows, errors = selection_curve(A, W, range(1, limit + 1), selections=["pivoted_qr"], axis=axis, rank=2)
    assert errors == [] and [r.n_selected for r in rows] == list(range(1, limit + 1))
    losses = np.array([r.row.loss for r in rows])
    assert np.all(np.diff(losses) <= 1e-12 * losses[0])
    assert losses[-1] < 1e-20 * losses[0] + 1e-12


def test_lower_bound_holds_for_every_rank_k_solution_and_svd_w_attains_it():
    r, k = 2, 2
    A, W = planted(r=r, seed=2)
    assert numerical_rank(W) == r
    refs = references(A, W, k, weight_rank=r)
    bound = refs.lower_bound
    assert bound == pytest.approx(tail_mass(W * A, r * k))
    assert refs.svd_w_loss == pytest.approx(bound, rel=1e-9)  # Theorem 1.2, equality
    for name in ("svd", "svd_w_practical", "em", "svd_w_em", "als", "greedy", "fwsvd", "sample"):
        result = wlra_core.solve(name, A, W, k)
        assert numerical_rank(result.approx, rtol=1e-9) <= k, name
        assert result.loss >= bound * (1 - 1e-9), name


def test_no_selection_beats_the_best_rank_s_approximation():
    A, W = planted(seed=3, zeros=False)
    refs = references(A, W, 2, weight_rank=2)
    rows, errors = selection_curve(A, W, [1, 3, 6, 10], rank=2, trials=2, seed=5)
    assert errors == []
    assert {(r.selection, r.row.trial) for r in rows} == {
        ("leverage", 0), ("leverage", 1), ("pivoted_qr", 0), ("uniform", 0), ("uniform", 1)}
    for run in rows:
        assert run.row.loss >= refs.selection_bound[run.n_selected] * (1 - 1e-9)
        assert run.row.relative_loss == pytest.approx(run.row.loss / refs.reference)
    curve = summarize_curve(rows)
    leverage = [r.row.relative_loss for r in rows if r.selection == "leverage" and r.n_selected == 3]
    assert curve["leverage"].mean[1] == pytest.approx(np.mean(leverage))
    assert curve["pivoted_qr"].std.max() == 0.0


def test_selection_mask_and_bad_input():
    mask = selection_mask([0, 5, 6, 7], (2, 2, 2))  # pixels (0,0) ch0, (1,0) ch1, (1,1) both
    np.testing.assert_array_equal(mask, [[1, 0], [1, 2]])
    with pytest.raises(ValueError, match="pixel indices"):
        selection_mask([8], (2, 2, 2))
    A, W = planted()
    with pytest.raises(ValueError, match=r"select_features: invalid n_selected=41; n_selected must be an integer in \[1, 40\]"):
        select_features(A, W, 41, axis="rows")
    with pytest.raises(ValueError, match="invalid n_selected=True"):
        select_features(A, W, True)
    with pytest.raises(ValueError, match="axis"):
        select_features(A, W, 2, axis="diagonal")
    with pytest.raises(ValueError, match="selections"):
        selection_curve(A, W, [2], selections=["best"])


def test_references_say_whether_svd_w_meets_the_bound():
    # rank(W) <= r: svd_w's loss is the bound (Theorem 1.2), so one line shows both.
    A, W = planted(r=2, seed=2)
    refs = references(A, W, 2, weight_rank=2)
    assert refs.svd_w_meets_bound is True
    # A 0/1 mask of rank > r: svd_w's loss is not the line (here below it: no bound then).
    rng = np.random.default_rng(4)
    A, W = rng.standard_normal((30, 12)), (rng.random((30, 12)) > 0.3).astype(float)
    refs = references(A, W, 2, weight_rank=1)
    assert refs.weight_numerical_rank > 1
    assert refs.relative_svd_w != pytest.approx(refs.relative_lower_bound, rel=1e-6)
    assert refs.svd_w_meets_bound is False
