"""Empirical Fisher: the vectorised closed form against an explicit per-example loop."""
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from wlra_core.datasets.fisher import empirical_fisher, per_example_fisher  # noqa: E402
from wlra_core.datasets.mlp import build_mlp, mlp_parameters, train_mlp  # noqa: E402


@pytest.fixture(scope="module")
def toy():
    """A small trained MLP on 4x4 images whose pixel (0, 0) is black in every image."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(120, 16), dtype=np.uint8)
    x[:, 0] = 0
    y = (x[:, 1:].astype(int).sum(axis=1) // 10 + x[:, 5]) % 3  # learnable-ish labels
    trained = train_mlp(x[:90], y[:90], x[90:], y[90:], image_shape=(4, 4, 1), n_classes=3,
                        hidden=6, epochs=2, input_scale=1 / 255, seed=1)
    return trained.model, x[:40], y[:40]


def test_closed_form_matches_per_example_gradients(toy):
    model, x, y = toy
    # batch_size 7 leaves a partial last batch: the accumulation over batches is exercised.
    fast = empirical_fisher(model, x, y, input_scale=1 / 255, batch_size=7)
    slow = per_example_fisher(model, x, y, input_scale=1 / 255)
    assert fast.shape == slow.shape == (16, 6) and fast.dtype == np.float64
    assert slow.max() > 0
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-7 * slow.max())


def test_always_black_pixel_gives_an_exactly_zero_row(toy):
    model, x, y = toy
    fisher = empirical_fisher(model, x, y, input_scale=1 / 255)
    assert np.all(fisher[0] == 0.0)
    assert np.all(per_example_fisher(model, x, y, input_scale=1 / 255)[0] == 0.0)
    # Every other pixel is nonzero somewhere, and some live hidden unit then sees a gradient.
    assert np.all(fisher[1:].sum(axis=1) > 0)


def test_dead_hidden_unit_gives_an_exactly_zero_column(toy):
    model, x, y = toy
    hidden = model.get_layer("hidden")
    kernel, bias = hidden.get_weights()
    dead = kernel.copy()
    dead[:, 2] = -1.0  # unit 2's pre-activation is <= 0 for every nonnegative input
    hidden.set_weights([dead, np.where(np.arange(6) == 2, -1.0, bias).astype(np.float32)])
    try:
        fisher = empirical_fisher(model, x, y, input_scale=1 / 255)
        np.testing.assert_array_equal(fisher[:, 2], 0.0)
        np.testing.assert_allclose(fisher, per_example_fisher(model, x, y, input_scale=1 / 255),
                                   rtol=1e-5, atol=1e-7 * fisher.max())
    finally:
        hidden.set_weights([kernel, bias])


def test_mlp_architecture_and_parameters():
    model = build_mlp((4, 4, 1), hidden=6, n_classes=3)
    assert [layer.name for layer in model.layers] == ["flatten", "hidden", "output"]
    params = mlp_parameters(model)
    assert params["kernel"].shape == (16, 6) and params["hidden_bias"].shape == (6,)
    assert params["output_kernel"].shape == (6, 3) and params["output_bias"].shape == (3,)
