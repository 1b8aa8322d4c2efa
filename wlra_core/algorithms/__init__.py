"""Registry of WLRA algorithms: one module per method, each declaring one :class:`Algorithm`.

Adding an algorithm is one module and one line: ``wlra_core/algorithms/<name>.py`` ending
with ``ALGORITHM = Algorithm(name="<name>", ...)``, and ``"<name>"`` added to
:data:`ALGORITHMS`. The module provides ``fit(A, W, rank, *, seed, monitor, **options) -> Fit``;
methods whose work at the largest rank serves every smaller rank instead provide
``prepare(A, W, max_rank, *, seed, monitor, **options) -> state`` and
``finish(state, rank) -> Fit``, and ``fit`` is derived from them. Methods whose fit at rank
k is the k-th step of one sequence (greedy: each step adds a direction) provide
``path(A, W, max_rank, *, seed, monitor, **options)`` instead, yielding the fit at ranks
1, 2, ..., max_rank in turn, and ``fit`` is its last. The keyword parameters of
``fit`` (or ``prepare``, or ``path``) are exactly the declared options, the arrays in ``requires`` and
the common ``seed`` and ``monitor``: :meth:`Algorithm.check_keywords` refuses a declaration
that differs (like scikit-learn's check that ``get_params`` keys are ``__init__``'s).

Algorithms see the scaled problem of :func:`wlra_core.problem.normalize` (largest weight
in [1, 2)), a :class:`numpy.random.SeedSequence` as ``seed`` (children per iteration come
from :func:`wlra_core.seeding.child_seed`), and options already validated against their
declarations (:mod:`wlra_core.options`). Methods that need more than A and W (the
calibration moments of an MLP) name those arrays in ``requires``; they come from
``Problem.model``.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..linalg import SVD_METHODS
from ..options import Choices, Interval, Option, check_names, validate_options

__all__ = ["Algorithm", "ALGORITHMS", "COMMON_KEYWORDS", "get_algorithm", "describe", "SVD_METHOD", "WEIGHT_RANK",
           "WEIGHT_FLOOR", "weight_floor", "floored", "iterations"]

# Keyword parameters every fit (or prepare) takes besides its options and required arrays.
COMMON_KEYWORDS = ("seed", "monitor")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


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
    path : callable, optional
        A generator of the fits at ranks 1, 2, ..., its ``max_rank``, each independent of
        ``max_rank`` (and the loss history it records up to iteration k that of rank k).
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
    starts_from_weighted : bool
        The method's first step is ``W o A``: its fit (or prepare) takes the keyword
        ``weighted``, that product of the arrays it is given when :func:`wlra_core.solve`
        formed it during validation's pass over A and W (which saves reading them again),
        or None, and then forms it itself.
    """

    name: str
    summary: str
    reference: str
    options: dict[str, Option] = field(default_factory=dict)
    fit_fn: Callable | None = None
    prepare: Callable | None = None
    finish: Callable | None = None
    path: Callable | None = None
    slow: bool = False
    requires: tuple[str, ...] = ()
    divides_by_weights: bool = False
    uses_weights: bool = True
    starts_from_weighted: bool = False

    def __post_init__(self):
        self.check_keywords()

    def check_keywords(self) -> None:
        """TypeError unless ``fit`` (or ``prepare``) takes ``(A, W, rank)`` positionally and, as
        keywords, exactly the declared options, the ``requires`` arrays and :data:`COMMON_KEYWORDS`
        (the message names the algorithm and every differing name)."""
        if (sum(step is not None for step in (self.fit_fn, self.prepare, self.path)) != 1
                or (self.prepare is None) != (self.finish is None)):
            raise TypeError(f"{self.name}: declare one of fit_fn, prepare and finish, or path")
        step = self.fit_fn or self.prepare or self.path
        parameters = inspect.signature(step).parameters.values()
        positional = [p.name for p in parameters if p.kind in _POSITIONAL]
        if len(positional) != 3 or any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            raise TypeError(f"{self.name}: {step.__name__} must take three positional parameters (A, W, rank) "
                            f"and named keywords only, not {inspect.signature(step)}")
        clashes = sorted(set(self.options) & {*COMMON_KEYWORDS, *self.requires})
        if clashes:
            raise TypeError(f"{self.name}: options may not be called {', '.join(clashes)}")
        keywords = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
        check_names(self.name, f"the keyword parameters of {step.__name__}", keywords,
                    {*self.options, *self.requires, *COMMON_KEYWORDS, *self.extra_keywords})

    @property
    def extra_keywords(self) -> tuple[str, ...]:
        """Keywords of fit (or prepare) beyond the options, ``requires`` and :data:`COMMON_KEYWORDS`."""
        return ("weighted",) if self.starts_from_weighted else ()

    def fit(self, A, W, rank, *, seed, monitor, **options):
        if self.fit_fn is not None:
            return self.fit_fn(A, W, rank, seed=seed, monitor=monitor, **options)
        if self.path is not None:
            for fit in self.path(A, W, rank, seed=seed, monitor=monitor, **options):
                pass  # each fit is the previous one plus a step: only the last is wanted
            return fit
        return self.finish(self.prepare(A, W, rank, seed=seed, monitor=monitor, **options), rank)

    def resolve_options(self, given: dict, shape: tuple[int, int] | None = None) -> dict:
        """Fill in defaults and normalise values; raise ValueError on unknown names or invalid
        values (the message names the algorithm, the option and what it must be)."""
        return validate_options(self.options, given, owner=self.name, shape=shape)


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

# Every algorithm, in the order tables and menus list them; each is the module of that name.
ALGORITHMS: tuple[str, ...] = (
    "svd",
    "svd_w",
    "svd_w_practical",
    "em",
    "svd_w_em",
    "adam",
    "greedy",
    "sample",
    "als",
    "fwsvd",
    "css",
    "whiten",
    "kfac",
    "soft_impute",
)


def get_algorithm(name: str) -> Algorithm:
    """The :class:`Algorithm` called ``name``; ValueError listing the choices otherwise.

    Imports its module on first use (TypeError if the module declares another name).
    """
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one name from {', '.join(ALGORITHMS)}")
    algorithm = importlib.import_module(f"{__name__}.{name}").ALGORITHM
    if algorithm.name != name:
        raise TypeError(f"module {__name__}.{name} declares the algorithm {algorithm.name!r}, not {name!r}")
    return algorithm


def describe() -> list[dict[str, str]]:
    """One row per algorithm: name, summary and reference (for the README and UI)."""
    return [
        {"name": a.name, "summary": a.summary, "reference": a.reference}
        for a in map(get_algorithm, ALGORITHMS)
    ]
