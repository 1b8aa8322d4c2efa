"""Model compression: put a low rank approximation of an MLP's hidden kernel back into the
network and measure what the weighted loss buys in test accuracy.

A problem made from a trained MLP (Flatten -> Dense(hidden, relu) -> Dense(classes)) holds
the hidden kernel as ``A``, its empirical Fisher information as ``W`` and the rest of the
network in ``problem.model`` (see the "Trained-MLP problems" convention in the README).
The forward pass here is plain numpy, so no TensorFlow import is needed to evaluate.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np

from . import bench
from .api import solve_ranks
from .problem import Problem
from .result import WLRAResult

__all__ = [
    "MODEL_KEYS",
    "require_model",
    "network_inputs",
    "mlp_logits",
    "mlp_accuracy",
    "uncompressed_row",
    "compression_sweep",
    "SWEEP_COLUMNS",
    "rows_to_csv",
    "format_table",
    "pareto_front",
    "loss_accuracy_correlation",
]

MODEL_KEYS = ("hidden_bias", "output_kernel", "output_bias", "x_test", "y_test")

SWEEP_COLUMNS = (
    "algorithm", "rank", "n_params", "compression_ratio", "loss", "relative_loss",
    "accuracy", "seconds", "failed", "message",
)

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
    scale = float(problem.meta.get("input_scale", 1.0))
    inputs = np.asarray(problem.model["x_test"], dtype=np.float64)
    inputs *= scale
    return inputs


def mlp_logits(problem: Problem, kernel: np.ndarray, *, inputs: np.ndarray | None = None) -> np.ndarray:
    """Output logits of the problem's MLP with its hidden kernel replaced by ``kernel``.

    ``relu(x * input_scale @ kernel + hidden_bias) @ output_kernel + output_bias`` in
    float64 over the stored test inputs, in row batches.

    Parameters
    ----------
    problem : Problem
        A trained-MLP problem (``problem.model`` filled).
    kernel : ndarray of shape (n_inputs, hidden)
    inputs : ndarray of shape (n_test, n_inputs), optional
        :func:`network_inputs` of the problem, if already computed.

    Returns
    -------
    logits : ndarray of shape (n_test, classes)
    """
    require_model(problem)
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.shape != problem.shape:
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


def mlp_accuracy(problem: Problem, kernel: np.ndarray, *, inputs: np.ndarray | None = None) -> float:
    """Test accuracy (fraction of argmax predictions equal to ``y_test``) with ``kernel``."""
    predictions = np.argmax(mlp_logits(problem, kernel, inputs=inputs), axis=1)
    return float(np.mean(predictions == np.asarray(problem.model["y_test"])))


def uncompressed_row(problem: Problem) -> dict:
    """The reference row: the original kernel, all ``n * d`` numbers stored, loss 0."""
    n, d = problem.shape
    return {
        "algorithm": "uncompressed", "rank": min(n, d), "n_params": n * d,
        "compression_ratio": 1.0, "loss": 0.0, "relative_loss": 0.0,
        "accuracy": mlp_accuracy(problem, problem.A), "seconds": 0.0,
        "failed": False, "message": "",
    }


def _row(problem: Problem, result: WLRAResult, inputs: np.ndarray) -> dict:
    n, d = problem.shape
    failed = result.failed or result.approx is None
    return {
        "algorithm": result.algorithm,
        "rank": result.rank,
        "n_params": result.n_params,
        "compression_ratio": n * d / result.n_params if result.n_params > 0 else float("nan"),
        "loss": result.loss,
        "relative_loss": result.relative_loss,
        "accuracy": float("nan") if failed else mlp_accuracy(problem, result.approx, inputs=inputs),
        "seconds": result.seconds,
        "failed": result.failed,
        "message": result.message,
    }


def compression_sweep(
    problem: Problem,
    algorithms: Iterable[str],
    ranks: Iterable[int],
    *,
    seed: int = 0,
    options: Mapping[str, dict] | None = None,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Compress the hidden kernel with each algorithm at each rank and evaluate the network.

    Parameters
    ----------
    problem : Problem
        A trained-MLP problem; ValueError if it has no model.
    algorithms : iterable of str
        Names from :data:`wlra_core.ALGORITHMS`.
    ranks : iterable of int
    seed : int
        Passed to every solve.
    options : mapping name -> dict, optional
        Per-algorithm options (e.g. ``{"svd_w": {"weight_rank": 2}}``).
    progress : callable(fraction, message), optional
        Overall fraction over all algorithms.
    should_stop : callable() -> bool, optional
        Polled by the solvers; True raises :class:`wlra_core.Stopped`.
    on_row : callable(dict), optional
        Called with each row as soon as it is ready (live charts).

    Returns
    -------
    list of dict
        One row per (algorithm, rank) with the keys of :data:`SWEEP_COLUMNS`;
        ``compression_ratio = n * d / n_params`` (kernel entries over stored numbers;
        biases and the output layer are unchanged and not counted).
    """
    require_model(problem)
    algorithms = list(algorithms)
    ranks = list(ranks)
    if not algorithms:
        raise ValueError("no algorithms given")
    options = dict(options or {})
    inputs = network_inputs(problem)
    rows: list[dict] = []

    for index, name in enumerate(algorithms):
        def on_result(result: WLRAResult) -> None:
            row = _row(problem, result, inputs)
            # The dense approximation is only needed for the accuracy just computed;
            # releasing it keeps a sweep over large kernels at one n x d matrix at a time.
            result.approx = None
            rows.append(row)
            if on_row is not None:
                on_row(row)

        def algorithm_progress(fraction: float, message: str, _index=index) -> None:
            if progress is not None:
                progress((_index + fraction) / len(algorithms), message)

        solve_ranks(
            name, problem.A, problem.W, ranks, seed=seed, progress=algorithm_progress,
            should_stop=should_stop, on_result=on_result, **options.get(name, {}),
        )
    return rows


