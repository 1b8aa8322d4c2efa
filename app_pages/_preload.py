"""What the pages import beyond the landing page, imported once per server in one thread.

Python imports a module once, but a second thread that looks a module up in ``sys.modules``
while the first is still importing it sees it half initialised: plotly checks for pandas
that way, and a session drawing a chart while another session's first table was importing
pandas failed with ``partially initialized module 'pandas' has no attribute 'Series'``.
So the frame (``app.py``) starts :func:`page_modules` after a session's first page is
drawn -- the landing page does not wait for it -- and every page but Home waits for it to
finish before it runs. TensorFlow stays out: only training and ``adam`` need it.

Imported modules also make every script run slower unless their objects are frozen: see
:func:`freeze_imported_objects`.
"""
from __future__ import annotations

import gc
import importlib
import sys
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


# How many modules sys.modules grows by before a freeze is worth its one collection.
FREEZE_AFTER_MODULES = 50
_freeze_lock = threading.Lock()
_modules_when_frozen = 0


def freeze_imported_objects() -> None:
    """Move every object alive now into the garbage collector's permanent generation, once
    sys.modules has grown by :data:`FREEZE_AFTER_MODULES` since the last freeze.

    Streamlit collects garbage at the end of every script run (``runner.postScriptGC``) and,
    once keras is imported, calls ``keras.backend.clear_session()``, which collects again.
    Each collection walks every tracked object: here 0.1 s per run with the page modules
    imported and 0.7 s once TensorFlow is, for every rerun of every session. Objects made by
    imports live as long as the server, so walking them again frees nothing. A full
    collection first frees what is garbage now; what is alive now and later becomes garbage
    inside a reference cycle is never collected, a one-time cost of each freeze, and freezes
    happen only after imports (a few per server).
    """
    global _modules_when_frozen
    if len(sys.modules) - _modules_when_frozen < FREEZE_AFTER_MODULES:
        return
    with _freeze_lock:
        if len(sys.modules) - _modules_when_frozen >= FREEZE_AFTER_MODULES:
            _modules_when_frozen = len(sys.modules)
            gc.collect()
            gc.freeze()
