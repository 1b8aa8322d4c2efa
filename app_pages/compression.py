"""Compression: put each approximation of the MLP's hidden kernel back into the network and
measure test accuracy per stored number -- which method compresses this model best?"""
import streamlit as st

from app_pages._charts import chart, compression_figure
from app_pages._compression_text import (correlation_verdict, headline, method_label, pareto_front, percent,
                                         shown_warnings, unflagged_losses, why_not_entrywise)
from app_pages._flags import show_flagged
from app_pages._runs import cached_run_status, rank_range, result_cache, run_live, show_failed
from app_pages._state import BY_FINGERPRINT, page_header
from wlra_core import ALGORITHMS, Problem, get_algorithm
from wlra_core.compression import (WEIGHT_TRANSFORMS, compression_plan, require_model, row_accuracy, uncompressed_row,
                                   weight_transform)
from wlra_core.tables import ResultRow, rows_to_csv

DEFAULT_ALGORITHMS = [a for a in ("svd", "svd_w", "svd_w_practical", "fwsvd", "whiten", "kfac") if a in ALGORITHMS]
STOPPED = "compression_stopped"


@st.cache_resource(show_spinner="Computing the weights...", max_entries=4, hash_funcs=BY_FINGERPRINT)
def transformed_problem(problem: Problem, transform: str) -> Problem:
    """:func:`wlra_core.compression.weight_transform` of the problem, made (and its W checked
    and hashed) once per problem and transform, so that every rerun's sweep and cached
    result shares one sqrt(F)."""
    return weight_transform(problem, transform)


@st.cache_data(show_spinner="Evaluating the uncompressed network...", max_entries=16, hash_funcs=BY_FINGERPRINT)
def baseline(problem: Problem, transform: str) -> ResultRow:
    return uncompressed_row(problem, transform)


def draw(rows, base, several, slots, tag):
    if not rows:
        return
    accuracy = row_accuracy(base)
    with slots[0].container():
        chart(compression_figure(rows, several, accuracy, x="rank", y="accuracy", title="Test accuracy vs rank",
                                 x_title="rank k", y_title="test accuracy", y_percent=True),
              "Accuracy of the network with its hidden kernel replaced by each rank-k approximation; "
              "the dashed line is the uncompressed network -- look for how fast each method approaches it.",
              key=f"acc-rank-{tag}")
    with slots[1].container():
        chart(compression_figure(rows, several, accuracy, x="n_params", y="accuracy",
                                 title="Test accuracy vs stored numbers", x_title="stored numbers (entries kept)",
                                 y_title="test accuracy", log_x=True, y_percent=True, front=pareto_front(rows)),
              f"The same accuracies against the entries each solution must store (the kernel has "
              f"{base.n_params:,}; hover for the compression ratio); the dotted line is the Pareto front. "
              "Methods that divide by W store W too, which moves them right.",
              key=f"acc-params-{tag}")
    with slots[2].container():
        chart(compression_figure(rows, several, None, x="rank", y="relative_loss", title="Weighted loss vs rank",
                                 x_title="rank k", y_title="relative loss ||W o (A - X)||² / ||W o A||²",
                                 log_y=True),
              "The loss the WLRA methods minimise (with their own W); compare the order of the curves with "
              "the accuracy chart -- a method that wins here need not win there.",
              key=f"loss-rank-{tag}")
    with slots[3].container():
        chart(compression_figure(rows, several, None, x="relative_loss", y="accuracy", mode="markers",
                                 title="Accuracy vs weighted loss", x_title="relative weighted loss",
                                 y_title="test accuracy", log_x=True, y_percent=True),
              "One point per (method, rank): if the weighted loss predicted accuracy the points would "
              "fall on one decreasing curve." + correlation_verdict(rows), key=f"acc-loss-{tag}")


problem = page_header("Compression")
n, d = problem.shape
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
col_ranks, col_top, col_transform, col_floor, col_seed = st.columns([3, 1, 3, 2, 1])
max_rank = min(n, d)
low, high = rank_range(col_ranks, col_top, max_rank, f"compression-ranks-{max_rank}")
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
                             options=options, transformed=transformed_problem)
except ValueError as err:
    st.error(str(err))
    st.stop()

cache = result_cache("compression")
base = baseline(problem, next(iter(sweep.problems)))
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
    if (heading := headline(rows, base)) is not None:
        st.subheader(heading[0])
        st.markdown(heading[1])
    if (why := why_not_entrywise(rows, problem)) is not None:
        st.markdown(why)
if not run:  # a run's last draw showed its rows
    draw(rows, base, several, slots, tag="final")

show_failed(rows, "left out of the charts", trials=False)
show_flagged(rows, label=lambda r: method_label(r, several), warnings=shown_warnings)
if unflagged := unflagged_losses(rows):
    st.caption(unflagged)

st.subheader("Every result")
table = [base] + rows
st.dataframe(
    [{"weights": r.problem, "method": r.method, "rank": r.rank, "stored numbers": r.n_params,
      "compression ratio": r.evaluation["compression_ratio"], "accuracy": row_accuracy(r),
      "relative loss": r.relative_loss, "loss": r.loss,
      "largest |entry|": float("nan") if r.max_abs is None else r.max_abs, "seconds": r.seconds,
      "flags": shown_warnings(r) or r.message} for r in table],
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
