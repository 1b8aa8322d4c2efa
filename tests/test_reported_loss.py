"""The reported loss is the loss of the returned factors, whether it comes from the closed form
of a truncated projection (svd_w, css) or from a pass over every entry."""
import numpy as np
import pytest

import wlra_core
from wlra_core.factors import LowRank, Reweighted
from wlra_core.linalg import (CLOSED_FORM_ROUNDING, LOSS_TOLERANCE, Projection, SquareSum, residual_stats,
                              truncation_stats)


def factors_loss(result, A, W) -> float:
    """Oracle: the loss of the stored factors, formed densely in float64."""
    return float(np.sum((W * (A - result.factors.dense())) ** 2))


def rank_one_weights(rng, n, d):
    """Positive rank-1 weights with two zero rows (exact zero Fisher rows)."""
    W = np.outer(rng.uniform(0.1, 2.0, n), rng.uniform(0.5, 1.5, d))
    W[[3, 11]] = 0.0
    return W


@pytest.mark.parametrize("name, options", [("svd_w", {}), ("css", {"n_columns": 2})])
def test_loss_near_one_is_the_loss_of_the_factors(name, options):
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((80, 30)), rank_one_weights(rng, 80, 30)
    result = wlra_core.solve(name, A, W, 2, **options)
    assert 0.5 < result.relative_loss < 1  # the closed form's side of the rule
    assert result.loss == pytest.approx(factors_loss(result, A, W), rel=1e-12)
    assert result.max_abs == np.abs(result.factors.dense()).max()


def test_loss_near_machine_precision_is_the_loss_of_the_factors():
    # Rank 3 plus 1e-7 noise: the relative loss of rank 3 is about 1e-14, where the closed
    # form would cancel every digit; the loss is summed entry by entry instead.
    rng = np.random.default_rng(1)
    A = rng.standard_normal((90, 3)) @ rng.standard_normal((3, 40)) + 1e-7 * rng.standard_normal((90, 40))
    W = rank_one_weights(rng, 90, 40)
    result = wlra_core.solve("svd_w", A, W, 3)
    assert 1e-15 < result.relative_loss < 1e-13
    # Each residual entry is 1e-7 of its matrix entry, so its rounding alone moves the sum
    # by about 1e-9 of itself (the entries of X are rounded once, by the division by W).
    assert result.loss == pytest.approx(factors_loss(result, A, W), rel=1e-8)


def test_every_rank_of_a_shared_svd_reports_the_loss_of_its_factors():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((70, 4)) @ rng.standard_normal((4, 25)) + 1e-3 * rng.standard_normal((70, 25))
    W = rank_one_weights(rng, 70, 25)
    results = wlra_core.solve_ranks("svd_w", A, W, range(1, 7))
    # Ranks 1-3 lie on the closed form's side, ranks 4-6 (relative loss ~1e-6) on the other.
    assert results[0].relative_loss > 0.03 and results[-1].relative_loss < 1e-5
    for result in results:
        assert result.loss == pytest.approx(factors_loss(result, A, W), rel=1e-10), result.rank
        assert result.max_abs == np.abs(result.factors.dense()).max(), result.rank


def test_closed_form_rule():
    mass = SquareSum.of(1.0)
    kept = np.array([0.5, 1.0 - 1e-3])
    projection = Projection(kept)
    # Relative loss 0.5: the rounding bound 64 eps (1 + 0.5) is far inside 1e-12 of 0.5.
    assert float(projection.loss(1, mass, SquareSum())) == pytest.approx(0.5, rel=1e-15)
    # Relative loss 1e-3: the same bound is 2e-14 > 1e-12 * 1e-3: summed entry by entry.
    assert projection.loss(2, mass, SquareSum()) is None
    # The squares where W = 0 are subtracted and count in the bound.
    assert float(projection.loss(1, mass, SquareSum.of(0.25))) == pytest.approx(0.25, rel=1e-15)
    # The threshold itself: relative loss L is accepted iff 64 eps (2 - L) <= 1e-12 L.
    threshold = 2 * CLOSED_FORM_ROUNDING / (LOSS_TOLERANCE + CLOSED_FORM_ROUNDING)
    assert Projection(np.array([1 - 1.01 * threshold])).loss(1, mass, SquareSum()) is not None
    assert Projection(np.array([1 - 0.99 * threshold])).loss(1, mass, SquareSum()) is None
    assert Projection(np.array([np.nan])).loss(1, mass, SquareSum()) is None  # width it does not describe


