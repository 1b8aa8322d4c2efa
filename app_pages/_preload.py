"""What the pages import beyond the landing page, imported once per server in one thread.

Python imports a module once, but a second thread that looks a module up in ``sys.modules``
while the first is still importing it sees it half initialised: plotly checks for pandas
that way, and a session drawing a chart while another session's first table was importing
pandas failed with ``partially initialized module 'pandas' has no attribute 'Series'``.
So the frame (``app.py``) starts :func:`page_modules` after a session's first page is
drawn -- the landing page does not wait for it -- and every page but Home waits for it to
finish before it runs. TensorFlow stays out: only training and ``adam`` need it.
"""
from __future__ import annotations

import importlib
import threading

import streamlit as st

# Third-party modules first (the ones other libraries look up in sys.modules), then the
# app's drawing modules, which import plotly's figures.
PAGE_MODULES = (
    "pandas",
    "pyarrow",
    "plotly.graph_objects",
    "plotly.io",
    "scipy.stats",
    "app_pages._charts",
    "app_pages._runs",
)


def _import_all() -> None:
    for name in PAGE_MODULES:
        importlib.import_module(name)


@st.cache_resource(show_spinner=False)
def page_modules() -> threading.Thread:
    """The thread importing :data:`PAGE_MODULES`, started on the server's first call; join
    it before running a page that draws charts or tables."""
    thread = threading.Thread(target=_import_all, name="wlra-page-modules", daemon=True)
    thread.start()
    return thread
