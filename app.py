"""WLRA Explorer: the Streamlit entry point (``streamlit run app.py``).

Routes between the pages in ``app_pages/`` (a folder name Streamlit does not treat as
its legacy multipage folder, so ``st.navigation`` alone decides the pages and their URLs)
and draws what every page shares: the navigation and, in the sidebar, the loaded problem.
The problem lives in ``st.session_state`` (see ``app_pages/_state.py``), so it survives
page switches, and in the URL, so it survives a reload and can be shared: a session's first
run loads the problem its URL names.

Nothing here imports TensorFlow: the landing page must render in well under 2 s. What the
other pages import (plotly's figures, pandas for tables) is imported once per server, in
the background after the first page is drawn (``app_pages/_preload.py``), and every page
but Home waits for it: a module first imported by two sessions at once can be seen half
initialised by one of them.
"""
from pathlib import Path

import streamlit as st

from app_pages._preload import freeze_imported_objects, page_modules
from app_pages._state import keep_link_in_url, loaded_problem, open_linked_page, show_link_notice, show_sidebar

# A shipped file, served by this server: a :material/...: favicon is fetched from the web.
st.set_page_config(page_title="WLRA Explorer", page_icon=str(Path(__file__).with_name("assets") / "icon.png"),
                   layout="wide")

home = st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)
page = st.navigation({
    "Explore": [
        home,
        st.Page("app_pages/data.py", title="Data", icon=":material/database:"),
        st.Page("app_pages/weights.py", title="Weights", icon=":material/grid_on:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/monitoring:"),
        st.Page("app_pages/refine.py", title="Refine", icon=":material/trending_down:"),
    ],
    "Beyond the paper": [
        st.Page("app_pages/compression.py", title="Compression", icon=":material/compress:"),
        st.Page("app_pages/feature_selection.py", title="Feature selection", icon=":material/filter_alt:"),
        st.Page("app_pages/communication.py", title="Communication", icon=":material/lan:"),
    ],
})
problem_box = st.sidebar.empty()
open_linked_page()  # a deep link that serve.py sent here: its page, on the session's first run
loaded_problem()  # a session's first run: the problem the URL names
keep_link_in_url()  # a page switch clears the URL's problem parameters
notice_box = st.empty()
notice_stays = show_link_notice(notice_box)
show_sidebar(problem_box)
if page is not home:
    page_modules().join()
try:
    page.run()
finally:  # after the page is drawn, also when it stops early: later runs' collections skip imports' objects
    freeze_imported_objects()
# The page may have loaded another problem: show the one now current.
show_sidebar(problem_box)
if notice_stays:
    show_link_notice(notice_box)
page_modules()  # after the landing page is drawn: starts the imports once per server
