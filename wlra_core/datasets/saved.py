"""What a saved problem carries besides A and W, checked when the file is loaded.

A saved problem (:func:`wlra_core.datasets.io.save_problem`) may hold 0-d string arrays
``name``, ``source`` and ``meta`` (a JSON object), ``model_*`` arrays and a ``truth``
array (the complete matrix behind a masked A, A's shape). Pages and the
CLI read them -- the test accuracy, the image shape, the network a compressed kernel is
put back into -- so a wrong type there would break every page long after the load.

Policy: **these extras never decide whether a file loads. One that fails its check is
dropped and a warning says which and why; A and W alone decide.** The warnings are kept
in ``problem.meta["load_warnings"]`` for the Data page and the CLI to show.

Known ``meta`` fields are those :func:`wlra_core.datasets.pipeline.fisher_problem`
writes (:data:`META_FIELDS`); unknown fields are kept as they are (nothing reads them).
``model_*`` arrays must be real, finite numbers, and the known ones must have the
shapes :data:`MODEL_SHAPES` gives for A of shape ``(n, h)``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..options import Interval
from .limits import one_line

__all__ = ["META_FIELDS", "MODEL_SHAPES", "MODEL_PREFIX", "Extras", "saved_extras"]

MODEL_PREFIX = "model_"

# Dimension names: n, h are A's rows and columns; the others are fixed by the first
# array that has them (output_kernel fixes "classes", x_test fixes "test").
MODEL_SHAPES = {
    "hidden_bias": ("h",),
    "output_kernel": ("h", "classes"),
    "output_bias": ("classes",),
    "x_test": ("test", "n"),
    "y_test": ("test",),
    "input_moment": ("n", "n"),
    "grad_moment": ("h", "h"),
}

_NAME_LENGTH = 200


Check = tuple[Callable[[Any], bool], str]


def _number(interval: Interval, description: str | None = None) -> Check:
    """The test of an algorithm-option :class:`~wlra_core.options.Interval`, with its
    description (or ``description`` where JSON's wording differs from the options')."""
    return interval.accepts, description or interval.describe()


def _optional(check: Check) -> Check:
    return (lambda v: v is None or check[0](v)), f"{check[1]} or null"


def _list_of(check: Check, description: str) -> Check:
    return (lambda v: isinstance(v, list) and all(check[0](x) for x in v)), description


_TEXT: Check = (lambda v: isinstance(v, str), "a string")
_COUNT = _number(Interval(int, 1))
_FRACTION = _number(Interval(float, 0.0, 1.0), "a number between 0 and 1")
_NONNEGATIVE = _number(Interval(float, 0.0))
_POSITIVE = _number(Interval(float, 0.0, closed="neither"))

META_FIELDS: dict[str, Check] = {
    "dataset": _TEXT,
    "hidden": _COUNT,
    "epochs": _COUNT,
    "seed": _number(Interval(int)),
    "batch_size": _COUNT,
    "max_train": _optional(_COUNT),
    "n_train": _number(Interval(int, 0)),
    "n_test": _number(Interval(int, 0)),
    "test_accuracy": _optional(_FRACTION),
    "train_loss": _list_of(_NONNEGATIVE, "a list of numbers >= 0"),
    "train_accuracy": _list_of(_FRACTION, "a list of numbers between 0 and 1"),
    "input_scale": _POSITIVE,
    "data_source": _TEXT,
    "data_location": _TEXT,
    "weights": _TEXT,
    "calibration": _TEXT,
    "input_moment_skipped": _TEXT,
    "fisher_batch": _COUNT,
    "train_seconds": _NONNEGATIVE,
    "fisher_seconds": _NONNEGATIVE,
    "paper_first_singular_mass": _optional(_FRACTION),
    "cache_version": _number(Interval(int, 0)),
    # A itself is a grayscale image (row i of A is row i of the picture): demos of missing pixels.
    "matrix_is_image": ((lambda v: isinstance(v, bool)), "true or false"),
}


def _image_shape_check(n: int, what: str = "rows") -> Check:
    """``image_shape`` says the rows of A are the pixels of an image: its size must be n
    (``row_image_shape``: each row of A is an image, so its size is A's d columns)."""
    def ok(value) -> bool:
        return (isinstance(value, list) and 1 <= len(value) <= 4 and all(_COUNT[0](x) for x in value)
                and math.prod(value) == n)
    return (lambda v: v is None or ok(v)), f"null or a list of positive integers whose product is A's {n} {what}"


@dataclass
class Extras:
    """The checked extras of one saved problem (None / empty when absent or dropped)."""

    name: str | None = None
    source: str | None = None
    meta: dict = field(default_factory=dict)
    model: dict[str, np.ndarray] = field(default_factory=dict)
    truth: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


def _shown(value) -> str:
    return one_line(repr(value), 60)


def _string(arrays: dict, key: str, warn: Callable[[str], None]) -> str | None:
    """A 0-d string array's text, or None (with a warning when it is there but wrong)."""
    if key not in arrays:
        return None
    value = arrays[key]
    if value.dtype.kind != "U" or value.ndim != 0:
        warn(f"array {key!r} dropped: expected a single string, got dtype {value.dtype} shape {value.shape}")
        return None
    return str(value)


def _label_text(arrays: dict, key: str, warn) -> str | None:
    """``name`` or ``source``: a string shown in page headers, so one short printable line."""
    text = _string(arrays, key, warn)
    if text is not None and not (text.isprintable() and 1 <= len(text) <= _NAME_LENGTH):
        warn(f"array {key!r} dropped: expected one line of 1 to {_NAME_LENGTH} printable characters, "
             f"got {_shown(text)}")
        return None
    return text


def _meta(arrays: dict, shape: tuple[int, int], warn) -> dict:
    text = _string(arrays, "meta", warn)
    if text is None:
        return {}
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as err:  # bad JSON, too many digits, nesting too deep
        warn(f"array 'meta' dropped: not valid JSON ({one_line(err, 80)})")
        return {}
    if not isinstance(meta, dict):
        warn(f"array 'meta' dropped: expected a JSON object, got {type(meta).__name__}")
        return {}
    checks = {**META_FIELDS, "image_shape": _image_shape_check(shape[0]),
              "row_image_shape": _image_shape_check(shape[1], "columns")}
    for key, (ok, expected) in checks.items():
        if key in meta and not ok(meta[key]):
            warn(f"meta field {key!r} dropped: {_shown(meta.pop(key))} is not {expected}")
    return meta


def _model_defect(key: str, array: np.ndarray, sizes: dict[str, int]) -> str | None:
    """What is wrong with one model array (binding new dimension names in ``sizes``), or None."""
    if array.dtype.kind not in "iuf":
        return f"dtype {array.dtype} is not real numbers"
    if key == "y_test" and array.dtype.kind not in "iu":
        return f"class labels must be integers, got dtype {array.dtype}"
    if array.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            return f"{bad} NaN/Inf entries"
    expected = MODEL_SHAPES.get(key)
    if expected is None:
        return None
    wanted = tuple(sizes.get(name, name) for name in expected)
    if array.ndim != len(expected) or any(isinstance(w, int) and w != s for w, s in zip(wanted, array.shape)):
        shown = "(" + ", ".join(map(str, wanted)) + ("," if len(wanted) == 1 else "") + ")"
        return f"shape {array.shape}, expected {shown} for A of shape {sizes['n']} x {sizes['h']}"
    if array.size == 0:
        return f"it is empty (shape {array.shape})"
    sizes.update(zip(expected, array.shape))
    return None


def _model(arrays: dict, shape: tuple[int, int], warn) -> dict[str, np.ndarray]:
    found = {k[len(MODEL_PREFIX):]: v for k, v in arrays.items() if k.startswith(MODEL_PREFIX)}
    sizes = {"n": shape[0], "h": shape[1]}
    model = {}
    for key in [k for k in MODEL_SHAPES if k in found] + sorted(set(found) - set(MODEL_SHAPES)):
        defect = _model_defect(key, found[key], sizes)
        if defect is None:
            model[key] = found[key]
        else:
            warn(f"model array {key!r} dropped: {defect}")
    return model


def _truth(arrays: dict, shape: tuple[int, int], warn) -> np.ndarray | None:
    """The complete matrix behind a masked A: real, finite, A's shape; else dropped."""
    if "truth" not in arrays:
        return None
    truth = arrays["truth"]
    if truth.dtype.kind not in "iuf":
        defect = f"dtype {truth.dtype} is not real numbers"
    elif truth.shape != shape:
        defect = f"shape {truth.shape}, expected A's {shape}"
    elif not np.isfinite(truth).all():
        defect = f"{int(np.count_nonzero(~np.isfinite(truth)))} NaN/Inf entries"
    else:
        return np.ascontiguousarray(truth, dtype=np.float64)
    warn(f"array 'truth' dropped: {defect}")
    return None


def saved_extras(arrays: dict[str, np.ndarray], label: str, shape: tuple[int, int]) -> Extras:
    """Check a file's ``name``, ``source``, ``meta`` and ``model_*`` arrays against A's shape.

    Parameters
    ----------
    arrays : dict of ndarray
        The arrays read from the file (A and W among them).
    label : str
        The file's name, prefixed to every warning.
    shape : (n, h)
        A's shape, which the model arrays and ``image_shape`` must fit.

    Returns
    -------
    Extras
        What passed, and one warning (``"<file>: ... dropped: ..."``) per thing dropped.
    """
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(f"{label}: {message}")

    return Extras(
        name=_label_text(arrays, "name", warn),
        source=_label_text(arrays, "source", warn),
        meta=_meta(arrays, shape, warn),
        model=_model(arrays, shape, warn),
        truth=_truth(arrays, shape, warn),
        warnings=warnings,
    )
