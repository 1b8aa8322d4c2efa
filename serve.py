"""The dashboard as served (``streamlit run serve.py``, what scripts/run_dashboard.sh does):
``app.py`` behind one ASGI middleware, :class:`DeepLinks`.

A link straight to a page (``/data?source=...``) makes Streamlit's browser client look
for the server under that page's path first: it requests ``/data/_stcore/health`` and
``/data/_stcore/host-config``, logs both 404s in the console, and only then tries ``/``
(its base-URL inference for apps served under a path prefix). So a browser asking for a
page's URL is sent to ``/`` with the page in the query (``open-page=data``); ``app.py``
switches to that page on the session's first run, with the rest of the query, and the
address bar shows ``/data?...`` again. Only the browser's first request for the page is
redirected: the client's own requests never ask for a page's path.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, parse_qsl

import streamlit as st
from starlette.middleware import Middleware

from app_pages._state import OPEN_PAGE

HERE = Path(__file__).resolve().parent
# The url paths st.navigation gives the pages: their file names (app.py lists them).
PAGES = frozenset(path.stem for path in (HERE / "app_pages").glob("*.py") if not path.stem.startswith("_"))


class DeepLinks:
    """ASGI middleware: a GET of ``/<page>`` answers 307 to ``/?open-page=<page>&<query>``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        page = scope["path"].strip("/") if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") else ""
        if page not in PAGES or page == "home":
            await self.app(scope, receive, send)
            return
        query = [(OPEN_PAGE, page)] + parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                keep_blank_values=True)
        await send({"type": "http.response.start", "status": 307,
                    "headers": [(b"location", f"/?{urlencode(query)}".encode("latin-1")),
                                (b"cache-control", b"no-store"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


app = st.App(str(HERE / "app.py"), middleware=[Middleware(DeepLinks)])
