"""Empirical Fisher information of an MLP's hidden kernel: the WLRA weights W.

``W[i, j]`` is the mean over the N training examples of the squared per-example
gradient ``(d loss_n / d A[i, j])^2`` (the paper's Section 4.1). For a dense layer
``z_n = x_n A + b`` the per-example gradient is the outer product ``x_n delta_n^T`` with
``delta_n = d loss_n / d z_n``, so

    W = (X o X)^T (Delta o Delta) / N,

where one backward pass of the *sum* of the per-example losses gives all rows of
``Delta`` at once (``loss_n`` depends on ``z_n`` only). An input pixel that is 0 in every
training image gets an exactly zero row. :func:`per_example_fisher` is the slow explicit
loop over examples, kept as the reference the tests compare against.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .mlp import dense_layers

__all__ = ["empirical_fisher", "per_example_fisher", "FISHER_BATCH"]

# Examples per backward pass; bounds the (batch x n_inputs) float64 temporary
# (256 x 67500 x 8 bytes = 138 MB for colorectal_histology).
FISHER_BATCH = 256
# Progress reports over the whole pass.
REPORTS = 20


def _scaled(x: np.ndarray, input_scale: float) -> np.ndarray:
    """The float32 network input for raw pixels ``x`` (what Keras sees in training)."""
    return (np.asarray(x, dtype=np.float32) * np.float32(input_scale)).astype(np.float32)


def empirical_fisher(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    input_scale: float,
    batch_size: int = FISHER_BATCH,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Empirical Fisher of the hidden kernel of ``model`` by the closed form above.

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
    progress : callable(fraction, message), optional

    Returns
    -------
    W : ndarray of shape (n_inputs, hidden), float64, nonnegative
    """
    import keras
    import tensorflow as tf

    hidden, output = dense_layers(model)
    loss_sum = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    n = len(x)
    report_every = max(1, -(-n // batch_size) // REPORTS)
    fisher = np.zeros(tuple(hidden.kernel.shape), dtype=np.float64)
    for start in range(0, n, batch_size):
        xb = _scaled(x[start : start + batch_size], input_scale)
        with tf.GradientTape() as tape:
            z = tf.matmul(xb, hidden.kernel) + hidden.bias
            tape.watch(z)
            loss = loss_sum(y[start : start + batch_size], output(hidden.activation(z)))
        delta = tape.gradient(loss, z).numpy().astype(np.float64)
        xb64 = xb.astype(np.float64)
        fisher += (xb64 * xb64).T @ (delta * delta)
        done = min(start + batch_size, n)
        if progress is not None and (done == n or (start // batch_size + 1) % report_every == 0):
            progress(done / n, f"Fisher information: {done}/{n} examples")
    return fisher / n


def per_example_fisher(model, x: np.ndarray, y: np.ndarray, *, input_scale: float) -> np.ndarray:
    """Reference: ``mean_n (d loss_n / d kernel)^2`` by one GradientTape per example.

    Differentiates the whole Keras model's loss with respect to the hidden kernel
    variable itself; no closed form. O(N) backward passes: for tests on small N.
    """
    import keras
    import tensorflow as tf

    hidden, _ = dense_layers(model)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    shape = (1, *model.input_shape[1:])
    total = np.zeros(tuple(hidden.kernel.shape), dtype=np.float64)
    for xn, yn in zip(x, y):
        inputs = _scaled(xn, input_scale).reshape(shape)
        with tf.GradientTape() as tape:
            loss = loss_fn(np.array([yn]), model(inputs))
        grad = tape.gradient(loss, hidden.kernel).numpy().astype(np.float64)
        total += grad * grad
    return total / len(x)
