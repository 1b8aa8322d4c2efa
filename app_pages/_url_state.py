"""The dashboard's state in its URL, without Streamlit: which problem a link names, how a
loaded problem is written as one, and what a link asked for that a page could not use.

A link is untrusted input (anyone can send one), so every value is checked here, at the
boundary, and a bad one raises :class:`LinkError` with a one-line message. The problem's
parameters (a link without ``source`` means the shipped problem):

* ``source=shipped`` -- the shipped Fashion-MNIST problem (its URL has no parameters);
* ``source=digits&hidden=32&epochs=50`` -- scikit-learn digits, an MLP trained with these
  settings (defaults: the dataset's, from ``wlra_core.datasets.sources.DATASETS``);
* ``source=tfds&dataset=fashion_mnist&hidden=128&epochs=5`` -- a tfds dataset, likewise;
* ``source=synthetic&generator=random_mask&n=100&d=80&rank=5&observed=0.3&noise=0.0&seed=0``
  -- a seeded generator and every one of its parameters (missing ones take their
  defaults): the same link makes the same problem;
* ``source=upload&upload=KEY`` -- an upload this server keeps; KEY is the problem's
  :func:`wlra_core.problem.fingerprint` (32 hex digits).

Pages' widgets bound to the URL (Streamlit's ``bind="query-params"``) write their own
parameters under their keys, which all have a dash (``compare-trials``); :func:`ignored_values`
names the values of a link a page could not use.
"""
from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from wlra_core.datasets.fisher_like import fisher_like_problem
from wlra_core.datasets.limits import LoadBudget, one_line
from wlra_core.datasets.sources import DATASETS
from wlra_core.datasets.synthetic import GENERATORS
from wlra_core.options import parse_option_text

__all__ = [
    "SOURCES", "DEFAULT_TFDS", "SYNTHETIC", "TFDS_DATASETS", "HIDDEN_RANGE", "EPOCHS_RANGE", "SYNTHETIC_MAX_ENTRIES",
    "is_widget_key", "PROBLEM_KEYS", "LinkError", "ProblemLink", "parse_link", "synthetic_defaults",
    "check_synthetic_size", "ignored_values", "parameter_kind",
]

SOURCES = ("shipped", "tfds", "digits", "synthetic", "upload")
# The teaching generators, and Fisher-like problems up to the paper's largest kernels.
SYNTHETIC = {**GENERATORS, "fisher_like": fisher_like_problem}
TFDS_DATASETS = tuple(name for name, spec in DATASETS.items() if spec.origin == "tfds")
DEFAULT_TFDS = "fashion_mnist"
HIDDEN_RANGE = (1, 4096)
EPOCHS_RANGE = (1, 200)
# Entries of A (and of W) a generated problem may have: the paper's largest kernel
# (colorectal_histology, 67500 x 1024: two 550 MB matrices). Memory is checked too.
SYNTHETIC_MAX_ENTRIES = 67_500 * 1_024
UPLOAD_KEY = re.compile(r"[0-9a-f]{32}")
INTEGER = re.compile(r"[+-]?\d{1,15}")


def is_widget_key(key: str) -> bool:
    """Whether a query key belongs to a widget bound to the URL (its key, e.g. ``compare-trials``):
    every widget key of the dashboard has a dash, no problem parameter has one."""
    return "-" in key


def synthetic_defaults(generator: str) -> dict[str, Any]:
    """A generator's parameters and their defaults, in signature order."""
    return {name: p.default for name, p in inspect.signature(SYNTHETIC[generator]).parameters.items()}


# Every query key a problem link can write: the sync removes those the current link lacks.
PROBLEM_KEYS = frozenset({"source", "dataset", "hidden", "epochs", "generator", "upload"}
                         | {name for generator in SYNTHETIC for name in synthetic_defaults(generator)})


class LinkError(ValueError):
    """A link the dashboard cannot follow; the message is one line saying why."""


def _shown(text: str) -> str:
    """A value from a link, quoted and shortened for a message."""
    return repr(one_line(text, 60))


