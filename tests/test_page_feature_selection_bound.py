"""Feature selection labels only the bound that holds for the loaded W (issue 19 item 10).

css's W o X is W's nonzero pattern times a rank-s matrix, so what no s-subset beats is the
best rank-(m s) approximation of W o A, m the rank of the pattern: the best rank-s one when
W has no zeros, or zero rows and columns only (m = 1); nothing when the pattern has full
rank (a random mask, where css does beat the best rank-s approximation).
"""
import numpy as np
import pytest

from apptest_helpers import figures, open_page
from wlra_core import Problem
from wlra_core.datasets.synthetic import random_mask
from wlra_core.feature_selection import references, selection_curve, support_rank
from wlra_core.linalg import tail_mass
from wlra_core.sweep import blas_threads

PAGE = "app_pages/feature_selection.py"
CURVE = "Weighted loss vs number of selected columns"


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with blas_threads(1):
        yield


def blocks_problem(seed=0) -> Problem:
    """W with zeros in two diagonal blocks (a pattern of rank 2) and one zero row."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 12))
    W = rng.random((30, 12)) + 0.1
    W[:15, :6] = 0.0
    W[15:, 6:] = 0.0
    W[20] = 0.0
    return Problem(A, W, name="two zero blocks")


def test_support_rank_is_the_rank_of_the_zero_pattern():
    P = blocks_problem()
    assert support_rank(P.W) == np.linalg.matrix_rank((P.W != 0).astype(float)) == 2
    assert support_rank(np.ones((4, 3))) == 1 and support_rank(np.zeros((4, 3))) == 0


def test_every_selection_stays_above_the_proven_bound():
    P = blocks_problem()
    refs = references(P.A, P.W, 2)
    runs, errors = selection_curve(P, None, [1, 2, 3, 4, 5], selections=("pivoted_qr", "leverage"), rank=2,
                                   trials=2, seed=1)
    assert errors == []
    for run in runs:
        s = run.n_selected
        assert refs.selection_bound[s] == pytest.approx(tail_mass(P.W * P.A, 2 * s))  # independent SVD
        assert run.row.loss >= refs.selection_bound[s] * (1 - 1e-9)


def test_on_a_random_mask_a_selection_beats_the_best_rank_s_approximation():
    P = random_mask(100, 80, 5, 0.3, 0.0, 0)
    refs = references(P.A, P.W, 5)
    assert refs.support_rank == 80 and not refs.selection_bound[1:].any()  # nothing proven
    runs, errors = selection_curve(P, None, [20], selections=("pivoted_qr",), rank=5)
    assert errors == []
    assert runs[0].row.loss < tail_mass(P.W * P.A, 20)  # the old "no s-subset beats it" line was false


def test_page_draws_the_rank_ms_bound_for_a_zero_pattern_of_rank_two():
    at = open_page(PAGE, blocks_problem())
    at.number_input(key="fs-largest").set_value(6).run()
    curve = figures(at)[CURVE]
    names = [t["name"] for t in curve["data"]]
    assert "best rank-2s of W o A (no s-subset beats it: W's zero pattern has rank 2)" in names
    assert not any(name.startswith("best rank-s") for name in names)
    caption = " ".join(c.value for c in at.caption)
    assert "pattern of rank m = 2" in caption and "best rank-2s" in caption


def test_page_says_no_bound_holds_for_a_random_mask():
    problem = random_mask(40, 30, 3, 0.3, 0.0, 0)
    at = open_page(PAGE, problem)
    curve = figures(at)[CURVE]
    assert not any(t["name"].startswith("best rank") for t in curve["data"])
    caption = " ".join(c.value for c in at.caption)
    assert f"pattern of rank m = {support_rank(problem.W)}" in caption
    assert "no lower bound on the selections is proven here" in caption


def test_page_keeps_the_rank_s_label_when_w_has_no_zeros():
    rng = np.random.default_rng(3)
    at = open_page(PAGE, Problem(rng.standard_normal((25, 10)), rng.random((25, 10)) + 0.5, name="positive W"))
    names = [t["name"] for t in figures(at)[CURVE]["data"]]
    assert "best rank-s of W o A (no s-subset beats it)" in names
