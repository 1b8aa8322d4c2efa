"""The Home page: the weighted fit of the teaching example moves with its slider, its lines
carry their algorithms' colours, its sentence matches the losses, and it links every page."""
import math
import re

import numpy as np
import pytest

import wlra_core
from app_pages._views import teaching_example
from apptest_helpers import ROOT, captions, open_page, svg_panels

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def fit_direction(svg: str) -> np.ndarray:
    """Unit direction of the drawn rank-1 line, in data coordinates (SVG y points down)."""
    x0, y0, x1, y1 = map(float, re.search(
        r'<line class="fit" x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)"', svg).groups())
    v = np.array([x1 - x0, y0 - y1])
    return v / np.linalg.norm(v)

def test_home_explains_and_moves_the_weighted_fit(shipped):
    at = open_page()
    assert "Weighted low rank approximation" in at.markdown[0].value
    assert at.session_state["problem"].name == shipped.name
    assert shipped.name in " ".join(m.value for m in at.sidebar.markdown)
    assert len(svg_panels(at)) == 2 and len(captions(at)) >= 2
    at.select_slider(key="home-weight").set_value(1.0).run()
    before = svg_panels(at)
    at.select_slider(key="home-weight").set_value(30.0).run()
    after = svg_panels(at)
    # The SVD line ignores the weights; the weighted line turns to the weighted optimum.
    assert fit_direction(before[0]) @ fit_direction(after[0]) == pytest.approx(1.0, abs=1e-12)
    assert abs(fit_direction(before[1]) @ fit_direction(after[1])) < 0.9
    example = teaching_example(30.0)
    A, w = example.A, example.W[:, 0]
    # Oracle: one weight per point, so the best line through 0 is the top eigenvector of
    # A^T diag(w^2) A; the drawing is rounded to 0.1 pixel.
    oracle = np.linalg.eigh(A.T @ (w[:, None] ** 2 * A))[1][:, -1]
    assert abs(fit_direction(after[1]) @ oracle) == pytest.approx(1.0, abs=1e-4)
    loss = wlra_core.weighted_loss(A, example.W, np.outer(A @ oracle, oracle))
    assert f"weighted loss {loss:.1f}" in after[1]

def test_home_fit_lines_have_their_algorithms_colours_and_neutral_points():
    from app_pages._charts import ALGORITHM_STYLES, algorithm_style

    at = open_page()
    svd_panel, weighted_panel = svg_panels(at)
    for panel, algorithm in ((svd_panel, "svd"), (weighted_panel, "svd_w_practical")):
        [fit] = re.findall(r'<line class="fit"[^>]*stroke="(#[0-9a-f]{6})"', panel)
        assert fit == algorithm_style(algorithm)["color"]
        # The points are no algorithm's colour, and the three heavy ones stand apart.
        fills = re.findall(r'<circle[^>]*fill="(#[0-9a-f]{6})"', panel)
        assert not set(fills) & {color for color, _ in ALGORITHM_STYLES.values()}
        assert len(set(fills)) == 2 and sorted(map(fills.count, set(fills))) == [3, len(fills) - 3]
    assert "three black points" in at.select_slider(key="home-weight").label


def angle(svg: str) -> float:
    """Angle in degrees, in [0, 180), of the drawn weighted line."""
    x, y = fit_direction(svg)
    return math.degrees(math.atan2(y, x)) % 180

def test_home_slider_moves_the_line_across_its_range():
    at = open_page()
    slider = at.select_slider(key="home-weight")
    options = [float(o) for o in slider.options]
    assert options[0] == 1.0 and np.all(np.diff(options) > 0)
    angles = []
    for value in (options[0], options[len(options) // 2], options[-1]):
        at.select_slider(key="home-weight").set_value(value).run()
        angles.append(angle(svg_panels(at)[1]))
    first, middle, last = angles
    assert last - first > 30  # degrees
    assert middle - first >= (last - first) / 3

def loss_sentence(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Weighted loss"))

def test_home_sentence_matches_the_losses():
    at = open_page()
    at.select_slider(key="home-weight").set_value(1.0).run()
    sentence = loss_sentence(at)
    assert "gives up" not in sentence and "same line" in sentence
    assert angle(svg_panels(at)[0]) == pytest.approx(angle(svg_panels(at)[1]), abs=0.1)
    at.select_slider(key="home-weight").set_value(3.0).run()
    sentence = loss_sentence(at)
    # Oracle: per-point weighted squared residuals of the two fits, split by weight.
    example = teaching_example(3.0)
    w = example.W[:, 0]

    def split(result):
        per_point = w ** 2 * np.sum((example.A - result.approx) ** 2, axis=1)
        return per_point[w == 1].sum(), per_point[w == 3].sum()

    (svd_light, svd_heavy), (fit_light, fit_heavy) = split(example.svd), split(example.weighted)
    assert fit_light > svd_light and fit_heavy < svd_heavy  # the trade-off the text claims
    assert f"their loss {svd_light:.2f} -> {fit_light:.2f}" in sentence
    assert f"({svd_heavy:.2f} -> {fit_heavy:.2f})" in sentence

def test_home_links_every_other_page():
    at = open_page()
    linked = {link.proto.page for link in at.get("page_link")}  # URL paths: the file stems
    pages = {p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.name.startswith("_")} - {"home"}
    assert len(pages) == 7
    assert linked == pages
    caption = " ".join(captions(at))
    assert "svd_w_practical -- scale each row of A by its weight" in caption
