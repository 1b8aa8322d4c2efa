"""Compression: numpy accuracy vs Keras, the sweep's rows, the `compress` CLI."""
import numpy as np
import pytest

import wlra_core
from apptest_helpers import CLASSES, HIDDEN, IMAGE_SHAPE, SCALE, mlp_problem
from wlra_core.compression import compression_sweep, mlp_accuracy, mlp_logits, uncompressed_row
from wlra_core.sweep import ResultEvent


def keras_predictions(problem, kernel):
    """Class predictions of the same weights run through a Keras model (the oracle)."""
    import tensorflow as tf

    model = tf.keras.Sequential([
        tf.keras.Input(shape=IMAGE_SHAPE),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(HIDDEN, activation="relu"),
        tf.keras.layers.Dense(CLASSES),
    ])
    model.set_weights([
        kernel.astype(np.float32),
        problem.model["hidden_bias"].astype(np.float32),
        problem.model["output_kernel"].astype(np.float32),
        problem.model["output_bias"].astype(np.float32),
    ])
    images = (problem.model["x_test"] * SCALE).astype(np.float32).reshape((-1, *IMAGE_SHAPE))
    logits = model(images, training=False).numpy()
    return logits


def test_accuracy_matches_keras_for_original_and_compressed_kernels():
    problem = mlp_problem()
    compressed = wlra_core.solve("svd_w", problem.A, problem.W, 2).approx
    for kernel in (problem.A, compressed):
        keras_logits = keras_predictions(problem, kernel)
        np.testing.assert_allclose(mlp_logits(problem, kernel), keras_logits, rtol=1e-4, atol=1e-4)
        keras_accuracy = float(np.mean(np.argmax(keras_logits, axis=1) == problem.model["y_test"]))
        assert mlp_accuracy(problem, kernel) == keras_accuracy
    # The test is only meaningful if compression changes the accuracy.
    assert mlp_accuracy(problem, compressed) != mlp_accuracy(problem, problem.A)


def test_sweep_rows_match_independent_solves():
    problem = mlp_problem()
    n, d = problem.shape
    seen, fractions = [], []

    def on_update(update):
        fractions.append(update.done / update.total)
        if isinstance(update, ResultEvent):
            seen.append(update.row)

    rows, errors = compression_sweep(problem, ["svd", "svd_w"], [1, 3], on_update=on_update)
    assert errors == []
    assert [(r.method, r.rank) for r in rows] == [("svd", 1), ("svd", 3), ("svd_w", 1), ("svd_w", 3)]
    assert sorted(seen, key=lambda r: (r.method, r.rank)) == rows
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)
    for row in rows:
        result = wlra_core.solve(row.algorithm, problem.A, problem.W, row.rank)
        assert row.evaluation["accuracy"] == mlp_accuracy(problem, result.approx)
        assert row.loss == pytest.approx(result.loss, rel=1e-10)
        # Measured from the stored arrays: svd_w keeps W itself, svd only its factors.
        assert row.n_params == sum(a.size for a in result.factors.arrays.values())
        assert row.evaluation["compression_ratio"] == pytest.approx(n * d / row.n_params)
    svd_w_row = next(r for r in rows if r.method == "svd_w")
    assert svd_w_row.n_params > n * d and svd_w_row.evaluation["compression_ratio"] < 1
    reference = uncompressed_row(problem)
    assert reference.n_params == n * d and reference.loss == 0.0
    assert reference.evaluation["accuracy"] == mlp_accuracy(problem, problem.A)


def test_accuracy_through_the_factors_equals_the_dense_kernel():
    problem = mlp_problem()
    for name in ("svd", "svd_w", "svd_w_practical"):
        result = wlra_core.solve(name, problem, rank=2)
        np.testing.assert_allclose(mlp_logits(problem, result.factors), mlp_logits(problem, result.approx),
                                   rtol=1e-10, atol=1e-12)


