"""Data-aware low rank approximation of a layer's kernel: one SVD under a two-sided metric.

For a dense layer ``z = x^T A + b`` with kernel ``A`` of shape (n, d), replacing ``A`` by
``X`` moves the pre-activation by ``x^T (A - X)``. With the calibration moments
``C = E[x x^T]`` (n x n, over the inputs the layer sees) and ``G = E[delta delta^T]``
(d x d, ``delta`` the per-example gradient of the loss at ``z``), the Fisher quadratic form
of the change under K-FAC's independence approximation is

    loss(X) = ||C^{1/2} (A - X) G^{1/2}||_F^2 = trace((A - X)^T C (A - X) G),

and with ``G = I`` it is ``E ||x^T (A - X)||^2``, the output error on the calibration
inputs. Over ``rank(X) <= k`` it is minimised in closed form by one SVD (Eckart-Young in
the transformed coordinates ``M = C^{1/2} A G^{1/2}``):

    X = C^{-1/2} (C^{1/2} A G^{1/2})_k G^{-1/2},

and the minimum is the sum of the squared singular values of ``M`` beyond the k-th.
``G = I`` is input whitening (SVD-LLM's truncation-aware whitening, Wang et al. 2024);
both sides is the Kronecker-factored Fisher (K-FAC, Martens & Grosse 2015). Entrywise
weights ``a b^T`` are the special case ``C = diag(a)^2``, ``G = diag(b)^2``.

Damping: each moment ``S`` (m x m) is replaced by ``S + damping * (trace(S) / m) * I``,
a fraction of its mean eigenvalue, so a damping value means the same thing whatever the
scale of the inputs or of the loss; the closed form is then exact for the damped metric.
With ``damping = 0`` inverses are pseudo-inverses: directions the calibration data never
excites (a zero eigenvalue, e.g. a pixel black in every training image) are left out of X.

All functions are pure: float64 arrays in, float64 arrays out.
"""
from __future__ import annotations

import numpy as np

from .linalg import truncated_svd
from .options import Interval, Option
from .problem import as_float_matrix, validate_rank

__all__ = ["damped_sqrt", "calibrated_factors", "moment_factors", "calibrated_loss", "damping_option",
           "WHITEN_DAMPING", "KFAC_DAMPING"]

# Default damping of the two methods. Chosen on the shipped Fashion-MNIST problem by the
# compressed network's mean cross-entropy on the 60000 *training* images at ranks 5, 10
# and 20 over damping in {1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3}: the curves are flat below
# ~0.3 (whiten 0.5334-0.5338 for 1e-3..0.3, best 0.1; kfac 0.4726-0.4753, best 1e-3), and
# rise beyond. 0 was measured too (whiten 0.5339, kfac 0.4726) but is not a default: a
# nonzero damping keeps the closed form well posed when a moment is singular (pixels
# black in every training image, hidden units that never fire).
WHITEN_DAMPING = 0.1
KFAC_DAMPING = 1e-3

# Relative tolerances for moments that are symmetric positive semidefinite in exact
# arithmetic but were accumulated in floating point (sums of x x^T over batches).
SYMMETRY_RTOL = 1e-8
PSD_RTOL = 1e-8

_C_NAME = "input moment C"
_G_NAME = "gradient moment G"


def _moment(S, name: str, A_shape: tuple[int, int] | None = None, side: int = 0) -> np.ndarray:
    """``S`` as a symmetric float64 matrix, or a one-line ValueError.

    With ``A_shape``, ``S`` must be ``A_shape[side]`` square; otherwise just square.
    """
    S = as_float_matrix(S, name)
    size = S.shape[0] if A_shape is None else A_shape[side]
    if S.shape != (size, size):
        context = "" if A_shape is None else f" for A of shape {A_shape}"
        raise ValueError(f"{name} has shape {S.shape}, expected ({size}, {size}){context}")
    scale = np.abs(S).max()
    if scale == 0:
        raise ValueError(f"{name} is all zeros: the calibration data excites no direction")
    asymmetry = np.abs(S - S.T).max()
    if asymmetry > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} is not symmetric (largest |S_ij - S_ji| is {asymmetry:.3g}, largest |S_ij| {scale:.3g})"
        )
    return (S + S.T) / 2


def damping_option(default: float) -> Option:
    """The declared ``damping`` of whiten and kfac (and of this module's functions)."""
    return Option(default, (Interval(float, 0.0),), "fraction of each moment's mean eigenvalue added to its diagonal")


_DAMPING = damping_option(0.0)


def _damped_eigh(S: np.ndarray, damping: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, >= 0) and eigenvectors of ``S + damping * mean_eig * I``.

    ``S`` is symmetric (see :func:`_moment`). Negative eigenvalues within rounding are
    set to 0; a clearly negative one is a ValueError.
    """
    vals, vecs = np.linalg.eigh(S)
    if vals[0] < -PSD_RTOL * np.abs(vals).max():
        raise ValueError(
            f"{name} is not positive semidefinite (smallest eigenvalue {vals[0]:.3g}, largest {vals[-1]:.3g})"
        )
    vals = np.maximum(vals, 0.0)
    return vals + damping * vals.mean(), vecs


def _kept(vals: np.ndarray) -> np.ndarray:
    """Eigenvalues that are nonzero beyond rounding (the rest get a zero pseudo-inverse)."""
    return vals > vals[-1] * len(vals) * np.finfo(np.float64).eps


def _inverse_sqrt(vals: np.ndarray) -> np.ndarray:
    kept = _kept(vals)
    out = np.zeros_like(vals)
    out[kept] = 1.0 / np.sqrt(vals[kept])
    return out


def damped_sqrt(S, damping: float = 0.0, *, name: str = "moment") -> tuple[np.ndarray, np.ndarray]:
    """Symmetric square root and inverse square root of a damped PSD matrix.

    Parameters
    ----------
    S : array_like of shape (m, m)
        Symmetric positive semidefinite, finite.
    damping : float >= 0
        Adds ``damping * trace(S) / m`` (that fraction of the mean eigenvalue) to the diagonal.
    name : str
        How error messages name ``S``.

    Returns
    -------
    root : ndarray of shape (m, m)
        ``(S + damping * trace(S) / m * I)^{1/2}``, symmetric PSD.
    inv_root : ndarray of shape (m, m)
        Its (pseudo-)inverse: eigenvalues that are zero beyond rounding (possible only
        with ``damping = 0``) get 0.

    Raises
    ------
    ValueError
        ``S`` not square, not finite, all zero, not symmetric or not PSD; bad damping.
    """
    return _roots(_moment(S, name), _DAMPING.validate(damping, name="damping"), name)


def _roots(S: np.ndarray, damping: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`damped_sqrt` of a moment already checked by :func:`_moment`."""
    vals, vecs = _damped_eigh(S, damping, name)
    return (vecs * np.sqrt(vals)) @ vecs.T, (vecs * _inverse_sqrt(vals)) @ vecs.T


