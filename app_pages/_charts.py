"""Every figure the dashboard draws, and the conventions they share.

* Conventions: :func:`chart` (a plotly chart and its one-line caption), :func:`layout`
  (title, height and the shared margins), :data:`LEGEND_BELOW`;
* :func:`algorithm_style` -- one colour and one marker per algorithm, on every page;
* axes and ticks: :func:`log_axis`, :func:`decade_axis`, :func:`log_range`,
  :func:`count_axis` (whole-number ticks on a log axis of counts), :func:`integer_ticks`;
* marks: :func:`flag_rings` (flagged results), :func:`reference_line` (a labelled dashed
  line on a log axis);
* :func:`picture_rgb` -- a matrix as an RGB picture (gray levels, missing entries in colour);
* one figure builder per chart of every page, from the numbers ``_views.py`` (or
  :mod:`wlra_core`) prepares -- plotly figures, and the landing page's SVG panels
  (:func:`fit_svg`), which need no chart library in the browser.
"""
from __future__ import annotations

import math
from itertools import count, takewhile

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages._compression_text import method_label, percent, shown_warnings
from app_pages._views import REFINE_STARTS, HeatmapView, LossHistory, Series, SpectrumView, TeachingExample, curves
from wlra_core.compression import WEIGHT_TRANSFORMS, row_accuracy
from wlra_core.heldout import HELDOUT_COLUMN, MISSING_COLUMN
from wlra_core.result import WLRAResult
from wlra_core.tables import ResultRow

# --- Conventions ------------------------------------------------------------------------------

MARGIN = dict(l=10, r=10, t=50, b=10)
# Legends under the charts: beside them they took 40% of the width with 11 methods.
# Anchored below the x axis title (y in the plot's height: the title sits above -0.2).
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.3, x=0, font=dict(size=11))
# Margins that already hold what a chart with a legend below puts there in a half-width
# column at 1280 px or wider: the y tick labels and title (68-80 px), and up to four legend
# rows under the x axis title (192 px for Compare's 13 methods at 1280 px). Plotly widens
# margins too small for their content (autoexpand), but by drawing the chart a second time:
# each live redraw took 3 Plotly draws per chart instead of 2, in every tab running at
# once. Narrower columns (1024 px) still widen them, at that cost.
LEGEND_BELOW_MARGIN = dict(l=80, r=10, t=50, b=195)


def chart(figure, caption: str, *, key: str | None = None, width="stretch") -> None:
    """A plotly chart with its one-line caption: what it shows and what to look for."""
    st.plotly_chart(figure, key=key, width=width, config={"displaylogo": False})
    st.caption(caption)


def layout(fig: go.Figure, title: str, height: int, *, margin: dict = MARGIN, **more) -> go.Figure:
    """Give ``fig`` its title, height and the dashboard's margins (and any other layout)."""
    fig.update_layout(title=title, height=height, margin=margin, **more)
    return fig


# One colour and one marker per algorithm, on every page (extra methods take the spares).
ALGORITHM_STYLES = {
    "svd": ("#1f77b4", "circle"),
    "svd_w": ("#d62728", "square"),
    "svd_w_practical": ("#ff7f0e", "diamond"),
    "em": ("#2ca02c", "cross"),
    "svd_w_em": ("#9467bd", "x"),
    "adam": ("#8c564b", "triangle-up"),
    "greedy": ("#e377c2", "triangle-down"),
    "sample": ("#7f7f7f", "star"),
    "als": ("#bcbd22", "hexagon"),
    "fwsvd": ("#17becf", "pentagon"),
    "css": ("#393b79", "triangle-left"),
    "whiten": ("#00a676", "hourglass"),
    "kfac": ("#b8860b", "star-diamond"),
}
SPARE_STYLES = (("#637939", "triangle-right"), ("#843c39", "bowtie"), ("#7b4173", "circle-open"),
                ("#3182bd", "square-open"), ("#e6550d", "diamond-open"))


def algorithm_style(name: str) -> dict[str, str]:
    """``{"color": ..., "symbol": ...}`` of an algorithm (a stable spare for other names)."""
    if name in ALGORITHM_STYLES:
        color, symbol = ALGORITHM_STYLES[name]
    else:
        color, symbol = SPARE_STYLES[sum(map(ord, name)) % len(SPARE_STYLES)]
    return {"color": color, "symbol": symbol}


