"""Weights: heatmaps of W, A and W o A, W's spectrum, and which input pixels matter."""
import streamlit as st

from app_pages._charts import chart, cumulative_mass_figure, matrix_figure, pixel_image_figure, singular_values_figure
from app_pages._state import BY_FINGERPRINT, page_header
from app_pages._views import HeatmapView, heatmap_view, pixel_image, weight_advice, weight_facts
from wlra_core import Problem


@st.cache_data(show_spinner="Preparing heatmaps...", max_entries=16, hash_funcs=BY_FINGERPRINT)
def heatmaps(problem: Problem, log: bool) -> dict[str, HeatmapView]:
    A, W = problem.A, problem.W
    return {"W": heatmap_view(W, log=log), "A": heatmap_view(A, log=log), "W o A": heatmap_view(W * A, log=log)}


problem = page_header("Weights")

spec, info = weight_facts(problem)
advice = weight_advice(problem)
st.markdown(advice.text())
paper = problem.meta.get("paper_first_singular_mass")
mass_col, rank_col, tail_col = st.columns(3)
mass_col.metric("% Frobenius mass in first singular value", f"{100 * info.first_singular_mass:.2f}%",
                help="s_1² / ||W||_F², the paper's Table 2 (mnist 95.4%, fashion_mnist 95.9%, "
                     "smallnorb 99.9%, colorectal_histology 99.3%)"
                     + (f"; the paper reports {100 * paper:.1f}% for this dataset" if paper else ""))
rank_col.metric("Numerical rank of W", info.numerical_rank,
                help="Singular values above s_1 · eps · max(n, d)")
tail_col.metric("Rank holding 99% of W's mass", info.mass_rank_99,
                help="A weight rank r this large makes svd_w's guarantee (Theorem 1.2) nearly apply")

CAPTIONS = {
    "W": "The weights W (rows: inputs, columns: hidden units for an MLP); stripes in both "
         "directions mean W is close to an outer product, i.e. nearly rank 1.",
    "A": "The matrix A being approximated; compare with W: large entries of A are not "
         "necessarily the ones W says matter.",
    "W o A": "W o A, the matrix svd_w factorises before dividing by W; its dominant "
             "structure is what a weighted fit keeps.",
}

log = st.toggle("Log colour scale", value=True,
                help="Colour by log10 of the magnitude: weights span many orders of magnitude.",
                key="weights-log", persist_state="session")
views = heatmaps(problem, log)
for tab, (name, view) in zip(st.tabs(list(views)), views.items()):
    with tab:
        aggregated = view.block != (1, 1)
        notes = (" White: exactly zero." if view.log else "") + (" Large matrices are shown as block means." if aggregated else "")
        chart(matrix_figure(view, name), CAPTIONS[name] + notes,
              key=f"heatmap-{name}")

# Singular values below s_1 eps max(n, d) are round-off (down to 1e-204 on a 0/1 W): drawing
# them would stretch the log axis over dozens of decades and flatten the drop after s_1.
rank = max(spec.numerical_rank, 1)
not_drawn = spec.singular_values.size - rank
left, right = st.columns(2)
with left:
    cut = (f" The other {not_drawn if not_drawn > 1 else 'one'} {'are' if not_drawn > 1 else 'is'} below "
           f"s_1 · eps · max(n, d) = {spec.round_off:.1e}: round-off of zero, not drawn." if not_drawn else "")
    chart(singular_values_figure(spec, rank),
          (f"W's {rank} numerically nonzero singular values on a log scale; a steep drop after the first "
           "means W is nearly rank 1" if rank > 1 else
           "W's only numerically nonzero singular value: W has rank 1")
          + f", the case where svd_w is provably good.{cut}")
with right:
    chart(cumulative_mass_figure(spec, rank),
          "Share of ||W||_F^2 held by the first i singular values; the first point is the "
          "metric above, and how fast the curve reaches 100% says which weight rank r "
          "svd_w needs.")

image = pixel_image(problem)
if image is not None:
    st.subheader("Which input pixels matter")
    fig = pixel_image_figure(image)
    fig.update_layout(width=460)
    chart(fig, "Row sums of W reshaped to the input image: bright pixels are the inputs whose "
               "kernel rows the loss weights most; pixels that are always black get no weight.",
          width="content")
