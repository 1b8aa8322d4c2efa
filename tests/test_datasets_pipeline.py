"""Datasets -> trained MLP -> (A, W): tfds under mock_data, the real Fashion-MNIST IDX
files, sklearn digits, the cache, and the ``fisher`` CLI. Never downloads anything."""
import gzip
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
tfds = pytest.importorskip("tensorflow_datasets")

from wlra_core.compression import mlp_accuracy  # noqa: E402
from wlra_core.datasets import fisher_problem, fisher_summary, load_problem, save_problem  # noqa: E402
from wlra_core.datasets.fisher import MAX_MOMENT_INPUTS  # noqa: E402
from wlra_core.datasets.idx import DEBIAN_FASHION_MNIST, load_idx_dataset, read_idx  # noqa: E402
from wlra_core.datasets.pipeline import CACHE_VERSION  # noqa: E402
from wlra_core.datasets.sources import DATASETS, TFDS_DIR_ENV, load_image_data, tfds_data_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
needs_debian_fashion = pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)


def check_mlp_problem(problem, dataset, hidden, n_train, n_test):
    spec = DATASETS[dataset]
    assert problem.shape == (spec.n_inputs, hidden)
    assert problem.A.dtype == np.float64 and problem.W.dtype == np.float64
    assert (problem.W >= 0).all() and np.isfinite(problem.W).all()
    model = problem.model
    assert model["hidden_bias"].shape == (hidden,)
    assert model["output_kernel"].shape == (hidden, spec.n_classes)
    assert model["output_bias"].shape == (spec.n_classes,)
    assert model["x_test"].shape == (n_test, spec.n_inputs) and model["x_test"].dtype == np.uint8
    assert model["y_test"].shape == (n_test,)
    meta = problem.meta
    assert meta["dataset"] == dataset and meta["hidden"] == hidden and meta["n_train"] == n_train
    assert meta["image_shape"] == list(spec.image_shape) and meta["input_scale"] == spec.input_scale
    # The accuracy Keras measured is reproduced by the numpy forward pass on the stored arrays.
    assert mlp_accuracy(problem, problem.A) == pytest.approx(meta["test_accuracy"], abs=1.5 / n_test)
    check_moments(problem, n_train)


def check_moments(problem, n_train):
    """Calibration moments over the training set: float64, symmetric, PSD; C only under the cap."""
    n, hidden = problem.shape
    moments = {"grad_moment": hidden}
    if n <= MAX_MOMENT_INPUTS:
        moments["input_moment"] = n
        assert "input_moment_skipped" not in problem.meta
    else:
        assert "input_moment" not in problem.model
        assert problem.meta["input_moment_skipped"] == (
            f"input_moment not computed: {n} inputs exceed the cap of {MAX_MOMENT_INPUTS} "
            f"(C would be {n} x {n} float64, {n * n * 8 / 1e9:.3g} GB)"
        )
    for key, size in moments.items():
        S = problem.model[key]
        assert S.shape == (size, size) and S.dtype == np.float64
        np.testing.assert_array_equal(S, S.T)
        assert np.linalg.eigvalsh(S)[0] >= -1e-12 * np.abs(S).max()
    # Hidden units that never fire have an exactly zero gradient: zero rows of G and columns of W.
    np.testing.assert_array_equal(~problem.model["grad_moment"].any(axis=0), ~problem.W.any(axis=0))
    assert f"over the {n_train} training examples" in problem.meta["calibration"]
    assert ("input_moment E[x x^T]" in problem.meta["calibration"]) == (n <= MAX_MOMENT_INPUTS)


# ---------------------------------------------------------------------------- tfds (mocked)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "smallnorb", "colorectal_histology"])
def test_tfds_datasets_end_to_end_under_mock_data(dataset, tmp_path):
    with tfds.testing.mock_data(num_examples=24):
        problem = fisher_problem(dataset, hidden=8, epochs=1, data_dir=tmp_path / "tfds",
                                 cache_dir=tmp_path / "cache")
    assert problem.source == "tfds"
    check_mlp_problem(problem, dataset, hidden=8, n_train=24, n_test=24)
    assert problem.W.any()
    # Cached under a name made of the settings; a second call is a cache hit (no tfds needed).
    cached = tmp_path / "cache" / f"{dataset}-h8-e1-s0-all-v{CACHE_VERSION}.npz"
    assert cached.is_file()
    again = fisher_problem(dataset, hidden=8, epochs=1, data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.W, problem.W)
    assert again.model.keys() == problem.model.keys()
    for key, value in problem.model.items():
        np.testing.assert_array_equal(again.model[key], value)
    assert again.meta == {**problem.meta, "file": cached.name}


