"""Empirical Fisher and calibration moments: the vectorised closed form against an
explicit per-example loop (GradientTape on the Keras model's own variables)."""
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from wlra_core.datasets.fisher import MAX_MOMENT_INPUTS, fisher_statistics, per_example_statistics  # noqa: E402
from wlra_core.datasets.mlp import build_mlp, mlp_parameters, train_mlp  # noqa: E402

SCALE = 1 / 255


@pytest.fixture(scope="module")
def toy():
    """A small trained MLP on 4x4 images whose pixel (0, 0) is black in every image."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(120, 16), dtype=np.uint8)
    x[:, 0] = 0
    y = (x[:, 1:].astype(int).sum(axis=1) // 10 + x[:, 5]) % 3  # learnable-ish labels
    trained = train_mlp(x[:90], y[:90], x[90:], y[90:], image_shape=(4, 4, 1), n_classes=3,
                        hidden=6, epochs=2, input_scale=SCALE, seed=1)
    return trained.model, x[:40], y[:40]


def assert_same_statistics(fast, slow):
    assert fast.fisher.shape == slow.fisher.shape == (16, 6) and fast.fisher.dtype == np.float64
    assert slow.fisher.max() > 0
    np.testing.assert_allclose(fast.fisher, slow.fisher, rtol=1e-5, atol=1e-7 * slow.fisher.max())
    assert fast.grad_moment.shape == (6, 6) and fast.grad_moment.dtype == np.float64
    np.testing.assert_allclose(fast.grad_moment, slow.grad_moment, rtol=1e-5,
                               atol=1e-7 * np.abs(slow.grad_moment).max())
    assert fast.input_moment.shape == (16, 16) and fast.input_moment.dtype == np.float64
    np.testing.assert_allclose(fast.input_moment, slow.input_moment, rtol=1e-12)


def test_closed_form_matches_per_example_gradients(toy):
    model, x, y = toy
    # batch_size 7 leaves a partial last batch: the accumulation over batches is exercised.
    fast = fisher_statistics(model, x, y, input_scale=SCALE, batch_size=7)
    slow = per_example_statistics(model, x, y, input_scale=SCALE)
    assert_same_statistics(fast, slow)
    assert fast.input_moment_skipped is None
    # C is the second moment of the network inputs (float32 pixels * scale), uncentred.
    inputs = x.astype(np.float64) * SCALE
    np.testing.assert_allclose(fast.input_moment, inputs.T @ inputs / len(x), rtol=1e-6)
    # G is the uncentred second moment of the per-example gradients at z: PSD, nonzero.
    assert np.linalg.eigvalsh(fast.grad_moment)[0] > -1e-12 and np.trace(fast.grad_moment) > 0


def test_input_moment_size_cap(toy):
    model, x, y = toy
    full = fisher_statistics(model, x, y, input_scale=SCALE)
    capped = fisher_statistics(model, x, y, input_scale=SCALE, max_moment_inputs=15)
    assert capped.input_moment is None
    assert capped.input_moment_skipped == (
        "input_moment not computed: 16 inputs exceed the cap of 15 (C would be 16 x 16 float64, 2.05e-06 GB)"
    )
    # The Fisher and G are computed all the same.
    np.testing.assert_array_equal(capped.fisher, full.fisher)
    np.testing.assert_array_equal(capped.grad_moment, full.grad_moment)
    at_cap = fisher_statistics(model, x, y, input_scale=SCALE, max_moment_inputs=16)
    np.testing.assert_array_equal(at_cap.input_moment, full.input_moment)
    # The default cap admits MNIST-sized inputs and refuses smallnorb's 9216 x 9216 C.
    assert 784 <= MAX_MOMENT_INPUTS < 9216


def test_always_black_pixel_gives_exactly_zero_rows(toy):
    model, x, y = toy
    stats = fisher_statistics(model, x, y, input_scale=SCALE)
    assert np.all(stats.fisher[0] == 0.0)
    assert np.all(stats.input_moment[0] == 0.0) and np.all(stats.input_moment[:, 0] == 0.0)
    slow = per_example_statistics(model, x, y, input_scale=SCALE)
    assert np.all(slow.fisher[0] == 0.0) and np.all(slow.input_moment[0] == 0.0)
    # Every other pixel is nonzero somewhere, and some live hidden unit then sees a gradient.
    assert np.all(stats.fisher[1:].sum(axis=1) > 0)
    assert np.all(np.diag(stats.input_moment)[1:] > 0)


def test_dead_hidden_unit_gives_exactly_zero_columns(toy):
    model, x, y = toy
    hidden = model.get_layer("hidden")
    kernel, bias = hidden.get_weights()
    dead = kernel.copy()
    dead[:, 2] = -1.0  # unit 2's pre-activation is <= 0 for every nonnegative input
    hidden.set_weights([dead, np.where(np.arange(6) == 2, -1.0, bias).astype(np.float32)])
    try:
        stats = fisher_statistics(model, x, y, input_scale=SCALE)
        np.testing.assert_array_equal(stats.fisher[:, 2], 0.0)
        np.testing.assert_array_equal(stats.grad_moment[2], 0.0)
        np.testing.assert_array_equal(stats.grad_moment[:, 2], 0.0)
        assert_same_statistics(stats, per_example_statistics(model, x, y, input_scale=SCALE))
    finally:
        hidden.set_weights([kernel, bias])


def test_mlp_architecture_and_parameters():
    model = build_mlp((4, 4, 1), hidden=6, n_classes=3)
    assert [layer.name for layer in model.layers] == ["flatten", "hidden", "output"]
    params = mlp_parameters(model)
    assert params["kernel"].shape == (16, 6) and params["hidden_bias"].shape == (6,)
    assert params["output_kernel"].shape == (6, 3) and params["output_bias"].shape == (3,)
