"""`wlra bench --holdout FRACTION`: every method fitted to the fit part only, its errors on the
held-out entries (and, for a problem saved with its truth, on the missing ones) in the
printed table and the CSV."""
import csv

import numpy as np
import pytest

from wlra_core import holdout, solve
from wlra_core.cli import main
from wlra_core.datasets.io import save_problem
from wlra_core.datasets.masked import masked_image
from wlra_core.seeding import trial_seed


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    problem = masked_image("flower", observed=0.4, seed=3, downscale=10)  # 42 x 64, keeps its truth
    path = tmp_path_factory.mktemp("holdout") / "flower.npz"
    save_problem(problem, path)
    return problem, path


def test_bench_holdout_columns_equal_an_independent_computation(saved, tmp_path, capsys):
    problem, path = saved
    out = tmp_path / "rows.csv"
    assert main(["bench", str(path), "--algorithms", "svd,em", "--ranks", "2,5", "--holdout", "0.2",
                 "--seed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "heldout_rmse" in printed and "missing_rmse" in printed
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    split = holdout(problem, fraction=0.2, seed=4)
    missing = problem.W == 0
    for row in rows:
        X = solve(row["algorithm"], split.fit, rank=int(row["rank"]), seed=trial_seed(4, 0)).approx
        held = np.sqrt(np.mean((X[split.check] - problem.A[split.check]) ** 2))  # W is 0/1: plain RMSE
        truth = np.sqrt(np.mean((X[missing] - problem.truth[missing]) ** 2))
        assert float(row["heldout_rmse"]) == pytest.approx(held, rel=1e-9)
        assert float(row["missing_rmse"]) == pytest.approx(truth, rel=1e-9)
        # The fitted loss is the fit part's: the held-out entries are not in it.
        assert float(row["relative_loss"]) == pytest.approx(
            solve(row["algorithm"], split.fit, rank=int(row["rank"]), seed=trial_seed(4, 0)).relative_loss, rel=1e-9)


def test_bench_holdout_fraction_out_of_range_is_one_line(saved, capsys):
    _, path = saved
    assert main(["bench", str(path), "--algorithms", "svd", "--ranks", "2", "--holdout", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --holdout must be a fraction strictly between 0 and 1, got 1.5"
