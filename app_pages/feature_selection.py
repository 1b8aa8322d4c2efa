"""Feature selection (Corollary 1.3): keep s columns (or rows) of W o A, fit the rest by least
squares, divide by W -- and see how close that gets to svd_w and to the lower bound."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages._shared import chart, loaded_problem, pixel_image, pixel_image_figure, problem_summary
from wlra_core import Problem
from wlra_core.feature_selection import (
    SELECTIONS,
    SelectionRun,
    max_selected,
    references,
    select_features,
    selection_curve,
    selection_mask,
    size_grid,
    summarize_curve,
)
from wlra_core.display import algorithm_style, count_ticks

# Every rule runs the css algorithm: its colour and marker shape; a dash and a fill per rule.
CSS = algorithm_style("css")
RULE_LINES = {"leverage": ("solid", ""), "pivoted_qr": ("dash", "-open"), "uniform": ("dashdot", "-open-dot")}
GRID_POINTS = 12  # numbers of selected columns on the curve (geometric from 1 to the largest)
LABELS = {"leverage": "leverage-score sampling", "pivoted_qr": "pivoted QR", "uniform": "uniform random (baseline)"}


@st.cache_data(show_spinner="Selecting columns and fitting...", max_entries=32)
def curve(problem_fingerprint: str, sizes: tuple, selections: tuple, axis: str, rank: int, weight_rank: int,
          trials: int, seed: int, _problem: Problem) -> tuple[list[SelectionRun], list[str]]:
    return selection_curve(_problem, None, sizes, selections=selections, axis=axis, rank=rank,
                           weight_rank=weight_rank, trials=trials, seed=seed)


@st.cache_data(show_spinner="Computing svd_w and the lower bound...", max_entries=32)
def reference_lines(problem_fingerprint: str, axis: str, rank: int, weight_rank: int, seed: int,
                    _problem: Problem) -> dict:
    return references(_problem.A, _problem.W, rank, weight_rank, axis=axis, seed=seed)


@st.cache_data(max_entries=32)
def chosen(problem_fingerprint: str, n_selected: int, selection: str, axis: str, rank: int, weight_rank: int,
           seed: int, _problem: Problem):
    result = select_features(_problem.A, _problem.W, n_selected, selection=selection, axis=axis, rank=rank,
                             weight_rank=weight_rank, seed=seed)
    if result.failed:
        raise ValueError(f"css with {n_selected} {axis} failed: {result.message}")
    return result.extra[axis], result.relative_loss


def reference_line(fig: go.Figure, value: float, color: str, text: str, above: bool) -> None:
    """A dashed horizontal line at ``value`` on ``fig``'s log y axis, labelled just above or below it.

    The label is placed by hand: plotly reads an annotation's y on a log axis as log10 of the
    value, and ``add_hline``'s own annotation passes the value as it is, which drew the label
    near 10^value (up to 10^1 = 10) and stretched the axis to meet it. A zero loss has no
    place on a log axis: nothing is drawn for it.
    """
    if value <= 0:
        return
    fig.add_hline(y=value, line=dict(color=color, dash="dash"))
    fig.add_annotation(text=text, xref="paper", x=0, xanchor="left", yref="y", y=np.log10(value),
                       yanchor="bottom" if above else "top", showarrow=False, font=dict(color=color))


problem, key = loaded_problem()
n, d = problem.shape
st.title("Feature selection")
st.markdown(problem_summary(problem))
st.markdown("Weighted column subset selection (the paper's Corollary 1.3): choose s columns of W o A, "
            "approximate W o A by its projection onto them, divide by W. The answer keeps A's own "
            "columns -- a feature selection with a weighted objective.")

pixels = pixel_image(key, problem)  # None unless the rows of A are an image's pixels
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
                                  help="The lower bound ||(W o A)_{-rk}||² assumes rank(W) <= r."))
limit = max_selected(problem.shape, axis)
c4, c5, c6 = st.columns(3)
largest = int(c4.number_input(f"Largest number of {axis}", min_value=1, max_value=limit,
                              value=min(limit, max(4 * weight_rank * rank, 20)), step=1, key="fs-largest",
                              persist_state="session"))
trials = int(c5.number_input("Trials (random rules)", min_value=1, max_value=20, value=2, step=1, key="fs-trials",
                             persist_state="session",
                             help="Leverage and uniform sampling are averaged over this many seeds."))
seed = int(c6.number_input("Seed", min_value=0, value=0, step=1, key="fs-seed", persist_state="session"))
selections = st.multiselect("Selection rules", SELECTIONS, default=list(SELECTIONS), format_func=LABELS.get,
                            key="fs-selections", persist_state="session")
if not selections:
    st.info("Choose at least one selection rule.")
    st.stop()

sizes = tuple(size_grid(largest, GRID_POINTS))
try:
    runs, errors = curve(key, sizes, tuple(selections), axis, rank, weight_rank, trials, seed, problem)
    refs = reference_lines(key, axis, rank, weight_rank, seed, problem)
except ValueError as err:
    st.error(str(err))
    st.stop()
for message in errors + [f"{r.method} (trial {r.trial + 1}) failed: {r.message}" for r in (run.row for run in runs)
                         if r.failed]:
    st.error(message)

series = summarize_curve(runs)
selections = [sel for sel in selections if sel in series]  # a rule whose every run failed is listed above
fig = go.Figure()
for selection in selections:
    s = series[selection]
    fig.add_trace(go.Scatter(
        x=s.n_selected, y=s.mean, name=LABELS[selection], mode="lines+markers",
        line=dict(color=CSS["color"], dash=RULE_LINES[selection][0]),
        marker=dict(symbol=CSS["symbol"] + RULE_LINES[selection][1], color=CSS["color"], size=8),
        error_y=dict(type="data", array=s.std, visible=bool(np.any(s.std > 0))),
        hovertemplate=f"{LABELS[selection]}<br>%{{x}} {axis}: relative loss %{{y:.4g}}<extra></extra>",
    ))
grid = np.arange(1, largest + 1)
fig.add_trace(go.Scatter(x=grid, y=refs["relative_best_rank_s"][grid], name="best rank-s of W o A (no s-subset beats it)",
                         mode="lines", line=dict(color="gray", dash="dot")))
lines = [refs["relative_lower_bound"]]
if refs["svd_w_meets_bound"]:
    reference_line(fig, lines[0], "black", f"svd_w at rank {rank} = ||(W o A)_-rk||², rk = {refs['rk']}", above=False)
else:
    lines.append(refs["relative_svd_w"])
    reference_line(fig, lines[1], algorithm_style("svd_w")["color"], f"svd_w at rank {rank} (r = {weight_rank})",
                   above=lines[1] >= lines[0])
    reference_line(fig, lines[0], "black", f"||(W o A)_-rk||², rk = {refs['rk']}", above=False)
if refs["rk"] <= largest:
    fig.add_vline(x=refs["rk"], line=dict(color="lightgray"))
# The y range spans what is drawn (means +- std, the dotted curve, the dashed lines), in decades.
drawn = np.concatenate([np.concatenate([series[sel].mean - series[sel].std, series[sel].mean + series[sel].std])
                        for sel in selections] + [refs["relative_best_rank_s"][grid], lines])
positive = drawn[drawn > 0]
fig.update_layout(title=f"Weighted loss vs number of selected {axis}", height=460, margin=dict(l=10, r=10, t=50, b=10))
ticks = count_ticks(largest)
fig.update_xaxes(title=f"selected {axis} s", type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])
fig.update_yaxes(title="relative loss ||W o (A - X)||² / ||W o A||²", type="log", exponentformat="power")
if positive.size:
    low, high = np.log10(positive.min()), np.log10(positive.max())
    margin = 0.05 * max(high - low, 1.0)
    fig.update_yaxes(range=[low - margin, high + margin])
bound_note = ("W has rank <= r here, so the black line bounds every rank-k solution."
              if refs["weight_numerical_rank"] <= weight_rank else
              f"W's numerical rank is {refs['weight_numerical_rank']} > r = {weight_rank}, so the black line is "
              "not a proven bound here; raise r to make it one.")
chart(fig, f"CSS loss as more {axis} are kept (mean ± std over trials for the random rules); Corollary 1.3 "
           f"says O(rk/eps) {axis} come within 1 + eps of the black line. " + bound_note, key="fs-curve")

st.subheader("Which ones are chosen")
m1, m2, m3 = st.columns(3)
mask_rule = m1.selectbox("Rule", selections, format_func=LABELS.get, key="fs-mask-rule", persist_state="session")
mask_size = int(m2.number_input(f"Number of {axis}", min_value=1, max_value=limit,
                                value=min(limit, weight_rank * rank * 4), step=1, key="fs-mask-size",
                                persist_state="session"))
try:
    indices, relative = chosen(key, mask_size, mask_rule, axis, rank, weight_rank, seed, problem)
except ValueError as err:
    st.error(str(err))
    st.stop()
m3.metric("Relative loss", f"{relative:.4g}")
if axis == "rows" and image:
    mask = selection_mask(indices, problem.image_shape)
    left, right = st.columns(2)
    with left:
        fig = go.Figure(go.Heatmap(z=mask, colorscale="Greys", showscale=False,
                                   hovertemplate="pixel (%{y}, %{x}): %{z:.0f} selected<extra></extra>"))
        fig.update_layout(title=f"{mask_size} selected pixels", height=420, margin=dict(l=10, r=10, t=50, b=10))
        # Drawn like the importance map beside it (no tick labels: hover names the pixel).
        fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showticklabels=False)
        fig.update_xaxes(constrain="domain", showticklabels=False)
        chart(fig, f"Input pixels whose rows of A the {LABELS[mask_rule]} selection keeps (dark = selected); "
                   "compare with the importance map.", key="fs-mask")
    with right:
        chart(pixel_image_figure(pixels), "Fisher weight per input pixel; good selections pick pixels that matter, "
                                          "not the always-black border.", key="fs-importance")
else:
    fig = go.Figure(go.Bar(x=np.arange(limit), y=np.isin(np.arange(limit), indices).astype(int),
                           marker_color=CSS["color"]))
    fig.update_layout(title=f"{mask_size} selected {axis} ({LABELS[mask_rule]})", height=300,
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(title=f"{axis[:-1]} index")
    fig.update_yaxes(title="selected", tickvals=[0, 1])
    chart(fig, f"Which {axis} of A the approximation keeps (bars = selected).", key="fs-bars")
