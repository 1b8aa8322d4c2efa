"""The dashboard in a real browser: Debian's Chromium driven by Playwright for Python.

Starts ``streamlit run app.py`` on a free local port, walks Home -> Data (a bad upload) ->
Weights -> Compare (run, live charts, Stop) -> Refine -> Compression (a run) -> the other
"Beyond the paper" pages in one browser session, asserts the charts appear and the loaded
problem survives, and saves screenshots (see SHOTS). Then the URL state:
a reload keeps a generated problem and the Compare selection, the digits MLP trains twice
in a row, and a direct URL to a page (with a problem in its link) opens it in a fresh
browser context. Last, four visitors press Run on Compare together on a freshly started
server: none may see an exception. A server is stopped by its PID; its pipeline cache is a
temporary folder.

Never ``playwright install`` (it downloads a browser): the test uses /usr/bin/chromium,
which ``scripts/run_tests.sh`` installs with apt-get when run as root on Debian.
"""
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from apptest_helpers import (CHROMIUM, TIMEOUT_MS, go_to_page, new_tab, no_exception, set_number, streamlit_server,
                      wait_idle)

ROOT = Path(__file__).resolve().parents[1]
# README's screenshots are refreshed only on request (WLRA_UPDATE_SCREENSHOTS=1), so a test
# run leaves the work tree clean; otherwise they go to the git-ignored tests/artifacts/.
SHOTS = ROOT / ("docs/screenshots" if os.environ.get("WLRA_UPDATE_SCREENSHOTS") else "tests/artifacts")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (scripts/run_tests.sh installs it as root)",
)


@pytest.fixture(scope="module")
def page(server, browser):
    return new_tab(browser, server)


def charts(page):
    return page.locator(".js-plotly-plot")


def chart_titles(page) -> list[str]:
    return page.locator(".js-plotly-plot .gtitle").all_text_contents()


