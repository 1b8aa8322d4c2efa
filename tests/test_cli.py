"""The info and bench commands, run as a user runs them (a subprocess)."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import wlra_core
from wlra_core.tables import summarize
from wlra_core.cli import parse_ranks

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "wlra_core", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def problem_file(tmp_path):
    rng = np.random.default_rng(1)
    u = rng.random(40)
    u[:3] = 0  # three zero rows
    W = np.outer(u, rng.random(25) + 0.5)
    A = rng.standard_normal((40, 25))
    path = tmp_path / "problem.npz"
    np.savez(path, A=A, W=W)
    return path, A, W


def test_parse_ranks():
    assert parse_ranks("1-3,5, 10") == [1, 2, 3, 5, 10]
    for bad in ("", "a-b", "5-1"):
        with pytest.raises(ValueError):
            parse_ranks(bad)


def test_parse_ranks_without_a_problem_names_its_bound_and_never_expands_a_huge_range():
    """Without max_rank the message names the bound ("between 1 and <limit>"), and
    ``1-3000000`` is refused from its bounds without building a list of three million ranks."""
    import tracemalloc

    from wlra_core.cli import RANK_LIMIT, UsageError

    with pytest.raises(UsageError, match=rf"^rank must be between 1 and {RANK_LIMIT}, got 0$"):
        parse_ranks("0-3")
    tracemalloc.start()
    with pytest.raises(UsageError, match=rf"^rank must be between 1 and {RANK_LIMIT}, got 3000000$"):
        parse_ranks("1-3000000")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100_000
    assert parse_ranks(f"{RANK_LIMIT - 1}-{RANK_LIMIT}") == [RANK_LIMIT - 1, RANK_LIMIT]


def test_parse_options_reads_values_as_the_dashboard_does():
    from wlra_core.cli import UsageError, parse_options
    from wlra_core.options import parse_option_text

    texts = ["1e-3", " 2 ", "true", "null", "randomized", "[1, 2]"]
    parsed = parse_options([f"a.o{i}={text}" for i, text in enumerate(texts)])
    assert parsed == {"a": {f"o{i}": parse_option_text(text) for i, text in enumerate(texts)}}
    assert parsed["a"] == {"o0": 0.001, "o1": 2, "o2": True, "o3": None, "o4": "randomized", "o5": [1, 2]}
    assert parse_options(["svd_w.weight_floor=1e-3", "em.n_iter=3", "svd_w.weight_rank=2"]) == {
        "svd_w": {"weight_floor": 0.001, "weight_rank": 2}, "em": {"n_iter": 3}}
    for bad in ("svd_w.weight_floor=", "svd_w.weight_floor", "weight_floor=1", ".x=1", "svd_w.=1"):
        with pytest.raises(UsageError, match="use ALGORITHM.OPTION=VALUE"):
            parse_options([bad])


def info_value(stdout: str, key: str) -> str:
    line = next(l for l in stdout.splitlines() if l.startswith(key))
    return line[len(key):].strip()


def test_info_reports_spectrum_facts(problem_file):
    path, _, W = problem_file
    out = run_cli("info", str(path))
    assert out.returncode == 0, out.stderr
    assert info_value(out.stdout, "shape") == "40 x 25"
    assert info_value(out.stdout, "zero rows of W") == "3"
    assert info_value(out.stdout, "zero columns of W") == "0"
    # W is exactly rank 1: all of its mass is in s_1 and its numerical rank is 1.
    assert info_value(out.stdout, "% Frobenius mass of W in s_1") == "100.00%"
    assert info_value(out.stdout, "numerical rank of W") == "1"


def test_bench_csv_matches_solver(problem_file, tmp_path):
    path, A, W = problem_file
    out_csv = tmp_path / "results.csv"
    out = run_cli("bench", str(path), "--algorithms", "svd,svd_w", "--ranks", "1-5",
                  "--trials", "2", "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 2 * 5 * 2
    assert set(rows[0]) >= {"algorithm", "rank", "trial", "seed", "loss", "relative_loss", "seconds", "n_params",
                            "warnings"}
    # Each CSV loss is what the library computes for the same input and the trial's seed.
    for row in rows:
        seed = wlra_core.seeding.trial_seed(int(row["seed"]), int(row["trial"]))
        expected = wlra_core.solve(row["algorithm"], A, W, int(row["rank"]), seed=seed)
        assert float(row["loss"]) == pytest.approx(expected.loss, rel=1e-9)
        assert int(row["n_params"]) == expected.n_params
    assert "rank 5" in out.stdout and "svd_w" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["info", "missing.npz"], "missing.npz"),
    (["bench", "PROBLEM", "--algorithms", "svd,nope"], "unknown algorithm 'nope'"),
    (["bench", "PROBLEM", "--ranks", "0-3"], "rank must be between 1 and"),
    (["bench", "PROBLEM", "--ranks", "x"], "cannot read ranks"),
    (["bench", "PROBLEM", "--trials", "0"], "trials must be"),
])
def test_bad_input_is_one_line_exit_2(problem_file, args, message):
    path, _, _ = problem_file
    args = [str(path) if a == "PROBLEM" else a for a in args]
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_summarize_mean_and_std(make_row):
    rows = [
        make_row(method="x", rank=5, trial=t, loss=v, relative_loss=v / 10,
                 seconds=1.0, n_params=7, failed=False, message="")
        for t, v in enumerate([1.0, 3.0])
    ]
    (entry,) = summarize(rows, [5])
    assert entry.stats["loss"].mean == 2.0 and entry.stats["loss"].std == 1.0 and entry.trials == 2


def test_a_reader_that_goes_away_is_not_a_traceback(problem_file):
    path, _, _ = problem_file
    # 30 trials print about 260 kB, more than a pipe holds (64 kB): the command is still writing
    # when the reader goes away, however fast it solves.
    process = subprocess.Popen([sys.executable, "-m", "wlra_core", "bench", str(path), "--ranks", "1-20",
                                "--algorithms", "svd,svd_w,fwsvd", "--trials", "30"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip()  # `... | head -1`
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
