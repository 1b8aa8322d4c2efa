"""Which problem a URL names: one link type per source, each knowing its query parameters,
its words for messages, and how to load its problem from this server (``_sources.py``).

A link is untrusted input (anyone can send one), so every value is checked here, at the
boundary, and a bad one raises :class:`LinkError` with a one-line message. The problem's
parameters (a link without ``source`` means the shipped problem):

* ``source=shipped`` -- :class:`ShippedLink`, the shipped Fashion-MNIST problem (its URL has
  no parameters);
* ``source=digits&hidden=32&epochs=50`` -- :class:`TrainedLink`: scikit-learn digits, an MLP
  trained with these settings (defaults: the dataset's, from
  ``wlra_core.datasets.sources.DATASETS``);
* ``source=tfds&dataset=fashion_mnist&hidden=128&epochs=5`` -- :class:`TrainedLink` on a tfds
  dataset, likewise;
* ``source=synthetic&generator=random_mask&n=100&d=80&rank=5&observed=0.3&noise=0.0&seed=0``
  -- :class:`SyntheticLink`: a seeded generator and every one of its parameters (missing ones
  take their defaults): the same link makes the same problem;
* ``source=demo&generator=masked_image&image=china&observed=0.3&seed=0&downscale=1`` --
  :class:`DemoLink`: an offline demo of missing entries (``masked_image``, ``masked_digits``),
  likewise;
* ``source=upload&upload=KEY`` -- :class:`UploadLink`: an upload this server keeps; KEY is the
  random key :func:`app_pages._sources.keep_upload` gave it (32 hex digits).

Pages' widgets bound to the URL (Streamlit's ``bind="query-params"``) write their own
parameters under their keys, which all have a dash (``compare-trials``); :func:`ignored_values`
names the values of a link a page could not use.
"""
from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from app_pages._sources import (DEMOS, GENERATED, KEPT_UPLOADS, SYNTHETIC, check_synthetic_size, kept_uploads,
                                shipped_problem, stored_trained_problem, synthetic_defaults, synthetic_problem)
from wlra_core import Problem
from wlra_core.datasets.limits import one_line
from wlra_core.datasets.sources import DATASETS
from wlra_core.options import parse_option_text

__all__ = [
    "SOURCES", "DEFAULT_TFDS", "TFDS_DATASETS", "HIDDEN_RANGE", "EPOCHS_RANGE", "PROBLEM_KEYS",
    "is_widget_key", "LinkError", "Notice", "ProblemLink", "ShippedLink", "TrainedLink", "SyntheticLink",
    "DemoLink", "UploadLink", "parse_link", "ignored_values", "parameter_kind",
]

TFDS_DATASETS = tuple(name for name, spec in DATASETS.items() if spec.origin == "tfds")
DEFAULT_TFDS = "fashion_mnist"
HIDDEN_RANGE = (1, 4096)
EPOCHS_RANGE = (1, 200)
UPLOAD_KEY = re.compile(r"[0-9a-f]{32}")
INTEGER = re.compile(r"[+-]?\d{1,15}")


def is_widget_key(key: str) -> bool:
    """Whether a query key belongs to a widget bound to the URL (its key, e.g. ``compare-trials``):
    every widget key of the dashboard has a dash, no problem parameter has one."""
    return "-" in key


# Every query key a problem link can write: the sync removes those the current link lacks.
PROBLEM_KEYS = frozenset({"source", "dataset", "hidden", "epochs", "generator", "upload"}
                         | {name for generator in GENERATED for name in synthetic_defaults(generator)})


class LinkError(ValueError):
    """A link the dashboard cannot follow; the message is one line saying why."""


class Notice(NamedTuple):
    """What a link asked for that is not loaded: the text, and whether the Data page can make it."""

    text: str
    trainable: bool


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


class ProblemLink(ABC):
    """Where a problem comes from, as a link says it; one subclass per source. Links are
    frozen dataclasses: they compare (and hash) by value."""

    source: ClassVar[str]

    def query(self) -> dict[str, str]:
        """The query parameters naming this problem."""
        return {"source": self.source}

    @abstractmethod
    def describe(self) -> str:
        """The problem in words, for messages."""

    @abstractmethod
    def load(self) -> Problem | None:
        """The problem, made or found on this server; None when this server does not have it
        and a link must not make it (:meth:`absent` says why).

        Raises
        ------
        ValueError
            The problem cannot be made (a generator's refusal, an unreadable cache file).
        """

    def absent(self) -> Notice:
        """What to say when :meth:`load` finds nothing (only links whose load may do so say it)."""
        raise NotImplementedError(f"a {type(self).__name__} always loads its problem")

    @classmethod
    @abstractmethod
    def from_query(cls, source: str, values: dict[str, str]) -> ProblemLink:
        """The link of ``source`` from a query's values, taking (popping) the ones it uses;
        raises :class:`LinkError` for a bad value."""


@dataclass(frozen=True)
class ShippedLink(ProblemLink):
    """The shipped problem: the default, so its URL has no parameters."""

    source: ClassVar[str] = "shipped"

    def query(self) -> dict[str, str]:
        return {}

    def describe(self) -> str:
        return "the shipped problem"

    def load(self) -> Problem:
        return shipped_problem()

    @classmethod
    def from_query(cls, source: str, values: dict[str, str]) -> ShippedLink:
        return cls()


