"""Refine: the paper's Figure 4 -- EM started from svd_w_practical vs from zero and from svd."""
import streamlit as st

from app_pages._charts import chart, refine_figure
from app_pages._state import BY_FINGERPRINT, page_header
from app_pages._views import refine_sweep, relative_history
from wlra_core import Problem
from wlra_core.sweep import ResultCache, run_all

REQUESTED = "refine_requested"


@st.cache_data(show_spinner="Running EM from three starts...", max_entries=32, hash_funcs=BY_FINGERPRINT)
def cached_refine(problem: Problem, rank: int, n_iter: int, seed: int):
    sweep = refine_sweep(problem, rank, n_iter, seed=seed)
    cache = ResultCache()
    _, errors = run_all(sweep, cache)
    runs = {row.method: (relative_history(result), result.seconds, result.failed, result.message)
            for row, result in sweep.entries(cache)}
    return runs, errors


problem = page_header("Refine")
n, d = problem.shape
st.markdown(
    "The paper's Figure 4: `svd_w` is a one-SVD solution; a few EM iterations started from it "
    "(`svd_w_em`) reach a loss that EM from zero needs many iterations -- and much more time -- "
    "to reach. EM from the unweighted SVD is a third start for comparison."
)
col_rank, col_iter, col_seed = st.columns([2, 2, 1])
max_rank = min(n, d, 100)
if max_rank > 1:
    rank = int(col_rank.slider("Rank k", 1, max_rank, min(20, max_rank), key=f"refine-rank-{max_rank}",
                               persist_state="session"))
else:
    rank = 1
    col_rank.markdown("**Rank 1** -- the only rank of a problem with a single row or column.")
n_iter = int(col_iter.slider("EM iterations", 1, 100, 25, key="refine-iterations", persist_state="session"))
seed = int(col_seed.number_input("Seed", min_value=0, value=0, step=1, key="refine-seed", persist_state="session"))
settings = (problem.fingerprint, rank, n_iter, seed)

if st.button("Run EM from three starts", type="primary", icon=":material/play_arrow:", key="refine-run"):
    st.session_state[REQUESTED] = settings
if st.session_state.get(REQUESTED) != settings:
    st.info("Press the button to run (results are cached: coming back is instant).")
    st.stop()

runs, errors = cached_refine(problem, rank, n_iter, seed)
for message in errors:
    st.error(message)
for label, (_, _, failed, message) in runs.items():
    if failed:
        st.error(f"{label} failed: {message}")

histories = {label: history for label, (history, _, failed, _) in runs.items() if not failed}
for x, x_title, caption in (
    ("iteration", "EM iteration",
     "Relative weighted loss after each EM iteration (iteration 0 is the start); look at how many "
     "iterations EM from zero needs to reach where EM from svd_w_practical begins."),
    ("seconds", "seconds since the start of the solve",
     "The same runs against wall time, computing the start included; svd_w_em gets lower sooner "
     "because its start costs one SVD and is already good."),
):
    chart(refine_figure(histories, x=x, x_title=x_title, rank=rank), caption, key=f"refine-{x}")

st.dataframe(
    [{"start": label, "final relative loss": float(h.relative_loss[-1]), "seconds": seconds}
     for label, (h, seconds, failed, _) in runs.items() if not failed],
    hide_index=True,
)