# --- Axes and ticks ---------------------------------------------------------------------------


def _one_two_five():
    """1, 2, 5, 10, 20, 50, ...: round steps and ticks."""
    return (m * 10**e for e in count() for m in (1, 2, 5))


def log_axis(values) -> dict:
    """Log-axis settings that keep tick labels readable whatever the span of ``values``."""
    finite = [float(v) for v in values if v > 0 and math.isfinite(v)]
    if not finite:
        return dict(type="log", exponentformat="power")
    low, high = min(finite), max(finite)
    decades = math.log10(high / low)
    # Short labels: "500", "2k", "50k" for counts (plotly's own "5e+2" ran into each other).
    tickformat = "~s" if low >= 100 else (".2~g" if decades < 3 else None)
    if decades < 1:  # labels at 1, 2 and 5 of the decade (plotly labels every digit)
        return dict(type="log", dtick="D2", tickformat=tickformat, exponentformat="power")
    if decades < 3:
        # 1 and 3 per decade: 1-2-5 labels ran together on a half-width chart at 1024 px.
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in (1, 3) if low / 1.5 <= m * 10.0**e <= high * 1.5]
        return dict(type="log", tickvals=ticks, tickformat=tickformat, exponentformat="power")
    return dict(type="log", tickformat=tickformat, exponentformat="power")


def decade_axis(values) -> dict:
    """Log-axis settings labelling whole decades only, at least one, around the positive
    ``values``: plotly's own ticks on a short log range label every digit."""
    positive = np.asarray(values, dtype=float)
    positive = positive[positive > 0]
    low, high = np.floor(np.log10(positive.min())), np.ceil(np.log10(positive.max()))
    high = max(high, low + 1)
    pad = 0.03 * (high - low)  # keeps a value on a whole decade off the frame
    return dict(type="log", exponentformat="power", range=[low - pad, high + pad],
                dtick=max(1.0, np.ceil((high - low) / 6)))


def log_range(values, *, margin: float, room: float = 0.0) -> list[float] | None:
    """The range (in decades) of a log axis over the positive ``values``, or None without any.

    ``margin`` of the span (at least one decade) is left below the smallest value, and above
    the largest -- or, with ``room`` > 0, that share of the whole axis right of it (room for
    a bar's label drawn outside it).
    """
    positive = np.asarray(values, dtype=float)
    positive = positive[positive > 0]
    if not positive.size:
        return None
    low, high = np.log10(positive.min()), np.log10(positive.max())
    start = low - margin * max(high - low, 1.0)
    end = high + (high - start) * room / (1 - room) if room else high + margin * max(high - low, 1.0)
    return [start, end]


def count_ticks(largest: int) -> list[int]:
    """Tick values for a log axis of counts 1..``largest``: every count up to 10, else 1, 2, 5,
    10, 20, 50, ... Given as tick texts, they read as whole numbers; plotly's own log ticks
    label 20 and 50 as "2" and "5"."""
    if largest <= 10:
        return list(range(1, largest + 1))
    return list(takewhile(lambda tick: tick <= largest, _one_two_five()))


def count_axis(largest: int) -> dict:
    """Log-axis settings for counts 1..``largest`` with whole-number ticks (:func:`count_ticks`)."""
    ticks = count_ticks(largest)
    return dict(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])


def index_axis(count: int, most: int = 10) -> dict:
    """Linear-axis settings for the indices 1..``count``: whole-number ticks only (at most
    ``most``, every 1, 2, 5, 10, ... indices) and half an index of room at each end -- plotly
    labels a single point's axis 0.5, 1, 1.5."""
    step = next(step for step in _one_two_five() if count <= step * most)
    return dict(tickvals=sorted({1, *range(step, count + 1, step)}), range=[0.5, count + 0.5])


def integer_ticks(cells: int, most: int = 10) -> list[int]:
    """At most ``most`` ticks on the cell indices 0 .. cells - 1, every 1, 2, 5, 10, 20, ... cells."""
    step = next(step for step in _one_two_five() if cells <= step * most)
    return list(range(0, cells, step))


# --- Marks ------------------------------------------------------------------------------------