def sidebar_problem(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def sidebar_shows(page, *texts: str) -> None:
    """Wait until the sidebar names the loaded problem by ``texts`` (it is redrawn after the page)."""
    for text in texts:
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(text)


def shoot(page, name: str, anchor=None, *, top: bool = False, height: int | None = None) -> None:
    """Screenshot the viewport, scrolled to ``anchor`` (to its top edge when ``top``), made
    ``height`` pixels tall for this shot when given."""
    viewport = page.viewport_size
    if height is not None:
        page.set_viewport_size({"width": viewport["width"], "height": height})
    if anchor is not None:
        if top:
            anchor.evaluate("element => element.scrollIntoView({block: 'start'})")
        else:
            anchor.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let plotly finish its transition
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(viewport)


def test_walk_the_dashboard(page, tmp_path):
    # Home: the live rank-1 example (two SVG panels) and the sidebar's problem.
    page.get_by_role("heading", name="WLRA Explorer", level=1).wait_for()
    page.locator('[data-testid="stImage"] img').nth(1).wait_for()  # the two example panels
    wait_idle(page)
    no_exception(page)
    assert "fashion_mnist MLP" in sidebar_problem(page)
    shoot(page, "home")

    # Data: the shipped problem's facts; a bad upload shows the loader's message and keeps it.
    go_to_page(page, "Data")
    page.get_by_text("zero rows of W").wait_for()
    page.get_by_text("Upload A and W").click()
    wait_idle(page)
    bad = tmp_path / "ragged.csv"
    bad.write_text("1,2,3\n4,5\n")
    page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]').set_input_files(str(bad))
    page.get_by_text("ragged.csv").first.wait_for()
    page.locator(".st-key-load-upload button").click()
    error = page.locator('[data-testid="stAlertContentError"]')
    error.wait_for()
    assert "ragged rows" in error.inner_text() and "previously loaded problem is kept" in error.inner_text()
    assert "fashion_mnist MLP" in sidebar_problem(page)
    no_exception(page)
    shoot(page, "data", anchor=error)

    # Weights: three heatmaps (tabs), spectrum, cumulative mass and the pixel image.
    go_to_page(page, "Weights")
    charts(page).nth(4).wait_for()
    assert "%" in page.locator('[data-testid="stMetricValue"]').first.inner_text()
    no_exception(page)
    shoot(page, "weights", anchor=page.get_by_role("tab", name="W", exact=True))

    # Compare: Run fills the charts live; Stop keeps what finished.
    go_to_page(page, "Compare")
    assert "fashion_mnist MLP" in sidebar_problem(page)
    charts(page).nth(2).wait_for()  # drawn empty until Run
    assert page.locator(".js-plotly-plot .legendtext").count() == 0
    page.locator(".st-key-compare-run button").click()
    page.locator(".js-plotly-plot .legendtext").first.wait_for()
    stop = page.locator(".st-key-compare-stop button")
    stop.wait_for()
    legend = page.locator(".js-plotly-plot").first.locator(".legendtext")
    try:  # a few algorithms' curves for the screenshot, then stop the sweep
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')"
                               "?.querySelectorAll('.legendtext').length >= 4", timeout=60_000)
    except Exception:  # noqa: BLE001 - a slow machine: stop with what there is
        pass
    stop.click()
    page.get_by_text(re.compile(r"^Stopped\.")).wait_for()
    wait_idle(page)
    assert chart_titles(page) == ["Weighted loss vs rank", "Runtime vs rank", "Weighted loss vs stored numbers"]
    names = legend.all_text_contents()
    assert names and names[0] == "svd"
    # A black ring in the legend and the list of flagged results below go together.
    flagged = page.get_by_text("Flagged results (black rings in the charts)")
    assert any(name.endswith("flagged (!)") for name in names) == (flagged.count() == 1)
    failed = page.get_by_text("Failed results (shown as gaps in the charts)")
    assert any("(failed at rank" in name for name in names) == (failed.count() == 1)
    page.get_by_text("At ranks 5, 10 and 20 (the paper's Tables 3-5)").wait_for()
    # The charts' margins already held their tick labels, axis titles and legend at 1280 px:
    # Plotly drew each one without widening them, which takes it a second draw of the chart.
    margins = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => "
                            "[gd._fullLayout._size.l, gd._fullLayout._size.b, gd.layout.margin.l, gd.layout.margin.b])")
    assert len(margins) == 3 and all(left == asked_left and bottom == asked_bottom
                                     for left, bottom, asked_left, asked_bottom in margins), margins
    no_exception(page)
    shoot(page, "compare", anchor=page.locator(".st-key-compare-run"), top=True)

    # Refine: the paper's Figure 4.
    go_to_page(page, "Refine")
    page.locator(".st-key-refine-run button").click()
    charts(page).nth(1).wait_for()
    wait_idle(page)
    names = charts(page).first.locator(".legendtext").all_text_contents()
    assert names == ["EM from svd_w_practical (svd_w_em)", "EM from zero", "EM from svd"]
    no_exception(page)
    shoot(page, "refine", anchor=charts(page).first)

    # Compression: a Run with the default methods at ranks 1-20 puts each approximation back
    # into the MLP; the headline names the best method per stored number.
    go_to_page(page, "Compression")
    methods = page.locator(".st-key-compression-algorithms").inner_text()
    for name in ("svd", "svd_w", "svd_w_practical", "fwsvd", "whiten", "kfac"):
        assert name in methods.split("\n")
    page.locator(".st-key-compression-run button").click()
    headline = page.get_by_role("heading", name=re.compile(r"^Best accuracy per stored number here: "))
    headline.wait_for(timeout=120_000)
    charts(page).nth(3).wait_for()
    wait_idle(page)
    assert sorted(chart_titles(page)) == ["Accuracy vs weighted loss", "Test accuracy vs rank",
                                          "Test accuracy vs stored numbers", "Weighted loss vs rank"]
    no_exception(page)
    shoot(page, "compression", anchor=headline, top=True, height=1400)  # the headline and all four charts

    # The other pages beyond the paper render and still see the same problem.
    for title in ("Feature selection", "Communication"):
        go_to_page(page, title)
        no_exception(page)
        assert "fashion_mnist MLP" in sidebar_problem(page)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_a_reload_keeps_the_problem_and_the_compare_selection(page):
    # Generate a problem; the URL names it by its generator and parameters.
    go_to_page(page, "Data")
    page.locator(".st-key-data-source").get_by_text("Synthetic", exact=True).click()
    wait_idle(page)
    set_number(page, "synthetic-planted_low_rank-n", 60)
    set_number(page, "synthetic-planted_low_rank-seed", 4)
    page.locator(".st-key-load-synthetic button").click()
    page.get_by_text("Loaded planted rank 5, rank-2 W.").wait_for()
    wait_idle(page)
    expected = {"source": ["synthetic"], "generator": ["planted_low_rank"], "n": ["60"], "d": ["80"],
                "rank": ["5"], "weight_rank": ["2"], "noise": ["0.1"], "seed": ["4"]}
    assert query(page) == expected
    sidebar_shows(page, "planted rank 5, rank-2 W\n60 x 80")
    # F5: a new session, the same problem, and the Data page starts from its settings.
    page.reload()
    page.get_by_role("heading", name="Data", level=1).wait_for()
    wait_idle(page)
    sidebar_shows(page, "planted rank 5, rank-2 W\n60 x 80")
    assert query(page) == expected
    assert page.locator(".st-key-synthetic-planted_low_rank-seed input").input_value() == "4"
    no_exception(page)
    # Compare: a changed widget goes into the URL (the page switch kept the problem in it too),
    # and a reload starts from it -- without running anything.
    go_to_page(page, "Compare")
    assert query(page) == expected
    set_number(page, "compare-trials", 2)
    page.wait_for_function("() => location.search.includes('compare-trials=2')")
    page.reload()
    page.get_by_role("heading", name="Compare", level=1).wait_for()
    expect(page.locator(".st-key-compare-trials input")).to_have_value("2")  # may show 1 first
    wait_idle(page)
    sidebar_shows(page, "planted rank 5, rank-2 W")
    assert query(page) == {**expected, "compare-trials": ["2"]}
    assert page.locator(".js-plotly-plot .legendtext").count() == 0  # Press Run: nothing ran
    page.get_by_text("Press Run: the curves appear here as results arrive").first.wait_for()
    no_exception(page)


