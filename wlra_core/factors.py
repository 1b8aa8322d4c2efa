"""What a solution stores: the arrays that rebuild the approximation with nothing else at hand.

Every algorithm returns a :class:`Factorization` of its n x d approximation X:

* :class:`LowRank` -- ``X = U @ V``, ``U`` (n, k) and ``V`` (k, d): svd, em, als, greedy,
  sample, adam, fwsvd, whiten, kfac, and svd_w_practical with a rank-1 weight stand-in
  (whose scaling folds into the factors).
* :class:`Reweighted` -- ``X = (U @ V) / D`` entrywise (0 where ``D == 0``), or
  ``X = (U @ V) * D``: svd_w and css divide by W itself (or by the floored W), so W is
  part of what they store; svd_w_practical with a rank-r > 1 stand-in divides by the
  product of its factors (raised to a stored floor when ``weight_floor`` > 0);
  ``approximate="inverse"`` multiplies by a low-rank stand-in for 1 / W.

``n_params`` counts the entries of the stored arrays, computed from the arrays. Products
``x @ X`` go through the factors (``(x @ U) @ V``) where the structure allows, and row
block by row block otherwise, so a 67500 x 1024 approximation is never formed whole.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Factorization", "LowRank", "Reweighted", "row_blocks", "BLOCK_ENTRIES"]

# Entries per row block of blockwise passes: 2**18 doubles (2 MB) keeps a block and its
# temporaries in cache, which measured 1.8x faster than 4096-row blocks on 67500 x 1024.
BLOCK_ENTRIES = 2**18


def row_blocks(n: int, d: int, entries: int = BLOCK_ENTRIES):
    """Slices of about ``entries`` entries covering rows ``0..n`` of an n x d matrix."""
    size = max(1, entries // max(d, 1))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class Factorization:
    """Base class: an n x d matrix held as a few arrays.

    ``__array_ufunc__ = None`` makes ``x @ factorization`` call :meth:`__rmatmul__`
    instead of converting the factorization to an array.
    """

    __array_ufunc__ = None

    @property
    def shape(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """Name -> stored array (the arrays themselves, not copies)."""
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        """Entries of the stored arrays."""
        return int(sum(array.size for array in self.arrays.values()))

    @property
    def width(self) -> int:
        """Columns of ``U``: the terms of the product ``U @ V`` behind X."""
        return self.U.shape[1]

    def product_rows(self, rows: slice, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``U[rows, start:stop] @ V[start:stop]``: terms ``start..stop`` of the product, for rows ``rows``."""
        return self.U[rows, start:stop] @ self.V[start:stop]

    def multiplier_rows(self, rows: slice) -> np.ndarray | None:
        """What rows ``rows`` of the product are multiplied by entrywise to give X (None: nothing)."""
        return None

    def rows(self, rows: slice) -> np.ndarray:
        """Rows ``rows`` of X as a dense array."""
        block = self.product_rows(rows)
        multiplier = self.multiplier_rows(rows)
        if multiplier is not None:
            block *= multiplier
        return block

    def dense(self) -> np.ndarray:
        """The n x d matrix X."""
        n, d = self.shape
        out = np.empty((n, d))
        for rows in row_blocks(n, d):
            out[rows] = self.rows(rows)
        return out

    def __rmatmul__(self, x) -> np.ndarray:
        """``x @ X`` for ``x`` of shape (m, n), one row block of X at a time."""
        x = np.asarray(x, dtype=np.float64)
        n, d = self.shape
        if x.shape[-1] != n:
            raise ValueError(f"x has {x.shape[-1]} columns, expected {n}")
        out = np.zeros((*x.shape[:-1], d))
        for rows in row_blocks(n, d):
            out += x[..., rows] @ self.rows(rows)
        return out

    def scaled(self, factor: float) -> "Factorization":
        """``factor * X`` (the left factor scaled; exact for powers of two)."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class LowRank(Factorization):
    """``X = U @ V`` with ``U`` of shape (n, k) and ``V`` of shape (k, d)."""

    U: np.ndarray
    V: np.ndarray

    def __post_init__(self):
        if self.U.ndim != 2 or self.V.ndim != 2 or self.U.shape[1] != self.V.shape[0]:
            raise ValueError(f"U {self.U.shape} and V {self.V.shape} do not multiply")

    @property
    def shape(self) -> tuple[int, int]:
        return self.U.shape[0], self.V.shape[1]

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return {"U": self.U, "V": self.V}

    def dense(self) -> np.ndarray:
        return self.U @ self.V

    def __rmatmul__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (x @ self.U) @ self.V

    def scaled(self, factor: float) -> "LowRank":
        return LowRank(self.U * factor, self.V)


@dataclass(frozen=True, eq=False)
class Reweighted(Factorization):
    """``X = (U @ V) / weights`` (0 where ``weights == 0``), or ``(U @ V) * weights``.

    Parameters
    ----------
    U : ndarray of shape (n, j)
    V : ndarray of shape (j, d)
    weights : ndarray of shape (n, d) or LowRank
        The divisor (e.g. W itself), or the multiplier when ``divide`` is False.
    divide : bool
    names : tuple of two str
        How :attr:`arrays` names U and V (css stores "columns" and "coefficients").
    floor : 0-d ndarray, optional
        The weights are raised to at least this value before use: a weight floor held as
        one stored number beside low-rank weights, instead of an n x d floored copy.
    """

    U: np.ndarray
    V: np.ndarray
    weights: np.ndarray | LowRank
    divide: bool = True
    names: tuple[str, str] = ("U", "V")
    floor: np.ndarray | None = None

    def __post_init__(self):
        if self.U.ndim != 2 or self.V.ndim != 2 or self.U.shape[1] != self.V.shape[0]:
            raise ValueError(f"U {self.U.shape} and V {self.V.shape} do not multiply")
        if tuple(self.weights.shape) != (self.U.shape[0], self.V.shape[1]):
            raise ValueError(f"weights have shape {self.weights.shape}, expected "
                             f"{(self.U.shape[0], self.V.shape[1])}")
        if self.floor is not None and np.shape(self.floor) != ():
            raise ValueError(f"floor must be a 0-d array, got shape {np.shape(self.floor)}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.U.shape[0], self.V.shape[1]

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        kind = "divisor" if self.divide else "multiplier"
        arrays = {self.names[0]: self.U, self.names[1]: self.V}
        if isinstance(self.weights, LowRank):
            arrays.update({f"{kind}_U": self.weights.U, f"{kind}_V": self.weights.V})
        else:
            arrays[kind] = self.weights
        if self.floor is not None:
            arrays[f"{kind}_floor"] = self.floor
        return arrays

    def divides_by(self, W: np.ndarray) -> bool:
        """Whether X is ``(U @ V) / W`` for this very array ``W`` (0 where it is 0; no floor)."""
        return self.divide and self.floor is None and self.weights is W

    def weight_rows(self, rows: slice) -> np.ndarray:
        """Rows ``rows`` of the weights as X uses them (floored, if there is a floor)."""
        # np.asarray: weights held as a Dask array (wlra_core.distributed.svd_w_dask) are gathered here.
        weights = self.weights.rows(rows) if isinstance(self.weights, LowRank) else np.asarray(self.weights[rows])
        return weights if self.floor is None else np.maximum(weights, self.floor)

    def multiplier_rows(self, rows: slice) -> np.ndarray:
        weights = self.weight_rows(rows)
        if not self.divide:
            return np.array(weights, dtype=np.float64)
        inverse = np.zeros(weights.shape)
        np.divide(1.0, weights, out=inverse, where=weights != 0)
        return inverse

    def rows(self, rows: slice) -> np.ndarray:
        if not self.divide:
            return super().rows(rows)
        # Divide rather than multiply by 1 / D: bit for bit the paper's (W o A)_k / W.
        block = self.product_rows(rows)
        weights = self.weight_rows(rows)
        out = np.zeros_like(block)
        np.divide(block, weights, out=out, where=weights != 0)
        return out

    def scaled(self, factor: float) -> "Reweighted":
        return replace(self, U=self.U * factor)
