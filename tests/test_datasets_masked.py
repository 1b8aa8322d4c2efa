"""The offline demos with missing entries: scikit-learn's photos and digits, truth kept."""
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_sample_image

from wlra_core.datasets.io import load_problem, save_problem
from wlra_core.datasets.masked import masked_digits, masked_image


def test_masked_image_hides_a_seeded_share_of_the_grayscale_pixels():
    problem = masked_image("flower", observed=0.3, seed=4)
    rgb = load_sample_image("flower.jpg").astype(float)
    gray = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    np.testing.assert_allclose(problem.truth, gray, rtol=1e-12)
    assert problem.shape == (427, 640) and problem.meta["matrix_is_image"] is True
    observed = problem.W > 0
    assert set(np.unique(problem.W)) == {0.0, 1.0}
    assert abs(observed.mean() - 0.3) < 0.01
    np.testing.assert_array_equal(problem.A, np.where(observed, problem.truth, 0.0))
    again = masked_image("flower", observed=0.3, seed=4)
    np.testing.assert_array_equal(again.W, problem.W)
    assert not np.array_equal(masked_image("flower", observed=0.3, seed=5).W, problem.W)
    with pytest.raises(ValueError, match="unknown sample image"):
        masked_image("mona_lisa")


def test_masked_digits_keep_the_table_and_survive_a_save(tmp_path):
    problem = masked_digits(observed=0.5, seed=1)
    truth = load_digits().data / 16
    np.testing.assert_array_equal(problem.truth, truth)
    assert problem.meta["row_image_shape"] == [8, 8] and abs((problem.W > 0).mean() - 0.5) < 0.01
    with pytest.raises(ValueError, match=r"observed must be a fraction in \(0, 1\]"):
        masked_digits(observed=0)
    loaded = load_problem(save_problem(problem, tmp_path / "digits.npz"))
    np.testing.assert_array_equal(loaded.truth, truth)
    assert loaded.fingerprint == problem.fingerprint and "load_warnings" not in loaded.meta
    assert loaded.meta["row_image_shape"] == [8, 8]
    # The truth is content: a different truth is a different problem.
    other = masked_digits(observed=0.5, seed=1)
    other.truth = other.truth + 1
    assert other.fingerprint != problem.fingerprint


def test_a_bad_saved_truth_is_dropped_with_a_warning(tmp_path):
    A = np.arange(12.0).reshape(3, 4)
    path = tmp_path / "bad.npz"
    np.savez(path, A=A, truth=np.ones((4, 3)), meta=np.array('{"matrix_is_image": "yes"}'))
    loaded = load_problem(path)
    assert loaded.truth is None
    warnings = " | ".join(loaded.meta["load_warnings"])
    assert "array 'truth' dropped: shape (4, 3), expected A's (3, 4)" in warnings
    assert "meta field 'matrix_is_image' dropped" in warnings
