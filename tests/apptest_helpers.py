"""What the test modules share: opening a page with a given problem, reading plotly
figures back from their specs (arrays arrive as base64 ``bdata``), and uploads as the loader
sees them."""
from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # streamlit's import is left to the tests that open the app
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")  # AppTest resolves relative paths against the test file's folder
TIMEOUT = 120  # first runs import plotly/scipy; the machine may be shared


def open_page(page: str | None = None, problem=None, *, timeout: float = TIMEOUT) -> AppTest:
    """A fresh session of the app on ``page`` (e.g. ``"app_pages/compare.py"``), with
    ``problem`` loaded into it when given; fails on an exception element."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if problem is not None:
        at.session_state["problem"] = problem
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(array) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata", "shape"}`` of little-endian bytes."""
    if isinstance(array, dict):
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
        shape = array.get("shape")
        return flat.reshape([int(x) for x in str(shape).split(",")]) if shape else flat
    return np.asarray(array)


def figures(at: AppTest) -> dict[str, dict]:
    """Every plotly chart of the page by its title."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def method_traces(figure: dict) -> dict[str, dict]:
    """The traces of a chart that draw one method each (not bands, rings or reference lines),
    by name without its "(failed at ...)" note."""
    return {re.sub(r" \(failed at .*\)$", "", t["name"]): t for t in figure["data"]
            if t.get("name") and t.get("showlegend", True) is not False
            and not t["name"].endswith("flagged (!)") and t["name"] != "Pareto front"}


def xy(trace: dict) -> tuple[np.ndarray, np.ndarray]:
    return decode(trace["x"]).astype(float), decode(trace["y"]).astype(float)


class Upload(io.BytesIO):
    """What Streamlit's UploadedFile offers to the loader: a BytesIO with a name."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name

