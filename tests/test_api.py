"""solve / solve_ranks: validation messages, shared work across ranks, progress, stop, failure."""
import numpy as np
import pytest

from wlra_core import ALGORITHMS, Stopped, describe, get_algorithm, solve, solve_ranks

N, D = 30, 20  # the shape of conftest.py's problem fixture


# --- Bad input: ValueError naming the problem ------------------------------------------


def with_nan(A):
    B = A.copy()
    B[2, 3] = np.nan
    return B


@pytest.mark.parametrize("make, rank, match", [
    (lambda A, W: (with_nan(A), W), 2, "W gives a nonzero weight to 1 entries where A is NaN (missing)"),
    (lambda A, W: (A, -W), 2, "negative entries"),
    (lambda A, W: (A, W[:, :-1]), 2, "must match"),
    (lambda A, W: (A, np.zeros_like(W)), 2, "W is all zeros"),
    (lambda A, W: (A.astype(str), W), 2, "A must be numeric"),
    (lambda A, W: (A[0], W[0]), 2, "2-D matrix"),
    (lambda A, W: (A, W), 0, "rank must be between 1 and min"),
    (lambda A, W: (A, W), 21, "rank must be between 1 and min(n, d) = 20"),
    (lambda A, W: (A, W), 2.5, "rank must be an integer"),
])
def test_bad_problems_raise_clear_value_errors(problem, make, rank, match):
    A, W = make(*problem)
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        solve("svd_w", A, W, rank)


def test_unknown_algorithm_lists_the_choices(problem):
    with pytest.raises(ValueError, match="unknown algorithm 'pca'; choose one name from svd, svd_w"):
        solve("pca", *problem, 2)


@pytest.mark.parametrize("name, options, match", [
    ("em", {"iterations": 3}, "em has no option 'iterations'"),
    ("em", {"n_iter": 0}, "em: invalid n_iter=0"),
    ("em", {"init": "em"}, "init must be"),
    ("em", {"init": "random"}, "init must be"),
    ("em", {"init": np.zeros((3, 3))}, r"init array has shape \(3, 3\) but A has shape \(30, 20\)"),
    ("em", {"init": np.full((N, D), np.nan)}, "em init has 600 NaN/Inf"),
    ("svd_w_em", {"weight_rank": 0}, "svd_w_em: invalid weight_rank=0; weight_rank must be an integer >= 1"),
    ("css", {"selection": "best"}, "selection must be one of"),
    ("css", {"n_columns": 21}, "n_columns=21 exceeds the 20 columns"),
    ("css", {"n_columns": 31, "axis": "rows"}, "n_columns=31 exceeds the 30 rows"),
    ("css", {"axis": 1}, 'axis must be one of "columns", "rows"'),
    ("sample", {"n_samples": 1}, "n_samples=1 is below the rank 2"),
    ("sample", {"n_samples": 2.0}, "n_samples must be an integer"),
    ("als", {"n_iter": True}, "n_iter must be an integer"),
    ("svd", {"svd_method": "fast"}, 'svd_method must be one of "auto", "exact", "randomized"'),
    ("adam", {"dtype": "float16"}, 'dtype must be one of "float64", "float32"'),
    ("adam", {"learning_rate": -1.0}, "learning_rate must be a number > 0"),
    ("adam", {"decay_rate": 1.5}, r"decay_rate must be a number in \(0, 1\]"),
])
def test_bad_options_raise_clear_value_errors(problem, name, options, match):
    with pytest.raises(ValueError, match=match):
        solve(name, *problem, 2, **options)


def test_every_algorithm_is_registered_and_described():
    rows = describe()
    assert [row["name"] for row in rows] == list(ALGORITHMS)
    assert all(row["summary"] and row["reference"] for row in rows)
    for name in ALGORITHMS:
        algorithm = get_algorithm(name)
        assert all(option.help for option in algorithm.options.values())
        # Every default passes its own check.
        assert algorithm.resolve_options({}) == {k: o.default for k, o in algorithm.options.items()}


# --- solve_ranks ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["svd", "svd_w", "svd_w_practical", "fwsvd"])
def test_solve_ranks_equals_per_rank_solves(problem, name):
    ranks = [5, 1, 3]
    shared = solve_ranks(name, *problem, ranks, svd_method="exact")
    assert [r.rank for r in shared] == ranks
    for result in shared:
        alone = solve(name, *problem, result.rank, svd_method="exact")
        np.testing.assert_allclose(result.approx, alone.approx, rtol=1e-10, atol=1e-12)
        assert result.loss == pytest.approx(alone.loss, rel=1e-10)
        assert result.n_params == alone.n_params
        assert result.extra["shared_seconds"] <= result.seconds


def test_solve_ranks_runs_other_methods_rank_by_rank(problem):
    ranks = [2, 1]
    results = solve_ranks("em", *problem, ranks, n_iter=3)
    for result in results:
        np.testing.assert_array_equal(result.approx, solve("em", *problem, result.rank, n_iter=3).approx)


# --- Progress and stop ------------------------------------------------------------------


