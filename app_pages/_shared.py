"""What every dashboard page shares: the loaded problem in session state and in the URL,
cached loaders, the sidebar summary and the chart-with-caption convention.

Session state keys (other pages read them too):

* ``st.session_state["problem"]`` -- the current :class:`wlra_core.Problem` (its cached
  ``fingerprint`` is the key of every cached computation on it);
* ``st.session_state["problem_link"]`` -- the :class:`~app_pages._url_state.ProblemLink` the
  URL shows: how the problem was made, so that a reload or a shared link makes it again.

Only :func:`set_problem` writes them, so a failed load never replaces a good problem; and
on a session's first run :func:`loaded_problem` follows the URL (:func:`follow_link`).
"""
from __future__ import annotations

import math
import time

import numpy as np
import streamlit as st

from app_pages._stores import KEPT_UPLOADS, kept_uploads, stored_trained_problem, synthetic_problem
from app_pages._url_state import PROBLEM_KEYS, LinkError, ProblemLink, is_widget_key, parse_link
from wlra_core import Problem, get_algorithm
from wlra_core.datasets.limits import one_line
from wlra_core.options import Option
from wlra_core.sweep import Fatal, ResultCache, ResultEvent, Sweep, TaskError, run
from wlra_core.report import ProblemInfo, problem_info
from wlra_core.tables import ResultRow
from wlra_core.display import SpectrumView, pixel_importance, spectrum_view

PROBLEM = "problem"
LINK = "problem_link"
# What a link asked for that could not be loaded: (text, the Data page can make it).
NOTICE = "link_notice"


@st.cache_resource(show_spinner="Loading the shipped Fashion-MNIST problem...")
def shipped_problem() -> Problem:
    """The shipped default problem (loaded once per server)."""
    from wlra_core.datasets.io import default_problem

    return default_problem()


@st.cache_data(show_spinner="Computing W's spectrum...", max_entries=16)
def weight_facts(problem_fingerprint: str, _problem: Problem) -> tuple[SpectrumView, ProblemInfo]:
    """W's spectrum and the problem's facts, shared by the Data and Weights pages (one SVD of W)."""
    view = spectrum_view(_problem.W)
    return view, problem_info(_problem, view.singular_values)


def set_problem(problem: Problem, link: ProblemLink) -> None:
    """Make ``problem`` the current problem of this session (every page sees it) and name it
    in the URL by ``link``."""
    st.session_state[PROBLEM] = problem
    st.session_state[LINK] = link
    st.session_state.pop(NOTICE, None)
    show_in_url(link)


def current_link() -> ProblemLink:
    """How the URL names the session's problem -- or, after a link to an MLP problem this
    server has not trained, that problem (the Data page starts its widgets from it)."""
    return st.session_state[LINK]


def load_shipped() -> None:
    """Make the shipped problem current; stop the page with an error if it cannot be read."""
    try:
        problem = shipped_problem()
    except (OSError, ValueError) as err:
        st.error(f"No problem loaded and the shipped problem cannot be read: {err}")
        st.stop()
    set_problem(problem, ProblemLink())


def loaded_problem() -> tuple[Problem, str]:
    """The session's problem and its fingerprint (:attr:`Problem.fingerprint`, computed once
    per problem); on first use the one the URL names (see :func:`follow_link`), else the
    shipped problem.

    Stops the page with an error if there is no problem and the shipped one is missing.
    """
    if PROBLEM not in st.session_state:
        follow_link()
    problem = st.session_state[PROBLEM]
    return problem, problem.fingerprint


def show_in_url(link: ProblemLink, drop=()) -> None:
    """Make the URL's problem parameters those of ``link``, and remove the keys ``drop``."""
    wanted = link.query()
    for key in [k for k in st.query_params if (k in PROBLEM_KEYS or k in drop) and k not in wanted]:
        del st.query_params[key]
    changed = {k: v for k, v in wanted.items() if st.query_params.get_all(k) != [v]}
    if changed:
        st.query_params.update(changed)


