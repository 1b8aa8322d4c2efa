"""Declared options: each states its type, range or choices and its default.

In the spirit of scikit-learn's parameter constraints (``Interval``, ``StrOptions``): an
:class:`Option` lists the :class:`Constraint` objects a value may satisfy, and everything
else (validation messages, the dashboard's widgets) reads those declarations instead of
parsing help text. Algorithms declare their options (:mod:`wlra_core.algorithms`); so do
the problem generators, the MLP/Fisher pipeline, the communication protocol and seeds, so
every integer, number and choice in the package is checked by one rule: NumPy integer and
float scalars are accepted wherever a Python ``int`` or ``float`` is, and come out as Python
numbers; ``bool`` and ``numpy.bool_`` are never numbers.

:func:`validate_options` checks a group of them (an algorithm's, the pipeline's settings),
:func:`validate_fields` a dataclass's fields, and :func:`declared` makes a function's
parameters declared options (validated on every call, defaults taken from the
declarations); :func:`check_names` is the key check that keeps a declaration and the
parameters it describes equal.
"""
from __future__ import annotations

import functools
import inspect
import json
import math
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any, Callable, Iterable, Mapping

import numpy as np

__all__ = ["Constraint", "Interval", "Choices", "NoneAllowed", "ArrayAllowed", "InstanceOf", "Option",
           "validate_options", "validate_fields", "declared", "check_names", "parse_option_text"]


class Constraint:
    """One set of acceptable values: :meth:`accepts`, :meth:`normalize`, :meth:`describe`."""

    def accepts(self, value) -> bool:
        raise NotImplementedError

    def normalize(self, value):
        return value

    def describe(self) -> str:
        raise NotImplementedError