def test_test_accuracy_is_safe_across_threads_and_shared_by_the_models_problems(monkeypatch):
    """The evaluation's inputs cache is used by a sweep's worker and measurer threads and by
    every dashboard session at once: it is filled under a lock (another thread clearing it
    in between must not raise KeyError), and keyed by the model, so W = F and W = sqrt(F)
    of one model convert the test images once."""
    import threading

    from wlra_core import compression
    from wlra_core.compression import TestAccuracy, weight_transform

    converted, paused, resume = set(), threading.Event(), threading.Event()
    convert = compression.network_inputs

    def converting(problem):
        inputs = convert(problem)
        converted.add(problem.name)
        return inputs

    class Pausing(wlra_core.Problem):
        """Once its test images are converted, its evaluation waits for another one to run in full."""

        @property
        def shape(self):
            if self.name in converted and not paused.is_set():
                paused.set()
                resume.wait(30)
            return super().shape

    monkeypatch.setattr(compression, "network_inputs", converting)
    first, second = mlp_problem(0, name="first"), mlp_problem(1, name="second")
    first = Pausing(first.A, first.W, name=first.name, meta=first.meta, model=first.model)
    results = [wlra_core.solve("svd", p.A, p.W, 2) for p in (first, second)]
    outcome = []

    def evaluate_first():
        try:
            outcome.append(TestAccuracy()(first, results[0])["accuracy"])
        except Exception as err:  # noqa: BLE001 - any failure is the finding
            outcome.append(repr(err))

    thread = threading.Thread(target=evaluate_first)
    thread.start()
    assert paused.wait(30)
    other = TestAccuracy()(second, results[1])["accuracy"]  # another session, meanwhile
    resume.set()
    thread.join(30)
    assert outcome == [mlp_accuracy(first, results[0].approx)]
    assert other == mlp_accuracy(second, results[1].approx)

    # One model, two weightings: the test images are converted once.
    calls = []
    monkeypatch.setattr(compression, "network_inputs", lambda problem: calls.append(problem.name) or convert(problem))
    fresh = mlp_problem(seed=2, name="two weightings")
    rows, errors = compression_sweep(fresh, ["svd_w"], [1, 2], transforms=["F", "sqrt(F)"])
    assert errors == [] and len(rows) == 4 and len(calls) == 1
    root = weight_transform(fresh, "sqrt(F)")
    assert rows[3].evaluation["accuracy"] == mlp_accuracy(root, wlra_core.solve("svd_w", root, rank=2).approx)


def test_float_test_images_are_not_rescaled_by_an_evaluation():
    """network_inputs scaled x_test in place when it was already float64 (a saved problem may
    store float images): every evaluation rescaled the model's images again."""
    from wlra_core.compression import network_inputs

    problem = mlp_problem()
    floats = mlp_problem()
    floats.model["x_test"] = floats.model["x_test"].astype(np.float64)
    stored = floats.model["x_test"].copy()
    expected = mlp_accuracy(problem, problem.A)
    assert [mlp_accuracy(floats, floats.A) for _ in range(3)] == [expected] * 3
    np.testing.assert_array_equal(floats.model["x_test"], stored)
    np.testing.assert_array_equal(network_inputs(floats), stored * SCALE)
    np.testing.assert_array_equal(network_inputs(problem), stored * SCALE)


def test_reweighted_kernels_are_rebuilt_once_per_evaluation(monkeypatch):
    """x @ X through a Reweighted kernel rebuilds X block by block, once per evaluation, not
    once per batch of test images (every 4096 images on Fashion-MNIST's 10000)."""
    from wlra_core import compression
    from wlra_core.factors import Reweighted, row_blocks

    problem = mlp_problem()
    result = wlra_core.solve("svd_w", problem, rank=2)
    assert isinstance(result.factors, Reweighted)
    monkeypatch.setattr(compression, "EVAL_BATCH", 50)  # 8 batches of the 400 test images
    built = []
    rows = Reweighted.rows
    monkeypatch.setattr(Reweighted, "rows", lambda self, block: built.append(block) or rows(self, block))
    logits = mlp_logits(problem, result.factors)
    assert len(built) == len(list(row_blocks(*problem.shape)))
    monkeypatch.undo()
    np.testing.assert_allclose(logits, mlp_logits(problem, result.approx), rtol=1e-12, atol=1e-12)