def keep_link_in_url() -> None:
    """Put the problem back into the URL: switching pages clears its unbound parameters."""
    show_in_url(st.session_state[LINK])


def follow_link() -> None:
    """On a session's first run, load the problem the URL names (see ``_url_state.py``).

    Shipped, generated and kept uploaded problems load at once; an MLP problem loads when
    this server has it (memory or disk cache). Nothing else is started by a link: an MLP
    problem that needs training (minutes, maybe a download) leaves the shipped problem
    loaded, its settings preselected on the Data page and kept in the URL, and a notice.
    A link that cannot be followed -- bad values, an upload this server no longer has --
    loads the shipped problem with a notice saying why, and its parameters leave the URL.
    """
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    own_keys = [key for key in query if not is_widget_key(key)]
    problem, why = None, None
    try:
        link = parse_link(query)
    except LinkError as err:
        link, why = ProblemLink(), f"This link's problem could not be loaded: {err}."
    try:
        if link.source == "synthetic":
            problem = synthetic_problem(link.generator, dict(link.params))
        elif link.source == "upload":
            problem = kept_uploads().get(link.upload)
            if problem is None:
                why = (f"This link's uploaded problem is no longer on this server (it keeps the last {KEPT_UPLOADS} "
                       "uploads until it restarts): upload the files again on the Data page.")
        elif link.source in ("tfds", "digits"):
            problem = stored_trained_problem(link.dataset, link.hidden, link.epochs)
            if problem is None:
                load_shipped()
                st.session_state[LINK] = link  # the Data page offers to train it; reloads keep asking
                st.session_state[NOTICE] = (
                    f"This link names {link.describe()}, which this server has not trained yet; the shipped "
                    "problem is loaded meanwhile. Train it on the Data page (its settings are preselected).", True)
                show_in_url(link, drop=own_keys)
                return
    except ValueError as err:  # a generator's refusal, an unreadable cache file
        problem, why = None, f"This link's problem ({link.describe()}) could not be loaded: {one_line(err)}."
    if problem is None:
        load_shipped()
        if why:
            st.session_state[NOTICE] = (f"{why} The shipped problem is loaded instead.", False)
    else:
        set_problem(problem, link)
    show_in_url(st.session_state[LINK], drop=own_keys)


def show_link_notice(slot) -> bool:
    """Write into ``slot`` (an ``st.empty()``) what a link asked for that is not loaded: a link
    that could not be followed once, an MLP problem the Data page can train until a problem is
    loaded. Returns whether the notice stays: call again after the page ran, which may have
    loaded a problem and so emptied it."""
    if NOTICE not in st.session_state:
        slot.empty()
        return False
    text, trainable = st.session_state[NOTICE]
    with slot.container():
        if trainable:
            st.info(text, icon=":material/model_training:")
            st.page_link("app_pages/data.py", label="Open the Data page", icon=":material/database:")
        else:
            st.warning(text, icon=":material/link_off:")
            del st.session_state[NOTICE]
    return trainable


def linked_values(keys) -> dict[str, list[str]]:
    """The URL's values for these widget keys, read before the widgets run (see
    :func:`app_pages._url_state.ignored_values`)."""
    return {key: st.query_params.get_all(key) for key in keys}


def problem_summary(problem: Problem) -> str:
    """Two short markdown lines naming the problem (sidebar, page headers)."""
    n, d = problem.shape
    lines = [f"**{problem.name}**", f"{n} x {d} · source: {problem.source}"]
    accuracy = problem.meta.get("test_accuracy")
    if accuracy is not None:
        lines.append(f"MLP test accuracy {100 * float(accuracy):.2f}%")
    return "  \n".join(lines)


def show_sidebar(slot) -> None:
    """Write the loaded-problem box into ``slot`` (an ``st.sidebar.empty()``)."""
    with slot.container():
        st.markdown("##### Loaded problem")
        st.markdown(problem_summary(st.session_state[PROBLEM]))


def chart(figure, caption: str, *, key: str | None = None, width="stretch") -> None:
    """A plotly chart with its one-line caption: what it shows and what to look for."""
    st.plotly_chart(figure, key=key, width=width, config={"displaylogo": False})
    st.caption(caption)


