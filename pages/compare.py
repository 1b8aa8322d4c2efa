"""Compare: every algorithm over a range of ranks, charts filling in live as results arrive."""
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from pages._shared import cached_run_status, stop_button, chart, current_problem, problem_summary
from wlra_core import ALGORITHMS, get_algorithm
from wlra_core.views import (
    ResultCache,
    cached_rows,
    curves,
    make_plan,
    option_choices,
    parse_option_text,
    rank_table,
    rows_to_csv,
    run_compare,
)

# Seconds between live chart redraws (results of the svd family arrive in bursts).
REDRAW_SECONDS = 0.4
COLORS = {name: qualitative.Plotly[i % len(qualitative.Plotly)] for i, name in enumerate(ALGORITHMS)}
STOPPED = "compare_stopped"
LARGE_PROBLEM = 10_000_000  # entries of A beyond which the per-rank solvers take minutes


@st.cache_resource
def result_cache() -> ResultCache:
    """Results of every Compare run on this server, by problem fingerprint and settings."""
    return ResultCache()


def option_widgets(name: str) -> dict:
    """One widget per declared option of ``name``; returns the values that differ from defaults."""
    chosen = {}
    for option_name, option in get_algorithm(name).options.items():
        key = f"opt-{name}-{option_name}"
        default = option.default
        choices = option_choices(option)
        if choices is not None:
            value = st.selectbox(option_name, choices, key=key, help=option.help, persist_state="session")
        elif isinstance(default, bool):
            value = st.checkbox(option_name, value=default, key=key, help=option.help, persist_state="session")
        elif isinstance(default, int):
            value = int(st.number_input(option_name, value=default, step=1, key=key, help=option.help,
                                        persist_state="session"))
        elif isinstance(default, float):
            value = float(st.number_input(option_name, value=default, format="%g", key=key, help=option.help,
                                          persist_state="session"))
        else:
            text = st.text_input(option_name, value="" if default is None else str(default), key=key,
                                 help=f"{option.help} (empty: default {default!r})", persist_state="session")
            value = parse_option_text(text, default)
        if value != default:
            chosen[option_name] = value
    return chosen


def series_figure(series: dict, order, *, x: str, value: str, title: str, y_title: str,
                  log_y: bool, log_x: bool = False, decade_ticks: str = "D1") -> go.Figure:
    fig = go.Figure()
    for name in (n for n in order if n in series):
        s = series[name]
        label = name
        if s["failed_ranks"].size:
            label += f" (failed at rank {', '.join(map(str, s['failed_ranks']))})"
        fig.add_trace(go.Scatter(
            x=s[x], y=s["mean"], name=label, mode="lines+markers",
            line=dict(color=COLORS[name]), marker=dict(size=6),
            error_y=dict(type="data", array=s["std"], visible=bool(np.any(s["std"] > 0))),
            customdata=np.column_stack([s["rank"], s["n_params"]]),
            hovertemplate=f"{name}<br>rank %{{customdata[0]}}, %{{customdata[1]}} parameters"
                          f"<br>{value} %{{y:.4g}}<extra></extra>",
        ))
    if not fig.data:
        fig.add_annotation(text="Press Run: the curves appear here as results arrive",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    # showlegend: plotly hides the legend of a single trace, which left the first
    # algorithm's curve unnamed until the second arrived.
    fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=50, b=10),
                      showlegend=True, legend=dict(font=dict(size=11)))
    # Log axes label minor ticks with bare digits (2, 3, ...) unless told a format;
    # "D1" labels every digit of a decade (losses span < 1 decade), "D2" only 2 and 5.
    fig.update_yaxes(title=y_title, type="log" if log_y else "linear",
                     dtick=decade_ticks if log_y else None, tickformat=".2~g" if log_y else None)
    fig.update_xaxes(title="rank k" if x == "rank" else "stored parameters", type="log" if log_x else "linear")
    return fig


def draw(rows: list[dict], order, slots, *, value: str, log_y: bool, tag: str) -> None:
    """Fill the three chart slots from ``rows`` (mean +- std over trials)."""
    loss_label = "relative loss ||W o (A - X)||² / ||W o A||²" if value == "relative_loss" else "loss ||W o (A - X)||²"
    losses, seconds = curves(rows, value), curves(rows, "seconds")
    with slots[0].container():
        chart(series_figure(losses, order, x="rank", value=value, title="Weighted loss vs rank",
                            y_title=loss_label, log_y=log_y),
              "Weighted loss of each algorithm's rank-k solution (mean ± std over trials); lower is "
              "better -- look for svd_w close to the slow em/als at a fraction of their time.",
              key=f"loss-{tag}")
    with slots[1].container():
        chart(series_figure(seconds, order, x="rank", value="seconds", title="Runtime vs rank",
                            y_title="seconds", log_y=True, decade_ticks="D2"),
              "Wall time per solution (the svd family computes one SVD for all ranks and counts it "
              "in each); look for the orders of magnitude between one-shot and iterative methods.",
              key=f"time-{tag}")
    with slots[2].container():
        chart(series_figure(losses, order, x="n_params", value=value, title="Weighted loss vs stored parameters",
                            y_title=loss_label, log_y=log_y, log_x=True),
              "The same losses against the numbers each solution needs to store; svd_w with weight "
              "rank r stores (rk + r)(n + d), so compare methods at equal storage, not equal rank.",
              key=f"params-{tag}")


