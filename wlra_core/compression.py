"""Model compression: put a low rank approximation of an MLP's hidden kernel back into the
network and measure what it buys in test accuracy.

A problem made from a trained MLP (Flatten -> Dense(hidden, relu) -> Dense(classes)) holds
the hidden kernel as ``A``, its empirical Fisher information F as ``W`` and the rest of
the network in ``problem.model`` (see the saved-problem format in the README). The
forward pass here is plain numpy through the stored factors (``x @ U @ V`` for a
low-rank kernel), so no TensorFlow import is needed to evaluate.

The weights the WLRA methods minimise with can be F itself (the paper: errors weighted by
F squared) or sqrt(F): the second-order expansion of the training loss,
``dL ~ 1/2 sum F_ij dA_ij^2``, weights squared errors by F, i.e. W = sqrt(F)
(:data:`WEIGHT_TRANSFORMS`). The sweep runs on the engine of :mod:`wlra_core.sweep`
with :class:`TestAccuracy` as its evaluation.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

from .factors import Factorization, LowRank
from .problem import Problem
from .result import WLRAResult
from .algorithms import get_algorithm
from .sweep import Sweep, Update, make_sweep, run_all
from .tables import ResultRow, format_rows

__all__ = [
    "MODEL_KEYS",
    "WEIGHT_TRANSFORMS",
    "TRANSFORM_ALIASES",
    "require_model",
    "network_inputs",
    "mlp_logits",
    "mlp_accuracy",
    "uncompressed_row",
    "transform_label",
    "weight_transform",
    "TestAccuracy",
    "compression_sweep",
    "compression_plan",
    "uses_weights",
    "row_accuracy",
    "TABLE_COLUMNS",
    "format_table",
]

MODEL_KEYS = ("hidden_bias", "output_kernel", "output_bias", "x_test", "y_test")

# Label -> what W is made of, given the Fisher information F stored as the problem's W.
WEIGHT_TRANSFORMS = {
    "F": "W = F, the paper's weighting (errors weighted by F squared)",
    "sqrt(F)": "W = sqrt(F), the second-order expansion of the training loss (errors weighted by F)",
}
# Other spellings of a transform that :func:`transform_label` accepts (``--weights sqrt``).
TRANSFORM_ALIASES = {"sqrt": "sqrt(F)", "sqrtF": "sqrt(F)"}

# Columns of the CLI table and their float formats.
TABLE_COLUMNS = {
    "problem": "", "method": "", "rank": "", "n_params": "", "compression_ratio": ".2f", "loss": ".4g",
    "relative_loss": ".4g", "accuracy": ".4f", "seconds": ".3f",
}

# Test examples pushed through the network at once (bounds the hidden-activation temporary).
EVAL_BATCH = 4096


def require_model(problem: Problem) -> None:
    """Raise ValueError unless ``problem`` carries a trained MLP to evaluate.

    The message names the problem and what is missing, for the UI and the CLI.
    """
    if not problem.has_model:
        raise ValueError(
            f"problem {problem.name!r} has no trained model: compression needs a problem made "
            "from an MLP (e.g. data/fashion_mnist_mlp.npz or `python -m wlra_core fisher`)"
        )
    missing = [key for key in MODEL_KEYS if key not in problem.model]
    if missing:
        raise ValueError(f"problem {problem.name!r} model lacks {', '.join(missing)}")
    n, hidden = problem.shape
    shapes = {
        "hidden_bias": (hidden,),
        "output_kernel": (hidden, None),
        "x_test": (None, n),
    }
    for key, expected in shapes.items():
        actual = np.shape(problem.model[key])
        if len(actual) != len(expected) or any(e is not None and a != e for a, e in zip(actual, expected)):
            want = " x ".join("*" if e is None else str(e) for e in expected)
            raise ValueError(f"model {key} has shape {actual}, expected {want} for A of shape {problem.shape}")
    classes = np.shape(problem.model["output_kernel"])[1]
    if np.shape(problem.model["output_bias"]) != (classes,):
        raise ValueError(f"model output_bias has shape {np.shape(problem.model['output_bias'])}, expected ({classes},)")
    if np.shape(problem.model["y_test"]) != (np.shape(problem.model["x_test"])[0],):
        raise ValueError("model y_test must hold one label per row of x_test")


def network_inputs(problem: Problem) -> np.ndarray:
    """The stored test inputs as the network sees them: float64 ``x_test * input_scale``.

    Converting 10 000 Fashion-MNIST images costs about as much as one forward pass, so a
    sweep computes this once and passes it to every evaluation.
    """
    require_model(problem)
    # A new array: scaling in place would rescale a float64 x_test stored in the model.
    return np.multiply(problem.model["x_test"], float(problem.meta.get("input_scale", 1.0)), dtype=np.float64)


def mlp_logits(problem: Problem, kernel: np.ndarray, *, inputs: np.ndarray | None = None) -> np.ndarray:
    """Output logits of the problem's MLP with its hidden kernel replaced by ``kernel``.

    ``relu(x * input_scale @ kernel + hidden_bias) @ output_kernel + output_bias`` in
    float64 over the stored test inputs, in row batches.

    Parameters
    ----------
    problem : Problem
        A trained-MLP problem (``problem.model`` filled).
    kernel : ndarray of shape (n_inputs, hidden), or Factorization
        A :class:`~wlra_core.factors.LowRank` kernel is applied as ``(x @ U) @ V``; any
        other factorization is rebuilt once.
    inputs : ndarray of shape (n_test, n_inputs), optional
        :func:`network_inputs` of the problem, if already computed.

    Returns
    -------
    logits : ndarray of shape (n_test, classes)
    """
    require_model(problem)
    if not isinstance(kernel, Factorization):
        kernel = np.asarray(kernel, dtype=np.float64)
    elif not isinstance(kernel, LowRank):
        # x @ kernel rebuilds a reweighted X block by block: once here, not once per batch.
        kernel = kernel.dense()
    if tuple(kernel.shape) != problem.shape:
        raise ValueError(f"kernel has shape {kernel.shape}, expected {problem.shape}")
    if inputs is None:
        inputs = network_inputs(problem)
    model = problem.model
    b1 = np.asarray(model["hidden_bias"], dtype=np.float64)
    W2 = np.asarray(model["output_kernel"], dtype=np.float64)
    b2 = np.asarray(model["output_bias"], dtype=np.float64)
    logits = np.empty((inputs.shape[0], W2.shape[1]))
    for start in range(0, inputs.shape[0], EVAL_BATCH):
        rows = slice(start, start + EVAL_BATCH)
        hidden = np.maximum(inputs[rows] @ kernel + b1, 0.0)
        logits[rows] = hidden @ W2 + b2
    return logits


def mlp_accuracy(problem: Problem, kernel, *, inputs: np.ndarray | None = None) -> float:
    """Test accuracy (fraction of argmax predictions equal to ``y_test``) with ``kernel``."""
    predictions = np.argmax(mlp_logits(problem, kernel, inputs=inputs), axis=1)
    return float(np.mean(predictions == np.asarray(problem.model["y_test"])))


def uncompressed_row(problem: Problem, label: str = "F") -> ResultRow:
    """The reference row: the original kernel, all ``n * d`` numbers stored, loss 0.

    ``label`` is the row's ``problem``: the weight transform it is listed under (its
    accuracy does not depend on W; give the first transform of the sweep). No solve made
    it, so it has no trial, seed or options.
    """
    n, d = problem.shape
    return ResultRow(problem=label, method="uncompressed", algorithm="uncompressed", rank=min(n, d), loss=0.0,
                     relative_loss=0.0, seconds=0.0, n_params=n * d,
                     evaluation={"accuracy": mlp_accuracy(problem, problem.A), "compression_ratio": 1.0})


def transform_label(text: str) -> str:
    """The key of :data:`WEIGHT_TRANSFORMS` that ``text`` names (the key itself or one of
    :data:`TRANSFORM_ALIASES`, surrounding spaces ignored); ValueError otherwise."""
    label = text.strip()
    label = TRANSFORM_ALIASES.get(label, label)
    if label not in WEIGHT_TRANSFORMS:
        raise ValueError(f"unknown weight transform {text[:40]!r}; choose from {', '.join(WEIGHT_TRANSFORMS)}")
    return label


def weight_transform(problem: Problem, transform: str) -> Problem:
    """The problem with W made from its Fisher information by ``transform`` (see
    :func:`transform_label`); the model and meta are shared."""
    if transform_label(transform) == "F":
        return problem
    return Problem(problem.A, np.sqrt(problem.W), name=f"{problem.name}, W = sqrt(F)", source=problem.source,
                   meta=problem.meta, model=problem.model)


class _InputsCache:
    """:func:`network_inputs` of the last model evaluated, shared by threads and sessions.

    The inputs depend on the model's ``x_test`` and ``input_scale`` only, so the problems
    of one model (W = F and W = sqrt(F)) share one entry. The entry holds the ``x_test``
    array it was made from and is matched by identity: the reference keeps that array
    alive, so its identity cannot be reused by another. A lock serialises lookups, so two
    threads (a sweep's worker and its measurer, or two sessions) never see a half-made
    entry, and the one that waits reuses what the other computed.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entry: tuple[np.ndarray, float, np.ndarray] | None = None  # x_test, input_scale, inputs

    def get(self, problem: Problem) -> np.ndarray:
        require_model(problem)
        x_test, scale = problem.model["x_test"], float(problem.meta.get("input_scale", 1.0))
        with self._lock:
            entry = self._entry
            if entry is None or entry[0] is not x_test or entry[1] != scale:
                entry = self._entry = (x_test, scale, network_inputs(problem))
        return entry[2]


_INPUTS = _InputsCache()


@dataclass(frozen=True)
class TestAccuracy:
    """The sweep evaluation: test accuracy of the network with each approximation as its
    hidden kernel, and the compression ratio ``n * d / n_params`` (kernel entries over
    stored numbers; biases and the output layer are unchanged and not counted)."""

    name: str = "test accuracy"
    columns: tuple[str, ...] = ("accuracy", "compression_ratio")

    def __call__(self, problem: Problem, result: WLRAResult) -> dict[str, float]:
        # Converting 10 000 images costs about one forward pass: made once per model.
        inputs = _INPUTS.get(problem)
        n, d = problem.shape
        return {"accuracy": mlp_accuracy(problem, result.factors, inputs=inputs),
                "compression_ratio": n * d / result.n_params}


def compression_sweep(
    problem: Problem,
    algorithms: Iterable[str],
    ranks: Iterable[int],
    *,
    transforms: Iterable[str] = ("F",),
    seed: int = 0,
    options: Mapping[str, dict] | None = None,
    on_update: Callable[[Update], None] | None = None,
    executor=None,
) -> tuple[list[ResultRow], list[str]]:
    """Compress the hidden kernel with each algorithm at each rank and evaluate the network.

    Parameters
    ----------
    problem : Problem
        A trained-MLP problem (its W is the Fisher information F); ValueError without a model.
    algorithms : iterable of str
        Names from :data:`wlra_core.ALGORITHMS`.
    ranks : iterable of int
    transforms : iterable of str
        Keys of :data:`WEIGHT_TRANSFORMS` (or :data:`TRANSFORM_ALIASES`): the weights each
        method runs with.
    seed : int
    options : mapping name -> dict, optional
        Per-algorithm options (e.g. ``{"svd_w": {"weight_floor": 1e-3}}``).
    on_update : callable(Update), optional
        Called with every :class:`wlra_core.sweep.Update` (live charts, CLI progress).

    Returns
    -------
    rows : list of ResultRow
        One row per (transform, algorithm, rank), with ``accuracy`` and
        ``compression_ratio`` in its ``evaluation``; the row's ``problem`` is the transform.
    errors : list of str
        One line per method that could not run (e.g. kfac without calibration moments).
    """
    return run_all(compression_plan(problem, algorithms, ranks, transforms=transforms, seed=seed, options=options),
                   executor=executor, on_update=on_update)


def compression_plan(problem: Problem, algorithms: Iterable[str], ranks: Iterable[int], *,
                     transforms: Iterable[str] = ("F",), seed: int = 0,
                     options: Mapping[str, dict] | None = None,
                     transformed: Callable[[Problem, str], Problem] = weight_transform) -> Sweep:
    """The sweep of :func:`compression_sweep`: methods that use W run once per weight
    transform, the others (svd, whiten, kfac) once, under the first transform's label.

    ``transformed(problem, label)`` makes each transform's problem (the dashboard passes a
    cached :func:`weight_transform`, so that every rerun shares one sqrt(F))."""
    require_model(problem)
    transforms = list(dict.fromkeys(map(transform_label, transforms)))
    if not transforms:
        raise ValueError("choose at least one weight transform")
    problems = {label: transformed(problem, label) for label in transforms}
    return make_sweep(problems, list(algorithms), ranks, 1, seed, options, evaluation=TestAccuracy(),
                      include=lambda label, method: label == transforms[0] or uses_weights(method.algorithm))


def uses_weights(algorithm: str) -> bool:
    """Whether ``algorithm`` minimises with W, and so runs once per weight transform."""
    return get_algorithm(algorithm).uses_weights


def row_accuracy(row: ResultRow) -> float:
    """A compression row's test accuracy (its :class:`TestAccuracy` column)."""
    return row.evaluation["accuracy"]


def format_table(rows: Iterable[ResultRow]) -> str:
    """Fixed-width text table of compression rows (the CLI's output)."""
    return format_rows(rows, TABLE_COLUMNS)