FLAGGED = "flagged (!)"


def flag_rings(fig, name: str, x, y, warnings) -> None:
    """Black rings on the points of ``name`` that carry warnings, with the method and its
    warning on hover; one legend entry, "flagged (!)", for every method's rings."""
    flagged = np.array([bool(w) for w in warnings], dtype=bool)
    if not flagged.any():
        return
    first = not any(trace.legendgroup == FLAGGED for trace in fig.data)
    fig.add_trace(go.Scatter(
        x=np.asarray(x)[flagged], y=np.asarray(y)[flagged], mode="markers", name=FLAGGED, legendgroup=FLAGGED,
        showlegend=first, marker=dict(size=15, symbol="circle-open", color="black", line=dict(width=2)),
        text=[f"{name}: {w}" for w in warnings if w], hovertemplate="%{text}<extra></extra>",
    ))


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


# --- Home: the teaching example -------------------------------------------------------------

# The example is drawn as plain SVG: the landing page then needs no chart library in the
# browser (plotly.js is a 4.7 MB script) and shows everything within a second. The fit line
# has its algorithm's colour (every page's); points and residuals are neutral greys.
PANEL = 360  # pixels of a teaching example's panel
PANEL_COLORS = {"light": "#a6a6a6", "heavy": "#1a1a1a", "residual": "#c8c8c8", "axis": "#d9d9d9"}


