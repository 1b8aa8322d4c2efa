"""Compare: every algorithm over a range of ranks, charts filling in live as results arrive.

The selection (algorithms, ranks, trials, seed, where to run), each algorithm's options and
the Relative loss / Log y axis toggles are kept in the URL by Streamlit's
``bind="query-params"`` under the widgets' keys, so a reload or a shared link starts from it; the results come back only from this server's cache (Run computes them).
The Dask scheduler's address never enters the URL: a link must not make the server connect.
"""
import streamlit as st

from app_pages._charts import chart, series_figure
from app_pages._flags import show_flagged
from app_pages._links import ignored_values
from app_pages._runs import (cached_run_status, option_key, option_widgets, rank_range, result_cache, run_live,
                             show_failed)
from app_pages._state import linked_values, page_header
from app_pages._views import curves
from wlra_core import ALGORITHMS, get_algorithm
from wlra_core.sweep import make_sweep
from wlra_core.tables import ResultRow, rank_table, rows_to_csv

STOPPED = "compare_stopped"
LARGE_PROBLEM = 10_000_000  # entries of A beyond which the per-rank solvers take minutes
# Min-max bands are drawn for up to this many methods unless asked for: ten overlapping
# bands turned the runtime chart into one block.
BANDS_UP_TO = 4


def draw(rows: list[ResultRow], order, slots, *, value: str, log_y: bool, bands: bool, tag: str) -> None:
    """Fill the three chart slots from ``rows`` (mean over trials, and min-max bands when ``bands``)."""
    loss_label = "relative loss ||W o (A - X)||² / ||W o A||²" if value == "relative_loss" else "loss ||W o (A - X)||²"
    losses, seconds = curves(rows, value), curves(rows, "seconds")
    with slots[0].container():
        chart(series_figure(losses, order, x="rank", value=value, title="Weighted loss vs rank",
                            y_title=loss_label, log_y=log_y, bands=bands),
              "Weighted loss of each algorithm's rank-k solution (mean over trials"
              + ("; band: min to max); " if bands else "; the Min-max bands toggle shows their spread); ") +
              "lower is better -- look for svd_w close to the slow em/als at a fraction of their time. "
              "A black ring marks a flagged result (hover for why).",
              key=f"loss-{tag}")
    with slots[1].container():
        chart(series_figure(seconds, order, x="rank", value="seconds", title="Runtime vs rank",
                            y_title="seconds", log_y=True, bands=bands),
              "Wall time per solution (the svd family computes one SVD for all ranks and counts it "
              "in each); look for the orders of magnitude between one-shot and iterative methods.",
              key=f"time-{tag}")
    with slots[2].container():
        chart(series_figure(losses, order, x="n_params", value=value, title="Weighted loss vs stored numbers",
                            y_title=loss_label, log_y=log_y, log_x=True, bands=bands),
              "The same losses against the entries of the arrays each solution keeps. svd_w and css divide "
              "by W itself, so they must store all n·d weights too: on a Fisher-weighted kernel that puts "
              "them far to the right of svd, at more numbers than the matrix has.",
              key=f"params-{tag}")


problem = page_header("Compare")
n, d = problem.shape
if n * d >= LARGE_PROBLEM:
    shared = [name for name in ALGORITHMS if get_algorithm(name).prepare is not None]
    st.info(f"A large problem ({n} x {d}): {', '.join(shared)} compute one SVD for all ranks and take "
            "seconds; the others solve every rank anew and can take minutes per rank at this size. "
            "Results appear as they finish, and Stop keeps them.")

max_rank = min(n, d)
ranks_key = f"compare-ranks-{max_rank}"
linked = linked_values(["compare-algorithms", ranks_key, "compare-trials", "compare-seed", "compare-where"])
runnable = [a for a in ALGORITHMS if set(get_algorithm(a).requires) <= set(problem.model)]
algorithms = st.multiselect(
    "Algorithms", ALGORITHMS, default=[a for a in runnable if not get_algorithm(a).slow], key="compare-algorithms",
    persist_state="session", bind="query-params",
    help="adam is off by default: it trains with TensorFlow and is slow. whiten and kfac need the calibration "
         "moments of a problem made from an MLP.")
col_ranks, col_top, col_trials, col_seed = st.columns([3, 1, 1, 1])
low, high = rank_range(col_ranks, col_top, max_rank, ranks_key, bind=True)
trials = int(col_trials.number_input(
    "Trials", min_value=1, max_value=20, value=1, step=1, key="compare-trials", persist_state="session",
    bind="query-params",
    help="Runs per rank, each with its own random stream spawned from the seed; charts show the mean "
         "and the min-max band."))
seed = int(col_seed.number_input("Seed", min_value=0, value=0, step=1, key="compare-seed", persist_state="session",
                                 bind="query-params"))