problem, key = current_problem()
n, d = problem.shape
st.title("Compare")
st.markdown(problem_summary(problem))
if n * d >= LARGE_PROBLEM:
    shared = [name for name in ALGORITHMS if get_algorithm(name).prepare is not None]
    st.info(f"A large problem ({n} x {d}): {', '.join(shared)} compute one SVD for all ranks and take "
            "seconds; the others solve every rank anew and can take minutes per rank at this size. "
            "Results appear as they finish, and Stop keeps them.")

algorithms = st.multiselect("Algorithms", ALGORITHMS, default=[a for a in ALGORITHMS if a != "adam"], key="compare-algorithms", persist_state="session",
                            help="adam is off by default: it trains with TensorFlow and is slow.")
col_ranks, col_trials, col_seed = st.columns([3, 1, 1])
max_rank = min(n, d)
low, high = col_ranks.slider("Ranks", 1, max_rank, (1, min(20, max_rank)), key=f"compare-ranks-{max_rank}",
                             persist_state="session")
trials = int(col_trials.number_input("Trials", min_value=1, max_value=20, value=1, step=1, key="compare-trials", persist_state="session",
                                     help="Runs per rank with seeds seed, seed+1, ...; charts show mean ± std."))
seed = int(col_seed.number_input("Seed", min_value=0, value=0, step=1, key="compare-seed", persist_state="session"))
col_where, col_scheduler = st.columns([1, 2])
on_cluster = col_where.radio(
    "Run on", ["this process", "Dask cluster"], horizontal=True, key="compare-where", persist_state="session",
    help="A Dask cluster runs each (algorithm, trial) as one task on its workers; the results "
         "equal this process's for the same seeds.") == "Dask cluster"
scheduler = None
if on_cluster:
    scheduler = col_scheduler.text_input(
        "Dask scheduler", value="local", key="compare-scheduler", persist_state="session",
        help="local: a 2-worker cluster on 127.0.0.1 started for the run; or the address of a "
             "running scheduler, e.g. tcp://10.0.0.5:8786.").strip()

options = {}
if algorithms:
    st.markdown("**Settings per algorithm**")
    columns = st.columns(3)
    for i, name in enumerate(algorithms):
        with columns[i % 3], st.expander(name):
            st.caption(get_algorithm(name).summary)
            options[name] = option_widgets(name)

try:
    plan = make_plan(problem, key, algorithms, range(low, high + 1), trials, seed, options)
except ValueError as err:
    st.error(str(err))
    st.stop()

cache = result_cache()
rows = cached_rows(plan, cache)
col_run, col_clear, col_rel, col_log = st.columns([1, 1, 1, 1])
run = col_run.button("Run", type="primary", icon=":material/play_arrow:", key="compare-run")
if col_clear.button("Forget cached results", help="Clear every cached Compare result on this server.",
                    key="compare-clear"):
    cache.clear()
    rows = []
value = "relative_loss" if col_rel.toggle("Relative loss", value=True, key="compare-relative", persist_state="session") else "loss"
log_y = col_log.toggle("Log y axis", value=True, key="compare-log-y", persist_state="session")

status = st.empty()
stop_slot = st.empty()
top_left, top_right = st.columns(2)
slots = (top_left.empty(), top_right.empty(), st.empty())
errors: list[str] = []

cached_run_status(status, rows, plan.size, run, STOPPED)

if run:
    stop_button(stop_slot, "compare-stop", STOPPED)
    started = time.perf_counter()
    new = 0
    last_draw = 0.0
    updates = run_compare(problem, plan, cache, scheduler=scheduler)
    try:
        for update in updates:
            status.progress(update.done / update.total, text=f"{update.done}/{update.total} · {update.message}")
            if update.error:
                errors.append(update.error)
            if update.row is not None:
                rows.append(update.row)
                new += 1
                if time.perf_counter() - last_draw >= REDRAW_SECONDS:
                    draw(rows, plan.algorithms, slots, value=value, log_y=log_y, tag=f"live{new}")
                    last_draw = time.perf_counter()
    finally:
        updates.close()
    stop_slot.empty()
    rows = cached_rows(plan, cache)
    done = (f"Done: {new} new results in {time.perf_counter() - started:.1f} s "
            f"({plan.size - new} from the cache).")
    (status.warning if errors else status.success)(done + (" Errors below." if errors else ""))
    for message in errors:
        st.error(message)

# Without results the charts are drawn empty: their axes show what is coming, and the
# browser loads the chart library before Run, so the first points appear at once.
draw(rows, plan.algorithms, slots, value=value, log_y=log_y, tag="final")
if not rows:
    st.stop()

failed = [r for r in rows if r["failed"]]
if failed:
    st.error("Failed results (shown as gaps in the charts):  \n" + "  \n".join(
        f"**{r['algorithm']}** rank {r['rank']} trial {r['trial']}: {r['message']}" for r in failed))

st.subheader("At ranks 5, 10 and 20 (the paper's Tables 3-5)")
tab_loss, tab_time = st.tabs(["Relative loss" if value == "relative_loss" else "Loss", "Seconds"])
with tab_loss:
    st.dataframe(rank_table(rows, value=value), hide_index=True)
with tab_time:
    st.dataframe(rank_table(rows, value="seconds"), hide_index=True)
st.download_button("Download every result (CSV)", rows_to_csv(rows), file_name="wlra_compare.csv",
                   mime="text/csv", icon=":material/download:")
