"""Compare: every algorithm over a range of ranks, charts filling in live as results arrive.

The selection (algorithms, ranks, trials, seed, where to run), each algorithm's options and
the Relative loss / Log y axis toggles are kept in the URL by Streamlit's
``bind="query-params"`` under the widgets' keys, so a reload or a shared link starts from it; the results come back only from this server's cache (Run computes them).
The Dask scheduler's address never enters the URL: a link must not make the server connect.
"""
import streamlit as st

from app_pages._charts import ERROR_CHARTS, chart, compare_figures, picture_rgb
from app_pages._flags import show_flagged
from app_pages._links import ignored_values
from app_pages._runs import (cached_run_status, option_key, option_widgets, rank_range, result_cache, run_live,
                             show_failed)
from app_pages._state import linked_values, page_header
from app_pages._views import WeightAdvice, held_out_split, image_layout, pictures, weight_advice
from wlra_core import ALGORITHMS, get_algorithm
from wlra_core.heldout import HELDOUT_COLUMN, MISSING_COLUMN, entry_errors
from wlra_core.sweep import Sweep, make_sweep
from wlra_core.tables import ResultRow, rank_table, rows_to_csv

STOPPED = "compare_stopped"
LARGE_PROBLEM = 10_000_000  # entries of A beyond which the per-rank solvers take minutes
# The charts in page order (two per line; an odd last one takes the whole width): the errors on
# entries no method saw lead where they were measured -- for a masked matrix they, not the
# fitted loss, say which method fills best.
CHARTS = (MISSING_COLUMN, HELDOUT_COLUMN, "loss", "time", "params")
# Min-max bands are drawn for up to this many methods unless asked for: ten overlapping
# bands turned the runtime chart into one block.
BANDS_UP_TO = 4


# The charts of the errors on entries no method was fitted to: caption and key, by column.
ERROR_CAPTIONS = {
    HELDOUT_COLUMN: ("Error on the observed entries held out of every fit (weighted RMSE; the RMSE for a 0/1 "
                     "mask): lower is better. It rises where a method starts to fit noise -- pick the rank at "
                     "its minimum.", "heldout"),
    MISSING_COLUMN: ("This problem keeps the truth behind its missing entries: the error on them, which no "
                     "method saw -- the number filling is for. A method that fills nothing sits at the RMS of "
                     "the missing values.", "missing"),
}


def draw(rows: list[ResultRow], order, slots: dict, *, value: str, log_y: bool, bands: bool, tag: str,
         advice: WeightAdvice, held_out: bool) -> None:
    """Fill the chart slots from ``rows`` (mean over trials, and min-max bands when ``bands``)."""
    loss_label = "relative loss ||W o (A - X)||² / ||W o A||²" if value == "relative_loss" else "loss ||W o (A - X)||²"
    figures = compare_figures(tuple(rows), tuple(order), tuple(name for name in ERROR_CHARTS if name in slots),
                              value=value, loss_label=loss_label, log_y=log_y, bands=bands)
    fitted = " on the entries each method was fitted to" + (" (the fit part)" if held_out else "")
    with slots["loss"].container():
        chart(figures["loss"],
              f"Weighted loss of each algorithm's rank-k solution{fitted} (mean over trials"
              + ("; band: min to max); " if bands else "; the Min-max bands toggle shows their spread); ")
              + "lower is better"
              + (", but it always rewards higher ranks: the held-out error above says how well the "
                 "entries a method did not see are filled. " if held_out
                 else " -- look for svd_w close to the slow em/als at a fraction of their time. ")
              + "A black ring marks a flagged result (hover for why).",
              key=f"loss-{tag}")
    for column, (caption, key) in ERROR_CAPTIONS.items():
        if column in slots:
            with slots[column].container():
                chart(figures[column], caption, key=f"{key}-{tag}")
    with slots["time"].container():
        chart(figures["time"],
              "Wall time per solution (the svd family computes one SVD for all ranks and counts it "
              "in each); look for the orders of magnitude between one-shot and iterative methods.",
              key=f"time-{tag}")
    with slots["params"].container():
        chart(figures["params"],
              f"The same losses against the entries of the arrays each solution keeps. {', '.join(advice.dividers)} "
              "divide by W itself, so they must store all n·d weights too"
              + (": with this W that puts them at more numbers than the matrix has, and they fill none of its "
                 f"{advice.missing:,} missing entries." if advice.completion
                 else ", far to the right of svd." if advice.low_rank
                 else f"; W needs rank {advice.mass_rank_99} for 99% of its mass, so the rank-r·k factorisations "
                      "of svd_w_practical grow with it."),
              key=f"params-{tag}")


