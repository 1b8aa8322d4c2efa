"""Compression: put each approximation of the MLP's hidden kernel back into the network and
measure test accuracy -- does a lower Fisher-weighted loss buy accuracy?"""
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from pages._shared import cached_run_status, stop_button, chart, current_problem, problem_summary
from wlra_core import ALGORITHMS, Problem
from wlra_core.compression import (
    compression_sweep,
    loss_accuracy_correlation,
    pareto_front,
    require_model,
    rows_to_csv,
    uncompressed_row,
)
from wlra_core.views import ResultCache, cached_rows, make_plan

COLORS = {name: qualitative.Plotly[i % len(qualitative.Plotly)] for i, name in enumerate(ALGORITHMS)}
DEFAULT_ALGORITHMS = ["svd", "svd_w", "svd_w_practical", "fwsvd"]
STOPPED = "compression_stopped"
REDRAW_SECONDS = 0.5


@st.cache_resource
def compression_cache() -> ResultCache:
    """Compression rows of every run on this server, by problem, algorithm, options, rank, seed."""
    return ResultCache()


@st.cache_data(show_spinner="Evaluating the uncompressed network...", max_entries=16)
def baseline(problem_fingerprint: str, _problem: Problem) -> dict:
    return uncompressed_row(_problem)


def by_algorithm(rows):
    groups = {}
    for row in rows:
        if not row["failed"]:
            groups.setdefault(row["algorithm"], []).append(row)
    return {name: sorted(group, key=lambda r: r["rank"]) for name, group in groups.items()}


def hover(name):
    return (f"{name}<br>rank %{{customdata[0]}} · %{{customdata[1]}} parameters"
            f"<br>compression ratio %{{customdata[2]:.1f}}x<br>%{{y:.4g}}<extra></extra>")


def line_figure(rows, reference, *, x, y, title, x_title, y_title, log_x=False, log_y=False, front=None):
    fig = go.Figure()
    for name, group in by_algorithm(rows).items():
        fig.add_trace(go.Scatter(
            x=[r[x] for r in group], y=[r[y] for r in group], name=name, mode="lines+markers",
            line=dict(color=COLORS.get(name)), marker=dict(size=6),
            customdata=[[r["rank"], r["n_params"], r["compression_ratio"]] for r in group],
            hovertemplate=hover(name),
        ))
    if front:
        fig.add_trace(go.Scatter(
            x=[r[x] for r in front], y=[r[y] for r in front], name="Pareto front", mode="lines",
            line=dict(color="gray", dash="dot", shape="hv"), hoverinfo="skip",
        ))
    if reference is not None:
        fig.add_hline(y=reference, line=dict(color="black", dash="dash"),
                      annotation_text=f"uncompressed {reference:.4f}", annotation_position="top left")
    fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(title=x_title, type="log" if log_x else "linear")
    fig.update_yaxes(title=y_title, type="log" if log_y else "linear")
    return fig


def draw(rows, base, slots, tag):
    if not rows:
        return
    with slots[0].container():
        chart(line_figure(rows, base["accuracy"], x="rank", y="accuracy", title="Test accuracy vs rank",
                          x_title="rank k", y_title="test accuracy"),
              "Accuracy of the network with its hidden kernel replaced by each rank-k approximation; "
              "the dashed line is the uncompressed network -- look for how fast each method approaches it.",
              key=f"acc-rank-{tag}")
    with slots[1].container():
        chart(line_figure(rows, base["accuracy"], x="n_params", y="accuracy",
                          title="Test accuracy vs stored parameters", x_title="stored parameters (kernel)",
                          y_title="test accuracy", log_x=True, front=pareto_front(rows)),
              f"The same accuracies against the numbers each solution stores (the kernel has "
              f"{base['n_params']}; hover for the compression ratio); the dotted line is the Pareto front.",
              key=f"acc-params-{tag}")
    with slots[2].container():
        chart(line_figure(rows, None, x="rank", y="relative_loss", title="Fisher-weighted loss vs rank",
                          x_title="rank k", y_title="relative loss ||W o (A - X)||² / ||W o A||²", log_y=True),
              "The loss the algorithms minimise; compare the order of the curves with the accuracy chart "
              "-- a method that wins here need not win there.",
              key=f"loss-rank-{tag}")
    with slots[3].container():
        fig = go.Figure()
        for name, group in by_algorithm(rows).items():
            fig.add_trace(go.Scatter(
                x=[r["relative_loss"] for r in group], y=[r["accuracy"] for r in group], name=name,
                mode="markers", marker=dict(color=COLORS.get(name), size=8),
                customdata=[[r["rank"], r["n_params"], r["compression_ratio"]] for r in group],
                hovertemplate=hover(name),
            ))
        fig.update_layout(title="Accuracy vs Fisher-weighted loss", height=420, margin=dict(l=10, r=10, t=50, b=10))
        fig.update_xaxes(title="relative weighted loss", type="log")
        fig.update_yaxes(title="test accuracy")
        rho = loss_accuracy_correlation(rows)
        verdict = ("" if np.isnan(rho) else f" Spearman correlation {rho:+.2f} over these runs: "
                   + ("lower loss goes with higher accuracy." if rho < -0.5 else "the loss predicts accuracy poorly."))
        chart(fig, "One point per (algorithm, rank): if the weighted loss predicted accuracy the points would "
                   "fall on one decreasing curve." + verdict, key=f"acc-loss-{tag}")


