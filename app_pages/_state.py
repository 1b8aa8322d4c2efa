"""The session's problem: in ``st.session_state`` for every page, and in the URL, so that a
reload or a shared link loads it again; and the sidebar that names it.

Session state keys (other pages read them too):

* ``st.session_state["problem"]`` -- the current :class:`wlra_core.Problem` (its cached
  ``fingerprint`` keys every cached computation on it, see :data:`BY_FINGERPRINT`);
* ``st.session_state["problem_link"]`` -- the :class:`~app_pages._links.ProblemLink` the URL
  shows: how the problem was made, so that a reload or a shared link makes it again.

Only :func:`set_problem` writes them, so a failed load never replaces a good problem; and
on a session's first run :func:`loaded_problem` follows the URL (:func:`follow_link`).
"""
from __future__ import annotations

from operator import attrgetter

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_pages._links import PROBLEM_KEYS, LinkError, Notice, ProblemLink, ShippedLink, is_widget_key, parse_link
from wlra_core import Problem
from wlra_core.datasets.limits import one_line

PROBLEM = "problem"
LINK = "problem_link"
# What a link asked for that could not be loaded: a Notice.
NOTICE = "link_notice"
# The query key by which serve.py's DeepLinks hands a link's page to the session (it has a
# dash, so no problem link reads it).
OPEN_PAGE = "open-page"
PAGES_FOLDER = "app_pages"
# ``hash_funcs`` of every cached function taking a problem: its content's fingerprint,
# computed once per problem, instead of hashing its matrices on every call.
BY_FINGERPRINT = {Problem: attrgetter("fingerprint")}


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
    link = ShippedLink()
    try:
        problem = link.load()
    except (OSError, ValueError) as err:
        st.error(f"No problem loaded and the shipped problem cannot be read: {err}")
        st.stop()
    set_problem(problem, link)


def loaded_problem() -> Problem:
    """The session's problem; on first use the one the URL names (see :func:`follow_link`),
    else the shipped problem.

    Stops the page with an error if there is no problem and the shipped one is missing.
    """
    if PROBLEM not in st.session_state:
        follow_link()
    return st.session_state[PROBLEM]


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


def open_linked_page() -> None:
    """On a session's first run, switch to the page a link named (``open-page=data``: a
    deep link ``/data?...`` that ``serve.py`` sent to ``/``), keeping the rest of its query;
    an unknown page name is dropped and the session stays where it is."""
    if PROBLEM in st.session_state or OPEN_PAGE not in st.query_params:
        return
    page = st.query_params[OPEN_PAGE]
    rest = {key: st.query_params.get_all(key) for key in st.query_params if key != OPEN_PAGE}
    del st.query_params[OPEN_PAGE]
    if page.isidentifier() and not page.startswith("_"):
        try:
            st.switch_page(f"{PAGES_FOLDER}/{page}.py", query_params=rest)
        except StreamlitAPIException:  # not one of the pages
            pass


def follow_link() -> None:
    """On a session's first run, load the problem the URL names (see ``_links.py``).

    Shipped, generated and kept uploaded problems load at once; an MLP problem loads when
    this server has it (memory or disk cache). Nothing else is started by a link: an MLP
    problem that needs training (minutes, maybe a download) leaves the shipped problem
    loaded, its settings preselected on the Data page and kept in the URL, and a notice.
    A link that cannot be followed -- bad values, an upload this server no longer has --
    loads the shipped problem with a notice saying why, and its parameters leave the URL.
    """
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    own_keys = [key for key in query if not is_widget_key(key)]
    instead = "The shipped problem is loaded instead."
    problem = None
    try:
        link = parse_link(query)
    except LinkError as err:
        link, notice = ShippedLink(), Notice(f"This link's problem could not be loaded: {err}. {instead}", False)
    else:
        try:
            problem = link.load()
        except (OSError, ValueError) as err:  # a generator's refusal, an unreadable cache file
            notice = Notice(f"This link's problem ({link.describe()}) could not be loaded: {one_line(err)}. "
                            f"{instead}", False)
        else:
            notice = None if problem is not None else link.absent()
    if problem is not None:
        set_problem(problem, link)
    else:
        load_shipped()
        if notice.trainable:
            st.session_state[LINK] = link  # the Data page offers to train it; reloads keep asking
        st.session_state[NOTICE] = notice
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
    :func:`app_pages._links.ignored_values`)."""
    return {key: st.query_params.get_all(key) for key in keys}


def problem_summary(problem: Problem) -> str:
    """Two short markdown lines naming the problem (sidebar, page headers)."""
    n, d = problem.shape
    lines = [f"**{problem.name}**", f"{n} x {d} · source: {problem.source}"]
    accuracy = problem.meta.get("test_accuracy")
    if accuracy is not None:
        lines.append(f"MLP test accuracy {100 * float(accuracy):.2f}%")
    return "  \n".join(lines)


def page_header(title: str) -> Problem:
    """A page's title and, under it, the loaded problem (:func:`problem_summary`); returns
    the problem (:func:`loaded_problem`)."""
    problem = loaded_problem()
    st.title(title)
    st.markdown(problem_summary(problem))
    return problem


def show_sidebar(slot) -> None:
    """Write the loaded-problem box into ``slot`` (an ``st.sidebar.empty()``)."""
    with slot.container():
        st.markdown("##### Loaded problem")
        st.markdown(problem_summary(st.session_state[PROBLEM]))