def chart_slots(names) -> dict:
    """One ``st.empty()`` per chart, two per line, an odd last one the whole width."""
    names, slots = list(names), {}
    for i in range(0, len(names) - 1, 2):
        left, right = st.columns(2)
        slots[names[i]], slots[names[i + 1]] = left.empty(), right.empty()
    if len(names) % 2:
        slots[names[-1]] = st.empty()
    return slots


def rank_tables(rows: list[ResultRow], value: str, measured) -> None:
    """The paper's tables (ranks 5, 10 and 20), one tab per column shown, and the CSV of every result."""
    # The errors on entries no method saw come first where they were measured: for a masked
    # matrix they, not the fitted loss, say which method fills best.
    titles = {MISSING_COLUMN: "True error on the missing entries", HELDOUT_COLUMN: "Held-out error",
              value: "Relative loss" if value == "relative_loss" else "Loss", "seconds": "Seconds"}
    st.subheader("At ranks 5, 10 and 20 (the paper's Tables 3-5)")
    shown = [column for column in titles if column in (value, "seconds") or column in measured]
    # Plain tables, not data grids: their cells are text ("mean ± std"), which a grid would sort
    # as strings, and the canvas grids cost each tab's browser about 0.2 CPU s when 8 sessions
    # ran the default Compare at once (Chromium's CPU as benchmarks/concurrency.py reads it).
    for tab, column in zip(st.tabs([titles[column] for column in shown]), shown):
        with tab:
            st.table(rank_table(rows, value=column), hide_index=True)
    st.download_button("Download every result (CSV)", rows_to_csv(rows), file_name="wlra_compare.csv",
                       mime="text/csv", icon=":material/download:")


def picture_section(problem, sweep: Sweep, cache, split) -> None:
    """A chosen result as an image beside the observed matrix (and the truth a demo keeps)."""
    st.subheader("The picture: observed | filled | truth")
    shape = None
    if image_layout(problem) is None:
        as_image = st.toggle("Show as image", key="compare-as-image", persist_state="session",
                             help="Give the height and width of the image A holds: A itself (n x d), each of its "
                                  "rows (height x width = d) or each of its columns (= n).")
        if not as_image:
            st.caption("This problem is not an image; give its height and width above to see it as one.")
            return
        col_h, col_w = st.columns(2)
        n, d = problem.shape
        shape = (int(col_h.number_input("Height", min_value=1, value=n, step=1, key="compare-image-height",
                                        persist_state="session")),
                 int(col_w.number_input("Width", min_value=1, value=d, step=1, key="compare-image-width",
                                        persist_state="session")))
    try:
        layout = image_layout(problem, shape)
    except ValueError as err:
        st.error(str(err))
        return
    results = {(row.method, row.rank): (row, result) for row, result in sweep.entries(cache)
               if not row.failed and row.trial == 0}
    if not results:
        st.info("The results of this run are no longer cached on this server: Run again to see them as images.")
        return
    col_method, col_rank = st.columns(2)
    method = col_method.selectbox("Method", list(dict.fromkeys(m for m, _ in results)),
                                  key="compare-image-method", persist_state="session")
    ranks = [k for m, k in results if m == method]
    rank = col_rank.select_slider("Rank", ranks, value=ranks[-1], key=f"compare-image-rank-{method}")
    row, result = results[method, rank]
    view = pictures(problem, result, layout, split)
    errors = st.columns(3)
    errors[0].metric("RMSE on the missing entries (truth)", "unknown" if view.missing_rmse is None
                     else f"{view.missing_rmse:.4g}",
                     help="sqrt(mean((X - truth)²)) over the entries with W = 0, measured on the truth this "
                          "problem keeps (the demos); no method saw them.")
    errors[1].metric("Held-out error", "off" if view.heldout_rmse is None else f"{view.heldout_rmse:.4g}",
                     help="Weighted RMSE on the held-out observed entries (the held-out check).")
    errors[2].metric("Fitted relative loss", f"{row.relative_loss:.4g}")
    if row.warnings:
        st.warning(f"{method} at rank {rank}: {row.warnings}", icon=":material/flag:")
    panels = [("observed (blue: not seen by the method)", view.observed),
              (f"{'filled' if view.unseen else 'approximated'} by {method} at rank {rank}", view.filled)]
    if view.truth is not None:
        panels.append(("truth", view.truth))
    for column, (caption, picture) in zip(st.columns(len(panels)), panels):
        column.image(picture_rgb(picture, view.value_range), caption=caption, width="stretch")
    st.caption(f"{layout.describe()}. Gray levels span the observed values; blue marks the entries the method "
               "did not see (missing or held out) and the gaps between tiles.")