def test_mock_data_max_train_and_paper_hidden_sizes(tmp_path):
    with tfds.testing.mock_data(num_examples=30):
        data = load_image_data("smallnorb", data_dir=tmp_path, max_train=10)
    assert data.x_train.shape == (10, 9216) and data.x_test.shape == (30, 9216)
    assert data.x_train.dtype == np.uint8
    # Table 1 of the paper.
    assert {name: (spec.n_inputs, spec.hidden) for name, spec in DATASETS.items() if spec.origin == "tfds"} == {
        "mnist": (784, 128), "fashion_mnist": (784, 128),
        "smallnorb": (9216, 1024), "colorectal_histology": (67500, 1024),
    }


def test_absent_tfds_data_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        load_image_data("mnist", data_dir=tmp_path)
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert f"mnist: no tensorflow_datasets copy in {tmp_path}" in message
    assert "--download" in message and TFDS_DIR_ENV in message
    assert not any(tmp_path.iterdir())  # the probe wrote nothing


def test_download_without_network_fails_within_seconds(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    with pytest.raises(ValueError, match="cannot download: storage.googleapis.com is unreachable"):
        load_image_data("smallnorb", data_dir=tmp_path, download=True)


def test_tfds_dir_option_beats_environment_beats_default(tmp_path, monkeypatch):
    monkeypatch.delenv(TFDS_DIR_ENV, raising=False)
    assert tfds_data_dir() == REPO / "data" / "tfds"
    monkeypatch.setenv(TFDS_DIR_ENV, str(tmp_path / "env"))
    assert tfds_data_dir() == tmp_path / "env"
    assert tfds_data_dir(tmp_path / "opt") == tmp_path / "opt"


def test_bad_options():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose from mnist, fashion_mnist"):
        fisher_problem("cifar")
    with pytest.raises(ValueError, match="fisher_problem: invalid hidden=0; hidden must be an integer >= 1"):
        fisher_problem("digits", hidden=0)
    with pytest.raises(ValueError, match="idx_dir applies to fashion_mnist only"):
        load_image_data("mnist", idx_dir="/tmp")


# ---------------------------------------------------------------------------- real data


@needs_debian_fashion
def test_idx_reader_on_the_real_fashion_mnist_files(tmp_path):
    x_train, y_train, x_test, y_test = load_idx_dataset(DEBIAN_FASHION_MNIST)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    assert y_train[0] == 9 and x_train.max() == 255  # the first training image is an ankle boot
    # Plain (uncompressed) files read the same as the gzipped ones.
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    with gzip.open(DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    np.testing.assert_array_equal(read_idx(plain), y_test)
    # A truncated file is refused with its size mismatch.
    (tmp_path / "cut").write_bytes(plain.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"cut: header announces shape \(10000,\)"):
        read_idx(tmp_path / "cut")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    # A folder the user names is used as is (no tfds probe).
    data = load_image_data("fashion_mnist", idx_dir=DEBIAN_FASHION_MNIST, max_train=100)
    assert (data.source, data.location) == ("idx", str(DEBIAN_FASHION_MNIST))
    assert data.x_train.shape == (100, 784) and data.x_test.shape == (10000, 784)
    np.testing.assert_array_equal(data.x_test, x_test.reshape(10000, 784))
    with pytest.raises(ValueError, match="no such folder of IDX files"):
        load_image_data("fashion_mnist", idx_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no train-images-idx3-ubyte\[\.gz\] file"):
        load_idx_dataset(tmp_path)  # holds only a test label file


@needs_debian_fashion
def test_fashion_mnist_pipeline_on_the_real_files(tmp_path):
    fractions = []
    problem = fisher_problem(
        "fashion_mnist", max_train=8000, epochs=1, data_dir=tmp_path / "no-tfds",
        cache_dir=tmp_path / "cache", progress=lambda fraction, message: fractions.append(fraction),
    )
    # No tfds copy in the data dir: the Debian IDX files are the source.
    assert problem.source == "idx" and problem.meta["data_location"] == str(DEBIAN_FASHION_MNIST)
    check_mlp_problem(problem, "fashion_mnist", hidden=128, n_train=8000, n_test=10000)
    assert problem.meta["test_accuracy"] > 0.6  # chance is 0.1
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    # Zero rows of W are exactly the pixels that are black in every training image used.
    x_train = load_idx_dataset(DEBIAN_FASHION_MNIST)[0][:8000].reshape(8000, -1)
    np.testing.assert_array_equal(~problem.W.any(axis=1), ~x_train.any(axis=0))
    # Zero columns are exactly the hidden units that never fire on the training images.
    pre_activation = x_train * problem.meta["input_scale"] @ problem.A + problem.model["hidden_bias"]
    np.testing.assert_array_equal(~problem.W.any(axis=0), (pre_activation <= 0).all(axis=0))
    # C is E[x x^T] over exactly those 8000 training images, as the network sees them.
    inputs = x_train * problem.meta["input_scale"]
    np.testing.assert_allclose(problem.model["input_moment"], inputs.T @ inputs / 8000, rtol=1e-6, atol=1e-12)
    summary = fisher_summary(problem)
    assert summary["zero_rows"] == int((~x_train.any(axis=0)).sum())
    assert summary["paper_first_singular_mass"] == 0.959
    assert 0.5 < summary["first_singular_mass"] <= 1.0


def test_digits_needs_no_download(digits_trained, tmp_path):
    first, _ = digits_trained
    assert first.source == "sklearn"
    check_mlp_problem(first, "digits", hidden=6, n_train=1438, n_test=359)
    # C is E[x x^T] over the training split only (1438 of the 1797 images).
    inputs = load_image_data("digits").x_train * first.meta["input_scale"]
    np.testing.assert_allclose(first.model["input_moment"], inputs.T @ inputs / 1438, rtol=1e-6, atol=1e-12)
    # The moments survive a save/load round trip as model_input_moment / model_grad_moment.
    path = save_problem(first, tmp_path / "digits.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert {"model_input_moment", "model_grad_moment"} <= set(archive.files)
    loaded = load_problem(path)
    for key in ("input_moment", "grad_moment"):
        assert loaded.model[key].dtype == np.float64
        np.testing.assert_array_equal(loaded.model[key], first.model[key])
    assert loaded.meta["calibration"] == first.meta["calibration"]
    # The 8x8 digits have always-blank border pixels: exactly zero Fisher rows.
    assert fisher_summary(first)["zero_rows"] >= 1


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "wlra_core", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_fisher_cli_trains_the_same_network_in_another_process(digits_trained, tmp_path):
    """``fisher`` prints the network's facts and writes the problem; trained again in a
    fresh process with the same settings, the network is the same to the bit."""
    out = tmp_path / "digits.npz"
    result = run_cli("fisher", "--dataset", "digits", "--hidden", "6", "--epochs", "2", "--out", str(out),
                     "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    problem = load_problem(out)
    assert problem.meta["dataset"] == "digits" and problem.shape == (64, 6)
    summary = fisher_summary(problem)
    stdout = result.stdout.splitlines()
    assert f"{'test accuracy':<28} {summary['test_accuracy']:.4f} (359 test images)" in stdout
    assert f"{'% Frobenius mass of W in s_1':<28} {summary['first_singular_mass']:.1%} (paper Table 2: n/a)" in stdout
    assert f"{'zero rows of W':<28} {summary['zero_rows']} of 64" in stdout
    assert "wall time" in result.stdout and "[100%] done" in result.stderr
    assert list((tmp_path / "cache").glob(f"digits-h6-e2-s0-all-v{CACHE_VERSION}.npz"))
    assert problem.model["input_moment"].shape == (64, 64) and problem.model["grad_moment"].shape == (6, 6)
    trained, _ = digits_trained
    np.testing.assert_array_equal(problem.A, trained.A)
    np.testing.assert_array_equal(problem.W, trained.W)
    np.testing.assert_array_equal(problem.model["grad_moment"], trained.model["grad_moment"])


def test_fisher_cli_errors_are_one_line(tmp_path):
    result = run_cli("fisher", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-cache")
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "mnist: no tensorflow_datasets copy" in error_lines[0]
    assert "Traceback" not in result.stderr


def test_cached_fisher_problem_reads_the_cache_and_never_trains(tmp_path, monkeypatch):
    from wlra_core import Problem
    from wlra_core.datasets import pipeline
    from wlra_core.datasets.pipeline import cache_path, cached_fisher_problem

    monkeypatch.setattr(pipeline, "train_mlp", lambda *args, **kwargs: pytest.fail("trained"))
    rng = np.random.default_rng(0)
    saved = Problem(rng.standard_normal((64, 8)), rng.random((64, 8)), name="digits MLP (64 x 8)")
    save_problem(saved, cache_path(tmp_path, "digits", hidden=8, epochs=3, seed=0, max_train=None))
    # Found under the settings it was saved for, in a named folder or the default one.
    found = cached_fisher_problem("digits", hidden=8, epochs=3, cache_dir=tmp_path)
    np.testing.assert_array_equal(found.A, saved.A)
    np.testing.assert_array_equal(found.W, saved.W)
    assert cached_fisher_problem("digits", hidden=8, epochs=3) is None  # the default folder lacks it
    monkeypatch.setattr(pipeline, "DEFAULT_CACHE_DIR", tmp_path)
    np.testing.assert_array_equal(cached_fisher_problem("digits", hidden=8, epochs=3).W, saved.W)
    # fisher_problem serves the same file through the same lookup.
    np.testing.assert_array_equal(fisher_problem("digits", hidden=8, epochs=3).W, saved.W)
    # Other settings, or no cache: None, and nothing trains.
    assert cached_fisher_problem("digits", hidden=8, epochs=4) is None
    assert cached_fisher_problem("digits", hidden=8, epochs=3, seed=1) is None
    assert cached_fisher_problem("digits", hidden=8, epochs=3, cache_dir=None) is None
    with pytest.raises(ValueError, match="fisher_problem: invalid hidden=0; hidden must be an integer >= 1"):
        cached_fisher_problem("digits", hidden=0, epochs=3)
