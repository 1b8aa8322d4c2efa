"""Home: what WLRA is, one live rank-1 example, and where to go next."""
import numpy as np
import streamlit as st

from pages._shared import require_frame
from wlra_core.views import TeachingExample, teaching_example

require_frame()
st.title("WLRA Explorer")
st.markdown(
    r"""
**Weighted low rank approximation** (WLRA) looks for a matrix $X$ of rank $k$ that minimises
$\|W \circ (A - X)\|_F^2$: every entry of $A$ has a weight $W_{ij} \ge 0$ saying how much
its error counts. With all weights equal this is the ordinary truncated SVD; with
unequal weights it is NP-hard in general, and the usual solvers are slow iterations (EM,
alternating least squares, gradient descent).

The paper behind this dashboard (Woodruff & Yasuda, *Reweighted solutions for weighted
low rank approximation*) observes that real weights are often nearly **low rank** -- the
Fisher information of a neural network layer has >95% of its mass in one singular value --
and that then one SVD suffices: approximate $W \circ A$ at rank $rk$ and divide by $W$
(`svd_w`). Its running example, and this dashboard's default problem, compresses the hidden
layer of an MLP trained on Fashion-MNIST with the Fisher information as the weights.
"""
)

st.subheader("Try it: weights pull the best fit")
heavy_weight = st.slider(
    "Weight of the three orange points", min_value=1.0, max_value=30.0, value=8.0, step=0.5,
    help="Every other point has weight 1. The weights enter the loss squared.",
    key="home-weight", persist_state="session",
)
example = teaching_example(heavy_weight)


# The example is drawn as plain SVG: the landing page then needs no chart library in the
# browser (plotly.js is a 4.7 MB script) and shows everything within a second.
PANEL = 360  # pixels
COLORS = {"light": "#1f77b4", "heavy": "#ff7f0e", "fit": "#2ca02c", "residual": "#b0b0b0", "axis": "#d9d9d9"}


def fit_svg(ex: TeachingExample, result, title: str) -> str:
    """One panel: the rows of A as points (area ~ weight), the rank-1 line and the residuals."""
    reach = 1.15 * float(np.abs(ex.A).max())

    def px(x, y):
        return (PANEL / 2 * (1 + x / reach), PANEL / 2 * (1 - y / reach))

    direction = TeachingExample.direction(result)
    (x0, y0), (x1, y1) = px(*(-reach * direction)), px(*(reach * direction))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PANEL}" height="{PANEL + 44}" '
        f'viewBox="0 -44 {PANEL} {PANEL + 44}" font-family="sans-serif">',
        f'<text x="4" y="-24" font-size="16" font-weight="600">{title}</text>',
        f'<text x="4" y="-6" font-size="13" fill="#555">weighted loss {result.loss:.1f}</text>',
        f'<rect width="{PANEL}" height="{PANEL}" fill="white" stroke="{COLORS["axis"]}"/>',
        f'<line x1="0" y1="{PANEL / 2}" x2="{PANEL}" y2="{PANEL / 2}" stroke="{COLORS["axis"]}"/>',
        f'<line x1="{PANEL / 2}" y1="0" x2="{PANEL / 2}" y2="{PANEL}" stroke="{COLORS["axis"]}"/>',
    ]
    for point, fitted in zip(ex.A, result.approx):
        (ax, ay), (fx, fy) = px(*point), px(*fitted)
        parts.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{fx:.1f}" y2="{fy:.1f}" '
                     f'stroke="{COLORS["residual"]}" stroke-width="1"/>')
    parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                 f'stroke="{COLORS["fit"]}" stroke-width="3"/>')
    largest = ex.W[:, 0].max()
    for point, weight, heavy in zip(ex.A, ex.W[:, 0], ex.heavy):
        x, y = px(*point)
        radius = 4 + 8 * np.sqrt(weight / largest)
        color = COLORS["heavy"] if heavy else COLORS["light"]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{color}" '
                     f'stroke="white"><title>weight {weight:g}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


left, right = st.columns(2)
with left:
    st.image(fit_svg(example, example.svd, "Unweighted SVD, rank 1"))
    st.caption("Each row of A is a point; the SVD line ignores the weights, so it follows the blue "
               "cloud whatever the slider says.")
with right:
    st.image(fit_svg(example, example.weighted, "Weighted solution, rank 1"))
    st.caption("The same points, dot area ~ weight; watch the line swing toward the orange points "
               "as their weight grows (W has rank 1 here, so svd_w_practical is the exact optimum).")

st.markdown(
    f"Weighted loss $\\|W \\circ (A - X)\\|_F^2$: SVD **{example.svd.loss:.2f}**, weighted "
    f"solution **{example.weighted.loss:.2f}** -- the weighted solution gives up fit on the "
    "light points to fit the heavy ones."
)

st.subheader("Where next")
st.page_link("pages/data.py", label="Data -- load the shipped Fashion-MNIST MLP, train one on a "
             "tfds dataset, generate a synthetic problem or upload your own A and W",
             icon=":material/database:")
st.page_link("pages/weights.py", label="Weights -- see W, A and W o A, W's spectrum and which "
             "input pixels the Fisher information says matter", icon=":material/grid_on:")
st.page_link("pages/compare.py", label="Compare -- run every algorithm over ranks 1-20 and watch "
             "loss and runtime curves fill in live", icon=":material/monitoring:")
st.page_link("pages/refine.py", label="Refine -- the paper's Figure 4: EM started from svd_w vs "
             "from zero", icon=":material/trending_down:")