def test_the_digits_mlp_trains_twice_in_a_row(page):
    go_to_page(page, "Data")
    page.locator(".st-key-data-source").get_by_text("scikit-learn digits", exact=True).click()
    wait_idle(page)
    set_number(page, "digits-digits-hidden", 5)
    set_number(page, "digits-digits-epochs", 1)
    train = page.locator(".st-key-load-digits button")
    for _ in range(2):  # the first click trains (TensorFlow), the second loads the same problem
        train.click()
        # Wait for this click's message (a rerun can briefly show the previous one beside it).
        success = page.locator('[data-testid="stAlertContentSuccess"]', has_text="Loaded digits MLP").last
        success.wait_for(timeout=120_000)
        wait_idle(page)
        assert success.inner_text().startswith("Loaded digits MLP")
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        no_exception(page)
    assert query(page) == {"source": ["digits"], "hidden": ["5"], "epochs": ["1"]}
    sidebar_shows(page, "digits", "64 x 5")


def test_a_direct_url_opens_its_page_with_the_linked_problem(browser, server):
    # A page's own URL works in a fresh browser; with a problem and a selection in it,
    # it is a link a teacher can send.
    tab = new_tab(browser, f"{server}/compare")
    try:
        tab.get_by_role("heading", name="Compare", level=1).wait_for()
        wait_idle(tab)
        assert tab.locator('[data-testid="stSidebarNavLink"]').count() == 8
        assert "fashion_mnist MLP" in sidebar_problem(tab)
        no_exception(tab)
        tab.goto(f"{server}/compare?source=synthetic&generator=random_mask&n=30&d=20&compare-trials=3"
                 "&compare-algorithms=svd&compare-algorithms=svd_w")
        tab.get_by_role("heading", name="Compare", level=1).wait_for()
        wait_idle(tab)
        sidebar_shows(tab, "random mask, 30% observed\n30 x 20")
        expect(tab.locator(".st-key-compare-trials input")).to_have_value("3")
        chosen = tab.locator(".st-key-compare-algorithms").inner_text()
        assert "svd\n" in chosen and "svd_w" in chosen and "em" not in chosen.split("\n")
        no_exception(tab)
        # A link the server cannot follow says so in one line and loads the shipped problem.
        tab.goto(f"{server}/weights?source=upload&upload={'0' * 32}")
        tab.get_by_role("heading", name="Weights", level=1).wait_for()
        wait_idle(tab)
        assert "no longer on this server" in tab.locator('[data-testid="stAlertContentWarning"]').inner_text()
        sidebar_shows(tab, "fashion_mnist MLP")
        assert "source=" not in tab.url
        no_exception(tab)
    finally:
        tab.context.close()


# Four visitors press Run on Compare at once on a freshly started server:
# the first to finish imports what its results table needs while the others still draw.
COLD_SESSIONS = 4
COLD_COMPARE = ("/compare?compare-algorithms=svd&compare-algorithms=svd_w&compare-algorithms=em"
                "&compare-algorithms=greedy&compare-ranks-128=1&compare-ranks-128=6")
RESULTS_TABLE = "At ranks 5, 10 and 20 (the paper's Tables 3-5)"


def test_sessions_running_compare_together_on_a_cold_server(browser, tmp_path_factory):
    with streamlit_server(tmp_path_factory) as (url, log_path):
        tabs = [new_tab(browser, url + COLD_COMPARE) for _ in range(COLD_SESSIONS)]
        try:
            runs = [tab.locator(".st-key-compare-run button") for tab in tabs]
            for run in runs:
                run.wait_for()
            for run in runs:
                run.click()
            for tab in tabs:  # each ends with its results table, or with an exception
                tab.get_by_text(RESULTS_TABLE).or_(tab.locator('[data-testid="stException"]')).first.wait_for(
                    timeout=5 * TIMEOUT_MS)
            for number, tab in enumerate(tabs, 1):
                shown = tab.locator('[data-testid="stException"]').count()
                log = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text())  # without the colours
                errors = sorted({line.strip() for line in log.splitlines() if re.match(r"\s*\w+Error: ", line)})
                assert shown == 0, f"session {number} of {COLD_SESSIONS} shows an exception; server log: {errors}"
                # Every result of the sweep, new or computed by another session before this Run.
                (done,) = tab.locator('[data-testid="stAlertContentSuccess"]').all_inner_texts()
                counts = re.fullmatch(r"Done: (\d+) new results in [0-9.]+ s(?: \((\d+) from the cache\))?\.", done)
                assert counts and int(counts[1]) + int(counts[2] or 0) == 24, done
        finally:
            for tab in tabs:
                tab.context.close()
