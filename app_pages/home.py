"""Home: what WLRA is, one live rank-1 example, and where to go next."""
import streamlit as st

from app_pages._charts import fit_svg
from app_pages._views import teaching_example

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
and that then one SVD suffices: approximate $W \circ A$ at rank $rk$ (the rank $r$ of $W$ times the
target rank $k$) and divide by $W$
(`svd_w`). Its running example, and this dashboard's default problem, compresses the hidden
layer of an MLP trained on Fashion-MNIST with the Fisher information as the weights.
"""
)

# About log-spaced (each step ~1.25x): the weighted line turns from 22 to 60 degrees while the
# weight goes from 1 to 5 and only 7 degrees more up to 30, so equal steps would hide the motion.
HEAVY_WEIGHTS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0)

st.subheader("Try it: weights pull the best fit")
heavy_weight = st.select_slider(
    "Weight of the three black points", options=HEAVY_WEIGHTS, value=3.0, format_func="{:g}".format,
    help="Every other point has weight 1. The weights enter the loss squared; the steps are "
         "about 1.25x apart, since the line moves most while the weight is small.",
    key="home-weight", persist_state="session",
)
example = teaching_example(heavy_weight)

left, right = st.columns(2)
with left:
    st.image(fit_svg(example, example.svd, "Unweighted SVD, rank 1", "svd"))
    st.caption("Each row of A is a point; the SVD line ignores the weights, so it follows the grey "
               "cloud whatever the slider says.")
with right:
    st.image(fit_svg(example, example.weighted, "Weighted solution, rank 1", "svd_w_practical"))
    st.caption("The same points, dot area ~ weight; watch the line swing toward the black points "
               "as their weight grows. W has rank 1 here (one weight per point), so the paper's "
               "practical variant svd_w_practical -- scale each row of A by its weight, take the "
               "SVD, scale back -- finds the exact weighted optimum.")

loss_line = (f"Weighted loss $\\|W \\circ (A - X)\\|_F^2$: SVD **{example.svd.loss:.2f}**, weighted "
             f"solution **{example.weighted.loss:.2f}**")
if example.weights_equal:
    st.markdown(f"{loss_line} -- every weight is 1, so the weighted problem is the ordinary SVD and "
                "both panels show the same line. Raise the weight to see them part.")
else:
    svd, weighted = example.group_losses(example.svd), example.group_losses(example.weighted)
    st.markdown(f"{loss_line} -- the weighted solution gives up fit on the light points (their loss "
                f"{svd.light:.2f} -> {weighted.light:.2f}) to fit the heavy ones "
                f"({svd.heavy:.2f} -> {weighted.heavy:.2f}).")

st.subheader("Where next")
st.page_link("app_pages/data.py", label="Data -- load the shipped Fashion-MNIST MLP, train one on a "
             "tfds dataset, generate a synthetic problem or upload your own A and W",
             icon=":material/database:")
st.page_link("app_pages/weights.py", label="Weights -- see W, A and W o A, W's spectrum and which "
             "input pixels the Fisher information says matter", icon=":material/grid_on:")
st.page_link("app_pages/compare.py", label="Compare -- run every algorithm over ranks 1-20 and watch "
             "loss and runtime curves fill in live", icon=":material/monitoring:")
st.page_link("app_pages/refine.py", label="Refine -- the paper's Figure 4: EM started from "
             "svd_w_practical, from zero and from svd", icon=":material/trending_down:")
st.page_link("app_pages/compression.py", label="Compression -- put each approximation back into the MLP "
             "and measure test accuracy: does a lower Fisher-weighted loss buy accuracy?",
             icon=":material/compress:")
st.page_link("app_pages/feature_selection.py", label="Feature selection -- keep s columns (or rows, "
             "i.e. input pixels) of W o A and see how close that gets to svd_w and the lower bound",
             icon=":material/filter_alt:")
st.page_link("app_pages/communication.py", label="Communication -- bits to agree on a WLRA when A's "
             "columns sit on several servers, the paper's section 3", icon=":material/lan:")
