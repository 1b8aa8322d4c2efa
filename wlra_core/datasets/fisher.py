"""One pass over the training set: the empirical Fisher of an MLP's hidden kernel (the WLRA
weights W) and the two calibration moments of the data-aware compressions.

For a dense layer ``z_n = x_n A + b`` the per-example gradient of ``loss_n`` with respect
to the kernel is the outer product ``x_n delta_n^T`` with ``delta_n = d loss_n / d z_n``.
Stacking the N training examples as rows of ``X`` and ``Delta``:

- ``W = (X o X)^T (Delta o Delta) / N``: mean squared per-example gradient, entry by
  entry (the paper's Section 4.1);
- ``C = X^T X / N`` (n x n): the input moment ``E[x x^T]``, uncentred, of the inputs as
  the network sees them (pixels times ``input_scale``, in float32 as in training);
- ``G = Delta^T Delta / N`` (h x h): the gradient moment ``E[delta delta^T]``.

``C`` and ``G`` are the Kronecker factors of K-FAC's approximation of the same Fisher
(``E[vec(x delta^T) vec(x delta^T)^T] ~ C (x) G``; :mod:`wlra_core.calibrated`).
One backward pass of the *sum* of the per-example losses gives all rows of ``Delta`` at
once (``loss_n`` depends on ``z_n`` only). An input pixel that is 0 in every training image
gets an exactly zero row of W and of C. :func:`per_example_statistics` is the slow
explicit loop over examples, kept as the reference the tests compare against.

``C`` is computed only for at most :data:`MAX_MOMENT_INPUTS` inputs; see there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .mlp import dense_layers

__all__ = [
    "FisherStatistics",
    "fisher_statistics",
    "per_example_statistics",
    "FISHER_BATCH",
    "MAX_MOMENT_INPUTS",
]

# Examples per backward pass; bounds the (batch x n_inputs) float64 temporary
# (256 x 67500 x 8 bytes = 138 MB for colorectal_histology).
FISHER_BATCH = 256
# Largest input count n for which the n x n input moment C is computed. At 4096, C is
# 128 MiB of float64 (16.8 million entries, within the saved-problem loader's default cap
# of 50 million entries per array, so a saved problem stays loadable) and its
# eigendecomposition takes seconds. mnist, fashion_mnist (784) and digits (64) are under
# it; smallnorb (9216: 680 MB, 85 million entries, minutes per eigendecomposition) and
# colorectal_histology (67500: 36 GB) are over it and get G only.
MAX_MOMENT_INPUTS = 4096
# Progress reports over the whole pass.
REPORTS = 20


@dataclass
class FisherStatistics:
    """What one pass over the training examples measures.

    Attributes
    ----------
    fisher : ndarray of shape (n_inputs, hidden), float64, nonnegative
        Empirical Fisher of the hidden kernel, ``mean_n (x_n delta_n^T)^2``.
    grad_moment : ndarray of shape (hidden, hidden), float64
        ``G = mean_n delta_n delta_n^T``.
    input_moment : ndarray of shape (n_inputs, n_inputs), float64, or None
        ``C = mean_n x_n x_n^T``; None when ``n_inputs`` exceeds the cap.
    input_moment_skipped : str or None
        Why ``input_moment`` is None (one sentence), else None.
    """

    fisher: np.ndarray
    grad_moment: np.ndarray
    input_moment: np.ndarray | None = None
    input_moment_skipped: str | None = None


def _scaled(x: np.ndarray, input_scale: float) -> np.ndarray:
    """The float32 network input for raw pixels ``x`` (what Keras sees in training)."""
    return (np.asarray(x, dtype=np.float32) * np.float32(input_scale)).astype(np.float32)


def _skip_reason(n_inputs: int, cap: int) -> str | None:
    if n_inputs <= cap:
        return None
    gigabytes = n_inputs**2 * 8 / 1e9
    return (f"input_moment not computed: {n_inputs} inputs exceed the cap of {cap} "
            f"(C would be {n_inputs} x {n_inputs} float64, {gigabytes:.3g} GB)")


def fisher_statistics(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    input_scale: float,
    batch_size: int = FISHER_BATCH,
    max_moment_inputs: int = MAX_MOMENT_INPUTS,
    progress: Callable[[float, str], None] | None = None,
) -> FisherStatistics:
    """Empirical Fisher, input moment and gradient moment by the closed forms above.

    Parameters
    ----------
    model : keras.Model
        A :func:`~wlra_core.datasets.mlp.build_mlp` network.
    x : ndarray of shape (N, n_inputs)
        Raw training pixels, one flattened image per row.
    y : ndarray of shape (N,)
        Integer labels.
    input_scale : float
        Multiplies ``x`` to give the network's input.
    batch_size : int
        Examples per backward pass.
    max_moment_inputs : int
        The input moment is computed only when ``n_inputs <= max_moment_inputs``.
    progress : callable(fraction, message), optional

    Returns
    -------
    FisherStatistics
    """
    import keras
    import tensorflow as tf

    hidden, output = dense_layers(model)
    loss_sum = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    n = len(x)
    n_inputs, width = tuple(hidden.kernel.shape)
    skipped = _skip_reason(n_inputs, max_moment_inputs)
    report_every = max(1, -(-n // batch_size) // REPORTS)
    fisher = np.zeros((n_inputs, width), dtype=np.float64)
    grad_moment = np.zeros((width, width), dtype=np.float64)
    input_moment = None if skipped else np.zeros((n_inputs, n_inputs), dtype=np.float64)
    for start in range(0, n, batch_size):
        xb = _scaled(x[start : start + batch_size], input_scale)
        with tf.GradientTape() as tape:
            z = tf.matmul(xb, hidden.kernel) + hidden.bias
            tape.watch(z)
            loss = loss_sum(y[start : start + batch_size], output(hidden.activation(z)))
        delta = tape.gradient(loss, z).numpy().astype(np.float64)
        xb64 = xb.astype(np.float64)
        fisher += (xb64 * xb64).T @ (delta * delta)
        grad_moment += delta.T @ delta
        if input_moment is not None:
            input_moment += xb64.T @ xb64
        done = min(start + batch_size, n)
        if progress is not None and (done == n or (start // batch_size + 1) % report_every == 0):
            progress(done / n, f"Fisher information and moments: {done}/{n} examples")
    return FisherStatistics(
        fisher / n, grad_moment / n, None if input_moment is None else input_moment / n, skipped
    )


def per_example_statistics(model, x: np.ndarray, y: np.ndarray, *, input_scale: float) -> FisherStatistics:
    """Reference: the same statistics by one GradientTape per example.

    Differentiates the whole Keras model's loss with respect to the hidden layer's own
    variables, no closed form: the kernel gradient ``g_n`` gives the Fisher
    ``mean_n g_n o g_n``, the bias gradient (which is ``delta_n``) gives
    ``G = mean_n g_b g_b^T``, and ``C = mean_n x_n x_n^T`` is summed one example at a time.
    O(N) backward passes: for tests on small N. Always computes C.
    """
    import keras
    import tensorflow as tf

    hidden, _ = dense_layers(model)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    shape = (1, *model.input_shape[1:])
    n_inputs, width = tuple(hidden.kernel.shape)
    fisher = np.zeros((n_inputs, width))
    grad_moment = np.zeros((width, width))
    input_moment = np.zeros((n_inputs, n_inputs))
    for xn, yn in zip(x, y):
        inputs = _scaled(xn, input_scale)
        with tf.GradientTape() as tape:
            loss = loss_fn(np.array([yn]), model(inputs.reshape(shape)))
        grads = tape.gradient(loss, [hidden.kernel, hidden.bias])
        kernel_grad, bias_grad = (g.numpy().astype(np.float64) for g in grads)
        fisher += kernel_grad * kernel_grad
        grad_moment += np.outer(bias_grad, bias_grad)
        flat = inputs.astype(np.float64).ravel()
        input_moment += np.outer(flat, flat)
    count = len(x)
    return FisherStatistics(fisher / count, grad_moment / count, input_moment / count)