def rows_to_csv(rows: Iterable[dict]) -> str:
    """CSV text (header + one line per row) with the columns of :data:`SWEEP_COLUMNS`."""
    return bench.rows_to_csv(rows, SWEEP_COLUMNS)


def format_table(rows: Iterable[dict]) -> str:
    """Fixed-width text table of sweep rows (the CLI's output)."""
    header = f"{'algorithm':<16} {'rank':>4} {'params':>9} {'ratio':>7} {'loss':>11} {'rel_loss':>9} {'accuracy':>8} {'seconds':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        note = f"  FAILED: {row['message']}" if row["failed"] else ""
        lines.append(
            f"{row['algorithm']:<16} {row['rank']:>4} {row['n_params']:>9} {row['compression_ratio']:>7.2f} "
            f"{row['loss']:>11.4g} {row['relative_loss']:>9.4f} {row['accuracy']:>8.4f} {row['seconds']:>8.3f}{note}"
        )
    return "\n".join(lines)


def pareto_front(rows: Iterable[dict]) -> list[dict]:
    """Rows no other row beats: none has at most as many parameters and higher accuracy.

    Failed rows are ignored; the front is returned by increasing ``n_params`` (and so
    increasing accuracy).
    """
    ok = sorted((r for r in rows if not r["failed"] and np.isfinite(r["accuracy"])),
                key=lambda r: (r["n_params"], -r["accuracy"]))
    front: list[dict] = []
    for row in ok:
        if not front or row["accuracy"] > front[-1]["accuracy"]:
            front.append(row)
    return front


def loss_accuracy_correlation(rows: Iterable[dict]) -> float:
    """Spearman rank correlation of relative weighted loss and accuracy over the rows.

    Near -1: a lower weighted loss reliably means a higher accuracy; near 0 or positive:
    the loss does not predict accuracy. NaN with fewer than 3 usable rows.
    """
    from scipy.stats import spearmanr

    ok = [r for r in rows if not r["failed"] and np.isfinite(r["accuracy"]) and np.isfinite(r["relative_loss"])]
    if len(ok) < 3:
        return float("nan")
    losses = [r["relative_loss"] for r in ok]
    accuracies = [r["accuracy"] for r in ok]
    if np.ptp(losses) == 0 or np.ptp(accuracies) == 0:
        return float("nan")
    return float(spearmanr(losses, accuracies).statistic)
