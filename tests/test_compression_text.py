"""app_pages._compression_text: the numbers behind the Compression page's sentences."""
import numpy as np
import pytest

from app_pages._compression_text import loss_accuracy_correlation, pareto_front


def test_pareto_front_and_loss_accuracy_correlation(make_row):
    rng = np.random.default_rng(0)
    rows = [make_row(n_params=int(p), evaluation={"accuracy": float(a)}, relative_loss=float(l), failed=False)
            for p, a, l in zip(rng.integers(1, 50, 40), rng.random(40), rng.random(40))]
    rows.append(make_row(n_params=1, evaluation={"accuracy": float("nan")}, relative_loss=float("nan"), failed=True))
    front = pareto_front(rows)
    ok = [r for r in rows if not r.failed]
    # Brute force: a row is on the front iff no row has <= parameters and higher accuracy.
    expected = [r for r in ok if not any(o.n_params <= r.n_params and o.evaluation["accuracy"] > r.evaluation["accuracy"]
                                         for o in ok)]
    assert sorted(map(id, front)) == sorted(map(id, expected))
    assert [r.n_params for r in front] == sorted(r.n_params for r in front)
    monotone = [make_row(relative_loss=x, evaluation={"accuracy": 1 - x ** 2}, failed=False) for x in (0.1, 0.3, 0.2, 0.9)]
    assert loss_accuracy_correlation(monotone) == pytest.approx(-1.0)
    assert np.isnan(loss_accuracy_correlation(monotone[:2]))