problem, key = current_problem()
n, d = problem.shape
st.title("Compression")
st.markdown(problem_summary(problem))
st.markdown("Each algorithm's rank-k approximation replaces the hidden kernel A of the MLP the problem "
            "came from; the network is then evaluated on the stored test set (numpy forward pass).")

try:
    require_model(problem)
except ValueError as err:
    st.info(f"{err}. Load one on the Data page (the shipped Fashion-MNIST problem, a tfds dataset "
            "or sklearn digits).")
    st.stop()

algorithms = st.multiselect("Algorithms", ALGORITHMS, default=DEFAULT_ALGORITHMS, key="compression-algorithms",
                            help="Each one's solution at every rank is put back into the network.")
col_ranks, col_seed = st.columns([4, 1])
max_rank = min(n, d)
low, high = col_ranks.slider("Ranks", 1, max_rank, (1, min(20, max_rank)), key="compression-ranks")
seed = int(col_seed.number_input("Seed", min_value=0, value=0, step=1, key="compression-seed"))

try:
    plan = make_plan(problem, key, algorithms, range(low, high + 1), 1, seed, {})
except ValueError as err:
    st.error(str(err))
    st.stop()

cache = compression_cache()
base = baseline(key, problem)
rows = cached_rows(plan, cache)
st.metric("Uncompressed test accuracy", f"{base['accuracy']:.4f}",
          help=f"The trained network as stored: {base['n_params']} kernel parameters.")

run = st.button("Run", type="primary", icon=":material/play_arrow:", key="compression-run")
status = st.empty()
stop_slot = st.empty()
left, right = st.columns(2)
slots = (left.empty(), right.empty(), left.empty(), right.empty())

cached_run_status(status, rows, plan.size, run, STOPPED)

if run:
    stop_button(stop_slot, "compression-stop", STOPPED)
    started = time.perf_counter()
    pending = [(name, [k for k in plan.ranks if cache.get(plan.key(name, k, 0)) is None]) for name in plan.algorithms]
    pending = [(name, ranks) for name, ranks in pending if ranks]
    total = sum(len(ranks) for _, ranks in pending)
    progress = {"done": 0, "last_draw": 0.0}

    def on_row(row):
        cache.put(plan.key(row["algorithm"], row["rank"], 0), row)
        rows.append(row)
        progress["done"] += 1
        status.progress(progress["done"] / total, text=f"{progress['done']}/{total} · {row['algorithm']} "
                                                       f"rank {row['rank']}: accuracy {row['accuracy']:.4f}")
        if time.perf_counter() - progress["last_draw"] >= REDRAW_SECONDS:
            draw(rows, base, slots, tag=f"live{progress['done']}")
            progress["last_draw"] = time.perf_counter()

    # A Stop click reruns the page, which interrupts this loop; finished rows are cached.
    for name, ranks in pending:
        status.progress(progress["done"] / total, text=f"{progress['done']}/{total} · running {name}")
        compression_sweep(problem, [name], ranks, seed=seed, options={name: plan.options_for(name)},
                          on_row=on_row)
    stop_slot.empty()
    rows = cached_rows(plan, cache)
    status.success(f"Done: {progress['done']} new results in {time.perf_counter() - started:.1f} s "
                   f"({plan.size - progress['done']} from the cache).")

if not rows:
    st.info("Press Run to compress the kernel and evaluate the network.")
    st.stop()

draw(rows, base, slots, tag="final")

failed = [r for r in rows if r["failed"]]
if failed:
    st.error("Failed results (left out of the charts):  \n" + "  \n".join(
        f"**{r['algorithm']}** rank {r['rank']}: {r['message']}" for r in failed))

st.subheader("Every result")
st.dataframe([base] + rows, hide_index=True)
st.download_button("Download the table (CSV)", rows_to_csv([base] + rows), file_name="wlra_compression.csv",
                   mime="text/csv", icon=":material/download:")