# A fragment: Run, Stop, the toggles and the picture's choices rerun only this part of the
# page, not the hundred settings above it: a Run of the default Compare on the shipped problem
# sent its browser 111-124 messages instead of 226-237 (benchmarks/concurrency.py counts them).
@st.fragment
def results_section(problem, sweep: Sweep, algorithms: list[str], evaluation, advice: WeightAdvice, split,
                    executor) -> None:
    """Run and the toggles, the live charts, and (once there are results) their tables and pictures."""
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
    log_y = col_log.toggle("Log y axis", value=True, key="compare-log-y", persist_state="session",
                           bind="query-params")
    bands = len(algorithms) <= BANDS_UP_TO or col_bands.toggle(
        "Min-max bands", value=False, key="compare-bands", persist_state="session",
        help=f"The spread over trials as a band per method; drawn by default for up to {BANDS_UP_TO} methods.")

    status = st.empty()
    stop_slot = st.empty()
    measured = () if evaluation is None else evaluation.columns
    slots = chart_slots(name for name in CHARTS if name in ("loss", "time", "params") or name in measured)

    cached_run_status(status, rows, sweep.size, run, STOPPED)
    order = [m.label for m in sweep.methods]
    settings = dict(value=value, log_y=log_y, bands=bands, advice=advice, held_out=split is not None)
    if run:
        rows = run_live(sweep, cache, executor, status=status, stop_slot=stop_slot, stop_key="compare-stop",
                        stopped_key=STOPPED, draw=lambda live_rows, tag: draw(live_rows, order, slots, tag=tag,
                                                                             **settings))
    # A run's last draw showed its rows. Without results the charts are drawn empty: the browser
    # loads the chart library before Run, so the first points appear at once.
    if not run or not rows:
        draw(rows, order, slots, tag="final", **settings)
    if not rows:
        return
    show_failed(rows, "shown as gaps in the charts", trials=True)
    show_flagged(rows)
    rank_tables(rows, value, measured)
    picture_section(problem, sweep, cache, split)


problem = page_header("Compare")
n, d = problem.shape
advice = weight_advice(problem)
st.markdown(advice.text())
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
col_hold, col_fraction = st.columns([1, 2])
splittable = advice.entries - advice.missing >= 2  # one entry to hold out, one to fit
# On by default when W marks missing entries: then the fitted loss cannot say how well they are filled.
held_out = col_hold.toggle(
    "Held-out check", value=advice.completion and splittable,
    key=f"compare-holdout-{'mask' if advice.completion else 'weights'}", persist_state="session",
    disabled=not splittable,
    help="Hide a seeded share of the observed (W > 0) entries from every method (A = 0, W = 0 there), fit each "
         "method on the rest, and measure each result's error on the hidden entries: how well it fills what it "
         "did not see. The split's seed is the seed above.") and splittable
fraction = col_fraction.slider("Held-out share of the observed entries", 0.05, 0.5, 0.1, 0.05,
                               key="compare-holdout-fraction", persist_state="session", disabled=not held_out)
split = None
if held_out:
    try:
        split = held_out_split(problem, float(fraction), seed)
    except ValueError as err:
        st.error(f"No held-out check: {err}")
evaluation = entry_errors(problem, split)
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
    sweep = make_sweep({problem.name: problem if split is None else split.fit}, algorithms, range(low, high + 1),
                       trials, seed, options, evaluation=evaluation)
except ValueError as err:
    st.error(str(err))
    st.stop()


results_section(problem, sweep, algorithms, evaluation, advice, split, executor)
