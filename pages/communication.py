"""Communication (section 3): bits to agree on a WLRA when A's columns sit on m servers --
the CSS protocol of Theorem 3.1 run for real, and the lower-bound instance of Theorem 1.5."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages._shared import chart
from wlra_core.communication import (
    BIT_WIDTHS,
    LOWER_BOUND_SOLUTIONS,
    SELECTIONS,
    SWEEPABLE,
    Setting,
    bits_sweep,
    bits_table,
    lower_bound_instance,
    lower_bound_solution,
    make_instance,
    recovery_report,
    run_protocol,
    sweep_values,
)

SERIES_COLORS = {
    "send A raw (dense)": "#636EFA",
    "send A raw (sparse)": "#00CC96",
    "CSS protocol (this run)": "#EF553B",
    "CSS protocol bound, our constants": "#FFA15A",
    "(msrk/eps + rkd) log2(nd)": "#AB63FA",
    "lower bound srk": "black",
}
PARAMETER_LABELS = {"sparsity": "column sparsity s", "d": "columns d", "rank": "rank k", "weight_rank": "weight rank r",
                    "eps": "eps", "servers": "servers m"}


@st.cache_data(show_spinner="Running the protocol...", max_entries=32)
def protocol(setting: Setting, noise: int, selection: str, seed: int):
    A, W = make_instance(setting, noise=noise, seed=seed)
    run = run_protocol(A, W, setting, selection=selection, seed=seed)
    messages = [{"from": m.sender, "to": m.receiver, "content": m.kind, "bits": m.n_bits,
                 "bytes": len(m.payload)} for m in run.messages]
    summary = {"bits": run.n_bits, "bytes": run.n_bytes, "selected": run.selected.size, "loss": run.loss,
               "lower_bound": run.lower_bound, "ratio": run.approximation_ratio,
               "weight_rank": run.weight_rank_observed}
    return bits_table(run, A), messages, summary


@st.cache_data(show_spinner="Running the protocol for each value...", max_entries=32)
def sweep(setting: Setting, parameter: str, noise: int, selection: str, seed: int):
    return bits_sweep(setting, parameter, sweep_values(setting, parameter), noise=noise, selection=selection, seed=seed)


@st.cache_data(show_spinner="Solving the lower-bound instance...", max_entries=32)
def lower_bound_demo(n: int, r: int, s: int, k: int, seed: int, method: str):
    instance = lower_bound_instance(n, r, s, k, seed=seed)
    approx = lower_bound_solution(instance, method, seed=seed)
    return instance, approx, recovery_report(instance, approx)


def heatmap(M, title, *, colorscale="Blues", zmin=None, zmax=None, square=True):
    fig = go.Figure(go.Heatmap(z=M, colorscale=colorscale, zmin=zmin, zmax=zmax,
                               hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>"))
    fig.update_layout(title=title, height=330, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x" if square else None)
    return fig


def protocol_tab():
    """Parameters, one real run of the protocol, its bits next to the alternatives, a sweep."""
    c = st.columns(4)
    n = int(c[0].number_input("n (rows)", 2, 2000, 200, key="comm-n"))
    d = int(c[1].number_input("d (columns)", 1, 2000, 200, key="comm-d"))
    s = int(c[2].number_input("s (nonzeros per column)", 1, 2000, 100, key="comm-s"))
    k = int(c[3].number_input("k (rank)", 1, 200, 2, key="comm-k"))
    c = st.columns(4)
    r = int(c[0].number_input("r (weight rank)", 1, 50, 2, key="comm-r"))
    eps = float(c[1].number_input("eps", 0.01, 10.0, 0.5, step=0.05, key="comm-eps"))
    m = int(c[2].number_input("m (servers)", 1, 64, 1, key="comm-m"))
    bit_width = int(c[3].selectbox("bit width", BIT_WIDTHS, index=1, key="comm-bits",
                                   help="Bits per entry of A (signed integer) and of X (IEEE float)."))
    with st.expander("Instance and protocol settings"):
        c = st.columns(3)
        noise = int(c[0].number_input("noise", 0, 1000, 1, key="comm-noise",
                                      help="Integer noise added to A's nonzeros; 0 makes A exactly rank k."))
        selection = c[1].selectbox("selection rule", SELECTIONS, key="comm-selection")
        seed = int(c[2].number_input("seed", 0, 10**6, 0, key="comm-seed"))
    try:
        setting = Setting(n=n, d=d, sparsity=s, rank=k, weight_rank=r, eps=eps, servers=m, bit_width=bit_width)
        table, messages, summary = protocol(setting, noise, selection, seed)
    except ValueError as err:
        st.error(str(err))
        return

    c = st.columns(4)
    c[0].metric("Protocol bits (serialized)", f"{summary['bits']:,}", help=f"{summary['bytes']:,} bytes on the wire")
    c[1].metric("Columns sent |S|", summary["selected"])
    c[2].metric("Coordinator's loss / ||(W o A)_-rk||²", f"{summary['ratio']:.3f}",
                help="An upper bound on the true approximation factor (the optimum is at least the "
                     "denominator when rank W <= r); Corollary 1.3 promises at most 1 + eps for good selections.")
    c[3].metric("Numerical rank of W", summary["weight_rank"])

    fig = go.Figure(go.Bar(
        y=[row["what"] for row in table], x=[row["bits"] for row in table], orientation="h",
        marker_color=[SERIES_COLORS[row["what"]] for row in table],
        text=[f"{row['bits']:,.0f}" for row in table], textposition="outside",
        customdata=[row["source"] for row in table],
        hovertemplate="%{y}: %{x:,.0f} bits (%{customdata})<extra></extra>",
    ))
    fig.update_layout(title="Bits to get a WLRA to the coordinator", height=380, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(title="bits", type="log")
    fig.update_yaxes(autorange="reversed")
    chart(fig, "Serialized bits of sending A (dense, sparse) and of the CSS protocol, next to the protocol's "
               "formula with our constants, Theorem 3.1's O(.) and the Omega(srk) lower bound at constant 1; "
               "the protocol wins when columns are dense (s large) and d is small.", key="comm-bars")
    st.dataframe(messages, hide_index=True)
    st.caption("Every message of this run: the serialized payload's bits (fields packed MSB first) and bytes.")

    parameter = st.selectbox("Sweep a parameter", SWEEPABLE, format_func=PARAMETER_LABELS.get, key="comm-sweep")
    try:
        rows = sweep(setting, parameter, noise, selection, seed)
    except ValueError as err:
        st.error(str(err))
    else:
        fig = go.Figure()
        for what, color in SERIES_COLORS.items():
            fig.add_trace(go.Scatter(x=[row["value"] for row in rows], y=[row[what] for row in rows], name=what,
                                     mode="lines+markers", line=dict(color=color)))
        fig.update_layout(title=f"Bits vs {PARAMETER_LABELS[parameter]}", height=420,
                          margin=dict(l=10, r=10, t=50, b=10))
        fig.update_xaxes(title=PARAMETER_LABELS[parameter], type="log")
        fig.update_yaxes(title="bits", type="log")
        chart(fig, f"Each point is a fresh instance and a real run with {PARAMETER_LABELS[parameter]} changed "
                   "and the other settings as above; look for where the protocol crosses the raw encodings.",
              key="comm-sweep-chart")


def lower_bound_tab():
    """Theorem 1.5's instance, a chosen solution and what it reveals."""
    st.markdown("W is the block diagonal mask of Definition 3.2 (r all-ones blocks of size n/r). A puts the "
                "rows of a random binary A_dense (sr x k) into the top s rows of each diagonal block; the "
                "rank-k matrix A* (r copies of A_pad side by side) agrees with A on every weighted entry, so "
                "the optimum is 0 and any solution within a finite factor must reproduce A on the mask -- "
                "revealing all srk random bits. That is why B = Omega(srk).")
    c = st.columns(5)
    lb_r = int(c[0].number_input("r (blocks)", 1, 10, 3, key="lb-r"))
    lb_block = int(c[1].number_input("n/r (block size)", 1, 40, 8, key="lb-block"))
    lb_s = int(c[2].number_input("s", 1, 40, 4, key="lb-s"))
    lb_k = int(c[3].number_input("k", 1, 40, 2, key="lb-k"))
    lb_seed = int(c[4].number_input("seed", 0, 10**6, 0, key="lb-seed"))
    method = st.radio("Solution", list(LOWER_BOUND_SOLUTIONS), horizontal=True, key="lb-method",
                      help="svd_w with weight rank r is exact here (Theorem 1.2); A* is the proof's rank-k "
                           "optimum; the others show what a solution with a nonzero loss loses.")
    try:
        instance, approx, report = lower_bound_demo(lb_r * lb_block, lb_r, lb_s, lb_k, lb_seed, method)
    except ValueError as err:
        st.error(str(err))
        return

    c = st.columns(3)
    c[0].metric("Weighted loss (optimum: 0)", f"{report['loss']:.3g}")
    c[1].metric("Largest error on the mask", f"{report['max_support_error']:.3g}")
    c[2].metric("Bits of A_dense recovered", f"{report['bits'] - report['wrong_bits']} / {report['bits']}")
    if report["recovered"]:
        st.success(f"{method} recovers A on the mask's support, and with it all {report['bits']} bits of A_dense.")
    else:
        st.error(f"{method} has loss {report['loss']:.3g} > 0 = optimum (an infinite approximation factor) and "
                 f"gets {report['wrong_bits']} of the {report['bits']} bits of A_dense wrong.")

    left, right = st.columns(2)
    with left:
        chart(heatmap(instance.W, "Mask W (Definition 3.2)", colorscale="Greys", zmin=0, zmax=1),
              "Only entries inside the r diagonal blocks count in the loss.", key="lb-W")
    with right:
        chart(heatmap(instance.A, "Input A = W o [A_pad ... A_pad]", zmin=0, zmax=1),
              "At most s nonzeros per column; A itself has rank up to rk, yet a rank-k fit is exact on the mask.",
              key="lb-A")
    left, right = st.columns(2)
    with left:
        chart(heatmap(approx, f"Solution: {method}", colorscale="RdBu", zmin=-1, zmax=1),
              "The chosen solution; off the mask it may hold anything, on the mask it must match A.", key="lb-X")
    with right:
        difference = np.where(instance.W > 0, approx - instance.A, np.nan)
        chart(heatmap(difference, "Solution minus A on the mask", colorscale="RdBu", zmin=-1, zmax=1),
              "White everywhere on the blocks means exact recovery; coloured cells are lost information.",
              key="lb-diff")
    left, right = st.columns(2)
    with left:
        chart(heatmap(instance.A_dense, "Planted A_dense (sr x k)", zmin=0, zmax=1, square=False),
              "The srk random bits Alice holds.", key="lb-dense")
    with right:
        chart(heatmap(report["recovered_dense"], "A_dense read from the solution", zmin=0, zmax=1,
                      square=False),
              "Rounded top-left s x k corner of each diagonal block of the solution; equal to the left "
              "panel exactly when the solution is a finite-factor approximation.", key="lb-recovered")


st.title("Communication")
st.markdown("The columns of an integer n x d matrix A (at most s nonzeros per column) are split among m "
            "servers; everyone knows the integer rank-r weights W; a coordinator must output a rank-k WLRA. "
            "The CSS protocol (Theorem 3.1) sends |S| = ceil(rk/eps) columns of A and the |S| x d "
            "coefficients X. Every message below is serialized to bytes and the coordinator rebuilds its "
            "answer from those bytes and W alone.")

tab_protocol, tab_lower = st.tabs(["Protocol vs raw vs bounds", "Lower-bound instance (Theorem 1.5)"])
with tab_protocol:
    protocol_tab()
with tab_lower:
    lower_bound_tab()