def check_fractions(calls):
    fractions = [f for f, _ in calls]
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(message, str) for _, message in calls)


@pytest.mark.parametrize("name", ["em", "svd_w_em", "greedy", "als"])
def test_solve_reports_progress_up_to_one(problem, name):
    calls = []
    solve(name, *problem, 3, progress=lambda f, m: calls.append((f, m)))
    check_fractions(calls)


@pytest.mark.parametrize("name", ["svd_w", "em"])
def test_solve_ranks_reports_progress_up_to_one(problem, name):
    calls, seen = [], []
    solve_ranks(name, *problem, [1, 2, 3], progress=lambda f, m: calls.append((f, m)),
                on_result=seen.append)
    check_fractions(calls)
    assert [r.rank for r in seen] == [1, 2, 3]


def stop_after(n_polls):
    polls = []

    def should_stop():
        polls.append(1)
        return len(polls) > n_polls

    return should_stop


@pytest.mark.parametrize("name", ["em", "svd_w_em", "greedy", "als", "adam"])
def test_should_stop_raises_stopped(problem, name):
    with pytest.raises(Stopped):
        solve(name, *problem, 3, should_stop=stop_after(2))


def test_should_stop_between_ranks(problem):
    with pytest.raises(Stopped):
        solve_ranks("svd", *problem, [1, 2, 3], should_stop=stop_after(1))


def test_should_stop_returning_false_changes_nothing(problem):
    plain = solve("em", *problem, 2, n_iter=4)
    polled = solve("em", *problem, 2, n_iter=4, should_stop=lambda: False)
    np.testing.assert_array_equal(plain.approx, polled.approx)


# --- Divergence becomes a failed result ------------------------------------------------


@pytest.mark.parametrize("options, match", [
    # float64: the factors grow by ~1e6 per step; the loss passes 1e6 x its start.
    ({"learning_rate": 1e6}, "adam diverged"),
    # float32: products overflow to Inf within a few steps.
    ({"learning_rate": 1e30, "dtype": "float32"}, "diverged"),
])
def test_diverging_adam_is_a_failed_result_not_a_crash(problem, options, match):
    res = solve("adam", *problem, 2, n_epochs=20, **options)
    assert res.failed and match in res.message
    assert res.approx is None and np.isnan(res.loss)
    assert res.summary()["failed"] is True
    ok = solve("adam", *problem, 2, n_epochs=20)
    assert not ok.failed and np.isfinite(ok.loss)


@pytest.mark.parametrize("name", ["svd_w", "em"])
def test_repeated_ranks_still_report_progress_up_to_one(problem, name):
    calls = []
    results = solve_ranks(name, *problem, [2, 2], progress=lambda f, m: calls.append((f, m)))
    check_fractions(calls)  # rank 2 is solved once: that is all the work there is
    assert [r.rank for r in results] == [2, 2] and results[0] is results[1]


# --- Loss histories ----------------------------------------------------------------------


def em_first_step_loss(A, W, rank):
    """Oracle: the loss after one EM step from zero, the best rank-k fit of Q o A."""
    Q = (W / W.max()) ** 2
    U, s, Vt = np.linalg.svd(Q * A, full_matrices=False)
    X = (U[:, :rank] * s[:rank]) @ Vt[:rank]
    return float(np.sum((W * (A - X)) ** 2))


def test_a_diverging_solve_keeps_the_history_before_the_failure(problem, monkeypatch):
    import wlra_core.algorithms.em as em_module

    real, calls = em_module.truncated_svd, []

    def nan_on_second_call(M, k, **kwargs):
        calls.append(1)
        U, s, Vt = real(M, k, **kwargs)
        return (U * np.nan if len(calls) == 2 else U), s, Vt

    monkeypatch.setattr(em_module, "truncated_svd", nan_on_second_call)
    A, W = problem
    result = solve("em", A, W, 2, n_iter=5, svd_method="exact")
    assert result.failed and "loss became nan at iteration 2" in result.message
    # How it got there: X = 0, then one good step; the NaN step itself is not recorded.
    assert [p.iteration for p in result.history] == [0, 1]
    reference = float(np.sum((W * A) ** 2))
    assert result.history[0].loss == pytest.approx(reference, rel=1e-12)
    assert result.history[0].relative_loss == pytest.approx(1.0, rel=1e-12)
    assert result.history[1].loss == pytest.approx(em_first_step_loss(A, W, 2), rel=1e-9)
    assert result.history[1].relative_loss == pytest.approx(em_first_step_loss(A, W, 2) / reference, rel=1e-9)


def test_history_relative_losses_follow_the_results_rule(problem):
    # W o A = 0: the reference is 0, so any nonzero loss is infinitely worse than zeros.
    _, W = problem
    A = np.zeros_like(W)
    result = solve("em", A, W, 2, n_iter=3, init=np.ones_like(W))
    assert result.history[0].loss == pytest.approx(float(np.sum(W**2)), rel=1e-12)
    assert result.relative_loss == np.inf
    assert [p.relative_loss for p in result.history] == [np.inf] * 4
