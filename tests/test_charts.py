"""Chart conventions of app_pages._charts: tick values of count axes."""
import pytest

from app_pages._charts import count_ticks


@pytest.mark.parametrize("largest, ticks", [(1, [1]), (4, [1, 2, 3, 4]), (10, list(range(1, 11))),
                                            (116, [1, 2, 5, 10, 20, 50, 100]),
                                            (1000, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])])
def test_count_ticks_are_whole_numbers_up_to_the_largest(largest, ticks):
    assert count_ticks(largest) == ticks
