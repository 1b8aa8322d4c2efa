"""``greedy``: greedy basis pursuit for WLRA (Bhaskara, Ruwanpathirana & Wijewardena 2021).

Start from ``X = 0`` with an empty row basis. Each of k steps takes the top right singular
vector of the weighted-loss gradient ``W^2 o (X - A)`` as a new basis direction, then
refits every row's coefficients on the enlarged (orthonormal) basis by weighted least
squares. After a refit each gradient row is orthogonal to the basis (normal equations), so
a new direction is new unless the gradient vanishes. With all-one weights this recovers
the top singular subspace of A step by step (Eckart-Young).
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import truncated_svd, weighted_loss, weighted_row_fit
from ..result import Fit
from ..seeding import child_seed
from . import SVD_METHOD, Algorithm

# A candidate direction with less than this norm left after projecting out the basis
# already lies in its span (possible only when the gradient is numerically zero).
_IN_SPAN = 1e-8


def _new_direction(v: np.ndarray, basis: np.ndarray) -> np.ndarray | None:
    """``v`` orthonormalised against the rows of ``basis``, or None if it lies in their span."""
    for _ in range(2):  # twice is enough (Kahan-Parlett "twice is enough")
        v = v - basis.T @ (basis @ v)
    norm = np.linalg.norm(v)
    return v / norm if norm > _IN_SPAN else None


def path(A, W, rank, *, seed, monitor, svd_method):
    """The fits after 1, 2, ..., ``rank`` greedy steps; records the loss after each (iteration
    0: the zero matrix). Step t depends on the steps before it only, so the fit at rank k is
    the same whatever ``rank`` is: one run to the largest rank serves every smaller one."""
    W2 = W * W
    basis = np.empty((0, A.shape[1]))
    coefficients = np.empty((A.shape[0], 0))
    X = np.zeros_like(A)
    gradient = np.empty_like(A)
    monitor.record(0, weighted_loss(A, W, X))
    for step in range(1, rank + 1):
        monitor.check_stop()
        np.subtract(X, A, out=gradient)
        gradient *= W2  # half the gradient of the loss; the direction is what matters
        direction = _new_direction(
            truncated_svd(gradient, 1, method=svd_method, seed=child_seed(seed, step))[2][0], basis)
        if direction is None:  # the fit is already exact on the weighted entries
            for _ in range(step, rank + 1):
                yield Fit(LowRank(coefficients, basis))
            return
        basis = np.vstack([basis, direction])
        coefficients = weighted_row_fit(A, W2, basis)
        np.matmul(coefficients, basis, out=X)
        monitor.record(step, weighted_loss(A, W, X))
        monitor.report(step / rank, f"greedy step {step}/{rank}")
        yield Fit(LowRank(coefficients, basis))


ALGORITHM = Algorithm(
    name="greedy",
    summary="Greedy pursuit: k steps, each adds the top singular direction of the weighted "
    "gradient to the row basis and refits all coefficients by weighted least squares.",
    reference="Bhaskara, Ruwanpathirana & Wijewardena, Additive error guarantees for "
    "weighted low rank approximation, ICML 2021",
    options={"svd_method": SVD_METHOD},
    path=path,
)