def _is_integer(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    if not isinstance(value, Real) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range (JSON allows 4300 digits)
        return False


@dataclass(frozen=True)
class Interval(Constraint):
    """Numbers of type ``kind`` (``int`` or ``float``) between ``low`` and ``high``.

    ``closed`` says which ends belong to the interval: ``"both"``, ``"left"``,
    ``"right"`` or ``"neither"``; ``None`` for an end means unbounded. ``float``
    intervals accept integers too; ``int`` intervals accept integers only.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self):
        if self.kind not in (int, float):
            raise TypeError(f"Interval kind must be int or float, got {self.kind!r}")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {self.closed!r}")

    def accepts(self, value) -> bool:
        if not (_is_integer(value) if self.kind is int else _is_number(value)):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def normalize(self, value):
        return int(value) if self.kind is int else float(value)

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        low_in = self.closed in ("both", "left")
        high_in = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{noun} in {'[' if low_in else '('}{self.low:g}, {self.high:g}{']' if high_in else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if low_in else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if high_in else '<'} {self.high:g}"
        return noun


@dataclass(frozen=True)
class Choices(Constraint):
    """One of a fixed set of strings, or of integers (e.g. bit widths 16, 32, 64).

    Integer choices follow the integer rule: NumPy integers are accepted, floats and
    booleans are not.
    """

    options: tuple[str, ...] | tuple[int, ...]

    def accepts(self, value) -> bool:
        kind_ok = _is_integer(value) if isinstance(self.options[0], int) else isinstance(value, str)
        return kind_ok and value in self.options

    def normalize(self, value):
        return type(self.options[0])(value)

    def describe(self) -> str:
        return "one of " + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in self.options)


@dataclass(frozen=True)
class NoneAllowed(Constraint):
    """``None``, with what it means (e.g. "weight_rank * rank")."""

    meaning: str

    def accepts(self, value) -> bool:
        return value is None

    def describe(self) -> str:
        return f"None ({self.meaning})"


@dataclass(frozen=True)
class ArrayAllowed(Constraint):
    """A NumPy array (its shape is the algorithm's to check against the problem)."""

    what: str = "an n x d array"

    def accepts(self, value) -> bool:
        return isinstance(value, np.ndarray)

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of one of ``types`` (e.g. a ``numpy.random.SeedSequence``), described as ``what``."""

    types: tuple[type, ...]
    what: str

    def accepts(self, value) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class Option:
    """A declared parameter of an algorithm.

    Attributes
    ----------
    default : object
        The value used when the caller gives none.
    constraints : tuple of Constraint
        A value is valid when any of them accepts it.
    help : str
        What the option does (one line).
    limit : callable(shape) -> int, optional
        A problem-dependent upper bound for integer options (e.g. ``min(n, d)``), with
        ``limit_text`` naming it in messages.
    limit_text : str
    """

    default: Any
    constraints: tuple[Constraint, ...]
    help: str
    limit: Callable[[tuple[int, int]], int] | None = None
    limit_text: str = ""

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.constraints)

    def validate(self, value, *, name: str, algorithm: str = "", shape: tuple[int, int] | None = None):
        """The value, normalised (NumPy scalars to Python numbers), or a ValueError naming it.

        ``algorithm`` names whoever declares the option (an algorithm, a generator,
        ``fisher_problem``...) at the start of the message; empty for none.
        """
        owner = f"{algorithm}: " if algorithm else ""
        for constraint in self.constraints:
            if constraint.accepts(value):
                value = constraint.normalize(value)
                break
        else:
            raise ValueError(f"{owner}invalid {name}={value!r}; {name} must be {self.describe()}")
        if self.limit is not None and shape is not None and _is_integer(value):
            bound = self.limit(shape)
            if value > bound:
                raise ValueError(f"{owner}invalid {name}={value!r}; {name} must be at most "
                                 f"{self.limit_text} = {bound} for this {shape[0]} x {shape[1]} problem")
        return value

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The strings a select box offers, or None when the option is not a choice."""
        for constraint in self.constraints:
            if isinstance(constraint, Choices):
                return constraint.options
        return None

    @property
    def interval(self) -> Interval | None:
        """The numeric range of the option, or None."""
        for constraint in self.constraints:
            if isinstance(constraint, Interval):
                return constraint
        return None

    @property
    def allows_none(self) -> bool:
        return any(isinstance(c, NoneAllowed) for c in self.constraints)


def validate_options(declarations: Mapping[str, Option], given: Mapping[str, Any], *, owner: str,
                     shape: tuple[int, int] | None = None) -> dict[str, Any]:
    """Every declared option's value: given ones validated, the others their defaults.

    Raises ValueError on a name that is not declared (the message lists the declared
    names) or an invalid value (see :meth:`Option.validate`).
    """
    unknown = sorted(set(given) - set(declarations))
    if unknown:
        known = ", ".join(sorted(declarations)) or "none"
        raise ValueError(f"{owner} has no option {unknown[0]!r} (options: {known})")
    return {key: option.validate(given.get(key, option.default), name=key, algorithm=owner, shape=shape)
            for key, option in declarations.items()}


def validate_fields(instance, declarations: Mapping[str, Option], *, owner: str) -> None:
    """Validate the fields of a dataclass ``instance`` (frozen or not) against their
    declarations, in its ``__post_init__``: each field takes its normalised value (NumPy
    scalars become Python numbers), so equality and hashes see plain numbers."""
    for key, value in validate_options(declarations, asdict(instance), owner=owner).items():
        object.__setattr__(instance, key, value)


def check_names(owner: str, what: str, found: Iterable[str], names: Iterable[str]) -> None:
    """The key check: TypeError unless the names ``found`` (e.g. a function's keyword
    parameters) equal the declared ``names``; the message names ``owner`` and each difference."""
    found, names = set(found), set(names)
    if found == names:
        return
    differences = []
    if names - found:
        differences.append(f"declared but not taken: {', '.join(sorted(names - found))}")
    if found - names:
        differences.append(f"taken but not declared: {', '.join(sorted(found - names))}")
    raise TypeError(f"{owner}: {what} do not match its declaration ({'; '.join(differences)})")


def declared(**options: Option) -> Callable:
    """Decorate a function whose parameters are all declared ``options``.

    The function is written without defaults; the decorated function takes each default
    from its :class:`Option` (``inspect.signature`` shows them), validates every argument
    on each call (messages name the function) and passes the normalised values on. Its
    ``options`` attribute holds the declarations. The parameter names must equal the
    declared names (:func:`check_names`, at decoration).
    """

    def decorate(function: Callable) -> Callable:
        owner = function.__name__
        signature = inspect.signature(function)
        check_names(owner, "the parameters", signature.parameters, options)
        signature = signature.replace(parameters=[
            p.replace(default=options[p.name].default) for p in signature.parameters.values()])

        @functools.wraps(function)
        def validated(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, value in bound.arguments.items():
                bound.arguments[name] = options[name].validate(value, name=name, algorithm=owner)
            return function(*bound.args, **bound.kwargs)

        validated.__signature__ = signature
        validated.options = options
        return validated

    return decorate


def parse_option_text(text: str, default=None):
    """A typed-in parameter value: empty means ``default``, JSON numbers/booleans/null
    are parsed, anything else is taken as a string. Validity is the callee's to judge."""
    text = text.strip()
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