def _integer(name: str, text: str, bounds: tuple[int, int] | None = None) -> int:
    if not INTEGER.fullmatch(text.strip()):
        within = "" if bounds is None else f" from {bounds[0]} to {bounds[1]}"
        raise LinkError(f"{name} must be an integer{within}, got {_shown(text)}")
    value = int(text)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise LinkError(f"{name} must be an integer from {bounds[0]} to {bounds[1]}, got {value}")
    return value


def parameter_kind(default) -> str:
    """How a generator parameter is typed, from its default: ``"integer"``, ``"number"`` or
    ``"text"`` (JSON or text, see :func:`wlra_core.options.parse_option_text`). The Data
    page's widget for it and :func:`parse_link` both follow it."""
    if isinstance(default, int) and not isinstance(default, bool):
        return "integer"
    return "number" if isinstance(default, float) else "text"


def _parameter(name: str, text: str, default):
    """A generator parameter from its link text, typed like the Data page's widget for it."""
    if isinstance(default, bool):  # no generator has one; refuse rather than guess
        raise LinkError(f"{name} cannot be set from a link")
    kind = parameter_kind(default)
    if kind == "integer":
        return _integer(name, text)
    if kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise LinkError(f"{name} must be a number, got {_shown(text)}") from None
        if not math.isfinite(value):
            raise LinkError(f"{name} must be a finite number, got {_shown(text)}")
        return value
    return parse_option_text(text, default)  # as typed into the Data page: JSON or text


