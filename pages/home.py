"""Home: what WLRA is, one live rank-1 example, and where to go next."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages._shared import chart
from wlra_core.views import TeachingExample, teaching_example

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


def fit_figure(ex: TeachingExample, result, title: str) -> go.Figure:
    direction = TeachingExample.direction(result)
    reach = 1.15 * np.abs(ex.A).max()
    size = 8 + 14 * np.sqrt(ex.W[:, 0] / ex.W[:, 0].max())
    colors = np.where(ex.heavy, "#ff7f0e", "#1f77b4")
    fig = go.Figure()
    # Residual segments: each point to its fitted position (rows of the rank-1 approximation).
    seg_x = np.column_stack([ex.A[:, 0], result.approx[:, 0], np.full(len(ex.A), np.nan)]).ravel()
    seg_y = np.column_stack([ex.A[:, 1], result.approx[:, 1], np.full(len(ex.A), np.nan)]).ravel()
    fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", line=dict(color="#bbbbbb", width=1),
                             name="residuals", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[-reach * direction[0], reach * direction[0]],
                             y=[-reach * direction[1], reach * direction[1]],
                             mode="lines", line=dict(color="#2ca02c", width=3), name="rank-1 fit"))
    fig.add_trace(go.Scatter(x=ex.A[:, 0], y=ex.A[:, 1], mode="markers", name="rows of A",
                             marker=dict(size=size, color=colors, line=dict(width=1, color="white")),
                             customdata=ex.W[:, 0], hovertemplate="(%{x:.2f}, %{y:.2f}) weight %{customdata}"))
    fig.update_layout(title=f"{title}<br><sup>weighted loss {result.loss:.1f}</sup>", height=380,
                      margin=dict(l=10, r=10, t=60, b=10), showlegend=False)
    fig.update_xaxes(range=[-reach, reach], zeroline=True)
    fig.update_yaxes(range=[-reach, reach], scaleanchor="x", scaleratio=1, zeroline=True)
    return fig


left, right = st.columns(2)
with left:
    chart(fit_figure(example, example.svd, "Unweighted SVD, rank 1"),
          "Each row of A is a point; the SVD line ignores the weights, so it follows the blue "
          "cloud whatever the slider says.")
with right:
    chart(fit_figure(example, example.weighted, "Weighted solution, rank 1"),
          "The same points with weights; watch the line swing toward the orange points as "
          "their weight grows (W has rank 1 here, so svd_w_practical is the exact optimum).")

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
