"""The Communication page: the bits of a real protocol run, the sweep and its choice, the
lower-bound tab, labels and ticks that fit, and every setting its widgets allow."""
import numpy as np
import pytest

from apptest_helpers import decode, figures, open_page, xy
from wlra_core.communication import Setting, lower_bound_instance, make_instance, run_protocol, sweep_values


def trace(figure: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    for t in figure["data"]:
        if t.get("name") == name:
            return xy(t)
    raise KeyError(f"no trace {name!r} in {[t.get('name') for t in figure['data']]}")


@pytest.fixture(scope="module")
def default_charts() -> dict[str, dict]:
    """The charts of the page as a fresh session renders it (default settings), by title."""
    return figures(open_page("app_pages/communication.py"))


def test_communication_page_counts_the_bits_of_a_real_run():
    at = open_page("app_pages/communication.py")
    charts = figures(at)
    bars = charts["Bits to get a WLRA to the coordinator"]["data"][0]
    bits = dict(zip(bars["y"], decode(bars["x"])))
    setting = Setting(n=200, d=200, sparsity=100, rank=2, weight_rank=2, eps=0.5, servers=1, bit_width=32)
    A, W = make_instance(setting, noise=1, seed=0)
    run = run_protocol(A, W, setting)
    assert bits["CSS protocol (this run)"] == run.n_bits
    assert bits["send A raw (dense)"] == 200 * 200 * 32
    assert bits["lower bound srk"] == 100 * 2 * 2
    assert "Bits vs column sparsity s" in charts
    # The lower-bound tab: svd_w recovers every bit; the unweighted SVD does not.
    assert any("recovers A on the mask" in s.value for s in at.success)
    instance = lower_bound_instance(24, 3, 4, 2, seed=0)
    recovered = decode(charts["A_dense read from the solution"]["data"][0]["z"]).astype(float)
    np.testing.assert_array_equal(recovered, instance.A_dense)
    at.radio(key="lb-method").set_value("svd (unweighted)").run()
    assert not at.exception
    assert any("bits of A_dense wrong" in e.value for e in at.error)
    # A bad setting is a message, not a traceback; the lower-bound tab still renders.
    at.number_input(key="comm-s").set_value(500).run()
    assert not at.exception
    assert any("cannot exceed n=200" in e.value for e in at.error)
    assert "Mask W (Definition 3.2)" in figures(at)

def test_communication_sweep_choice_survives_an_invalid_setting():
    at = open_page("app_pages/communication.py")
    at.selectbox(key="comm-sweep").set_value("d").run()
    assert "Bits vs columns d" in figures(at)
    at.number_input(key="comm-s").set_value(500).run()  # s > n: invalid
    assert not at.exception
    assert [e.value for e in at.error] == ["sparsity s=500 cannot exceed n=200"]
    assert at.selectbox(key="comm-sweep").value == "d" and at.selectbox(key="comm-sweep").disabled
    assert "Bits vs columns d" not in figures(at)
    at.number_input(key="comm-s").set_value(100).run()  # valid again: the choice is still "d"
    assert not at.exception and not at.error
    assert at.selectbox(key="comm-sweep").value == "d"
    charts = figures(at)
    assert "Bits vs columns d" in charts and "Bits vs column sparsity s" not in charts
    values, _ = trace(charts["Bits vs columns d"], "CSS protocol (this run)")
    np.testing.assert_array_equal(values, sweep_values(Setting(200, 200, 100, 2, 2, 0.5), "d"))

def test_communication_bar_labels_fit_in_the_plot(default_charts):
    bars = default_charts["Bits to get a WLRA to the coordinator"]
    bar = bars["data"][0]
    assert bar["textposition"] == "outside"
    assert bar["cliponaxis"] is False  # a label past the axis is drawn, not cut
    axis = bars["layout"]["xaxis"]
    assert axis["type"] == "log"
    bits = decode(bar["x"]).astype(float)
    assert "1,280,000" in bar["text"]  # the longest bar, n d b bits, whole
    start, end = axis["range"]
    assert start < np.log10(bits.min())  # the shortest bar has a length
    # A quarter of the axis is left free right of the longest bar for its label.
    assert end - np.log10(bits.max()) >= 0.25 * (end - start) - 1e-12

def test_communication_protocol_line_is_drawn_above_its_bound(default_charts):
    sweep = default_charts["Bits vs column sparsity s"]
    names = [t["name"] for t in sweep["data"]]
    run, bound = (sweep["data"][names.index(name)]
                  for name in ("CSS protocol (this run)", "CSS protocol bound, our constants"))
    _, run_bits = trace(sweep, "CSS protocol (this run)")
    _, bound_bits = trace(sweep, "CSS protocol bound, our constants")
    assert np.all(run_bits <= bound_bits) and np.any(run_bits == bound_bits)  # they do overlap
    # Plotly draws later traces on top: the run is last, a thin line with markers over a
    # wider band, so where they coincide both show.
    assert names[-1] == "CSS protocol (this run)"
    assert "markers" in run["mode"] and "markers" not in bound["mode"]
    assert bound["line"]["width"] >= 3 * run["line"]["width"]
    # The legend keeps the table's order.
    assert sorted(names, key=lambda name: sweep["data"][names.index(name)]["legendrank"]) == [
        "send A raw (dense)", "send A raw (sparse)", "CSS protocol (this run)", "CSS protocol bound, our constants",
        "(msrk/eps + rkd) log2(nd)", "lower bound srk"]

def test_communication_two_column_heatmaps_tick_integer_columns(default_charts):
    charts = default_charts
    for title in ("Planted A_dense (sr x k)", "A_dense read from the solution"):  # 12 x 2 by default
        figure = charts[title]
        assert decode(figure["data"][0]["z"]).shape == (12, 2)
        assert figure["layout"]["xaxis"]["tickvals"] == [0, 1]  # columns 0 and 1, no -0.5 or 1.5
        assert figure["layout"]["yaxis"]["tickvals"] == [0, 2, 4, 6, 8, 10]
    assert charts["Mask W (Definition 3.2)"]["layout"]["xaxis"]["tickvals"] == [0, 5, 10, 15, 20]

# Every widget of the page at its extremes (one at a time from the defaults), and
# combinations the page refuses: an exception box never, one error line at most.
COMMUNICATION_SETTINGS = [
    *[{key: value} for key, values in {
        "comm-n": (2, 2000), "comm-d": (1, 2000), "comm-s": (1, 2000), "comm-k": (1, 200), "comm-r": (1, 50),
        "comm-eps": (0.01, 10.0), "comm-m": (64,), "comm-noise": (0, 1000), "comm-seed": (10**6,),
        "lb-r": (1, 10), "lb-block": (1, 40), "lb-s": (1, 40), "lb-k": (1, 40), "lb-seed": (10**6,)}.items()
      for value in values],
    {"comm-bits": 16, "comm-noise": 1000}, {"comm-bits": 64}, {"comm-selection": "leverage"},
    {"comm-selection": "uniform", "comm-m": 64, "comm-d": 64},
    {"comm-n": 2000, "comm-d": 2000},  # more entries than the page runs
    {"comm-n": 2000, "comm-s": 2000, "comm-d": 500, "comm-eps": 0.01, "comm-m": 64},  # too many bits
    {"comm-d": 2000, "comm-sweep": "d"},  # the sweep skips n d > 1,000,000
    {"comm-n": 2, "comm-d": 1, "comm-s": 1, "comm-k": 1, "comm-r": 1, "comm-sweep": "servers"},
    {"lb-block": 40, "lb-r": 10, "lb-s": 40, "lb-k": 40, "lb-method": "em"},
    {"lb-block": 1, "lb-s": 1, "lb-k": 1, "lb-method": "als"},
]

def setting_id(setting: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in setting.items())


@pytest.mark.parametrize("setting", COMMUNICATION_SETTINGS, ids=map(setting_id, COMMUNICATION_SETTINGS))
def test_communication_page_handles_every_setting_its_widgets_allow(setting):
    """One setting applied to a fresh session, every other widget at its default (one test per
    setting, so that the costly ones run in parallel). The largest settings take seconds of
    work; the timeout only guards against a hang on a loaded machine."""
    at = open_page("app_pages/communication.py", timeout=600)
    widgets = {"comm-bits": at.selectbox, "comm-selection": at.selectbox, "comm-sweep": at.selectbox,
               "lb-method": at.radio}
    defaults = {key: widgets.get(key, at.number_input)(key=key).value
                for other in COMMUNICATION_SETTINGS for key in other}
    wanted = {**defaults, **setting}
    sweep = wanted.pop("comm-sweep")
    for key, value in wanted.items():
        widgets.get(key, at.number_input)(key=key).set_value(value)
    at.run()
    if not at.selectbox(key="comm-sweep").disabled and at.selectbox(key="comm-sweep").value != sweep:
        at.selectbox(key="comm-sweep").set_value(sweep).run()  # enabled only for valid settings
    assert not at.exception, (setting, [e.value for e in at.exception])
    errors = [e.value for e in at.error if "bits of A_dense wrong" not in e.value]
    assert len(errors) <= 1 and all("\n" not in e for e in errors), (setting, errors)
    charts = figures(at)
    protocol_ok = "Bits to get a WLRA to the coordinator" in charts
    lower_bound_ok = "Mask W (Definition 3.2)" in charts
    assert protocol_ok + lower_bound_ok == 2 - len(errors), (setting, errors, list(charts))
    if setting == {"comm-d": 2000, "comm-sweep": "d"}:
        values, _ = trace(charts["Bits vs columns d"], "send A raw (dense)")
        np.testing.assert_array_equal(values, [2, 7, 21, 70, 229, 748, 2446])
        assert any("Not run, more than this page runs: columns d = [8000]." in c.value for c in at.caption)
    if setting == {"comm-n": 2000, "comm-d": 2000}:
        assert errors == ["n x d = 4,000,000 entries is more than this page runs (1,000,000): lower n or d."]
