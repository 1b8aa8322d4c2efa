"""``adam``: factorised WLRA ``A ~ U V`` trained by TensorFlow's Adam on the weighted loss.

The paper's setting: full-batch steps ("epochs") minimising ``sum(W^2 o (A - U V)^2)``,
100 of them, learning rate 1.0 decayed by 0.7 every 10 steps (staircase).

Adam moves every parameter by about the learning rate per step whatever the gradient's
scale, so a fixed learning rate only means something on a fixed scale. The problem is
therefore solved on ``A / a`` with ``a`` the weighted RMS of A (and ``W / max(W)``, which
changes nothing but the size of the numbers), and the product scaled back. U and V start
from a seeded normal with variance ``1 / sqrt(k)``, so ``U V`` starts with entries of the
same size as ``A / a``: the usual random factor initialisation; an SVD start would hand
Adam another method's answer.

TensorFlow is imported inside :func:`fit` only (it takes seconds to import).
"""
from __future__ import annotations

import numpy as np

from ..factors import LowRank
from ..linalg import weighted_mass
from ..options import Choices, Interval, Option
from ..result import Fit, SolverFailed
from . import Algorithm, iterations

# A loss this many times the larger of the initial loss and ||W o A||^2 counts as
# divergence. The paper's schedule never comes near it (its worst transient on the test
# problems is a few times the initial loss); learning rates orders of magnitude too large do.
DIVERGENCE_FACTOR = 1e6


def initial_factors(n: int, d: int, rank: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Seeded normal ``U`` (n, k) and ``V`` (k, d) whose product has entries of variance 1."""
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25
    return rng.standard_normal((n, rank)) * scale, rng.standard_normal((rank, d)) * scale


def fit(A, W, rank, *, seed, monitor, n_epochs, learning_rate, decay_steps, decay_rate, dtype):
    """Train ``U``, ``V`` with Adam for ``n_epochs`` full-batch steps; record every epoch."""
    import tensorflow as tf

    n, d = A.shape
    w_scale = float(W.max())
    scaled_weights_sq = (W / w_scale) ** 2
    reference = weighted_mass(A, W)
    a_scale = np.sqrt(reference / w_scale**2 / float(np.sum(scaled_weights_sq))) or 1.0
    to_loss = (a_scale * w_scale) ** 2  # scaled loss -> loss of the original problem

    U0, V0 = initial_factors(n, d, rank, seed=seed)
    target = tf.constant(A / a_scale, dtype=dtype)
    weights_sq = tf.constant(scaled_weights_sq, dtype=dtype)
    U = tf.Variable(U0.astype(dtype))
    V = tf.Variable(V0.astype(dtype))
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_steps, decay_rate=decay_rate, staircase=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate=schedule)

    def scaled_loss():
        return tf.reduce_sum(weights_sq * tf.square(target - tf.matmul(U, V)))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = scaled_loss()
        optimizer.apply_gradients(zip(tape.gradient(loss, [U, V]), [U, V]))
        return loss  # the loss before this step

    start = None
    for epoch in range(n_epochs + 1):
        monitor.check_stop()
        # Epoch e's loss is that of the factors after e steps (the last one evaluated apart).
        loss = float(step() if epoch < n_epochs else scaled_loss()) * to_loss
        monitor.record(epoch, loss)  # raises SolverFailed on NaN/Inf
        if start is None:
            start = max(loss, reference)
        elif loss > DIVERGENCE_FACTOR * start:
            raise SolverFailed(
                f"adam diverged: loss {loss:.3g} at epoch {epoch} is over {DIVERGENCE_FACTOR:g}x "
                f"its starting level {start:.3g}; lower learning_rate (now {learning_rate})")
        monitor.report(epoch / n_epochs, f"Adam epoch {epoch}/{n_epochs}")
    return Fit(LowRank(U.numpy().astype(np.float64) * a_scale, V.numpy().astype(np.float64)))


ALGORITHM = Algorithm(
    name="adam",
    summary="Factors U (n x k), V (k x d) trained by TensorFlow's Adam on the weighted loss "
    "(100 full-batch epochs, learning rate 1.0 x 0.7 every 10 steps, as in the paper).",
    reference="Kingma & Ba, Adam, ICLR 2015; setting of Woodruff & Yasuda, Section 4.2",
    options={
        "n_epochs": iterations(100, "n_epochs"),
        "learning_rate": Option(1.0, (Interval(float, 0.0, None, closed="right"),),
                                "Adam's initial learning rate"),
        "decay_steps": Option(10, (Interval(int, 1),), "steps between learning-rate decays"),
        "decay_rate": Option(0.7, (Interval(float, 0.0, 1.0, closed="right"),),
                             "factor applied to the learning rate every decay_steps"),
        "dtype": Option("float64", (Choices(("float64", "float32")),), "TensorFlow's float type"),
    },
    fit_fn=fit,
    slow=True,
)