@st.cache_resource(show_spinner=False)
def result_cache(page: str) -> ResultCache:
    """The results of every run of ``page`` (Compare, Compression) on this server, shared by
    every session, by problem content and settings."""
    return ResultCache()


@st.cache_data(max_entries=16)
def pixel_image(problem_fingerprint: str, _problem: Problem) -> np.ndarray | None:
    """:func:`wlra_core.display.pixel_importance` of the problem, once per problem: row sums of
    W as the input image, or None when the rows of A are not an image's pixels."""
    return pixel_importance(_problem)


def pixel_image_figure(image: np.ndarray):
    """The heatmap of a :func:`pixel_image` (the Weights and Feature selection pages)."""
    import plotly.graph_objects as go  # not on the landing page's import path

    fig = go.Figure(go.Heatmap(z=image, colorscale="Viridis", colorbar=dict(title="row sum of W"),
                               hovertemplate="pixel (%{y}, %{x}): %{z:.3g}<extra></extra>"))
    fig.update_layout(title="Pixel importance: row sums of W", height=420, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showticklabels=False)
    fig.update_xaxes(constrain="domain", showticklabels=False)
    return fig


def cached_run_status(slot, rows: list, plan_size: int, run: bool, stopped_key: str) -> bool:
    """Say, before a run, how many results a Stop kept or the cache already holds; returns
    whether it said anything (a page's own "Press Run" must not replace it)."""
    if st.session_state.pop(stopped_key, False):
        slot.info(f"Stopped. The {len(rows)} results finished so far are kept; Run computes the rest." if rows
                  else "Stopped before any result finished; Run starts again.")
        return True
    if rows and not run:
        slot.info(f"{len(rows)} of {plan_size} results for these settings come from the cache"
                  + ("." if len(rows) == plan_size else "; Run computes the rest."))
        return True
    return False


def show_failed(rows: list[ResultRow], where: str, *, trials: bool) -> None:
    """One error box listing the failed results of ``rows`` and why; ``where`` says how the
    charts show them, ``trials`` whether to name each one's trial."""
    failed = [r for r in rows if r.failed]
    if failed:
        st.error(f"Failed results ({where}):  \n" + "  \n".join(
            f"**{r.method}** rank {r.rank}" + (f" trial {r.trial + 1}" if trials else "")
            + f": {r.message}" for r in failed))


def stop_button(slot, key: str, stopped_key: str) -> None:
    """A Stop button whose click reruns the page (ending the loop) and records the stop."""
    slot.button("Stop", icon=":material/stop:", key=key,
                on_click=lambda: st.session_state.update({stopped_key: True}))


def option_widget(label: str, option: Option, key: str, shape: tuple[int, int]):
    """The widget an option's declaration calls for; returns the chosen value.

    Choices -> select box; integers and numbers -> number input bounded by the declared
    interval (and the problem-dependent limit); an option that may be None -> an empty
    number input meaning the default.
    """
    help_text = f"{option.help}. Must be {option.describe()}."
    if option.choices is not None:
        return st.selectbox(label, option.choices, index=option.choices.index(option.default)
                            if option.default in option.choices else 0, key=key, help=help_text,
                            persist_state="session")
    interval = option.interval
    if interval is None:
        raise ValueError(f"no widget for option {label!r} ({option.describe()})")
    high = interval.high
    if option.limit is not None:
        high = option.limit(shape) if high is None else min(high, option.limit(shape))
    if interval.kind is int:
        value = st.number_input(label, min_value=None if interval.low is None else int(interval.low),
                                max_value=None if high is None else int(high),
                                value=option.default, step=1, key=key, help=help_text, persist_state="session",
                                placeholder="empty: the default" if option.allows_none else None)
        return None if value is None else int(value)
    # Open ends (learning_rate > 0) are left to the declared check: its message says why.
    value = st.number_input(label, min_value=None if interval.low is None else float(interval.low),
                            max_value=None if high is None else float(high), value=option.default,
                            format="%g", key=key, help=help_text, persist_state="session")
    return None if value is None else float(value)


