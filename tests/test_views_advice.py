"""The advice the Weights and Compare pages give is measured from W: a 0/1 mask, a W far from
low rank and a nearly rank-1 W get different verdicts, and the weight rank they quote is the
one an independent SVD gives."""
import numpy as np

from app_pages._views import advice_of
from wlra_core import Problem
from wlra_core.report import problem_info


def advice(W):
    rng = np.random.default_rng(0)
    problem = Problem(rng.standard_normal(W.shape), W)
    return advice_of(problem.W, problem_info(problem))


def mass_rank(W, share=0.99):
    s = np.linalg.svd(W, compute_uv=False)
    return int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), share) + 1)


def test_a_mask_is_a_completion_problem():
    rng = np.random.default_rng(1)
    W = (rng.random((60, 40)) < 0.4).astype(float)
    got = advice(3.0 * W)  # a mask up to a constant
    assert got.completion and got.missing == int((W == 0).sum()) and got.mass_rank_99 == mass_rank(W)
    assert "fill nothing" in got.verdict() and "svd_w, svd_w_practical, fwsvd, css" in got.verdict()


def test_dense_weights_far_from_low_rank_and_nearly_rank_one():
    rng = np.random.default_rng(2)
    far = advice(rng.random((60, 40)) ** 4)
    assert not far.completion and not far.low_rank and far.mass_rank_99 > 4
    assert f"W needs rank {far.mass_rank_99} to hold 99% of its mass: far from low rank" in far.verdict()
    near = advice(np.outer(rng.random(60) + 0.5, rng.random(40) + 0.5))
    assert near.low_rank and near.mass_rank_99 == 1 and "close to low rank" in near.verdict()
    assert not near.missing_line()