@dataclass(frozen=True)
class TrainedLink(ProblemLink):
    """An MLP trained on ``dataset`` with these settings: ``digits`` is its own source, the
    other datasets are tfds's. A link never starts a training (minutes, maybe a download)."""

    dataset: str
    hidden: int
    epochs: int

    @property
    def source(self) -> str:
        return "digits" if self.dataset == "digits" else "tfds"

    @classmethod
    def defaults(cls, dataset: str) -> TrainedLink:
        """``dataset`` with its own hidden units and epochs (the paper's Table 1)."""
        spec = DATASETS[dataset]
        return cls(dataset, spec.hidden, spec.epochs)

    def query(self) -> dict[str, str]:
        dataset = {} if self.dataset == "digits" else {"dataset": self.dataset}
        return {**super().query(), **dataset, "hidden": str(self.hidden), "epochs": str(self.epochs)}

    def describe(self) -> str:
        return f"{self.dataset} with {self.hidden} hidden units and {self.epochs} epochs"

    def load(self) -> Problem | None:
        return stored_trained_problem(self.dataset, self.hidden, self.epochs)

    def absent(self) -> Notice:
        return Notice(f"This link names {self.describe()}, which this server has not trained yet; the shipped "
                      "problem is loaded meanwhile. Train it on the Data page (its settings are preselected).", True)

    @classmethod
    def from_query(cls, source: str, values: dict[str, str]) -> TrainedLink:
        dataset = "digits" if source == "digits" else values.pop("dataset", DEFAULT_TFDS)
        if source == "tfds" and dataset not in TFDS_DATASETS:
            raise LinkError(f"unknown tfds dataset {_shown(dataset)}; the datasets are {', '.join(TFDS_DATASETS)}")
        default = cls.defaults(dataset)
        hidden, epochs = values.pop("hidden", None), values.pop("epochs", None)
        return cls(dataset, default.hidden if hidden is None else _integer("hidden", hidden, HIDDEN_RANGE),
                   default.epochs if epochs is None else _integer("epochs", epochs, EPOCHS_RANGE))


@dataclass(frozen=True)
class SyntheticLink(ProblemLink):
    """A seeded generator's problem. ``params`` holds every parameter of ``generator`` in
    signature order, as ``(name, value)`` pairs (hashable, so links compare by value)."""

    source: ClassVar[str] = "synthetic"
    generators: ClassVar[Mapping[str, Any]] = SYNTHETIC  # the makers this source names
    generator: str
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, generator: str, params: Mapping[str, Any]) -> SyntheticLink:
        """A generated problem; parameters not given take the generator's defaults."""
        return cls(generator, tuple({**synthetic_defaults(generator), **params}.items()))

    def query(self) -> dict[str, str]:
        return {**super().query(), "generator": self.generator,
                **{name: _format(value) for name, value in self.params if value is not None}}

    def describe(self) -> str:
        return f"{self.generator}({', '.join(f'{k}={v!r}' for k, v in self.params)})"

    def load(self) -> Problem:
        return synthetic_problem(self.generator, dict(self.params))

    @classmethod
    def from_query(cls, source: str, values: dict[str, str]) -> SyntheticLink:
        generator = values.pop("generator", "")
        if generator not in cls.generators:
            raise LinkError(f"unknown generator {_shown(generator)}; the generators are {', '.join(cls.generators)}")
        params = {name: default if name not in values else _parameter(name, values.pop(name), default)
                  for name, default in synthetic_defaults(generator).items()}
        if not values:  # sizes are checked once every parameter is known to be used
            try:
                check_synthetic_size(generator, params)
            except ValueError as err:
                raise LinkError(str(err)) from None
        return cls.of(generator, params)


@dataclass(frozen=True)
class DemoLink(SyntheticLink):
    """An offline demo of missing entries (:data:`app_pages._sources.DEMOS`), made like a
    generated problem: the same link makes the same mask."""

    source: ClassVar[str] = "demo"
    generators: ClassVar[Mapping[str, Any]] = DEMOS


@dataclass(frozen=True)
class UploadLink(ProblemLink):
    """An upload this server keeps, by its random key (see :func:`app_pages._sources.keep_upload`)."""

    source: ClassVar[str] = "upload"
    key: str

    def query(self) -> dict[str, str]:
        return {**super().query(), "upload": self.key}

    def describe(self) -> str:
        return "an uploaded problem"

    def load(self) -> Problem | None:
        return kept_uploads().get(self.key)

    def absent(self) -> Notice:
        return Notice(f"This link's uploaded problem is no longer on this server (it keeps the last {KEPT_UPLOADS} "
                      "uploads until it restarts): upload the files again on the Data page. The shipped problem "
                      "is loaded instead.", False)

    @classmethod
    def from_query(cls, source: str, values: dict[str, str]) -> UploadLink:
        key = values.pop("upload", "")
        if not UPLOAD_KEY.fullmatch(key):
            raise LinkError(f"the upload key must be 32 hexadecimal digits, got {_shown(key)}")
        return cls(key)


LINK_TYPES: dict[str, type[ProblemLink]] = {
    "shipped": ShippedLink, "tfds": TrainedLink, "digits": TrainedLink, "synthetic": SyntheticLink,
    "demo": DemoLink, "upload": UploadLink}
SOURCES = tuple(LINK_TYPES)


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
        return ShippedLink()
    values = {}
    for key, texts in given.items():
        if len(texts) != 1:
            raise LinkError(f"{_shown(key)} is given {len(texts)} times")
        values[key] = texts[0]
    source = values.pop("source")
    if source not in LINK_TYPES:
        raise LinkError(f"unknown source {_shown(source)}; the sources are {', '.join(SOURCES)}")
    link = LINK_TYPES[source].from_query(source, values)
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