def test_largest_entry_is_found_where_a_tiny_weight_blows_the_output_up():
    # The largest |X| is found from per-row bounds without forming X everywhere: it must
    # still be the largest entry of the factors, here far from every other one.
    rng = np.random.default_rng(3)
    A, W = rng.standard_normal((300, 20)), rank_one_weights(rng, 300, 20)
    W[217, 5] = 1e-9
    result = wlra_core.solve("svd_w", A, W, 2)
    X = result.factors.dense()
    assert result.max_abs == np.abs(X).max() == abs(X[217, 5]) > 1e6
    assert result.loss == pytest.approx(factors_loss(result, A, W), rel=1e-12)


@pytest.mark.parametrize("kind", ["quotient", "low_rank"])
def test_largest_entries_from_row_bounds_equal_those_of_every_row(kind):
    # Large matrices take their largest entries from per-row bounds; bounded_from=0 takes
    # that path on a small one. The oracle forms every entry.
    rng = np.random.default_rng(4)
    A, W = rng.standard_normal((200, 30)), rank_one_weights(rng, 200, 30)
    W[57, 4] = 1e-9  # X = P / W blows up there
    U, V = rng.standard_normal((200, 4)), rng.standard_normal((4, 30))
    X = Reweighted(U, V, W) if kind == "quotient" else LowRank(U, V)
    dense = X.dense()
    widths = [1, 2, 4]
    bounded = truncation_stats(A, W, X, widths, bounded_from=0)
    everywhere = truncation_stats(A, W, X, widths, bounded_from=10**9)
    for width, one, other in zip(widths, bounded, everywhere):
        truncated = (Reweighted(U[:, :width], V[:width], W) if kind == "quotient"
                     else LowRank(U[:, :width], V[:width])).dense()
        assert one.max_abs == other.max_abs == np.abs(truncated).max(), width
        assert float(one.loss) == pytest.approx(float(np.sum((W * (A - truncated)) ** 2)), rel=1e-12)
        assert one.loss == other.loss
    assert bounded[-1].max_abs == np.abs(dense).max()


def test_closed_form_with_row_bounds_is_the_loss_of_the_factors():
    rng = np.random.default_rng(5)
    A, W = rng.standard_normal((120, 40)), rank_one_weights(rng, 120, 40)
    result = wlra_core.solve("svd_w", A, W, 3)
    factors = result.factors
    U, s, Vt = np.linalg.svd(W * A, full_matrices=False)
    stats = residual_stats(A, W, factors, Projection(np.cumsum(s**2)), bounded_from=0)
    assert float(stats.loss) == pytest.approx(factors_loss(result, A, W), rel=1e-12)
    assert stats.max_abs == np.abs(factors.dense()).max()


def test_a_closed_form_that_fails_once_the_squares_where_w_is_zero_are_known_is_summed_instead():
    # kept is chosen so that the closed form passes its first check (the mass left is large)
    # and, once the squares of the product where W = 0 are subtracted, cancels to nothing:
    # that width must be summed entry by entry.
    rng = np.random.default_rng(6)
    A, W = rng.standard_normal((60, 20)), rng.random((60, 20))
    W[rng.random(W.shape) < 0.3] = 0.0
    U, V = rng.standard_normal((60, 2)), rng.standard_normal((2, 20))
    X = Reweighted(U, V, W)
    product = U @ V
    mass = float(np.sum((W * A) ** 2))
    outside = float(np.sum(product[W == 0] ** 2))
    assert outside > 0.1 * mass
    projection = Projection(np.array([np.nan, mass - (1 + 1e-9) * outside]))
    stats = residual_stats(A, W, X, projection, SquareSum.of(mass))
    assert float(stats.loss) == pytest.approx(float(np.sum((W * (A - X.dense())) ** 2)), rel=1e-12)
