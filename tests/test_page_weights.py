"""The Weights page: heatmaps, the spectrum of W down to its numerical rank on a log axis
with whole-number ticks, the mass metric, and the pixel importance map."""
import numpy as np
import pytest

from apptest_helpers import captions, charts, decode, generate, open_page

pytestmark = pytest.mark.usefixtures("one_blas_thread")

EPS = np.finfo(np.float64).eps


def test_weights_page_heatmaps_spectrum_and_pixels(shipped):
    at = open_page("app_pages/weights.py")
    figs = charts(at)
    heatmaps = [f for f in figs if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 4  # W, A, W o A and the pixel image
    for fig in heatmaps[:3]:
        z = fig["data"][0]["z"]
        assert len(z["shape"].split(",")) == 2 if isinstance(z, dict) else True
    s = np.linalg.svd(shipped.W, compute_uv=False)
    spectrum = next(f for f in figs if f["layout"].get("title", {}).get("text") == "Singular values of W")
    # Drawn down to the numerical rank: the rest is round-off (see the spectrum tests below).
    rank = np.linalg.matrix_rank(shipped.W)
    np.testing.assert_allclose(decode(spectrum["data"][0]["y"]), s[:rank], rtol=1e-10)
    metric = next(m for m in at.metric if m.label.startswith("% Frobenius mass"))
    assert metric.value == f"{100 * s[0] ** 2 / np.sum(s ** 2):.2f}%"
    pixels = heatmaps[3]["data"][0]
    assert pixels["colorbar"]["title"]["text"] == "row sum of W"
    assert len(captions(at)) >= len(figs)
    # The log toggle switches every heatmap to log10 of magnitudes.
    at.toggle[0].set_value(False).run()
    titles = [f["data"][0]["colorbar"]["title"]["text"] for f in charts(at) if f["data"][0]["type"] == "heatmap"]
    assert titles[:3] == ["value", "value", "value"]


def spectrum_charts(at):
    figs = {f["layout"].get("title", {}).get("text"): f for f in charts(at)}
    return figs["Singular values of W"], figs["Cumulative Frobenius mass of W"]

def assert_spectrum_above_round_off(at, W):
    singular, cumulative = spectrum_charts(at)
    drawn = decode(singular["data"][0]["y"])
    s = np.linalg.svd(W, compute_uv=False)
    cutoff = s[0] * EPS * max(W.shape)
    assert drawn.min() > cutoff
    assert drawn.size == np.linalg.matrix_rank(W)  # NumPy's rank uses the same cutoff
    np.testing.assert_allclose(drawn, s[:drawn.size], rtol=1e-10)
    # The log axis spans the drawn values, labelled on whole decades only.
    bottom, top = singular["layout"]["yaxis"]["range"]
    assert bottom < np.log10(drawn.min()) and np.log10(drawn.max()) < top
    assert singular["layout"]["yaxis"]["dtick"] >= 1 and top - bottom < np.log10(drawn.max() / drawn.min()) + 2.2
    np.testing.assert_allclose(decode(cumulative["data"][0]["y"]),
                               100 * np.cumsum(s[:drawn.size] ** 2) / np.sum(s ** 2), rtol=1e-10)
    # Whole-number tick labels on the log axis (plotly's own read "10 2 5 100").
    axis = cumulative["layout"]["xaxis"]
    assert axis["type"] == "log"
    assert [int(t) for t in axis["ticktext"]] == list(axis["tickvals"])
    assert axis["tickvals"][0] == 1 and np.all(np.diff(axis["tickvals"]) > 0)
    assert axis["tickvals"][-1] <= drawn.size < 10 * axis["tickvals"][-1]
    if drawn.size < s.size:
        assert f"The other {s.size - drawn.size} are below" in " ".join(captions(at))
    return drawn

def test_weights_spectrum_of_the_shipped_problem_stops_at_round_off(shipped):
    at = open_page("app_pages/weights.py")
    drawn = assert_spectrum_above_round_off(at, shipped.W)
    assert drawn.size == 116 and drawn.min() > 1e-20  # all 128 reached down to 6e-28

def test_weights_spectrum_of_block_diagonal_shows_its_rank():
    at = generate("block_diagonal")
    W = at.session_state["problem"].W
    at.switch_page("app_pages/weights.py").run()
    drawn = assert_spectrum_above_round_off(at, W)
    np.testing.assert_allclose(drawn, [30.0] * 4)  # four all-ones 30 x 30 blocks
