"""Registry of WLRA algorithms: one module per method, each declaring an :class:`Algorithm`.

An algorithm module provides ``fit(A, W, rank, *, seed, monitor, **options) -> Fit``.
Methods whose work at the largest rank serves every smaller rank instead provide
``prepare(A, W, max_rank, *, seed, monitor, **options) -> state`` and
``finish(state, rank) -> Fit``; ``fit`` is then derived from them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Option", "Algorithm", "ALGORITHMS", "get_algorithm", "describe"]


@dataclass(frozen=True)
class Option:
    """A declared parameter: default, validity check and a one-line help text."""

    default: Any
    check: Callable[[Any], bool]
    help: str


@dataclass(frozen=True)
class Algorithm:
    name: str
    summary: str
    reference: str
    options: dict[str, Option] = field(default_factory=dict)
    fit_fn: Callable | None = None
    prepare: Callable | None = None
    finish: Callable | None = None
    slow: bool = False

    def fit(self, A, W, rank, *, seed, monitor, **options):
        if self.fit_fn is not None:
            return self.fit_fn(A, W, rank, seed=seed, monitor=monitor, **options)
        return self.finish(self.prepare(A, W, rank, seed=seed, monitor=monitor, **options), rank)

    def resolve_options(self, given: dict) -> dict:
        """Fill in defaults; raise ValueError on unknown names or invalid values."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"{self.name} has no option {unknown[0]!r} (options: {known})")
        resolved = {}
        for key, option in self.options.items():
            value = given.get(key, option.default)
            try:
                ok = option.check(value)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"{self.name}: invalid {key}={value!r}; {option.help}")
            resolved[key] = value
        return resolved


def positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def nonnegative_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def one_of(*choices) -> Callable[[Any], bool]:
    return lambda value: value in choices


def iterations(default: int, name: str = "n_iter") -> Option:
    """A positive iteration count option (sweeps, epochs) with its default."""
    return Option(default, positive_int, f"{name} must be an integer >= 1")


SVD_METHOD = Option("auto", one_of("auto", "exact", "randomized"),
                    'truncated SVD method: "auto", "exact" or "randomized"')
WEIGHT_RANK = Option(1, positive_int, "weight_rank r must be an integer >= 1")

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
}

ALGORITHMS: tuple[str, ...] = tuple(_MODULES)


def get_algorithm(name: str) -> Algorithm:
    """The :class:`Algorithm` called ``name``; ValueError listing the choices otherwise."""
    if name not in _MODULES:
        raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.ALGORITHMS[name]


def describe() -> list[dict[str, str]]:
    """One row per algorithm: name, summary and reference (for the README and UI)."""
    return [
        {"name": a.name, "summary": a.summary, "reference": a.reference}
        for a in map(get_algorithm, ALGORITHMS)
    ]
