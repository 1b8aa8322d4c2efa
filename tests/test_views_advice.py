"""The advice the Weights and Compare pages give is measured from W: a 0/1 mask, a W far from
low rank and a nearly rank-1 W get different verdicts, and the weight rank they quote is the
one an independent SVD gives."""
import numpy as np

from app_pages._views import advice_of
from wlra_core import Problem
from wlra_core.report import problem_info


def advice(W, A=None):
    rng = np.random.default_rng(0)
    problem = Problem(rng.standard_normal(W.shape) if A is None else A, W)
    return advice_of(problem.A, problem.W, problem_info(problem))


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


def test_em_stalls_where_w_moves_the_loss_slowly():
    """Noise whose deviation grows with the entry (W = 1/sigma small where A is large): the
    advice quotes em's loss-weighted step, and em from zero stops at nearly one loss for
    every rank, well above als's."""
    import wlra_core

    rng = np.random.default_rng(3)
    A = np.abs(rng.standard_normal((80, 12)) @ rng.standard_normal((12, 30))) ** 2
    sigma = np.sqrt(A) + 0.05
    W = 1 / sigma
    got = advice(W, A)
    Q, share = (W / W.max()) ** 2, (W * A) ** 2
    assert np.isclose(got.em_step, (Q * share).sum() / share.sum(), rtol=1e-12)
    assert got.em_step < 0.25 and f"move {got.em_step:.1%} of the way" in got.em_line()
    em = [wlra_core.solve("em", A, W, k).relative_loss for k in (2, 6)]
    als = wlra_core.solve("als", A, W, 6).relative_loss
    assert em[1] > 0.9 * em[0] and als < 0.75 * em[1]
    mask = advice((rng.random((30, 20)) < 0.5).astype(float))
    assert np.isclose(mask.em_step, 1.0, rtol=1e-12) and not mask.em_line()
