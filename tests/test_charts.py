"""Chart conventions of app_pages._charts: tick values of count axes; the Compare page's
figures, shared by the sessions drawing the same rows."""
from dataclasses import replace

import numpy as np
import pytest

from app_pages._charts import compare_figures, count_ticks
from wlra_core.heldout import HELDOUT_COLUMN
from wlra_core.tables import ResultRow


@pytest.mark.parametrize("largest, ticks", [(1, [1]), (4, [1, 2, 3, 4]), (10, list(range(1, 11))),
                                            (116, [1, 2, 5, 10, 20, 50, 100]),
                                            (1000, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])])
def test_count_ticks_are_whole_numbers_up_to_the_largest(largest, ticks):
    assert count_ticks(largest) == ticks


def test_compare_figures_are_shared_by_equal_rows_and_show_each_rows_own_values():
    rows = tuple(ResultRow(problem="p", method="svd", algorithm="svd", rank=k, trial=0, seed=0, loss=1.0 / k,
                           relative_loss=0.5 / k, seconds=0.1 * k, n_params=10 * k,
                           evaluation={HELDOUT_COLUMN: 2.0 / k}) for k in (1, 2, 3))
    settings = dict(value="relative_loss", loss_label="relative loss", log_y=True, bands=False)

    def y(figures, chart):
        (trace,) = figures[chart].data  # one method, no bands, no flagged results
        return list(np.asarray(trace.y, dtype=float))

    first = compare_figures(rows, ("svd",), (HELDOUT_COLUMN,), **settings)
    assert compare_figures(tuple(replace(r) for r in rows), ("svd",), (HELDOUT_COLUMN,), **settings) is first
    assert y(first, "time") == pytest.approx([0.1, 0.2, 0.3])
    # A result computed again (another time) or under another split: figures of their own.
    again = compare_figures(rows[:2] + (replace(rows[2], seconds=5.0),), ("svd",), (HELDOUT_COLUMN,), **settings)
    assert y(again, "time") == pytest.approx([0.1, 0.2, 5.0])
    split = compare_figures(rows[:2] + (replace(rows[2], evaluation={HELDOUT_COLUMN: 0.125}),), ("svd",),
                            (HELDOUT_COLUMN,), **settings)
    assert y(split, HELDOUT_COLUMN) == pytest.approx([2.0, 1.0, 0.125])
    assert y(first, HELDOUT_COLUMN) == pytest.approx([2.0, 1.0, 2.0 / 3])
