"""Feature selection (Corollary 1.3): keep s columns (or rows) of W o A, fit the rest by least
squares, divide by W -- and see how close that gets to svd_w and to the lower bound."""
import numpy as np
import streamlit as st

from app_pages._charts import (RULE_LABELS, chart, pixel_image_figure, selection_bars_figure, selection_figure,
                               selection_mask_figure)
from app_pages._state import BY_FINGERPRINT, page_header
from app_pages._views import pixel_image
from wlra_core import Problem
from wlra_core.feature_selection import (
    SELECTIONS,
    SelectionReferences,
    SelectionRun,
    max_selected,
    references,
    select_features,
    selection_curve,
    selection_mask,
    size_grid,
    summarize_curve,
)

GRID_POINTS = 12  # numbers of selected columns on the curve (geometric from 1 to the largest)


@st.cache_data(show_spinner="Selecting columns and fitting...", max_entries=32, hash_funcs=BY_FINGERPRINT)
def curve(problem: Problem, sizes: tuple, selections: tuple, axis: str, rank: int, weight_rank: int,
          trials: int, seed: int) -> tuple[list[SelectionRun], list[str]]:
    return selection_curve(problem, None, sizes, selections=selections, axis=axis, rank=rank,
                           weight_rank=weight_rank, trials=trials, seed=seed)


@st.cache_data(show_spinner="Computing svd_w and the lower bound...", max_entries=32, hash_funcs=BY_FINGERPRINT)
def reference_lines(problem: Problem, axis: str, rank: int, weight_rank: int, seed: int) -> SelectionReferences:
    return references(problem.A, problem.W, rank, weight_rank, axis=axis, seed=seed)


@st.cache_data(max_entries=32, hash_funcs=BY_FINGERPRINT)
def chosen(problem: Problem, n_selected: int, selection: str, axis: str, rank: int, weight_rank: int, seed: int):
    result = select_features(problem.A, problem.W, n_selected, selection=selection, axis=axis, rank=rank,
                             weight_rank=weight_rank, seed=seed)
    if result.failed:
        raise ValueError(f"css with {n_selected} {axis} failed: {result.message}")
    return result.extra[axis], result.relative_loss


problem = page_header("Feature selection")
n, d = problem.shape
st.markdown("Weighted column subset selection (the paper's Corollary 1.3): choose s columns of W o A, "
            "approximate W o A by its projection onto them, divide by W. The answer keeps A's own "
            "columns -- a feature selection with a weighted objective.")

pixels = pixel_image(problem)  # None unless the rows of A are an image's pixels
image = pixels is not None
axis_labels = {"rows": "rows (input pixels)" if image else "rows",
               "columns": "columns (hidden units)" if image else "columns"}
c1, c2, c3 = st.columns(3)
axis = c1.radio("Select", ["rows", "columns"] if image else ["columns", "rows"], key="fs-axis",
                format_func=axis_labels.get, horizontal=True, persist_state="session",
                help="For an MLP kernel the rows of A are input pixels: selecting rows picks pixels.")
rank = int(c2.number_input("Rank k", min_value=1, max_value=min(n, d), value=min(5, n, d), step=1, key="fs-rank",
                           persist_state="session", help="svd_w's rank, and the rank of the leverage scores."))
weight_rank = int(c3.number_input("Weight rank r", min_value=1, max_value=min(n, d), value=1, step=1,
                                  key="fs-weight-rank", persist_state="session",
                                  help="The lower bound ||(W o A)_{-rk}||², the error of the best rank-r·k approximation of W o A, "
                                       "assumes rank(W) <= r."))
limit = max_selected(problem.shape, axis)
c4, c5, c6 = st.columns(3)
largest = int(c4.number_input(f"Largest number of {axis}", min_value=1, max_value=limit,
                              value=min(limit, max(4 * weight_rank * rank, 20)), step=1, key="fs-largest",
                              persist_state="session"))