def option_widgets(algorithm: str, shape: tuple[int, int], key_prefix: str = "opt") -> dict:
    """One widget per declared option of ``algorithm``; returns the values that differ from defaults."""
    chosen = {}
    for name, option in get_algorithm(algorithm).options.items():
        value = option_widget(name, option, f"{key_prefix}-{algorithm}-{name}", shape)
        if value != option.default:
            chosen[name] = value
    return chosen


def run_live(sweep: Sweep, cache: ResultCache, executor, *, status, stop_slot, stop_key: str,
             stopped_key: str, draw, redraw_seconds: float = 2.0) -> list[ResultRow]:
    """Run ``sweep`` through the engine with a progress bar in ``status``, a Stop button in
    ``stop_slot`` and ``draw(rows, tag)`` called for the first result and then at most every
    ``redraw_seconds`` -- or every four times as long as the last draw took: the browser
    redrawing the charts shares the two cores with the solvers.

    When it ends, ``status`` says what happened -- an error first when there was one,
    never "done" for a run that could not start. Returns the run's rows: its own, kept
    even if another session forgets the cached results meanwhile.
    """
    stop_button(stop_slot, stop_key, stopped_key)
    new, errors, fatal = 0, [], None
    started = time.perf_counter()
    last_draw, pause = -math.inf, redraw_seconds  # the first result is drawn at once
    results = {}  # this run's results: the shared cache may be cleared meanwhile
    updates = run(sweep, cache, executor, results=results)
    try:
        for update in updates:
            status.progress(update.done / update.total, text=f"{update.done}/{update.total} · {update.message}")
            if isinstance(update, Fatal):
                fatal = update.error
            elif isinstance(update, TaskError):
                errors.append(update.error)
            elif isinstance(update, ResultEvent):
                new += 1
                if time.perf_counter() - last_draw >= pause:
                    drawing = time.perf_counter()
                    draw(sweep.rows(results), f"live{new}")
                    last_draw = time.perf_counter()
                    pause = max(redraw_seconds, 4 * (last_draw - drawing))
    finally:
        updates.close()
    stop_slot.empty()
    done = f"{new} new results in {time.perf_counter() - started:.1f} s"
    if fatal:
        status.error(f"Could not run: {fatal}" + (f" ({done} before it failed.)" if new else ""))
    elif errors:
        status.warning(f"Done with errors: {done}.  \n" + "  \n".join(errors))
    else:
        cached = len(results) - new
        status.success(f"Done: {done}" + (f" ({cached} from the cache)." if cached else "."))
    return sweep.rows(results)


# Legends under the charts: beside them they took 40% of the width with 11 methods.
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.22, x=0, font=dict(size=11))


def log_axis(values) -> dict:
    """Log-axis settings that keep tick labels readable whatever the span of ``values``."""
    finite = [float(v) for v in values if v > 0 and math.isfinite(v)]
    if not finite:
        return dict(type="log", exponentformat="power")
    decades = math.log10(max(finite) / min(finite))
    # Minor-tick labels (2, 3, 5, ...) only where there is room for them; SI suffixes for counts.
    dtick = "D1" if decades < 1.2 else "D2" if decades < 3 else None
    tickformat = "~s" if min(finite) >= 1000 else (".2~g" if dtick else None)
    return dict(type="log", dtick=dtick, tickformat=tickformat, exponentformat="power")


def flag_rings(fig, name: str, x, y, warnings) -> None:
    """Black rings on the points of ``name`` that carry warnings, with the warning on hover."""
    import plotly.graph_objects as go  # not on the landing page's import path

    flagged = np.array([bool(w) for w in warnings], dtype=bool)
    if not flagged.any():
        return
    fig.add_trace(go.Scatter(
        x=np.asarray(x)[flagged], y=np.asarray(y)[flagged], mode="markers", name=f"{name}: flagged (!)",
        marker=dict(size=15, symbol="circle-open", color="black", line=dict(width=2)),
        text=[w for w in warnings if w], hovertemplate="%{text}<extra></extra>",
    ))
