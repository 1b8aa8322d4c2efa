"""The server's memory stays within the README's budget (Limits and guarantees) when many
distinct problems go through svd_w and css, whose results divide by W: a subprocess runs the
sweep engine as the dashboard does -- one server-wide result cache, each problem dropped
when its session ends -- and reports its resident memory (VmRSS), not the cache's count."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N, D, PROBLEMS = 2000, 800, 5
BUDGET = 16_000_000  # the cache's factor budget here (the dashboard's is 1 GiB per page)

SCRIPT = """
import gc, json, sys
import numpy as np
from wlra_core import Problem
from wlra_core.sweep import ResultCache, make_sweep, run_all

def rss():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) * 1024

n, d, problems, budget = map(int, sys.argv[1:])
cache = ResultCache(max_factor_bytes=budget)
seen = []
for seed in range(problems):
    rng = np.random.default_rng(seed)
    problem = Problem(rng.standard_normal((n, d)), rng.random((n, d)) + 0.1, name=f"session {seed}")
    run_all(make_sweep(problem, ["svd_w", "css"], range(1, 6)), cache)
    del problem  # the session ends
    gc.collect()
    seen.append(rss())
print(json.dumps({"rss": seen, "cached": len(cache), "factor_bytes": cache.factor_bytes}))
"""


def test_distinct_problems_through_svd_w_leave_memory_within_the_cache_budget():
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(N), str(D), str(PROBLEMS), str(BUDGET)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["cached"] == PROBLEMS * 2 * 5 and report["factor_bytes"] <= BUDGET
    # After the first problem the process holds its working set; each later problem may add
    # no more than what the cache keeps (its budget), however many problems came and went.
    # Keeping each W alive would add 12.8 MB per problem (and its scaled copies more).
    first, last = report["rss"][0], report["rss"][-1]
    w_bytes = N * D * 8
    assert last - first <= BUDGET + w_bytes, [f"{r / 1e6:.0f} MB" for r in report["rss"]]
