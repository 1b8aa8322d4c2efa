"""What only a browser shows (issue 19 items 12 and 14), in Debian's Chromium: the dashboard
served as scripts/run_dashboard.sh serves it (``streamlit run serve.py``) answers a deep link
without a 404 in the console, and at 1024 px wide the Compression page's labels do not break
mid-word, tick labels do not overlap, and legends keep clear of the axis titles.

Never ``playwright install``: the test uses /usr/bin/chromium (scripts/run_tests.sh installs it).
"""
import contextlib
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from apptest_helpers import CHROMIUM, TIMEOUT_MS, streamlit_server, wait_idle

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``streamlit run serve.py``, as scripts/run_dashboard.sh starts it."""
    with streamlit_server(tmp_path_factory, "serve.py") as (url, _):
        yield url


@contextlib.contextmanager
def visitor(browser, width: int = 1280):
    """A new browser context (a new visitor) and its tab, closed afterwards."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    try:
        yield tab
    finally:
        context.close()


def boxes(locator) -> list[dict]:
    return [b for b in (element.bounding_box() for element in locator.all()) if b and b["width"] > 0]


def overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("path, title", [("/data?source=synthetic&generator=random_mask&n=30&d=20", "Data"),
                                         ("/compare?compare-trials=3&compare-algorithms=svd&compare-algorithms=em",
                                          "Compare")])
def test_a_deep_link_opens_its_page_without_a_404(served, browser, path, title):
    with visitor(browser) as tab:
        failed = []
        tab.on("response", lambda response: failed.append(f"{response.status} {response.url}")
               if response.status >= 400 else None)
        tab.goto(served + path)
        tab.get_by_role("heading", name=title, level=1).wait_for()
        wait_idle(tab)
        assert failed == []  # Streamlit's client probed /data/_stcore/health and host-config first: two 404s
        shown = urlsplit(tab.url)
        assert shown.path == path.split("?")[0] and "open-page" not in shown.query
        assert set(urlsplit(path).query.split("&")) <= set(shown.query.split("&"))  # the link's settings kept
        if title == "Data":
            expect(tab.locator('[data-testid="stSidebar"]')).to_contain_text("random mask")
        else:
            expect(tab.locator(".st-key-compare-trials input")).to_have_value("3")


def test_compression_at_1024_px_keeps_labels_and_ticks_apart(served, browser):
    with visitor(browser, width=1024) as tab:
        tab.goto(served + "/compression")
        tab.get_by_role("heading", name="Compression", level=1).wait_for()
        wait_idle(tab)
        label = tab.locator(".st-key-compression-floor label").first
        line = tab.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 24",
                            label.element_handle())
        assert label.bounding_box()["height"] < 1.5 * line, "weight_floor wraps onto a second line"
        tab.locator(".st-key-compression-run button").click()
        tab.get_by_role("heading", name=re.compile(r"^Best accuracy per stored number here: ")).wait_for()
        tab.locator(".js-plotly-plot").nth(3).wait_for()
        wait_idle(tab)
        tab.wait_for_timeout(1000)  # plotly's last layout pass
        plots = tab.locator(".js-plotly-plot").all()
        assert len(plots) == 4
        for plot in plots:
            plot.scroll_into_view_if_needed()
            title = plot.locator(".gtitle").text_content()
            ticks = boxes(plot.locator(".xtick text"))
            assert len(ticks) >= 2, title
            assert not any(overlap(a, b) for i, a in enumerate(ticks) for b in ticks[i + 1:]), (
                title, plot.locator(".xtick text").all_text_contents(), [round(t["x"]) for t in ticks])
            axis_title = boxes(plot.locator(".g-xtitle text"))
            legend = boxes(plot.locator(".legend .bg"))
            assert axis_title and legend, title
            assert not overlap(axis_title[0], legend[0]), title
