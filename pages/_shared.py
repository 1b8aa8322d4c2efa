"""What every dashboard page shares: the loaded problem in session state, cached loaders,
the sidebar summary and the chart-with-caption convention.

Session state keys (other pages read them too):

* ``st.session_state["problem"]`` -- the current :class:`wlra_core.Problem`;
* ``st.session_state["problem_fingerprint"]`` -- :func:`wlra_core.views.fingerprint` of it,
  the key of every cached computation on it.

Only :func:`set_problem` writes them, so a failed load never replaces a good problem.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager

import streamlit as st

from wlra_core import Problem
from wlra_core.report import problem_info
from wlra_core.views import SpectrumView, fingerprint, spectrum_view

PROBLEM = "problem"
FINGERPRINT = "problem_fingerprint"
REFRAMED = "_wlra_reframed"

# True while app.py runs a page (see require_frame).
_FRAMED = contextvars.ContextVar("wlra_framed", default=False)


@contextmanager
def framed():
    """app.py runs the selected page inside this."""
    token = _FRAMED.set(True)
    try:
        yield
    finally:
        _FRAMED.reset(token)


def require_frame() -> None:
    """Rerun once through app.py when a page runs on its own.

    With a ``pages/`` folder next to app.py, Streamlit starts in its legacy multipage
    mode: on a fresh server, the first request for a page URL (e.g. /compare) runs that
    page file alone -- no app.py, so no sidebar and a navigation listing every file.
    The legacy mode ends for good when app.py's ``st.navigation`` runs, which it never
    does while the mode lasts, unless a visitor opens the home URL. So leave the mode the
    way ``st.navigation`` does and rerun the same page through app.py. (AppTest re-enters
    the legacy mode before every run, so its runs take this path too.)
    """
    if _FRAMED.get():
        st.session_state.pop(REFRAMED, None)
    elif not st.session_state.get(REFRAMED):
        st.session_state[REFRAMED] = True  # once: `streamlit run pages/x.py` must not loop
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False  # what st.navigation itself does first
        st.rerun()


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
    require_frame()
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
        lines.append(f"MLP test accuracy {100 * float(accuracy):.1f}%")
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
