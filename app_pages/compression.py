"""Compression: put each approximation of the MLP's hidden kernel back into the network and
measure test accuracy per stored number -- which method compresses this model best?"""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages._shared import (
    LEGEND_BELOW,
    cached_run_status,
    chart,
    flag_rings,
    loaded_problem,
    log_axis,
    problem_summary,
    result_cache,
    run_live,
    show_failed,
)
from wlra_core import ALGORITHMS, Problem, get_algorithm
from wlra_core.compression import (
    WEIGHT_TRANSFORMS,
    best_per_stored_number,
    compression_plan,
    entrywise_weighting_facts,
    loss_accuracy_correlation,
    method_label,
    pareto_front,
    require_model,
    row_accuracy,
    uncompressed_row,
    weight_transform,
)
from wlra_core.display import algorithm_style
from wlra_core.tables import ResultRow, rows_to_csv

DEFAULT_ALGORITHMS = [a for a in ("svd", "svd_w", "svd_w_practical", "fwsvd", "whiten", "kfac") if a in ALGORITHMS]
STOPPED = "compression_stopped"
DASHES = dict(zip(WEIGHT_TRANSFORMS, ("solid", "dash")))


@st.cache_resource(show_spinner="Computing the weights...", max_entries=4)
def transformed_problem(problem_fingerprint: str, transform: str, _problem: Problem) -> Problem:
    """:func:`wlra_core.compression.weight_transform` of the problem, made (and its W checked
    and hashed) once per problem and transform, so that every rerun's sweep and cached
    result shares one sqrt(F)."""
    return weight_transform(_problem, transform)


def cached_transform(problem: Problem, transform: str) -> Problem:
    return transformed_problem(problem.fingerprint, transform, problem)


@st.cache_data(show_spinner="Evaluating the uncompressed network...", max_entries=16)
def baseline(problem_fingerprint: str, _problem: Problem, transform: str) -> ResultRow:
    return uncompressed_row(_problem, transform)


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def groups(rows, several_transforms):
    out = {}
    for row in rows:
        if not row.failed:
            out.setdefault(method_label(row, several_transforms), []).append(row)
    return {label: sorted(group, key=lambda r: r.rank) for label, group in out.items()}


HOVER = ("%{fullData.name}<br>rank %{customdata[0]} · %{customdata[1]:,} stored numbers"
         "<br>compression ratio %{customdata[2]:.1f}x<br>%{customdata[3]}<extra></extra>")


def line_figure(rows, several, reference, *, x, y, title, x_title, y_title, log_x=False, log_y=False,
                y_percent=False, front=None, mode="lines+markers"):
    """``x`` and ``y`` name columns of the rows (:meth:`ResultRow.value`)."""
    fig = go.Figure()
    for label, group in groups(rows, several).items():
        style = algorithm_style(group[0].algorithm)
        fig.add_trace(go.Scatter(
            x=[r.value(x) for r in group], y=[r.value(y) for r in group], name=label, mode=mode,
            line=dict(color=style["color"], dash=DASHES.get(group[0].problem, "solid")),
            marker=dict(size=8, symbol=style["symbol"], color=style["color"]),
            customdata=[[r.rank, r.n_params, r.evaluation["compression_ratio"],
                         f"accuracy {percent(row_accuracy(r))}" + (f"<br>! {r.warnings}" if r.warnings else "")]
                        for r in group],
            hovertemplate=HOVER,
        ))
        flag_rings(fig, label, [r.value(x) for r in group], [r.value(y) for r in group], [r.warnings for r in group])
    if front:
        fig.add_trace(go.Scatter(
            x=[r.value(x) for r in front], y=[r.value(y) for r in front], name="Pareto front", mode="lines",
            line=dict(color="gray", dash="dot", shape="hv"), hoverinfo="skip",
        ))
    if reference is not None:
        fig.add_hline(y=reference, line=dict(color="black", dash="dash"),
                      annotation_text=f"uncompressed {percent(reference)}", annotation_position="top left")
    fig.update_layout(title=title, height=480, margin=dict(l=10, r=10, t=50, b=10), legend=LEGEND_BELOW)
    fig.update_xaxes(title=x_title, **(log_axis(r.value(x) for r in rows if not r.failed) if log_x else {}))
    fig.update_yaxes(title=y_title, **(log_axis(r.value(y) for r in rows if not r.failed) if log_y else {}))
    if y_percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def draw(rows, base, several, slots, tag):
    if not rows:
        return
    accuracy = row_accuracy(base)
    with slots[0].container():
        chart(line_figure(rows, several, accuracy, x="rank", y="accuracy", title="Test accuracy vs rank",
                          x_title="rank k", y_title="test accuracy", y_percent=True),
              "Accuracy of the network with its hidden kernel replaced by each rank-k approximation; "
              "the dashed line is the uncompressed network -- look for how fast each method approaches it.",
              key=f"acc-rank-{tag}")
    with slots[1].container():
        chart(line_figure(rows, several, accuracy, x="n_params", y="accuracy",
                          title="Test accuracy vs stored numbers", x_title="stored numbers (entries kept)",
                          y_title="test accuracy", log_x=True, y_percent=True, front=pareto_front(rows)),
              f"The same accuracies against the entries each solution must store (the kernel has "
              f"{base.n_params:,}; hover for the compression ratio); the dotted line is the Pareto front. "
              "Methods that divide by W store W too, which moves them right.",
              key=f"acc-params-{tag}")
    with slots[2].container():
        chart(line_figure(rows, several, None, x="rank", y="relative_loss", title="Weighted loss vs rank",
                          x_title="rank k", y_title="relative loss ||W o (A - X)||² / ||W o A||²", log_y=True),
              "The loss the WLRA methods minimise (with their own W); compare the order of the curves with "
              "the accuracy chart -- a method that wins here need not win there.",
              key=f"loss-rank-{tag}")
    with slots[3].container():
        fig = line_figure(rows, several, None, x="relative_loss", y="accuracy", mode="markers",
                          title="Accuracy vs weighted loss", x_title="relative weighted loss",
                          y_title="test accuracy", log_x=True, y_percent=True)
        rho = loss_accuracy_correlation(rows)
        verdict = ("" if np.isnan(rho) else f" Spearman correlation {rho:+.2f} over these runs: "
                   + ("lower loss goes with higher accuracy." if rho < -0.5 else "the loss predicts accuracy poorly."))
        chart(fig, "One point per (method, rank): if the weighted loss predicted accuracy the points would "
                   "fall on one decreasing curve." + verdict, key=f"acc-loss-{tag}")


