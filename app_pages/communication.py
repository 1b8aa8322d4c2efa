"""Communication (section 3): bits to agree on a WLRA when A's columns sit on m servers --
the CSS protocol of Theorem 3.1 run for real, and the lower-bound instance of Theorem 1.5."""
from dataclasses import replace

import numpy as np
import streamlit as st

from app_pages._charts import bits_bars, bits_sweep_figure, cells_figure, chart
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
    serialized_bits_bound,
    sweep_values,
)

PARAMETER_LABELS = {"sparsity": "column sparsity s", "d": "columns d", "rank": "rank k", "weight_rank": "weight rank r",
                    "eps": "eps", "servers": "servers m"}
# What one run may cost here: SVDs of n x d matrices and about a byte of memory per serialized
# bit. Larger settings get a one-line message instead of minutes of waiting; the sweep skips them.
MAX_CELLS = 1_000_000
MAX_BITS = 100_000_000


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
def sweep(setting: Setting, parameter: str, values: tuple, noise: int, selection: str, seed: int):
    return bits_sweep(setting, parameter, values, noise=noise, selection=selection, seed=seed)


@st.cache_data(show_spinner="Solving the lower-bound instance...", max_entries=32)
def lower_bound_demo(n: int, r: int, s: int, k: int, seed: int, method: str):
    instance = lower_bound_instance(n, r, s, k, seed=seed)
    approx = lower_bound_solution(instance, method, seed=seed)
    return instance, approx, recovery_report(instance, approx)


def size_problem(setting: Setting) -> str | None:
    """Why a run with ``setting`` is more than this page does (MAX_CELLS, MAX_BITS), or None."""
    cells = setting.n * setting.d
    if cells > MAX_CELLS:
        return f"n x d = {cells:,} entries is more than this page runs ({MAX_CELLS:,}): lower n or d."
    bits = serialized_bits_bound(setting)
    if bits > MAX_BITS:
        return (f"This setting serializes up to {bits:,} bits, more than this page runs ({MAX_BITS:,}): "
                "lower s, d, m or 1/eps.")
    return None


def protocol_tab():
    """Parameters, one real run of the protocol, its bits next to the alternatives, a sweep."""
    c = st.columns(4)
    n = int(c[0].number_input("n (rows)", 2, 2000, 200, key="comm-n", persist_state="session"))
    d = int(c[1].number_input("d (columns)", 1, 2000, 200, key="comm-d", persist_state="session"))
    s = int(c[2].number_input("s (nonzeros per column)", 1, 2000, 100, key="comm-s", persist_state="session"))
    k = int(c[3].number_input("k (rank)", 1, 200, 2, key="comm-k", persist_state="session"))
    c = st.columns(4)
    r = int(c[0].number_input("r (weight rank)", 1, 50, 2, key="comm-r", persist_state="session"))
    eps = float(c[1].number_input("eps", 0.01, 10.0, 0.5, step=0.05, key="comm-eps", persist_state="session"))
    m = int(c[2].number_input("m (servers)", 1, 64, 1, key="comm-m", persist_state="session"))
    bit_width = int(c[3].selectbox("bit width", BIT_WIDTHS, index=1, key="comm-bits", persist_state="session",
                                   help="Bits per entry of A (signed integer) and of X (IEEE float)."))
    with st.expander("Instance and protocol settings"):
        c = st.columns(3)
        noise = int(c[0].number_input("noise", 0, 1000, 1, key="comm-noise", persist_state="session",
                                      help="Integer noise added to A's nonzeros; 0 makes A exactly rank k."))
        selection = c[1].selectbox("selection rule", SELECTIONS, index=SELECTIONS.index("pivoted_qr"),
                                   key="comm-selection", persist_state="session")
        seed = int(c[2].number_input("seed", 0, 10**6, 0, key="comm-seed", persist_state="session"))
    try:
        setting = Setting(n=n, d=d, sparsity=s, rank=k, weight_rank=r, eps=eps, servers=m, bit_width=bit_width)
        if too_large := size_problem(setting):
            raise ValueError(too_large)
        table, messages, summary = protocol(setting, noise, selection, seed)
    except ValueError as err:
        st.error(str(err))
        setting = None
    else:
        protocol_results(table, messages, summary)
    # Drawn on every run, also while the settings are invalid, so that the choice outlives them
    # (a widget left out of one run loses its value).
    parameter = st.selectbox("Sweep a parameter", SWEEPABLE, format_func=PARAMETER_LABELS.get, key="comm-sweep",
                             persist_state="session", disabled=setting is None)
    if setting is not None:
        sweep_chart(setting, parameter, noise, selection, seed)


def protocol_results(table: list[dict], messages: list[dict], summary: dict) -> None:
    """The run's headline numbers, its bits next to the alternatives, and its messages."""
    c = st.columns(4)
    c[0].metric("Protocol bits (serialized)", f"{summary['bits']:,}", help=f"{summary['bytes']:,} bytes on the wire")
    c[1].metric("Columns sent |S|", summary["selected"])
    c[2].metric("Loss / lower bound", f"{summary['ratio']:.3f}",
                help="The coordinator's loss over ||(W o A)_-rk||², the best rank-r·k approximation's error: "
                     "an upper bound on the true approximation factor (the optimum is at least the "
                     "denominator when rank W <= r); Corollary 1.3 promises at most 1 + eps for good selections.")
    c[3].metric("Numerical rank of W", summary["weight_rank"])
    chart(bits_bars(table),
          "Serialized bits of sending A (dense, sparse) and of the CSS protocol, next to the protocol's "
          "formula with our constants, Theorem 3.1's O(.) and the Omega(srk) lower bound at constant 1; "
          "the protocol wins when columns are dense (s large) and d is small.", key="comm-bars")
    st.dataframe(messages, hide_index=True)
    st.caption("Every message of this run: the serialized payload's bits (fields packed MSB first) and bytes.")


