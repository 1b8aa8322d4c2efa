"""The inpainting demo in a real browser (Debian's Chromium, Playwright): load the masked
photograph on the Data page, run Compare with its held-out check (on by default for a mask),
see the held-out and true-error charts beside the loss chart, and the picture observed |
filled | truth with its measured error; no exception on any page."""
from urllib.parse import urlsplit

import pytest

from apptest_helpers import CHROMIUM, go_to_page, new_tab, no_exception, set_number, wait_idle

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (scripts/run_tests.sh installs it as root)",
)


def test_inpainting_demo_walk(server, browser):
    page = new_tab(browser, server)
    page.get_by_role("heading", name="WLRA Explorer", level=1).wait_for()
    wait_idle(page)
    go_to_page(page, "Data")
    page.locator(".st-key-data-source").get_by_text("Missing entries (offline demos)", exact=True).click()
    wait_idle(page)
    set_number(page, "synthetic-masked_image-observed", 0.3)
    set_number(page, "synthetic-masked_image-downscale", 8)  # 53 x 80: a cheap run
    page.locator(".st-key-load-demo button").click()
    page.get_by_text("Loaded china.jpg (53 x 80), 30% of pixels observed.").wait_for()
    page.get_by_text("are missing").first.wait_for()
    no_exception(page)

    # Compare through the URL the Data page wrote (a reload keeps the demo), with a short selection.
    problem = urlsplit(page.url).query
    selection = "&".join(["compare-ranks-53=1", "compare-ranks-53=8"]
                         + [f"compare-algorithms={name}" for name in ("svd", "svd_w", "em", "soft_impute")])
    page.goto(f"{server}/compare?{problem}&{selection}")
    page.get_by_role("heading", name="Compare", level=1).wait_for()
    wait_idle(page)
    assert "china.jpg (53 x 80), 30% of pixels observed" in page.locator('[data-testid="stSidebar"]').inner_text()
    page.get_by_text("W is a 0/1 mask").first.wait_for()
    page.locator(".st-key-compare-run button").click()
    page.get_by_text("Done:").wait_for()
    wait_idle(page)
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    expected = {"Weighted loss vs rank", "Held-out error vs rank", "True error on the missing entries vs rank"}
    assert expected <= set(titles)
    page.get_by_text("Flagged results (black rings in the charts)").wait_for()
    no_exception(page)

    heading = page.get_by_role("heading", name="The picture: observed | filled | truth")
    heading.scroll_into_view_if_needed()
    page.get_by_text("RMSE on the missing entries (truth)").wait_for()
    pictures = page.locator('[data-testid="stImage"] img')
    pictures.nth(2).wait_for()
    assert pictures.count() == 3
    assert "truth" in page.locator('[data-testid="stImage"]').nth(2).inner_text()
    no_exception(page)