trials = int(c5.number_input("Trials (random rules)", min_value=1, max_value=20, value=2, step=1, key="fs-trials",
                             persist_state="session",
                             help="Leverage and uniform sampling are averaged over this many seeds."))
seed = int(c6.number_input("Seed", min_value=0, value=0, step=1, key="fs-seed", persist_state="session"))
selections = st.multiselect("Selection rules", SELECTIONS, default=list(SELECTIONS), format_func=RULE_LABELS.get,
                            key="fs-selections", persist_state="session")
if not selections:
    st.info("Choose at least one selection rule.")
    st.stop()

sizes = tuple(size_grid(largest, GRID_POINTS))
try:
    runs, errors = curve(problem, sizes, tuple(selections), axis, rank, weight_rank, trials, seed)
    refs = reference_lines(problem, axis, rank, weight_rank, seed)
except ValueError as err:
    st.error(str(err))
    st.stop()
for message in errors + [f"{r.method} (trial {r.trial + 1}) failed: {r.message}" for r in (run.row for run in runs)
                         if r.failed]:
    st.error(message)

series = summarize_curve(runs)
selections = [sel for sel in selections if sel in series]  # a rule whose every run failed is listed above
bound_note = ("W has rank <= r here, so the black line bounds every rank-k solution."
              if refs.weight_numerical_rank <= weight_rank else
              f"W's numerical rank is {refs.weight_numerical_rank} > r = {weight_rank}, so the black line is "
              "not a proven bound here; raise r to make it one.")
support = refs.support_rank
proven = refs.relative_selection_bound[1:largest + 1] > 0
if support <= 1:
    selection_note = f"No choice of s {axis} beats the dotted best rank-s approximation of W o A."
elif proven.any():
    selection_note = (f"W has zeros, in a pattern of rank m = {support}: css's W o X is that pattern times a "
                      f"rank-s matrix, so what is proven is that no s {axis} beat the dotted best rank-{support}s "
                      f"approximation of W o A (drawn up to s = {int(np.flatnonzero(proven)[-1]) + 1}).")
else:
    selection_note = (f"W has zeros, in a pattern of rank m = {support}: css's W o X is that pattern times a rank-s "
                      f"matrix, which can match W o A once m·s reaches its rank, so no lower bound on the "
                      "selections is proven here.")
chart(selection_figure(series, selections, refs, largest=largest, axis=axis, rank=rank, weight_rank=weight_rank),
      f"Column subset selection (CSS) loss as more {axis} are kept (mean ± std over trials for the random rules); "
      f"Corollary 1.3 says O(rk/eps) {axis} come within 1 + eps of the black line. " + selection_note + " "
      + bound_note, key="fs-curve")

st.subheader("Which ones are chosen")
m1, m2, m3 = st.columns(3)
mask_rule = m1.selectbox("Rule", selections, format_func=RULE_LABELS.get, key="fs-mask-rule", persist_state="session")
mask_size = int(m2.number_input(f"Number of {axis}", min_value=1, max_value=limit,
                                value=min(limit, weight_rank * rank * 4), step=1, key="fs-mask-size",
                                persist_state="session"))
try:
    indices, relative = chosen(problem, mask_size, mask_rule, axis, rank, weight_rank, seed)
except ValueError as err:
    st.error(str(err))
    st.stop()
m3.metric("Relative loss", f"{relative:.4g}")
if axis == "rows" and image:
    mask = selection_mask(indices, problem.image_shape)
    left, right = st.columns(2)
    with left:
        chart(selection_mask_figure(mask, mask_size),
              f"Input pixels whose rows of A the {RULE_LABELS[mask_rule]} selection keeps (dark = selected); "
              "compare with the importance map.", key="fs-mask")
    with right:
        chart(pixel_image_figure(pixels), "Fisher weight per input pixel; good selections pick pixels that matter, "
                                          "not the always-black border.", key="fs-importance")
else:
    chart(selection_bars_figure(indices, limit, axis=axis, rule=mask_rule, n_selected=mask_size),
          f"Which {axis} of A the approximation keeps (bars = selected).", key="fs-bars")
