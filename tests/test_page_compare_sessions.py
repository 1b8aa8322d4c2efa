"""Two sessions of the Compare page on one server (two AppTests in one process share its
result cache): "Forget cached results" clicked in one tab while another tab's sweep runs
leaves that sweep every result it computed, and its counts as they are."""
import re
import threading
import time

from app_pages._runs import result_cache
from apptest_helpers import figures, method_traces, open_page, xy
from wlra_core.datasets.synthetic import planted_low_rank

PAGE = "app_pages/compare.py"
NAMES = ["svd", "em"]  # svd finishes at once, em takes seconds: the click lands meanwhile
RANKS = (1, 8)


def test_forgetting_the_cache_in_one_tab_leaves_a_running_sweep_in_another_its_results():
    problem = planted_low_rank(n=200, d=150, rank=5, weight_rank=2, noise=0.1, seed=19)  # this test's own
    running, other = open_page(PAGE, problem), open_page(PAGE, problem)
    running.multiselect(key="compare-algorithms").set_value(NAMES).run()
    running.slider(key="compare-ranks-150").set_value(RANKS)
    running.number_input(key="opt-em-tol").set_value(0.0)  # every iteration: em takes seconds
    other.button(key="compare-clear").click().run()  # no other test's results: this run's are the first stored
    cache = result_cache("compare")  # the server-wide cache both sessions use
    assert len(cache) == 0
    running.button(key="compare-run").click()
    thread = threading.Thread(target=running.run)
    thread.start()
    deadline = time.monotonic() + 60
    while not len(cache) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    other.button(key="compare-clear").click().run()
    assert not other.exception
    thread.join(120)
    assert not thread.is_alive()
    size = len(NAMES) * (RANKS[1] - RANKS[0] + 1)
    assert 0 < len(cache) < size, "the other tab's click must land while the sweep runs"
    assert not running.exception and not running.error and not running.warning
    # What the user of the running tab reads: every result is this run's, none lost.
    assert re.fullmatch(rf"Done: {size} new results in [0-9.]+ s\.", running.success[0].value)
    traces = method_traces(figures(running)["Weighted loss vs rank"])
    assert list(traces) == NAMES
    for name in NAMES:
        assert list(xy(traces[name])[0]) == list(range(RANKS[0], RANKS[1] + 1)), name
    assert list(running.table[0].value["method"]) == NAMES  # the table at ranks 5 and 10
