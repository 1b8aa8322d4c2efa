"""`wlra complete`: the filled matrix written atomically, the table and the choice printed,
bad input as one line with exit code 2."""
import numpy as np
import pytest

import wlra_core
from wlra_core.cli import main


@pytest.fixture(scope="module")
def masked_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 18))
    A = np.where(rng.random(truth.shape) < 0.6, truth, np.nan)
    path = tmp_path_factory.mktemp("complete") / "masked.csv"
    np.savetxt(path, A, delimiter=",")
    return path, A


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_complete_writes_the_filled_matrix_and_reports_the_choice(masked_file, tmp_path, capsys, suffix):
    path, A = masked_file
    out = tmp_path / f"filled{suffix}"
    assert main(["complete", str(path), "--out", str(out), "--ranks", "2,3", "--algorithms", "soft_impute,em",
                 "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    expected = wlra_core.complete(A, algorithms=["soft_impute", "em"], ranks=[2, 3], seed=2)
    filled = np.load(out) if suffix == ".npy" else np.loadtxt(out, delimiter=",")
    np.testing.assert_array_equal(filled, expected.filled)
    observed = ~np.isnan(A)
    np.testing.assert_array_equal(filled[observed], A[observed])
    assert np.isfinite(filled).all()
    assert f"chosen: {expected.algorithm} at rank {expected.rank}" in printed
    assert f"held-out RMSE {expected.chosen.error.rmse:.6g}" in printed
    assert f"{(~observed).sum()} entries missing" in printed
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("extra, message", [
    (["--out", "filled.txt"], "write the filled matrix to a .npy or .csv file"),
    (["--holdout", "1.5"], "--holdout must be a fraction strictly between 0 and 1, got 1.5"),
    (["--ranks", "1-99"], "rank must be between 1 and min(n, d) = 18, got 99"),
    (["--algorithms", "pca"], "unknown algorithm 'pca'"),
])
def test_bad_input_is_one_line_and_exit_code_2(masked_file, tmp_path, capsys, extra, message):
    path, _ = masked_file
    args = ["complete", str(path), "--out", str(tmp_path / "filled.npy"), *extra]
    if extra[0] == "--out":
        args = ["complete", str(path), "--out", str(tmp_path / extra[1])]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (tmp_path / "filled.npy").exists()
