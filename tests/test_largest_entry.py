"""The largest |entry| and the squares where W = 0 of an approximation divided by W, taken from row
bounds plus the dominant columns formed whole (wlra_core.linalg), equal those of every entry."""
import numpy as np
import pytest

import wlra_core
from wlra_core.factors import Reweighted
from wlra_core.linalg import Projection, _dominant_columns, _orthonormal_rows, truncation_stats


def test_dominant_columns_are_those_far_above_the_typical_column():
    c = np.full(80, 0.1)
    c[[3, 41, 77]] = [0.9, 0.5, 0.35]  # each square beyond 4 x mean(c^2) = 0.098
    assert _dominant_columns(c).tolist() == [3, 41, 77]
    assert _dominant_columns(np.full(80, 0.1)).size == 0  # no column stands out
    assert _dominant_columns(c[:7]).size == 0  # fewer than 8 columns: none is formed whole


@pytest.mark.parametrize("seed", [0, 1])
def test_css_like_factors_with_tiny_and_zero_weights_on_their_chosen_columns(seed):
    # Projection onto 3 chosen columns: V's row space is concentrated on them (c_j near 1), so
    # they are formed whole. The largest entry sits on one of them (a tiny weight), zero
    # weights lie on them outside the zero rows (their squares enter the closed form), and
    # one whole row of W is zero.
    rng = np.random.default_rng(seed)
    n, d = 1200, 48  # more rows than _largest_by_bounds forms first (PROMISING_ROWS)
    A = rng.standard_normal((n, d))
    W = np.outer(rng.uniform(0.2, 1.0, n), rng.uniform(0.5, 1.5, d))
    W[7] = 0.0
    M = W * A
    columns = np.array([5, 20, 33])
    C = M[:, columns]
    coefficients = np.linalg.lstsq(C, M, rcond=None)[0]
    W[[40, 90], columns[1]] = 0.0  # zero weights on a chosen column, in rows that are not zero
    W[120, columns[0]] = 1e-9  # X = P / W blows up there
    X = Reweighted(C, coefficients, W)
    c = _orthonormal_rows(coefficients)[1]
    assert set(columns) <= set(_dominant_columns(c))
    dense = X.dense()
    product = C @ coefficients
    outside = float(np.sum(product[W == 0] ** 2))
    loss = float(np.sum((W * (A - dense)) ** 2))
    mass = float(np.sum((W * A) ** 2))
    # kept chosen so that the closed form gives the loss of these factors: mass - kept - outside.
    projection = Projection(np.array([np.nan, np.nan, mass - loss - outside]))
    stats = truncation_stats(A, W, X, [3], projection, bounded_from=0)[0]
    assert stats.max_abs == np.abs(dense).max() == abs(dense[120, columns[0]])
    assert float(stats.loss) == pytest.approx(loss, rel=1e-10)


def test_css_reports_the_largest_entry_and_loss_of_its_factors():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((400, 40))
    W = np.outer(rng.uniform(0.1, 2.0, 400), rng.uniform(0.5, 1.5, 40))
    W[[3, 11]] = 0.0
    W[rng.random(W.shape) < 0.01] = 1e-6
    result = wlra_core.solve("css", A, W, 3, n_columns=4)
    X = result.factors.dense()
    assert result.max_abs == np.abs(X).max()
    assert result.loss == pytest.approx(float(np.sum((W * (A - X)) ** 2)), rel=1e-10)
