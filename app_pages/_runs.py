"""Running sweeps from a page: the widgets of an algorithm's declared options, the server's
result caches, and the live-run loop with its progress bar, Stop button and the boxes that
say what a run left (cached results, a stop, failures)."""
from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager

import streamlit as st

from wlra_core import get_algorithm
from wlra_core.options import Option
from wlra_core.sweep import Fatal, ResultCache, ResultEvent, Sweep, TaskError, run
from wlra_core.tables import ResultRow


@st.cache_resource(show_spinner=False)
def result_cache(page: str) -> ResultCache:
    """The results of every run of ``page`` (Compare, Compression) on this server, shared by
    every session, by problem content and settings."""
    return ResultCache()


class LiveRuns:
    """How many sessions of this server are running a sweep live now (see :func:`run_live`)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    @contextmanager
    def running(self):
        with self._lock:
            self.count += 1
        try:
            yield self
        finally:
            with self._lock:
                self.count -= 1


@st.cache_resource(show_spinner=False)
def live_runs() -> LiveRuns:
    """The server's :class:`LiveRuns`."""
    return LiveRuns()


# The ranks slider spans 1..SLIDER_TOP (the paper's range) until the user raises its top.
SLIDER_TOP = 20


def rank_range(slot, top_slot, max_rank: int, key: str, *, bind: bool = False) -> tuple[int, int]:
    """The ranks to run, ``(low, high)`` as the user set them (a link may order them high
    to low): a slider over 1..20 in ``slot`` and, when the problem has more ranks, a "Highest
    rank" input in ``top_slot`` that extends the slider up to ``max_rank`` -- a slider over
    1..427 left 1-20 a sliver of its track. With ``bind`` the slider is kept in the URL under
    ``key``, and a link's ranks beyond 20 raise the top to them.
    """
    if max_rank <= 1:
        slot.markdown("**Rank 1** -- the only rank of a problem with a single row or column.")
        return 1, 1
    top = max_rank
    if max_rank > SLIDER_TOP:
        linked = [int(v) for v in st.query_params.get_all(key) if v.isdigit()] if bind else []
        start = min(max_rank, max([SLIDER_TOP, *linked]))
        top = int(top_slot.number_input("Highest rank", min_value=2, max_value=max_rank, value=start, step=1,
                                        key=f"{key}-top", persist_state="session",
                                        help=f"The slider's top: up to {max_rank}, the problem's largest rank."))
    bound = {"bind": "query-params"} if bind else {}
    return slot.slider("Ranks", 1, top, (1, min(SLIDER_TOP, top)), key=key, persist_state="session", **bound)


def option_widget(label: str, option: Option, key: str, shape: tuple[int, int]):
    """The widget an option's declaration calls for; returns the chosen value.

    Choices -> select box; integers and numbers -> number input bounded by the declared
    interval (and the problem-dependent limit); an option that may be None -> an empty
    number input meaning the default. The widget is bound to the URL under ``key``, so a
    shared link restores the option.
    """
    help_text = f"{option.help}. Must be {option.describe()}."
    if option.choices is not None:
        return st.selectbox(label, option.choices, index=option.choices.index(option.default)
                            if option.default in option.choices else 0, key=key, help=help_text,
                            persist_state="session", bind="query-params")
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
                                bind="query-params", placeholder="empty: the default" if option.allows_none else None)
        return None if value is None else int(value)
    # Open ends (learning_rate > 0) are left to the declared check: its message says why.
    value = st.number_input(label, min_value=None if interval.low is None else float(interval.low),
                            max_value=None if high is None else float(high), value=option.default,
                            format="%g", key=key, help=help_text, persist_state="session",
                            bind="query-params")
    return None if value is None else float(value)


def option_key(algorithm: str, name: str, key_prefix: str = "opt") -> str:
    """The widget (and URL) key of ``algorithm``'s option ``name``."""
    return f"{key_prefix}-{algorithm}-{name}"


def option_widgets(algorithm: str, shape: tuple[int, int], key_prefix: str = "opt") -> dict:
    """One widget per declared option of ``algorithm``; returns the values that differ from defaults."""
    chosen = {}
    for name, option in get_algorithm(algorithm).options.items():
        value = option_widget(name, option, option_key(algorithm, name, key_prefix), shape)
        if value != option.default:
            chosen[name] = value
    return chosen


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


def run_live(sweep: Sweep, cache: ResultCache, executor, *, status, stop_slot, stop_key: str,
             stopped_key: str, draw, redraw_seconds: float = 2.0, progress_seconds: float = 0.5) -> list[ResultRow]:
    """Run ``sweep`` through the engine with a progress bar in ``status``, a Stop button in
    ``stop_slot`` and ``draw(rows, tag)`` called as soon as the run has results (at its first
    update: results other sessions stored before it started count), then while new ones
    arrive, and once more at the end when results arrived after the last draw: when it
    returns, the last draw showed every row it returns.

    What goes to the browser is paced by ``live``, the number of sessions running live on the
    server: N sessions redrawing should cost the cores (the server's, and the browsers' when
    they share them) what one does. The charts are redrawn at most every ``redraw_seconds *
    live`` seconds, or every four times as long as the last draw took; the progress bar moves
    at most every ``progress_seconds * live`` seconds: each move is a message the browser
    renders, and a run has hundreds of updates.

    When it ends, ``status`` says what happened -- an error first when there was one,
    never "done" for a run that could not start. Returns the run's rows: its own, kept
    even if another session forgets the cached results meanwhile.
    """
    stop_button(stop_slot, stop_key, stopped_key)
    new, errors, fatal = 0, [], None
    started = time.perf_counter()
    last_draw, pause, drawn = -math.inf, redraw_seconds, 0  # the first results are drawn at once
    last_progress = -math.inf
    results = {}  # this run's results: the shared cache may be cleared meanwhile
    updates = run(sweep, cache, executor, results=results)
    try:
        with live_runs().running() as live:
            for update in updates:
                if isinstance(update, Fatal):
                    fatal = update.error
                elif isinstance(update, TaskError):
                    errors.append(update.error)
                elif isinstance(update, ResultEvent):
                    new += 1
                now = time.perf_counter()
                if now - last_progress >= progress_seconds * live.count:
                    status.progress(update.done / update.total,
                                    text=f"{update.done}/{update.total} · {update.message}")
                    last_progress = now
                if len(results) > drawn and now - last_draw >= pause:
                    drawn = len(results)
                    draw(sweep.rows(results), f"live{drawn}")
                    last_draw = time.perf_counter()
                    pause = max(redraw_seconds * live.count, 4 * (last_draw - now))
    finally:
        updates.close()
    if len(results) > drawn:
        draw(sweep.rows(results), f"live{len(results)}")
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
