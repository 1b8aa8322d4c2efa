"""Registry of WLRA algorithms: one module per method, each declaring an :class:`Algorithm`.

An algorithm module provides ``fit(A, W, rank, *, seed, monitor, **options) -> Fit``.
Methods whose work at the largest rank serves every smaller rank instead provide
``prepare(A, W, max_rank, *, seed, monitor, **options) -> state`` and
``finish(state, rank) -> Fit``; ``fit`` is then derived from them.

Algorithms see the scaled problem of :func:`wlra_core.problem.normalize` (largest weight
in [1, 2)), a :class:`numpy.random.SeedSequence` as ``seed`` (children per iteration come
from :func:`wlra_core.seeding.child_seed`), and options already validated against their
declarations (:mod:`wlra_core.options`). Methods that need more than A and W (the
calibration moments of an MLP) name those arrays in ``requires``; they come from
``Problem.model``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..linalg import SVD_METHODS
from ..options import Choices, Interval, Option

__all__ = ["Algorithm", "ALGORITHMS", "get_algorithm", "describe", "SVD_METHOD", "WEIGHT_RANK",
           "WEIGHT_FLOOR", "weight_floor", "floored", "iterations"]


@dataclass(frozen=True)
class Algorithm:
    """A registered method: what it is, its declared options and how to run it.

    Attributes
    ----------
    name, summary, reference : str
    options : dict of name -> Option
    fit_fn : callable, optional
    prepare, finish : callable, optional
        One shared computation at the largest rank, then a cheap finish per rank.
    slow : bool
        Off by default in the dashboard (adam: trains with TensorFlow).
    requires : tuple of str
        Arrays of ``Problem.model`` the method needs (passed as keyword arguments).
    divides_by_weights : bool
        The method divides by W (or a stand-in): tiny weights can blow its output up, and
        its ``weight_floor`` option bounds that.
    uses_weights : bool
        False for methods whose output does not depend on W (svd; whiten and kfac use
        calibration moments instead).
    """

    name: str
    summary: str
    reference: str
    options: dict[str, Option] = field(default_factory=dict)
    fit_fn: Callable | None = None
    prepare: Callable | None = None
    finish: Callable | None = None
    slow: bool = False
    requires: tuple[str, ...] = ()
    divides_by_weights: bool = False
    uses_weights: bool = True

    def fit(self, A, W, rank, *, seed, monitor, **options):
        if self.fit_fn is not None:
            return self.fit_fn(A, W, rank, seed=seed, monitor=monitor, **options)
        return self.finish(self.prepare(A, W, rank, seed=seed, monitor=monitor, **options), rank)

    def resolve_options(self, given: dict, shape: tuple[int, int] | None = None) -> dict:
        """Fill in defaults and normalise values; raise ValueError on unknown names or invalid
        values (the message names the algorithm, the option and what it must be)."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"{self.name} has no option {unknown[0]!r} (options: {known})")
        return {key: option.validate(given.get(key, option.default), name=key, algorithm=self.name, shape=shape)
                for key, option in self.options.items()}


def iterations(default: int, name: str = "n_iter") -> Option:
    """A positive iteration count option (sweeps, epochs) with its default."""
    return Option(default, (Interval(int, 1),), f"number of {'epochs' if 'epoch' in name else 'iterations'}")


SVD_METHOD = Option("auto", (Choices(SVD_METHODS),),
                    "truncated SVD: LAPACK (exact), a seeded randomized range finder, or auto")
WEIGHT_RANK = Option(1, (Interval(int, 1),), "rank r of W (or of its stand-in)",
                     limit=lambda shape: min(shape), limit_text="min(n, d)")


def weight_floor(help_text: str) -> Option:
    """The ``weight_floor`` option of a method that divides by weights.

    Every such method declares the same values (a fraction of a largest value, in [0, 1];
    0, the default, leaves its division as published) but floors a different quantity,
    which ``help_text`` states.
    """
    return Option(0.0, (Interval(float, 0.0, 1.0),), help_text)


def floored(values: np.ndarray, fraction: float) -> np.ndarray:
    """``max(values, fraction * max(values))`` entrywise: what ``weight_floor`` divides by.

    ``values`` itself (no copy) when ``fraction`` is 0, so a zero floor is the unfloored
    algorithm bit for bit.
    """
    return values if fraction == 0 else np.maximum(values, fraction * values.max())


WEIGHT_FLOOR = weight_floor("divide by max(W, weight_floor * max W) instead of W (0: the paper's algorithm)")

_MODULES = {
    "svd": "svd",
    "svd_w": "svd_w",
    "svd_w_practical": "svd_w_practical",
    "em": "em",
    "svd_w_em": "em",
    "adam": "adam",
    "greedy": "greedy",
    "sample": "sample",
    "als": "als",
    "fwsvd": "fwsvd",
    "css": "css",
    "whiten": "whiten",
    "kfac": "kfac",
    "soft_impute": "soft_impute",
}

ALGORITHMS: tuple[str, ...] = tuple(_MODULES)


def get_algorithm(name: str) -> Algorithm:
    """The :class:`Algorithm` called ``name``; ValueError listing the choices otherwise."""
    if not isinstance(name, str) or name not in _MODULES:
        raise ValueError(f"unknown algorithm {name!r}; choose one name from {', '.join(ALGORITHMS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.ALGORITHMS[name]


def describe() -> list[dict[str, str]]:
    """One row per algorithm: name, summary and reference (for the README and UI)."""
    return [
        {"name": a.name, "summary": a.summary, "reference": a.reference}
        for a in map(get_algorithm, ALGORITHMS)
    ]
