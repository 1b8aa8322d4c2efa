"""What every dashboard page shares: the loaded problem in session state, cached loaders,
the sidebar summary and the chart-with-caption convention.

Session state keys (other pages read them too):

* ``st.session_state["problem"]`` -- the current :class:`wlra_core.Problem`;
* ``st.session_state["problem_fingerprint"]`` -- :func:`wlra_core.problem.fingerprint` of it,
  the key of every cached computation on it.

Only :func:`set_problem` writes them, so a failed load never replaces a good problem.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from wlra_core import Problem, get_algorithm
from wlra_core.options import Option
from wlra_core.sweep import ResultCache, Sweep, run
from wlra_core.report import problem_info
from wlra_core.display import SpectrumView, spectrum_view
from wlra_core.problem import fingerprint

PROBLEM = "problem"
FINGERPRINT = "problem_fingerprint"


@st.cache_resource(show_spinner="Loading the shipped Fashion-MNIST problem...")
def shipped_problem() -> tuple[Problem, str]:
    """The shipped default problem and its fingerprint (loaded once per server)."""
    from wlra_core.datasets.io import default_problem

    problem = default_problem()
    return problem, fingerprint(problem)


@st.cache_data(show_spinner="Computing W's spectrum...", max_entries=16)
def weight_facts(problem_fingerprint: str, _problem: Problem) -> tuple[SpectrumView, dict]:
    """W's spectrum and the problem's facts, shared by the Data and Weights pages (one SVD of W)."""
    view = spectrum_view(_problem.W)
    return view, problem_info(_problem, view.singular_values)


def set_problem(problem: Problem, problem_fingerprint: str | None = None) -> None:
    """Make ``problem`` the current problem of this session (every page sees it)."""
    st.session_state[PROBLEM] = problem
    st.session_state[FINGERPRINT] = problem_fingerprint or fingerprint(problem)


def current_problem() -> tuple[Problem, str]:
    """For pages: the session's problem and fingerprint (see :func:`loaded_problem`)."""
    return loaded_problem()


def loaded_problem() -> tuple[Problem, str]:
    """The session's problem and fingerprint; the shipped problem on first use.

    Stops the page with an error if there is no problem and the shipped one is missing.
    """
    if PROBLEM not in st.session_state:
        try:
            set_problem(*shipped_problem())
        except (OSError, ValueError) as err:
            st.error(f"No problem loaded and the shipped problem cannot be read: {err}")
            st.stop()
    return st.session_state[PROBLEM], st.session_state[FINGERPRINT]


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
        if PROBLEM in st.session_state:
            st.markdown(problem_summary(st.session_state[PROBLEM]))
        else:
            st.markdown("none yet (the shipped problem loads on first use)")


def chart(figure, caption: str, *, key: str | None = None, width="stretch") -> None:
    """A plotly chart with its one-line caption: what it shows and what to look for."""
    st.plotly_chart(figure, key=key, width=width, config={"displaylogo": False})
    st.caption(caption)


def cached_run_status(slot, rows: list, plan_size: int, run: bool, stopped_key: str) -> None:
    """Say, before a run, how many results a Stop kept or the cache already holds."""
    if st.session_state.pop(stopped_key, False):
        slot.info(f"Stopped. The {len(rows)} results finished so far are kept; Run computes the rest.")
    elif rows and not run:
        slot.info(f"{len(rows)} of {plan_size} results for these settings come from the cache"
                  + ("." if len(rows) == plan_size else "; Run computes the rest."))


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


@dataclass
class LiveOutcome:
    """What a :func:`run_live` sweep did: new results, per-task errors, a fatal error, time."""

    new: int = 0
    errors: list[str] = field(default_factory=list)
    fatal: str | None = None
    seconds: float = 0.0


def run_live(sweep: Sweep, cache: ResultCache, executor, *, status, stop_slot, stop_key: str,
             stopped_key: str, draw, redraw_seconds: float = 0.4) -> LiveOutcome:
    """Run ``sweep`` through the engine with a progress bar in ``status``, a Stop button in
    ``stop_slot`` and ``draw(rows, tag)`` called at most every ``redraw_seconds``.

    When it ends, ``status`` says what happened -- an error first when there was one,
    never "done" for a run that could not start.
    """
    stop_button(stop_slot, stop_key, stopped_key)
    outcome = LiveOutcome()
    started = last_draw = time.perf_counter()
    updates = run(sweep, cache, executor)
    try:
        for update in updates:
            status.progress(update.done / update.total, text=f"{update.done}/{update.total} · {update.message}")
            if update.error and update.fatal:
                outcome.fatal = update.error
            elif update.error:
                outcome.errors.append(update.error)
            if update.row is not None:
                outcome.new += 1
                if time.perf_counter() - last_draw >= redraw_seconds:
                    draw(sweep.rows(cache), f"live{outcome.new}")
                    last_draw = time.perf_counter()
    finally:
        updates.close()
    stop_slot.empty()
    outcome.seconds = time.perf_counter() - started
    done = f"{outcome.new} new results in {outcome.seconds:.1f} s"
    if outcome.fatal:
        status.error(f"Could not run: {outcome.fatal}" + (f" ({done} before it failed.)" if outcome.new else ""))
    elif outcome.errors:
        status.warning(f"Done with errors: {done}.  \n" + "  \n".join(outcome.errors))
    else:
        cached = len(sweep.rows(cache)) - outcome.new
        status.success(f"Done: {done}" + (f" ({cached} from the cache)." if cached else "."))
    return outcome