def headline(rows, base):
    uncompressed = row_accuracy(base)
    best = best_per_stored_number(rows, uncompressed)
    if best is None:
        return
    example = best.example
    st.subheader(f"Best accuracy per stored number here: {best.label}")
    st.markdown(
        f"It holds {best.front_points} of the {best.front_size} points on the Pareto front of accuracy "
        f"against stored numbers. At rank {example.rank} it keeps **{percent(row_accuracy(example))}** "
        f"({row_accuracy(example) / uncompressed:.1%} of the uncompressed {percent(uncompressed)}) "
        f"with {example.n_params:,} numbers, {example.evaluation['compression_ratio']:.1f}x fewer than the kernel.")


def why_not_entrywise(rows, problem):
    facts = entrywise_weighting_facts(rows, problem)
    if facts is None:
        return
    row, other = facts.row, facts.best_other
    comparison = ("" if other is None else
                  f" At the same rank {other.method} reaches {percent(row_accuracy(other))} with a weighted loss "
                  f"of {other.relative_loss:.3g}.")
    st.markdown(
        f"**Why entrywise Fisher weighting does not win here.** At rank {row.rank}, svd_w with W = F has "
        f"the lowest Fisher-weighted loss it can get ({row.relative_loss:.3g} relative), yet the network "
        f"scores {percent(row_accuracy(row))}.{comparison} The Fisher information weights each kernel entry "
        f"alone and spans many orders of magnitude (the smallest nonzero weight is "
        f"{facts.smallest_weight:.2g} of the largest); svd_w divides by it, so its kernel has entries up to "
        f"{row.max_abs:.3g} where the trained kernel's largest is {facts.kernel_max_abs:.3g}, and "
        f"rebuilding it needs W itself: {row.n_params:,} stored numbers for a {facts.kernel_entries:,}-entry "
        "kernel. A tiny Fisher weight means the entry's input pixel was almost always dark in training, so "
        "the quadratic model of the loss (valid for small changes) says its error hardly matters; but a "
        "test image that lights that pixel even faintly multiplies an entry of that size, and the hidden "
        "units saturate. whiten and kfac weight whole input and output directions by their second moments "
        "(C = E[x xᵀ], G = E[δ δᵀ]) and store only k(n + d) numbers.")


