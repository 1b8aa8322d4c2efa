"""Refine: the paper's Figure 4 -- EM started from svd_w_practical vs from zero and from svd."""
import plotly.graph_objects as go
import streamlit as st

from app_pages._shared import chart, loaded_problem, problem_summary
from wlra_core import Problem
from wlra_core.display import REFINE_STARTS, algorithm_style, refine_sweep, relative_history
from wlra_core.sweep import ResultCache, run_all


def start_styles() -> dict[str, dict]:
    """Line and marker per start: its algorithm's colour and marker shape (every page's), and
    a dash and a fill telling apart the starts of one algorithm (EM from zero, EM from svd)."""
    variants = (("solid", ""), ("dash", "-open"), ("dot", "-open-dot"))
    seen, out = {}, {}
    for label, (algorithm, _) in REFINE_STARTS.items():
        seen[algorithm] = seen.get(algorithm, -1) + 1
        dash, fill = variants[seen[algorithm] % len(variants)]
        style = algorithm_style(algorithm)
        out[label] = {"line": dict(color=style["color"], dash=dash),
                      "marker": dict(size=6, symbol=style["symbol"] + fill, color=style["color"])}
    return out


STYLES = start_styles()
REQUESTED = "refine_requested"


@st.cache_data(show_spinner="Running EM from three starts...", max_entries=32)
def cached_refine(problem_fingerprint: str, rank: int, n_iter: int, seed: int, _problem: Problem):
    sweep = refine_sweep(_problem, rank, n_iter, seed=seed)
    cache = ResultCache()
    _, errors = run_all(sweep, cache)
    runs = {row.method: (relative_history(result), result.seconds, result.failed, result.message)
            for row, result in sweep.entries(cache)}
    return runs, errors


problem, key = loaded_problem()
n, d = problem.shape
st.title("Refine")
st.markdown(problem_summary(problem))
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
settings = (key, rank, n_iter, seed)

if st.button("Run EM from three starts", type="primary", icon=":material/play_arrow:", key="refine-run"):
    st.session_state[REQUESTED] = settings
if st.session_state.get(REQUESTED) != settings:
    st.info("Press the button to run (results are cached: coming back is instant).")
    st.stop()

runs, errors = cached_refine(key, rank, n_iter, seed, problem)
for message in errors:
    st.error(message)
for label, (_, _, failed, message) in runs.items():
    if failed:
        st.error(f"{label} failed: {message}")

for x, x_title, caption in (
    ("iteration", "EM iteration",
     "Relative weighted loss after each EM iteration (iteration 0 is the start); look at how many "
     "iterations EM from zero needs to reach where EM from svd_w_practical begins."),
    ("seconds", "seconds since the start of the solve",
     "The same runs against wall time, computing the start included; svd_w_em gets lower sooner "
     "because its start costs one SVD and is already good."),
):
    fig = go.Figure()
    for label, (history, _, failed, _) in runs.items():
        if failed:
            continue
        fig.add_trace(go.Scatter(x=history[x], y=history["relative_loss"], name=label,
                                 mode="lines+markers", **STYLES[label]))
    fig.update_layout(title=f"Relative loss vs {x} (rank {rank})", height=420,
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(title="relative loss", type="log", exponentformat="power")
    fig.update_xaxes(title=x_title)
    chart(fig, caption, key=f"refine-{x}")

st.dataframe(
    [{"start": label, "final relative loss": float(h["relative_loss"][-1]), "seconds": seconds}
     for label, (h, seconds, failed, _) in runs.items() if not failed],
    hide_index=True,
)