def sweep_chart(setting: Setting, parameter: str, noise: int, selection: str, seed: int) -> None:
    """Bits of a fresh run per value of ``parameter``, the other settings as given."""
    grid = sweep_values(setting, parameter)
    values = tuple(v for v in grid if size_problem(replace(setting, **{parameter: v})) is None)
    skipped = [v for v in grid if v not in values]
    label = PARAMETER_LABELS[parameter]
    if not values:
        st.info(f"Every value of {label} in {grid} is more than this page runs.")
        return
    try:
        rows = sweep(setting, parameter, values, noise, selection, seed)
    except ValueError as err:
        st.error(str(err))
        return
    chart(bits_sweep_figure(rows, label),
          f"Each point is a fresh instance and a real run with {label} changed and the other settings "
          "as above; look for where the protocol crosses the raw encodings."
          + (f" Not run, more than this page runs: {label} = {skipped}." if skipped else ""),
          key="comm-sweep-chart")


def lower_bound_tab():
    """Theorem 1.5's instance, a chosen solution and what it reveals."""
    st.markdown("W is the block diagonal mask of Definition 3.2 (r all-ones blocks of size n/r). A puts the "
                "rows of a random binary A_dense (sr x k) into the top s rows of each diagonal block; the "
                "rank-k matrix A* (r copies of A_pad side by side) agrees with A on every weighted entry, so "
                "the optimum is 0 and any solution within a finite factor must reproduce A on the mask -- "
                "revealing all srk random bits. That is why B = Omega(srk).")
    c = st.columns(5)
    lb_r = int(c[0].number_input("r (blocks)", 1, 10, 3, key="lb-r", persist_state="session"))
    lb_block = int(c[1].number_input("n/r (block size)", 1, 40, 8, key="lb-block", persist_state="session"))
    lb_s = int(c[2].number_input("s", 1, 40, 4, key="lb-s", persist_state="session"))
    lb_k = int(c[3].number_input("k", 1, 40, 2, key="lb-k", persist_state="session"))
    lb_seed = int(c[4].number_input("seed", 0, 10**6, 0, key="lb-seed", persist_state="session"))
    method = st.radio("Solution", list(LOWER_BOUND_SOLUTIONS), horizontal=True, key="lb-method",
                      persist_state="session", help="svd_w with weight rank r is exact here (Theorem 1.2); A* is the proof's rank-k "
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
        chart(cells_figure(instance.W, "Mask W (Definition 3.2)", colorscale="Greys", zmin=0, zmax=1),
              "Only entries inside the r diagonal blocks count in the loss.", key="lb-W")
    with right:
        chart(cells_figure(instance.A, "Input A = W o [A_pad ... A_pad]", zmin=0, zmax=1),
              "At most s nonzeros per column; A itself has rank up to rk, yet a rank-k fit is exact on the mask.",
              key="lb-A")
    left, right = st.columns(2)
    with left:
        chart(cells_figure(approx, f"Solution: {method}", colorscale="RdBu", zmin=-1, zmax=1),
              "The chosen solution; off the mask it may hold anything, on the mask it must match A.", key="lb-X")
    with right:
        difference = np.where(instance.W > 0, approx - instance.A, np.nan)
        chart(cells_figure(difference, "Solution minus A on the mask", colorscale="RdBu", zmin=-1, zmax=1),
              "White everywhere on the blocks means exact recovery; coloured cells are lost information.",
              key="lb-diff")
    left, right = st.columns(2)
    with left:
        chart(cells_figure(instance.A_dense, "Planted A_dense (sr x k)", zmin=0, zmax=1, square=False),
              "The srk random bits Alice holds.", key="lb-dense")
    with right:
        chart(cells_figure(report["recovered_dense"], "A_dense read from the solution", zmin=0, zmax=1,
                      square=False),
              "Rounded top-left s x k corner of each diagonal block of the solution; equal to the left "
              "panel exactly when the solution is a finite-factor approximation.", key="lb-recovered")


st.title("Communication")
st.markdown("The columns of an integer n x d matrix A (at most s nonzeros per column) are split among m "
            "servers; everyone knows the integer rank-r weights W; a coordinator must output a rank-k WLRA. "
            "The column subset selection (CSS) protocol (Theorem 3.1) sends |S| = ceil(rk/eps) columns of A "
            "(rk = r·k, the weight rank times the target rank) and the |S| x d "
            "coefficients X. Every message below is serialized to bytes and the coordinator rebuilds its "
            "answer from those bytes and W alone.")

tab_protocol, tab_lower = st.tabs(["Protocol vs raw vs bounds", "Lower-bound instance (Theorem 1.5)"])
with tab_protocol:
    protocol_tab()
with tab_lower:
    lower_bound_tab()