problem, key = loaded_problem()
n, d = problem.shape
st.title("Compression")
st.markdown(problem_summary(problem))
st.markdown("Each method's rank-k approximation replaces the hidden kernel A of the MLP the problem came from; "
            "the network is then evaluated on the stored test set (numpy forward pass through the stored "
            "factors). `whiten` and `kfac` use calibration moments of the training data instead of W.")

try:
    require_model(problem)
except ValueError as err:
    st.info(f"{err}. Load one on the Data page (the shipped Fashion-MNIST problem, a tfds dataset "
            "or sklearn digits).")
    st.stop()

algorithms = st.multiselect("Methods", ALGORITHMS, default=DEFAULT_ALGORITHMS, key="compression-algorithms",
                            persist_state="session",
                            help="Each one's solution at every rank is put back into the network.")
col_ranks, col_transform, col_floor, col_seed = st.columns([3, 2, 1, 1])
max_rank = min(n, d)
if max_rank > 1:
    low, high = col_ranks.slider("Ranks", 1, max_rank, (1, min(20, max_rank)), key=f"compression-ranks-{max_rank}",
                                 persist_state="session")
else:
    low = high = 1
    col_ranks.markdown("**Rank 1** only.")
transforms = col_transform.multiselect(
    "Weights W from the Fisher information F", list(WEIGHT_TRANSFORMS), default=["F"], key="compression-transforms",
    persist_state="session", help="  \n".join(f"{k}: {v}" for k, v in WEIGHT_TRANSFORMS.items()))
floor = col_floor.number_input(
    "weight_floor", min_value=0.0, max_value=1.0, value=0.0, format="%g", key="compression-floor",
    persist_state="session",
    help="The weight_floor of every method that divides by W, as a fraction of the largest weight: "
         "svd_w and css divide by max(W, floor x max W); fwsvd, svd_w_practical and svd_w_em apply it to "
         "what they divide by (see each option's help on Compare). 0 is the paper's algorithm.")
seed = int(col_seed.number_input("Seed", min_value=0, value=0, step=1, key="compression-seed",
                                 persist_state="session"))
options = {name: {"weight_floor": floor} for name in algorithms if "weight_floor" in get_algorithm(name).options}

try:
    sweep = compression_plan(problem, algorithms, range(low, high + 1), transforms=transforms, seed=seed,
                             options=options, transformed=cached_transform)
except ValueError as err:
    st.error(str(err))
    st.stop()

cache = result_cache("compression")
base = baseline(key, problem, next(iter(sweep.problems)))
rows = sweep.rows(cache)
st.metric("Uncompressed test accuracy", percent(row_accuracy(base)),
          help=f"The trained network as stored: {base.n_params:,} kernel entries.")

run = st.button("Run", type="primary", icon=":material/play_arrow:", key="compression-run")
status = st.empty()
stop_slot = st.empty()
headline_slot = st.container()
left, right = st.columns(2)
slots = (left.empty(), right.empty(), left.empty(), right.empty())
several = len(sweep.problems) > 1

said = cached_run_status(status, rows, sweep.size, run, STOPPED)
if run:
    rows = run_live(sweep, cache, None, status=status, stop_slot=stop_slot, stop_key="compression-stop",
                    stopped_key=STOPPED, draw=lambda live_rows, tag: draw(live_rows, base, several, slots, tag))
elif not rows and not said:
    status.info("Press Run to compress the kernel with each method and evaluate the network.")
if not rows:
    st.stop()

with headline_slot:
    headline(rows, base)
    why_not_entrywise(rows, problem)
draw(rows, base, several, slots, tag="final")

show_failed(rows, "left out of the charts", trials=False)

st.subheader("Every result")
table = [base] + rows
st.dataframe(
    [{"weights": r.problem, "method": r.method, "rank": r.rank, "stored numbers": r.n_params,
      "compression ratio": r.evaluation["compression_ratio"], "accuracy": row_accuracy(r),
      "relative loss": r.relative_loss, "loss": r.loss,
      "largest |entry|": float("nan") if r.max_abs is None else r.max_abs, "seconds": r.seconds,
      "flags": r.warnings or r.message} for r in table],
    hide_index=True,
    column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "compression ratio": st.column_config.NumberColumn(format="%.2fx"),
        "relative loss": st.column_config.NumberColumn(format="%.4e"),
        "loss": st.column_config.NumberColumn(format="%.4e"),
        "largest |entry|": st.column_config.NumberColumn(format="%.3e"),
        "seconds": st.column_config.NumberColumn(format="%.3f"),
    },
)
st.download_button("Download the table (CSV)", rows_to_csv(table), file_name="wlra_compression.csv",
                   mime="text/csv", icon=":material/download:")