def test_weight_transform_spellings_and_the_uncompressed_row_label(tmp_path, capsys):
    """``--weights sqrt`` names W = sqrt(F) in every row, the uncompressed reference included
    (F itself is not run, so no row may say F)."""
    import csv

    from wlra_core.cli import main
    from wlra_core.compression import transform_label
    from wlra_core.datasets.io import save_problem

    assert [transform_label(t) for t in ("F", " sqrt ", "sqrtF", "sqrt(F)")] == ["F", "sqrt(F)", "sqrt(F)", "sqrt(F)"]
    with pytest.raises(ValueError, match=r"unknown weight transform 'F2'; choose from F, sqrt\(F\)"):
        transform_label("F2")
    problem = mlp_problem()
    rows, _ = compression_sweep(problem, ["fwsvd"], [2], transforms=["sqrt"])
    assert [r.problem for r in rows] == ["sqrt(F)"]
    path, out = tmp_path / "mlp.npz", tmp_path / "rows.csv"
    save_problem(problem, path)
    assert main(["compress", str(path), "--algorithms", "svd,fwsvd", "--ranks", "2", "--weights", "sqrt",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    table = list(csv.DictReader(out.open()))
    assert [(r["problem"], r["method"]) for r in table] == [("sqrt(F)", "uncompressed"), ("sqrt(F)", "svd"),
                                                            ("sqrt(F)", "fwsvd")]
    assert float(table[0]["accuracy"]) == mlp_accuracy(problem, problem.A)


def test_sweep_options_transforms_and_stop():
    problem = mlp_problem()
    rows, _ = compression_sweep(problem, ["svd_w"], [2], options={"svd_w": {"weight_rank": 2}})
    expected = wlra_core.solve("svd_w", problem.A, problem.W, 2, weight_rank=2)
    assert rows[0].loss == pytest.approx(expected.loss, rel=1e-10)
    # W = sqrt(F): methods that use W run once per transform, svd (which ignores W) once.
    rows, _ = compression_sweep(problem, ["svd", "fwsvd"], [2], transforms=["F", "sqrt(F)"])
    assert [(r.problem, r.method) for r in rows] == [("F", "svd"), ("F", "fwsvd"), ("sqrt(F)", "fwsvd")]
    root = wlra_core.solve("fwsvd", problem.A, np.sqrt(problem.W), 2)
    assert rows[2].evaluation["accuracy"] == mlp_accuracy(problem, root.approx)
    with pytest.raises(ValueError, match="unknown weight transform"):
        compression_sweep(problem, ["svd"], [1], transforms=["F2"])


def test_problem_without_model_is_a_clear_error():
    plain = wlra_core.Problem(np.ones((4, 3)), None, name="plain")
    with pytest.raises(ValueError, match="'plain' has no trained model"):
        compression_sweep(plain, ["svd"], [1])
    with pytest.raises(ValueError, match="kernel has shape"):
        mlp_accuracy(mlp_problem(), np.ones((3, 3)))
    broken = mlp_problem()
    broken.model["x_test"] = broken.model["x_test"][:, :5]
    with pytest.raises(ValueError, match=r"model x_test has shape \(400, 5\), expected \* x 16"):
        compression_sweep(broken, ["svd"], [1])


def test_compress_cli_table_csv_and_errors(tmp_path, capsys):
    from wlra_core.cli import main
    from wlra_core.datasets.io import save_problem

    path = tmp_path / "mlp.npz"
    save_problem(mlp_problem(), path)
    out = tmp_path / "rows.csv"
    assert main(["compress", str(path), "--algorithms", "svd,svd_w", "--ranks", "1,2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "uncompressed" in printed and "svd_w" in printed
    lines = out.read_text().strip().splitlines()
    assert lines[0].startswith("problem,method,algorithm,rank,trial,seed,options,loss,relative_loss")
    assert lines[0].endswith(",accuracy,compression_ratio")
    assert len(lines) == 1 + 1 + 4  # header, uncompressed, 2 algorithms x 2 ranks

    plain = tmp_path / "plain.npz"
    np.savez(plain, A=np.ones((5, 4)))
    assert main(["compress", str(plain), "--ranks", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no trained model" in err and "\n" not in err


def test_compress_cli_flags_a_blown_up_kernel_under_its_row(tmp_path, capsys):
    from wlra_core.cli import main
    from wlra_core.datasets.io import save_problem

    problem = mlp_problem()
    problem.W[1, :3] *= 1e-12  # nearly dead entries: svd_w divides by their tiny weights
    path = tmp_path / "tiny_weights.npz"
    save_problem(problem, path)
    assert main(["compress", str(path), "--algorithms", "svd_w", "--ranks", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:2] == ["F", "svd_w"])
    assert lines[row + 1].strip().startswith("! entries up to") and "x max|A|" in lines[row + 1]
    # With a floor, the same method is not flagged for blowing up (only for storing W).
    assert main(["compress", str(path), "--algorithms", "svd_w", "--ranks", "2",
                 "--option", "svd_w.weight_floor=1e-3"]) == 0
    flags = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("!")]
    assert flags and not any("entries up to" in line for line in flags)


def test_shipped_problem_accuracy_matches_the_keras_evaluation_recorded_at_training():
    from wlra_core.datasets.io import default_problem

    problem = default_problem()
    n_test = problem.model["y_test"].size
    # meta["test_accuracy"] is Keras' float32 evaluation of the same weights on the same test set;
    # float64 here may flip at most a near-tie or two.
    assert abs(mlp_accuracy(problem, problem.A) - problem.meta["test_accuracy"]) <= 2 / n_test