def fit_svg(ex: TeachingExample, result: WLRAResult, title: str, algorithm: str) -> str:
    """One panel: the rows of A as points (area ~ weight), ``algorithm``'s rank-1 line in its
    colour, and the residuals."""
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
        f'<rect width="{PANEL}" height="{PANEL}" fill="white" stroke="{PANEL_COLORS["axis"]}"/>',
        f'<line x1="0" y1="{PANEL / 2}" x2="{PANEL}" y2="{PANEL / 2}" stroke="{PANEL_COLORS["axis"]}"/>',
        f'<line x1="{PANEL / 2}" y1="0" x2="{PANEL / 2}" y2="{PANEL}" stroke="{PANEL_COLORS["axis"]}"/>',
    ]
    for point, fitted in zip(ex.A, result.approx):
        (ax, ay), (fx, fy) = px(*point), px(*fitted)
        parts.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{fx:.1f}" y2="{fy:.1f}" '
                     f'stroke="{PANEL_COLORS["residual"]}" stroke-width="1"/>')
    parts.append(f'<line class="fit" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                 f'stroke="{algorithm_style(algorithm)["color"]}" stroke-width="3"/>')
    largest = ex.W[:, 0].max()
    for point, weight, heavy in zip(ex.A, ex.W[:, 0], ex.heavy):
        x, y = px(*point)
        radius = 4 + 8 * np.sqrt(weight / largest)
        color = PANEL_COLORS["heavy"] if heavy else PANEL_COLORS["light"]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{color}" '
                     f'stroke="white"><title>weight {weight:g}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


# --- Weights ----------------------------------------------------------------------------------


def matrix_figure(view: HeatmapView, name: str) -> go.Figure:
    """A :class:`~app_pages._views.HeatmapView` of the matrix ``name``, in matrix coordinates."""
    if view.log:
        scale, label = "Viridis", "log10 |value|"
    else:
        scale, label = ("RdBu" if view.signed else "Viridis"), "value"
    fig = go.Figure(go.Heatmap(
        z=view.z, x=view.cols, y=view.rows, colorscale=scale,
        zmin=view.color_range[0], zmax=view.color_range[1],
        colorbar=dict(title=label),
        hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>",
    ))
    note = f" (block means of {view.block[0]} x {view.block[1]} entries)" if view.block != (1, 1) else ""
    layout(fig, f"{name}{note}", 520)
    fig.update_yaxes(autorange="reversed", title="row")
    fig.update_xaxes(title="column")
    return fig


def singular_values_figure(spec: SpectrumView, rank: int) -> go.Figure:
    """W's first ``rank`` singular values on a log axis of whole decades."""
    shown = spec.singular_values[:rank]
    fig = go.Figure(go.Scatter(x=np.arange(1, rank + 1), y=shown, mode="lines+markers", marker=dict(size=4)))
    layout(fig, "Singular values of W", 360)
    fig.update_yaxes(title="singular value", **decade_axis(shown))
    fig.update_xaxes(title="index i", **index_axis(rank))
    return fig


def cumulative_mass_figure(spec: SpectrumView, rank: int) -> go.Figure:
    """The share of ``||W||_F^2`` in W's first i singular values, i = 1..``rank``."""
    fig = go.Figure(go.Scatter(x=np.arange(1, rank + 1), y=100 * spec.cumulative_mass[:rank], mode="lines+markers",
                               marker=dict(size=4)))
    layout(fig, "Cumulative Frobenius mass of W", 360)
    fig.update_yaxes(title="% of ||W||_F^2 in the first i")
    fig.update_xaxes(title="i", **count_axis(rank))
    return fig


def pixel_image_figure(image: np.ndarray) -> go.Figure:
    """The heatmap of a :func:`~app_pages._views.pixel_image` (the Weights and Feature selection pages)."""
    fig = go.Figure(go.Heatmap(z=image, colorscale="Viridis", colorbar=dict(title="row sum of W"),
                               hovertemplate="pixel (%{y}, %{x}): %{z:.3g}<extra></extra>"))
    layout(fig, "Pixel importance: row sums of W", 420)
    _image_axes(fig)
    return fig


# The colour of a pixel the method did not see (missing or held out) in a picture.
UNSEEN_RGB = (64, 120, 200)


def picture_rgb(M: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """``M`` as an 8-bit RGB picture: gray levels from ``value_range`` (clipped), NaN entries
    (unseen pixels, gaps between tiles) in :data:`UNSEEN_RGB`. A picture, not a chart: the
    browser gets it as a PNG, not as a plotly heatmap of every pixel."""
    low, high = value_range
    span = high - low if high > low else 1.0
    with np.errstate(invalid="ignore"):
        gray = np.clip((M - low) / span, 0.0, 1.0)
    unseen = np.isnan(gray)
    rgb = np.repeat(np.round(np.where(unseen, 0.0, gray) * 255).astype(np.uint8)[..., None], 3, axis=2)
    rgb[unseen] = UNSEEN_RGB
    return rgb


def _image_axes(fig: go.Figure) -> None:
    """Square pixels, row 0 on top, no tick labels (hover names the pixel)."""
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showticklabels=False)
    fig.update_xaxes(constrain="domain", showticklabels=False)


# --- Compare ----------------------------------------------------------------------------------


def same_curve(series: dict[str, Series], order, x: str) -> dict[str, str]:
    """Method -> the earlier method (in ``order``) whose curve it repeats: the same points
    along ``x`` and means equal to 6 digits. Drawn on top, it hides the other."""
    drawn, out = [], {}
    for name in (n for n in order if n in series):
        s = series[name]
        xs = getattr(s, x)
        twin = next((other for other in drawn if np.array_equal(getattr(series[other], x), xs)
                     and np.allclose(series[other].mean, s.mean, rtol=1e-6, atol=0)), None)
        if twin is not None and xs.size:
            out[name] = twin
        drawn.append(name)
    return out


def series_figure(series: dict[str, Series], order, *, x: str, value: str, title: str, y_title: str,
                  log_y: bool, log_x: bool = False, bands: bool = True) -> go.Figure:
    """Mean and (with ``bands``) min-max band over trials per method, in ``order``; ``x`` is
    ``"rank"`` or ``"n_params"``: the :class:`~app_pages._views.Series` field along the x axis.
    A method whose curve repeats an earlier one's (:func:`same_curve`) says so in its legend."""
    fig = go.Figure()
    shown = []
    twins = same_curve(series, order, x)
    for name in (n for n in order if n in series):
        s = series[name]
        xs = getattr(s, x)
        style = algorithm_style(s.algorithm)
        label = name
        if s.failed_ranks.size:
            label += f" (failed at rank {', '.join(map(str, s.failed_ranks))})"
        if name in twins:
            label += f" (same curve as {twins[name]}, drawn over it)"
        spread = s.max > s.min
        if bands and spread.any():  # min-max band over trials: never below the data on a log axis
            fig.add_trace(go.Scatter(
                x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([s.max, s.min[::-1]]),
                fill="toself", fillcolor=style["color"], opacity=0.08, line=dict(width=0),
                hoverinfo="skip", showlegend=False, name=f"{name} min-max",
            ))
        warnings = [w or "" for w in s.warnings]
        fig.add_trace(go.Scatter(
            x=xs, y=s.mean, name=label, mode="lines+markers",
            line=dict(color=style["color"]), marker=dict(size=7, symbol=style["symbol"], color=style["color"]),
            customdata=np.column_stack([s.rank, s.n_params, s.min, s.max, np.array(warnings, dtype=object)]),
            hovertemplate=f"{name}<br>rank %{{customdata[0]}}, %{{customdata[1]}} stored numbers"
                          f"<br>{value} %{{y:.4g}} (min %{{customdata[2]:.3g}}, max %{{customdata[3]:.3g}})"
                          "<br>%{customdata[4]}<extra></extra>",
        ))
        flag_rings(fig, name, xs, s.mean, warnings)
        shown += list(s.mean) + list(s.min)
    if not shown:
        fig.add_annotation(text="Press Run: the curves appear here as results arrive",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    else:
        fig.update_yaxes(**(log_axis(shown) if log_y else dict(type="linear")))
        fig.update_xaxes(**(log_axis(s_x for s in series.values() for s_x in getattr(s, x)) if log_x
                            else dict(type="linear")))
    # showlegend: plotly hides the legend of a single trace, which left the first
    # algorithm's curve unnamed until the second arrived.
    layout(fig, title, 460, showlegend=True, legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)
    fig.update_yaxes(title=y_title)
    fig.update_xaxes(title="rank k" if x == "rank" else "stored numbers (entries of the arrays kept)")
    return fig


# The Compare page's error charts: column -> (title, y axis title).
ERROR_CHARTS = {HELDOUT_COLUMN: ("Held-out error vs rank", "weighted RMSE on the held-out entries"),
                MISSING_COLUMN: ("True error on the missing entries vs rank", "RMSE on the missing entries")}


# repr(row) spells every field exactly (floats round-trip) in a tenth of the time the
# generic hashing of a dataclass takes.
@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs={ResultRow: repr})
def compare_figures(rows: tuple[ResultRow, ...], order: tuple[str, ...], errors: tuple[str, ...], *, value: str,
                    loss_label: str, log_y: bool, bands: bool) -> dict[str, go.Figure]:
    """The Compare page's charts of ``rows`` by name: ``"loss"`` and ``"params"`` (``value``
    against the rank and the stored numbers), ``"time"`` and one per column of ``errors``
    (:data:`ERROR_CHARTS`); methods in ``order``.

    Built once per server for the same rows and settings, and shared read-only: sessions
    running one sweep are handed the same results, so their first draws, their last ones
    (every result) and a reload of the page show the same rows.
    """
    losses = curves(list(rows), value)
    figures = {
        "loss": series_figure(losses, order, x="rank", value=value, title="Weighted loss vs rank",
                              y_title=loss_label, log_y=log_y, bands=bands),
        "time": series_figure(curves(list(rows), "seconds"), order, x="rank", value="seconds",
                              title="Runtime vs rank", y_title="seconds", log_y=True, bands=bands),
        "params": series_figure(losses, order, x="n_params", value=value, title="Weighted loss vs stored numbers",
                                y_title=loss_label, log_y=log_y, log_x=True, bands=bands),
    }
    for column in errors:
        title, y_title = ERROR_CHARTS[column]
        figures[column] = series_figure(curves(list(rows), column), order, x="rank", value=column, title=title,
                                        y_title=y_title, log_y=log_y, bands=bands)
    return figures


# --- Refine -----------------------------------------------------------------------------------


def _start_styles() -> dict[str, dict]:
    """Line and marker per start: its algorithm's colour and marker shape (every page's), and
    a dash and a fill telling apart the starts of one algorithm (EM from zero, EM from svd)."""
    variants = (("solid", ""), ("dash", "-open"), ("dot", "-open-dot"))
    seen, out = {}, {}
    for label, (algorithm, _) in REFINE_STARTS.items():
        seen[algorithm] = seen.get(algorithm, -1) + 1
        dash, fill = variants[seen[algorithm] % len(variants)]
        style = algorithm_style(algorithm)
        out[label] = {"line": dict(color=style["color"], dash=dash),
                      "marker": dict(size=6, symbol=style["symbol"] + fill, color=style["color"])}
    return out


START_STYLES = _start_styles()


def refine_figure(histories: dict[str, LossHistory], *, x: str, x_title: str, rank: int) -> go.Figure:
    """Relative loss against ``x`` (``"iteration"`` or ``"seconds"``, a field of
    :class:`~app_pages._views.LossHistory`) for each start, by start label."""
    fig = go.Figure()
    for label, history in histories.items():
        fig.add_trace(go.Scatter(x=getattr(history, x), y=history.relative_loss, name=label,
                                 mode="lines+markers", **START_STYLES[label]))
    layout(fig, f"Relative loss vs {x} (rank {rank})", 420)
    losses = np.concatenate([h.relative_loss for h in histories.values()] or [np.ones(1)])
    fig.update_yaxes(title="relative loss", **(decade_axis(losses) if np.any(losses > 0) else dict(type="log")))
    fig.update_xaxes(title=x_title)
    return fig


# --- Compression ------------------------------------------------------------------------------

# One dash per weight transform, for the methods that use W.
TRANSFORM_DASHES = dict(zip(WEIGHT_TRANSFORMS, ("solid", "dash")))
COMPRESSION_HOVER = ("%{fullData.name}<br>rank %{customdata[0]} · %{customdata[1]:,} stored numbers"
                     "<br>compression ratio %{customdata[2]:.1f}x<br>%{customdata[3]}<extra></extra>")


def _by_method(rows: list[ResultRow], several_transforms: bool) -> dict[str, list[ResultRow]]:
    """The successful rows by :func:`~app_pages._compression_text.method_label`, each by rank."""
    out = {}
    for row in rows:
        if not row.failed:
            out.setdefault(method_label(row, several_transforms), []).append(row)
    return {label: sorted(group, key=lambda r: r.rank) for label, group in out.items()}


def compression_figure(rows: list[ResultRow], several: bool, reference: float | None, *, x: str, y: str,
                       title: str, x_title: str, y_title: str, log_x: bool = False, log_y: bool = False,
                       y_percent: bool = False, front: list[ResultRow] | None = None,
                       mode: str = "lines+markers") -> go.Figure:
    """One line per method (and weight transform when ``several``) of ``y`` against ``x``,
    columns of the rows (:meth:`ResultRow.value`); ``reference`` draws the uncompressed
    accuracy, ``front`` the Pareto front."""
    fig = go.Figure()
    for label, group in _by_method(rows, several).items():
        style = algorithm_style(group[0].algorithm)
        fig.add_trace(go.Scatter(
            x=[r.value(x) for r in group], y=[r.value(y) for r in group], name=label, mode=mode,
            line=dict(color=style["color"], dash=TRANSFORM_DASHES.get(group[0].problem, "solid")),
            marker=dict(size=8, symbol=style["symbol"], color=style["color"]),
            customdata=[[r.rank, r.n_params, r.evaluation["compression_ratio"],
                         f"accuracy {percent(row_accuracy(r))}" + (f"<br>! {shown_warnings(r)}" if shown_warnings(r)
                                                                   else "")]
                        for r in group],
            hovertemplate=COMPRESSION_HOVER,
        ))
        flag_rings(fig, label, [r.value(x) for r in group], [r.value(y) for r in group],
                   [shown_warnings(r) for r in group])
    if front:
        fig.add_trace(go.Scatter(
            x=[r.value(x) for r in front], y=[r.value(y) for r in front], name="Pareto front", mode="lines",
            line=dict(color="gray", dash="dot", shape="hv"), hoverinfo="skip",
        ))
    if reference is not None:
        fig.add_hline(y=reference, line=dict(color="black", dash="dash"),
                      annotation_text=f"uncompressed {percent(reference)}", annotation_position="top left")
    layout(fig, title, 480, legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)
    fig.update_xaxes(title=x_title, **(log_axis(r.value(x) for r in rows if not r.failed) if log_x else {}))
    fig.update_yaxes(title=y_title, **(log_axis(r.value(y) for r in rows if not r.failed) if log_y else {}))
    if y_percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


# --- Feature selection ------------------------------------------------------------------------

# Every rule runs the css algorithm: its colour and marker shape; a dash and a fill per rule.
RULE_LINES = {"leverage": ("solid", ""), "pivoted_qr": ("dash", "-open"), "uniform": ("dashdot", "-open-dot")}
RULE_LABELS = {"leverage": "leverage-score sampling", "pivoted_qr": "pivoted QR",
               "uniform": "uniform random (baseline)"}


def selection_bound_label(support_rank: int) -> str:
    """The legend of :func:`wlra_core.feature_selection.references`' selection bound for a W
    whose nonzero pattern has rank ``support_rank``."""
    if support_rank <= 1:
        return "best rank-s of W o A (no s-subset beats it)"
    return f"best rank-{support_rank}s of W o A (no s-subset beats it: W's zero pattern has rank {support_rank})"


def selection_figure(series: dict, selections: list[str], refs: dict, *, largest: int, axis: str, rank: int,
                     weight_rank: int) -> go.Figure:
    """CSS loss against the number of selected ``axis`` per rule (mean and std over trials,
    :func:`wlra_core.feature_selection.summarize_curve`), next to the best rank-s
    approximation and the lines of :func:`wlra_core.feature_selection.references`."""
    css = algorithm_style("css")
    fig = go.Figure()
    for selection in selections:
        s = series[selection]
        fig.add_trace(go.Scatter(
            x=s.n_selected, y=s.mean, name=RULE_LABELS[selection], mode="lines+markers",
            line=dict(color=css["color"], dash=RULE_LINES[selection][0]),
            marker=dict(symbol=css["symbol"] + RULE_LINES[selection][1], color=css["color"], size=8),
            error_y=dict(type="data", array=s.std, visible=bool(np.any(s.std > 0))),
            hovertemplate=f"{RULE_LABELS[selection]}<br>%{{x}} {axis}: relative loss %{{y:.4g}}<extra></extra>",
        ))
    grid = np.arange(1, largest + 1)
    bound = refs.relative_selection_bound[grid]
    grid, bound = grid[bound > 0], bound[bound > 0]  # 0: nothing proven at that s
    if grid.size:
        fig.add_trace(go.Scatter(x=grid, y=bound, name=selection_bound_label(refs.support_rank), mode="lines",
                                 line=dict(color="gray", dash="dot")))
    lines = [refs.relative_lower_bound]
    if refs.svd_w_meets_bound:
        reference_line(fig, lines[0], "black", f"svd_w at rank {rank} = ||(W o A)_-rk||², rk = {refs.rk}",
                       above=False)
    else:
        lines.append(refs.relative_svd_w)
        reference_line(fig, lines[1], algorithm_style("svd_w")["color"], f"svd_w at rank {rank} (r = {weight_rank})",
                       above=lines[1] >= lines[0])
        reference_line(fig, lines[0], "black", f"||(W o A)_-rk||², rk = {refs.rk}", above=False)
    if refs.rk <= largest:
        fig.add_vline(x=refs.rk, line=dict(color="lightgray"))
    layout(fig, f"Weighted loss vs number of selected {axis}", 460)
    fig.update_xaxes(title=f"selected {axis} s", **count_axis(largest))
    fig.update_yaxes(title="relative loss ||W o (A - X)||² / ||W o A||²", type="log", exponentformat="power")
    # The y range spans what is drawn (means +- std, the dotted curve, the dashed lines), in decades.
    drawn = np.concatenate([np.concatenate([series[sel].mean - series[sel].std, series[sel].mean + series[sel].std])
                            for sel in selections] + [bound, lines])
    y_range = log_range(drawn, margin=0.05)
    if y_range is not None:
        fig.update_yaxes(range=y_range)
    return fig


def selection_mask_figure(mask: np.ndarray, n_selected: int) -> go.Figure:
    """The selected input pixels as a dark-on-light image, drawn like the importance map."""
    fig = go.Figure(go.Heatmap(z=mask, colorscale="Greys", showscale=False,
                               hovertemplate="pixel (%{y}, %{x}): %{z:.0f} selected<extra></extra>"))
    layout(fig, f"{n_selected} selected pixels", 420)
    _image_axes(fig)
    return fig


def selection_bars_figure(indices, limit: int, *, axis: str, rule: str, n_selected: int) -> go.Figure:
    """A bar at each of the ``limit`` rows or columns that the selection keeps."""
    fig = go.Figure(go.Bar(x=np.arange(limit), y=np.isin(np.arange(limit), indices).astype(int),
                           marker_color=algorithm_style("css")["color"]))
    layout(fig, f"{n_selected} selected {axis} ({RULE_LABELS[rule]})", 300)
    fig.update_xaxes(title=f"{axis[:-1]} index")
    fig.update_yaxes(title="selected", tickvals=[0, 1])
    return fig


# --- Communication ----------------------------------------------------------------------------

PROTOCOL, PROTOCOL_BOUND = "CSS protocol (this run)", "CSS protocol bound, our constants"
SERIES_COLORS = {  # the rows of bits_table, in its order; the protocol is CSS: css's colour (its bound: a band)
    "send A raw (dense)": "#636EFA",
    "send A raw (sparse)": "#00CC96",
    PROTOCOL: algorithm_style("css")["color"],
    PROTOCOL_BOUND: algorithm_style("css")["color"],
    "(msrk/eps + rkd) log2(nd)": "#AB63FA",
    "lower bound srk": "black",
}
# Share of the bar chart's log axis left free right of the longest bar, for its label.
LABEL_ROOM = 0.25


def cells_figure(M: np.ndarray, title: str, *, colorscale="Blues", zmin=None, zmax=None,
                 square=True) -> go.Figure:
    """A small matrix cell by cell, ticks on whole cell indices."""
    fig = go.Figure(go.Heatmap(z=M, colorscale=colorscale, zmin=zmin, zmax=zmax,
                               hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>"))
    layout(fig, title, 330)
    # Cells sit on integer positions; plotly's own ticks label -0.5, 0.5, ... on small matrices.
    fig.update_xaxes(tickmode="array", tickvals=integer_ticks(M.shape[1]))
    fig.update_yaxes(tickmode="array", tickvals=integer_ticks(M.shape[0]), autorange="reversed",
                     scaleanchor="x" if square else None)
    return fig


def bits_bars(table: list[dict]) -> go.Figure:
    """Horizontal bars of :func:`wlra_core.communication.bits_table` rows on a log axis, each
    labelled with its count."""
    bits = np.array([row["bits"] for row in table], dtype=float)
    fig = go.Figure(go.Bar(
        y=[row["what"] for row in table], x=bits, orientation="h",
        marker_color=[SERIES_COLORS[row["what"]] for row in table],
        text=[f"{b:,.0f}" for b in bits], textposition="outside", cliponaxis=False,
        customdata=[row["source"] for row in table],
        hovertemplate="%{y}: %{x:,.0f} bits (%{customdata})<extra></extra>",
    ))
    layout(fig, "Bits to get a WLRA to the coordinator", 380)
    # An explicit log range leaving LABEL_ROOM of the axis free right of the longest bar, so
    # that its "outside" label is drawn whole.
    fig.update_xaxes(title="bits", type="log", range=log_range(bits, margin=0.1, room=LABEL_ROOM))
    fig.update_yaxes(autorange="reversed")
    return fig


def bits_sweep_figure(rows: list[dict], label: str) -> go.Figure:
    """One line per series of :func:`wlra_core.communication.bits_table` against the swept
    parameter's values; ``label`` names the parameter."""
    fig = go.Figure()
    # With m = 1 and s nonzeros in every column the run equals its bound: the bound is a wide
    # translucent band drawn first, the run a thin line with markers drawn last, so both show.
    # legendrank keeps the legend in the table's order.
    for what in [what for what in SERIES_COLORS if what != PROTOCOL] + [PROTOCOL]:
        band = what == PROTOCOL_BOUND
        fig.add_trace(go.Scatter(
            x=[row["value"] for row in rows], y=[row[what] for row in rows], name=what,
            mode="lines" if band else "lines+markers", opacity=0.45 if band else 1.0,
            line=dict(color=SERIES_COLORS[what], width=8 if band else 2),
            legendrank=list(SERIES_COLORS).index(what)))
    layout(fig, f"Bits vs {label}", 420)
    fig.update_xaxes(title=label, type="log")
    fig.update_yaxes(title="bits", type="log")
    return fig