def _format(value) -> str:
    """A parameter value as link text that reads back to the same value."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return json.dumps(value)
    return str(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))


def check_synthetic_size(generator: str, params: Mapping[str, Any]) -> None:
    """Refuse (:class:`LinkError`) a generated problem over :data:`SYNTHETIC_MAX_ENTRIES` entries
    or the memory left, before generating it. ``block_diagonal`` and a ``d`` of None are n x n."""
    n, d = params.get("n"), params.get("d")
    d = n if d is None else d
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (n, d)):
        return  # the generator itself names the bad size
    budget = LoadBudget(max_bytes=None, max_entries=SYNTHETIC_MAX_ENTRIES)
    try:
        for matrix in ("A", "W"):
            budget.claim(generator, (int(n), int(d)), np.dtype(np.float64), matrix=True, what=f"{matrix} ({n} x {d})")
    except ValueError as err:
        raise LinkError(str(err)) from None


@dataclass(frozen=True)
class ProblemLink:
    """Where a problem comes from, as a link says it (see the module's table).

    ``params`` holds every parameter of ``generator`` in signature order, as
    ``(name, value)`` pairs (hashable, so links compare by value).
    """

    source: str = "shipped"
    dataset: str | None = None
    hidden: int | None = None
    epochs: int | None = None
    generator: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    upload: str | None = None

    @classmethod
    def trained(cls, dataset: str, hidden: int, epochs: int) -> ProblemLink:
        """An MLP problem: ``digits`` is its own source, the others are tfds datasets."""
        return cls("digits" if dataset == "digits" else "tfds", dataset=dataset, hidden=int(hidden),
                   epochs=int(epochs))

    @classmethod
    def synthetic(cls, generator: str, params: Mapping[str, Any]) -> ProblemLink:
        """A generated problem; parameters not given take the generator's defaults."""
        values = {**synthetic_defaults(generator), **params}
        return cls("synthetic", generator=generator, params=tuple(values.items()))

    def query(self) -> dict[str, str]:
        """The query parameters naming this problem (none for the shipped one)."""
        if self.source == "shipped":
            return {}
        out = {"source": self.source}
        if self.source == "tfds":
            out["dataset"] = self.dataset
        if self.source in ("tfds", "digits"):
            out.update(hidden=str(self.hidden), epochs=str(self.epochs))
        elif self.source == "synthetic":
            out["generator"] = self.generator
            out.update({name: _format(value) for name, value in self.params if value is not None})
        elif self.source == "upload":
            out["upload"] = self.upload
        return out

    def describe(self) -> str:
        """The problem in words, for messages."""
        if self.source in ("tfds", "digits"):
            return f"{self.dataset} with {self.hidden} hidden units and {self.epochs} epochs"
        if self.source == "synthetic":
            return f"{self.generator}({', '.join(f'{k}={v!r}' for k, v in self.params)})"
        return "an uploaded problem" if self.source == "upload" else "the shipped problem"


def parse_link(query: Mapping[str, list[str]]) -> ProblemLink:
    """The problem a URL's query names (without ``source``: the shipped problem).

    Parameters
    ----------
    query : mapping of str to list of str
        Every query parameter with all its values (``st.query_params.get_all``). Widget
        keys (:func:`is_widget_key`) are skipped.

    Raises
    ------
    LinkError
        An unknown source, dataset or generator, a parameter given twice, one that is not
        a number or out of range, one the source does not use, or a generated problem too
        large to make.
    """
    given = {key: values for key, values in query.items() if not is_widget_key(key)}
    if "source" not in given:
        return ProblemLink()
    values = {}
    for key, texts in given.items():
        if len(texts) != 1:
            raise LinkError(f"{_shown(key)} is given {len(texts)} times")
        values[key] = texts[0]
    source = values.pop("source")
    if source not in SOURCES:
        raise LinkError(f"unknown source {_shown(source)}; the sources are {', '.join(SOURCES)}")
    if source == "shipped":
        link = ProblemLink()
    elif source in ("tfds", "digits"):
        dataset = "digits" if source == "digits" else values.pop("dataset", DEFAULT_TFDS)
        if source == "tfds" and dataset not in TFDS_DATASETS:
            raise LinkError(f"unknown tfds dataset {_shown(dataset)}; the datasets are {', '.join(TFDS_DATASETS)}")
        spec = DATASETS[dataset]
        hidden, epochs = values.pop("hidden", None), values.pop("epochs", None)
        link = ProblemLink.trained(
            dataset, spec.hidden if hidden is None else _integer("hidden", hidden, HIDDEN_RANGE),
            spec.epochs if epochs is None else _integer("epochs", epochs, EPOCHS_RANGE))
    elif source == "synthetic":
        generator = values.pop("generator", "")
        if generator not in SYNTHETIC:
            raise LinkError(f"unknown generator {_shown(generator)}; the generators are {', '.join(SYNTHETIC)}")
        params = {name: default if name not in values else _parameter(name, values.pop(name), default)
                  for name, default in synthetic_defaults(generator).items()}
        if not values:  # sizes are checked once every parameter is known to be used
            check_synthetic_size(generator, params)
        link = ProblemLink.synthetic(generator, params)
    else:
        key = values.pop("upload", "")
        if not UPLOAD_KEY.fullmatch(key):
            raise LinkError(f"the upload key must be 32 hexadecimal digits, got {_shown(key)}")
        link = ProblemLink("upload", upload=key)
    if values:
        raise LinkError(f"source={source} does not use {', '.join(_shown(k) for k in sorted(values)[:5])}"
                        + (f" and {len(values) - 5} more" if len(values) > 5 else ""))
    return link


def _canonical(text: str) -> str:
    """Link text compared as the widget's value: integers without leading zeros or signs."""
    return str(int(text)) if INTEGER.fullmatch(text) else text


def ignored_values(linked: Mapping[str, list[str]], used: Mapping[str, list[str]]) -> list[str]:
    """``key=value`` for each value a link gave a bound widget that the widget did not take.

    Parameters
    ----------
    linked : mapping of str to list of str
        The URL's values per widget key before the widgets ran (empty: not in the link).
    used : mapping of str to list of str
        The widgets' values afterwards, as text (``str`` of each number or option).
    """
    return [f"{key}={one_line(value, 60)}" for key, values in linked.items()
            for value in values if _canonical(value) not in map(_canonical, used.get(key, []))]