col_where, col_scheduler = st.columns([1, 2])
where = col_where.radio(
    "Run on", ["this process", "Dask cluster"], horizontal=True, key="compare-where", persist_state="session",
    bind="query-params",
    help="A Dask cluster runs each (algorithm, trial) as one task on its workers; the results "
         "equal this process's for the same seeds.")
on_cluster = where == "Dask cluster"
# What a link gave these widgets that they did not take (Streamlit drops it from the URL).
ignored = ignored_values(linked, {"compare-algorithms": algorithms, ranks_key: [str(low), str(high)],
                                  "compare-trials": [str(trials)], "compare-seed": [str(seed)],
                                  "compare-where": [where]})
if low > high:  # only a link can order them so
    ignored.append(f"{ranks_key}={low},{high} (read as ranks {high} to {low})")
    low, high = high, low
if ignored:
    st.warning(f"Not used from the link: {', '.join(ignored)}.", icon=":material/link_off:")
executor = None
if on_cluster:
    from wlra_core.distributed import SCHEDULERS_ENV, OnDask, scheduler_allowed

    scheduler = col_scheduler.text_input(
        "Dask scheduler", value="local", key="compare-scheduler", persist_state="session",
        help="local: a 2-worker cluster on 127.0.0.1 started for the run; or the address of a "
             f"running scheduler the operator allowed in ${SCHEDULERS_ENV}.").strip()
    if not scheduler_allowed(scheduler):
        st.error(f"Scheduler {scheduler!r} is not allowed: a Dask scheduler exchanges pickles with this server, "
                 f"so only 'local' and the addresses the operator lists in ${SCHEDULERS_ENV} (comma-separated, "
                 "set before starting the dashboard) can be used.")
        st.stop()
    executor = OnDask(scheduler)

options = {}
if algorithms:
    st.markdown("**Settings per algorithm**")
    option_keys = [option_key(a, o) for a in algorithms for o in get_algorithm(a).options]
    linked_options = linked_values(option_keys)
    columns = st.columns(3)
    for i, name in enumerate(algorithms):
        with columns[i % 3], st.expander(name):
            st.caption(get_algorithm(name).summary)
            options[name] = option_widgets(name, problem.shape)
    ignored_options = ignored_values(linked_options, {key: [f"{st.session_state[key]:g}" if isinstance(
        st.session_state[key], float) else str(st.session_state[key])] for key in option_keys})
    if ignored_options:
        st.warning(f"Not used from the link: {', '.join(ignored_options)}.", icon=":material/link_off:")

try:
    sweep = make_sweep({problem.name: problem}, algorithms, range(low, high + 1), trials, seed, options)
except ValueError as err:
    st.error(str(err))
    st.stop()

cache = result_cache("compare")
rows = sweep.rows(cache)
col_run, col_clear, col_rel, col_log, col_bands = st.columns(5)
run = col_run.button("Run", type="primary", icon=":material/play_arrow:", key="compare-run")
if col_clear.button("Forget cached results", key="compare-clear",
                    help="Forget every cached Compare result on this server: the results of every session "
                         "on it, for every problem, not only this one's."):
    cache.clear()
    rows = []
value = "relative_loss" if col_rel.toggle("Relative loss", value=True, key="compare-relative",
                                          persist_state="session", bind="query-params") else "loss"
log_y = col_log.toggle("Log y axis", value=True, key="compare-log-y", persist_state="session", bind="query-params")
bands = len(algorithms) <= BANDS_UP_TO or col_bands.toggle(
    "Min-max bands", value=False, key="compare-bands", persist_state="session",
    help=f"The spread over trials as a band per method; drawn by default for up to {BANDS_UP_TO} methods.")

status = st.empty()
stop_slot = st.empty()
top_left, top_right = st.columns(2)
slots = (top_left.empty(), top_right.empty(), st.empty())

cached_run_status(status, rows, sweep.size, run, STOPPED)
order = [m.label for m in sweep.methods]
if run:
    rows = run_live(sweep, cache, executor, status=status, stop_slot=stop_slot, stop_key="compare-stop",
                    stopped_key=STOPPED, draw=lambda live_rows, tag: draw(live_rows, order, slots, value=value,
                                                                         log_y=log_y, bands=bands, tag=tag))

# Without results the charts are drawn empty: the browser loads the chart library before
# Run, so the first points appear at once.
draw(rows, order, slots, value=value, log_y=log_y, bands=bands, tag="final")
if not rows:
    st.stop()

show_failed(rows, "shown as gaps in the charts", trials=True)
show_flagged(rows)

st.subheader("At ranks 5, 10 and 20 (the paper's Tables 3-5)")
tab_loss, tab_time = st.tabs(["Relative loss" if value == "relative_loss" else "Loss", "Seconds"])
with tab_loss:
    st.dataframe(rank_table(rows, value=value), hide_index=True)
with tab_time:
    st.dataframe(rank_table(rows, value="seconds"), hide_index=True)
st.download_button("Download every result (CSV)", rows_to_csv(rows), file_name="wlra_compare.csv",
                   mime="text/csv", icon=":material/download:")
