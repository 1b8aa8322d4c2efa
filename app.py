"""WLRA Explorer: the Streamlit entry point (``streamlit run app.py``).

Routes between the pages in ``pages/`` and draws what every page shares: the
navigation and, in the sidebar, the loaded problem. The problem lives in
``st.session_state`` (see ``pages/_shared.py``), so it survives page switches.
Nothing here imports TensorFlow: the landing page must render in well under 2 s.
"""
from pathlib import Path

import streamlit as st

from pages._shared import framed, loaded_problem, show_sidebar

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="WLRA Explorer", page_icon=":material/grid_on:", layout="wide")

EXPLORE = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
    st.Page("pages/weights.py", title="Weights", icon=":material/grid_on:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/monitoring:"),
    st.Page("pages/refine.py", title="Refine", icon=":material/trending_down:"),
]
# Pages of the compression / feature selection / communication issue, listed explicitly;
# each is included once its file exists.
BEYOND = [
    ("pages/compression.py", "Compression", ":material/compress:"),
    ("pages/feature_selection.py", "Feature selection", ":material/filter_alt:"),
    ("pages/communication.py", "Communication", ":material/lan:"),
]

sections = {"Explore": EXPLORE}
beyond = [st.Page(path, title=title, icon=icon) for path, title, icon in BEYOND if (ROOT / path).is_file()]
if beyond:
    sections["Beyond the paper"] = beyond

page = st.navigation(sections)
problem_box = st.sidebar.empty()
loaded_problem()
show_sidebar(problem_box)
with framed():
    page.run()
# The page may have loaded another problem: show the one now current.
show_sidebar(problem_box)
