"""The paper's network: Flatten -> Dense(hidden, relu) -> Dense(classes), trained with Keras.

Inputs are raw pixels (uint8, one flattened image per row) times ``input_scale``; the
loss is sparse categorical cross-entropy on logits, optimised by Adam. Training is
seeded (``keras.utils.set_random_seed``: weight initialisation and shuffling).
TensorFlow is imported inside the functions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["TrainedMLP", "build_mlp", "train_mlp", "dense_layers", "mlp_parameters", "BATCH_SIZE"]

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
# Progress reports per epoch (a report per batch would flood a UI callback).
REPORTS_PER_EPOCH = 10


@dataclass
class TrainedMLP:
    """A trained network and how it did.

    Attributes
    ----------
    model : keras.Model
    test_accuracy : float
        Fraction of test images whose largest logit (Keras ``predict``) is the label.
    history : dict of list of float
        Per-epoch training ``loss`` and ``accuracy``.
    seconds : float
        Training wall time.
    """

    model: Any
    test_accuracy: float
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


def build_mlp(image_shape: tuple[int, ...], hidden: int, n_classes: int):
    """Uncompiled Keras model ``Input(image_shape) -> Flatten -> Dense(hidden, relu) -> Dense(n_classes)``."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=tuple(image_shape)),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(n_classes, name="output"),
        ],
        name="mlp",
    )


def dense_layers(model):
    """The hidden and output Dense layers of a :func:`build_mlp` network."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) != 2:
        raise ValueError(f"expected an MLP with 2 Dense layers, got {len(dense)}")
    return dense[0], dense[1]


def mlp_parameters(model) -> dict[str, np.ndarray]:
    """``kernel`` (n_inputs x hidden), ``hidden_bias``, ``output_kernel``, ``output_bias`` (float32)."""
    hidden, output = dense_layers(model)
    return {
        "kernel": np.asarray(hidden.kernel.numpy()),
        "hidden_bias": np.asarray(hidden.bias.numpy()),
        "output_kernel": np.asarray(output.kernel.numpy()),
        "output_bias": np.asarray(output.bias.numpy()),
    }


def _batches(x, y, image_shape, input_scale, batch_size, shuffle_seed=None):
    """tf.data pipeline of scaled float32 image batches; pixels stay uint8 until batched."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    shape = (-1, *image_shape)
    return ds.batch(batch_size).map(
        lambda xb, yb: (tf.reshape(tf.cast(xb, tf.float32) * input_scale, shape), yb)
    ).prefetch(2)


def train_mlp(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    image_shape: tuple[int, ...],
    n_classes: int,
    hidden: int,
    epochs: int,
    input_scale: float,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    progress: Callable[[float, str], None] | None = None,
) -> TrainedMLP:
    """Train a :func:`build_mlp` network and measure its test accuracy.

    Parameters
    ----------
    x_train, x_test : ndarray of shape (N, n_inputs)
        Raw pixels, one flattened image per row.
    y_train, y_test : ndarray of shape (N,)
        Integer labels in ``[0, n_classes)``.
    progress : callable(fraction, message), optional
        Called during training with the fraction of batches done.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = build_mlp(image_shape, hidden, n_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    steps = -(-len(x_train) // batch_size)
    every = max(1, steps // REPORTS_PER_EPOCH)

    class Report(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if progress is not None and ((batch + 1) % every == 0 or batch + 1 == steps):
                done = (self.epoch + (batch + 1) / steps) / epochs
                progress(done, f"training epoch {self.epoch + 1}/{epochs}")

    start = time.perf_counter()
    fit = model.fit(
        _batches(x_train, y_train, image_shape, input_scale, batch_size, shuffle_seed=seed),
        epochs=epochs, shuffle=False, verbose=0, callbacks=[Report()],
    )
    seconds = time.perf_counter() - start
    logits = model.predict(_batches(x_test, y_test, image_shape, input_scale, 1024), verbose=0)
    test_accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    history = {key: [float(v) for v in fit.history[key]] for key in ("loss", "accuracy")}
    return TrainedMLP(model, test_accuracy, history, seconds)