def calibrated_factors(
    A,
    C,
    G,
    k: int,
    *,
    damping: float = 0.0,
    method: str = "auto",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Factors of the rank-``k`` minimiser of ``||C^{1/2} (A - X) G^{1/2}||_F^2``.

    ``X = C^{-1/2} (C^{1/2} A G^{1/2})_k G^{-1/2}`` with damped moments, returned as
    ``U @ V`` with ``U = P_C A G^{1/2} V_k`` and ``V = V_k^T G^{-1/2}``, where ``V_k``
    holds the top ``k`` right singular vectors of ``M = C^{1/2} A G^{1/2}`` and ``P_C``
    projects onto the range of ``C`` (the identity when ``damping > 0``). The factors are
    nested: for every ``j <= k``, ``U[:, :j] @ V[:j]`` is the rank-``j`` minimiser, so
    one call at the largest rank serves every smaller rank.

    Parameters
    ----------
    A : array_like of shape (n, d)
        The kernel (inputs x outputs).
    C : array_like of shape (n, n)
        Input moment, symmetric PSD.
    G : array_like of shape (d, d), optional
        Gradient moment, symmetric PSD; None means the identity (input whitening).
    k : int
        Rank, ``1 <= k <= min(n, d)``.
    damping : float >= 0
        Fraction of each moment's mean eigenvalue added to its diagonal.
    method : {"auto", "exact", "randomized"}
        SVD of ``M`` (see :func:`wlra_core.linalg.truncated_svd`; signs are fixed).
    seed : int
        Seed of a randomized SVD.

    Returns
    -------
    U : ndarray of shape (n, k)
    V : ndarray of shape (k, d)
        ``k * (n + d)`` numbers to store; ``X = U @ V``.

    Raises
    ------
    ValueError
        One line naming the defect: A not a finite matrix, bad rank or damping, a moment
        of the wrong shape, non-finite, all zero, not symmetric or not PSD.
    """
    A = as_float_matrix(A, "A")
    return moment_factors(A, C, G, validate_rank(k, A.shape), damping=_DAMPING.validate(damping, name="damping"),
                          method=method, seed=seed)


def moment_factors(A: np.ndarray, C, G, k: int, *, damping: float, method: str, seed) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calibrated_factors` for ``A``, ``k`` and ``damping`` already checked.

    The registered methods (whiten, kfac) call this: their problem and declared options
    were validated at the boundary. The moments are checked here (shape, symmetry,
    definiteness): nothing upstream checks those.
    """
    c_vals, c_vecs = _damped_eigh(_moment(C, _C_NAME, A.shape, 0), damping, _C_NAME)
    # C^{1/2} A in the eigenbasis: n^2 d flops, no n x n square root formed.
    M = (c_vecs * np.sqrt(c_vals)) @ (c_vecs.T @ A)
    if G is not None:
        g_root, g_inv_root = _roots(_moment(G, _G_NAME, A.shape, 1), damping, _G_NAME)
        M = M @ g_root
    Vt = truncated_svd(M, k, method=method, seed=seed)[2]
    # U = C^{-1/2} U_k S_k = C^{-1/2} M V_k = P_C A G^{1/2} V_k: no inverse of C is applied,
    # so tiny eigenvalues of C do not amplify the SVD's rounding errors.
    kept = _kept(c_vals)
    A_seen = A if kept.all() else c_vecs[:, kept] @ (c_vecs[:, kept].T @ A)
    if G is None:
        return A_seen @ Vt.T, Vt
    return A_seen @ (g_root @ Vt.T), Vt @ g_inv_root


def calibrated_loss(A, X, C, G=None) -> float:
    """``||C^{1/2} (A - X) G^{1/2}||_F^2 = trace((A - X)^T C (A - X) G)``, undamped.

    Parameters
    ----------
    A, X : array_like of shape (n, d)
    C : array_like of shape (n, n)
        Input moment, symmetric PSD (not re-checked for definiteness here).
    G : array_like of shape (d, d), optional
        Gradient moment; None means the identity.

    Returns
    -------
    float
        ``>= 0`` up to rounding; 0 for ``X = A``.
    """
    A = as_float_matrix(A, "A")
    X = as_float_matrix(X, "X")
    if X.shape != A.shape:
        raise ValueError(f"X has shape {X.shape} but A has shape {A.shape}; they must match")
    R = A - X
    CR = _moment(C, _C_NAME, A.shape, 0) @ R
    RG = R if G is None else R @ _moment(G, _G_NAME, A.shape, 1)
    return float(np.vdot(CR, RG))
