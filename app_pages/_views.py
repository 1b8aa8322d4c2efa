"""What the pages show, computed from problems and results without drawing anything, so
that it can be tested without a browser (the figures are ``_charts.py``'s):

* :func:`heatmap_view` -- a matrix block-aggregated to at most ``max_cells`` rows and
  columns, so a 67500 x 1024 kernel never travels to the browser whole;
* :func:`spectrum_view` and :func:`pixel_importance` -- W's singular spectrum with its
  cumulative Frobenius mass, and W's row sums reshaped to the input image; the cached
  :func:`weight_facts` and :func:`pixel_image` serve them to the Data, Weights and Feature
  selection pages once per problem;
* :func:`curves` -- chart series (a :class:`Series` per method) over sweep results;
* :func:`refine_sweep` and :func:`relative_history` (a :class:`LossHistory`) -- the paper's Figure 4 runs and their
  loss histories;
* :func:`weight_advice` -- what the loaded W means for the algorithms (a 0/1 mask, far from
  low rank...), measured, for captions and verdicts;
* :func:`held_out_split` -- the Compare page's held-out check, once per problem and setting;
* :func:`image_layout`, :func:`pictures` -- a matrix (or its rows or columns) as images:
  observed | filled | truth, with the error on the missing entries;
* :func:`doc_description` -- a generator's docstring as plain Markdown for the Data page;
* :func:`teaching_example` -- the landing page's rank-1 line fit with weighted points.
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import streamlit as st

from app_pages._state import BY_FINGERPRINT
from wlra_core.algorithms import ALGORITHMS, get_algorithm
from wlra_core.api import solve
from wlra_core.heldout import Holdout, holdout, missing_check
from wlra_core.linalg import cumulative_mass, first_singular_mass, numerical_rank, round_off, spectrum, truncated_svd
from wlra_core.problem import Problem
from wlra_core.report import ProblemInfo, em_step, problem_info
from wlra_core.result import WLRAResult
from wlra_core.sweep import Sweep, make_method, make_sweep
from wlra_core.tables import ResultRow, summarize

# Largest number of heatmap rows (and columns) sent to the browser.
DISPLAY_CELLS = 200


# --- Matrices: heatmaps, W's spectrum, pixel importance ------------------------------------


@dataclass
class HeatmapView:
    """A matrix reduced for display.

    Attributes
    ----------
    z : ndarray of shape (r, c), float32
        Block means (of the values, or of their magnitudes in log10 when ``log``);
        NaN marks blocks whose magnitude is exactly zero on a log scale.
    rows, cols : ndarray of int
        First row / column index of each block (axis labels in matrix coordinates).
    block : tuple of int
        Rows and columns per block (1 x 1 when nothing was aggregated).
    log : bool
    signed : bool
        True when ``z`` holds signed values (draw with a diverging colour scale).
    color_range : tuple of float
        Colour limits that ignore outliers: the 2nd to 100th percentile on a log scale
        (a few 1e-20 weights would otherwise wash out every other decade), +- the 99th
        percentile of magnitudes for signed values, else the 0.5th to 99.5th percentile.
    """

    z: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    block: tuple[int, int]
    log: bool
    signed: bool
    color_range: tuple[float, float]


def _block_starts(length: int, max_blocks: int) -> np.ndarray:
    size = max(1, math.ceil(length / max_blocks))
    return np.arange(0, length, size)


def heatmap_view(M: np.ndarray, *, log: bool = False, max_cells: int = DISPLAY_CELLS) -> HeatmapView:
    """Block means of ``M`` on a grid of at most ``max_cells`` x ``max_cells`` blocks.

    With ``log=True`` the blocks average magnitudes ``|M|`` and the result is their
    log10 (zero blocks become NaN: plotted as gaps, not as -inf). Blocks at the end of
    an axis may be smaller; each is averaged over its own size.
    """
    n, d = M.shape
    rows, cols = _block_starts(n, max_cells), _block_starts(d, max_cells)
    values = np.abs(M) if log else M
    sums = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, n)), np.diff(np.append(cols, d)))
    z = sums / counts
    if log:
        z = np.log10(z, out=np.full_like(z, np.nan), where=z > 0)
    signed = not log and bool((M < 0).any())
    block = (int(rows[1] - rows[0]) if rows.size > 1 else n, int(cols[1] - cols[0]) if cols.size > 1 else d)
    return HeatmapView(z.astype(np.float32), rows, cols, block, log, signed, _color_range(z, log, signed))


def _color_range(z: np.ndarray, log: bool, signed: bool) -> tuple[float, float]:
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return (0.0, 1.0)
    if log:
        low, high = np.percentile(finite, [2, 100])
    elif signed:
        high = float(np.percentile(np.abs(finite), 99))
        low = -high
    else:
        low, high = np.percentile(finite, [0.5, 99.5])
    if not high > low:  # constant matrix
        low, high = low - 0.5, high + 0.5
    return float(low), float(high)


@dataclass
class SpectrumView:
    """W's singular values and the facts the Weights page draws from them.

    Attributes
    ----------
    singular_values : ndarray
        Descending.
    cumulative_mass : ndarray
        Fraction of ``||W||_F^2`` in the first ``i`` singular values.
    round_off : float
        :func:`wlra_core.linalg.round_off`: singular values at or below it are noise.
    numerical_rank : int
        Number of singular values above ``round_off``.
    first_mass : float
        ``s_1^2 / ||W||_F^2`` (the paper's Table 2).
    """

    singular_values: np.ndarray
    cumulative_mass: np.ndarray
    round_off: float
    numerical_rank: int
    first_mass: float


def spectrum_view(W: np.ndarray) -> SpectrumView:
    """Singular spectrum of ``W`` with its cumulative Frobenius mass, round-off level,
    numerical rank and first-singular-value mass (one SVD of W)."""
    s = spectrum(W)
    return SpectrumView(s, cumulative_mass(s), round_off(s, W.shape), numerical_rank(W, singular_values=s),
                        first_singular_mass(W, singular_values=s))


@st.cache_data(show_spinner="Computing W's spectrum...", max_entries=16, hash_funcs=BY_FINGERPRINT)
def weight_facts(problem: Problem) -> tuple[SpectrumView, ProblemInfo]:
    """W's spectrum and the problem's facts, shared by the Data and Weights pages (one SVD of W)."""
    view = spectrum_view(problem.W)
    return view, problem_info(problem, view.singular_values)


def pixel_importance(problem: Problem) -> np.ndarray | None:
    """Row sums of W reshaped to the input image (channels summed), or None.

    For a problem made from an MLP the rows of A are input pixels, so this image shows
    which pixels the Fisher information says matter. None when the problem has no
    ``image_shape`` or its size does not match the number of rows.
    """
    shape = problem.image_shape
    if shape is None or int(np.prod(shape)) != problem.shape[0]:
        return None
    image = problem.W.sum(axis=1).reshape(shape)
    return image.sum(axis=2) if image.ndim == 3 else image


@st.cache_data(max_entries=16, hash_funcs=BY_FINGERPRINT)
def pixel_image(problem: Problem) -> np.ndarray | None:
    """:func:`pixel_importance` of the problem, once per problem (the Weights and Feature
    selection pages)."""
    return pixel_importance(problem)


# --- Advice from W -----------------------------------------------------------------------------

# W is "far from low rank" when holding 99% of its Frobenius mass takes more than this share
# of min(n, d) singular values (and more than LOW_RANK_MIN): svd_w's guarantee needs a small
# weight rank r, and its factorization stores r times the numbers of a rank-k one.
LOW_RANK_SHARE = 0.1
LOW_RANK_MIN = 5
# Algorithms that fill missing entries (they fit X to the observed ones and extend it).
FILLERS = ("soft_impute", "em")
# em is called slow on a W whose entries, weighted by their share of ||W o A||^2, move less
# than this fraction of the way to their target per iteration (see WeightAdvice.em_step).
EM_SLOW_STEP = 0.25


@dataclass(frozen=True)
class WeightAdvice:
    """What the loaded W means for the algorithms, measured from W.

    Attributes
    ----------
    missing : int
        Entries with W = 0 (missing, or not counted by the loss).
    entries : int
        n d.
    is_mask : bool
        Every nonzero weight is the same: W marks observed entries and nothing else.
    mass_rank_99 : int
        Singular values of W holding 99% of ``||W||_F^2``.
    low_rank : bool
        ``mass_rank_99`` is at most :data:`LOW_RANK_SHARE` of min(n, d) (or at most
        :data:`LOW_RANK_MIN`).
    dividers : tuple of str
        The algorithms that divide by W (the svd_w family).
    em_step : float
        How far em's iteration moves the entries towards their targets: the mean of
        ``(W / max W)^2`` (each entry's step, its majorisation weight) weighted by the entry's
        share of ``||W o A||^2`` (the loss em starts from, at X = 0). 1 for a 0/1 mask.
    """

    missing: int
    entries: int
    is_mask: bool
    mass_rank_99: int
    low_rank: bool
    dividers: tuple[str, ...]
    em_step: float = 1.0

    @property
    def completion(self) -> bool:
        """Whether the problem is one of filling missing entries: W is a mask with zeros."""
        return self.is_mask and self.missing > 0

    def text(self) -> str:
        """The missing-entry count and the verdict, as one Markdown paragraph."""
        return ":material/lightbulb: " + " ".join(filter(None, (self.missing_line(), self.verdict(),
                                                                self.em_line())))

    def em_line(self) -> str:
        """Why em can stall on this W ("" when its steps are long enough)."""
        if self.em_step >= EM_SLOW_STEP:
            return ""
        return (f"em moves each entry (w / max W)² of the way to its target per iteration: weighted by their "
                f"share of ‖W∘A‖², the entries of this W move {self.em_step:.1%} of the way (a 0/1 mask: 100%). "
                "Started from zero, em then gains little per iteration, stops on its tolerance, and can sit at "
                "nearly the same loss at every rank; svd_w_em (em started from svd_w_practical) and als do not "
                "start from zero.")

    def missing_line(self) -> str:
        """How many entries are missing, in one line ("" when none is)."""
        if not self.missing:
            return ""
        share = f"{self.missing:,} of the {self.entries:,} entries ({self.missing / self.entries:.1%})"
        if self.completion:
            return f"**{share} are missing** (W = 0): no algorithm is fitted to them."
        return f"W is 0 on {share}: they do not count in the loss."

    def verdict(self) -> str:
        """What the svd_w family does with this W, and what to use instead (Markdown)."""
        dividers = ", ".join(self.dividers)
        fillers = " or ".join(FILLERS)
        rank = f"W needs rank {self.mass_rank_99} to hold 99% of its mass"
        if self.completion:
            return (f"W is a 0/1 mask with {self.missing:,} missing entries. {dividers} divide by W: their "
                    f"approximation is 0 on every missing entry -- they **fill nothing** -- and {rank.lower()[2:]}"
                    f"{', so svd_w at that weight rank stores more numbers than A has' if not self.low_rank else ''}. "
                    f"To fill the missing entries use {fillers} (or `wlra complete`, which picks the algorithm "
                    "and rank on held-out entries); the held-out error below says which fills best.")
        if not self.low_rank:
            return (f"{rank}: far from low rank, so svd_w's guarantee (Theorem 1.2) does not apply and its "
                    "rank-r·k factorization stores r times a rank-k one's numbers. em, als and soft_impute fit "
                    "this W directly.")
        zeros = (f" Where W = 0, {dividers} leave the approximation at 0, which costs nothing in the loss."
                 if self.missing else "")
        return (f"{rank}: close to low rank, the case where svd_w is provably close to the optimum "
                f"(Theorem 1.2); look for svd_w near the slow em/als at a fraction of their time.{zeros}")


def advice_of(A: np.ndarray, W: np.ndarray, info: ProblemInfo) -> WeightAdvice:
    """:class:`WeightAdvice` of the problem ``(A, W)`` with its facts ``info`` (:func:`weight_facts`)."""
    n, d = W.shape
    positive = W[W > 0]
    return WeightAdvice(
        missing=info.zero_entries, entries=n * d, is_mask=bool(positive.size and positive.min() == positive.max()),
        mass_rank_99=info.mass_rank_99,
        low_rank=info.mass_rank_99 <= max(LOW_RANK_MIN, LOW_RANK_SHARE * min(n, d)),
        dividers=tuple(a for a in ALGORITHMS if get_algorithm(a).divides_by_weights),
        em_step=em_step(A, W))


@st.cache_data(max_entries=16, hash_funcs=BY_FINGERPRINT)
def weight_advice(problem: Problem) -> WeightAdvice:
    """:func:`advice_of` the problem's W, once per problem."""
    return advice_of(problem.A, problem.W, weight_facts(problem)[1])


@st.cache_resource(show_spinner=False, max_entries=2, hash_funcs=BY_FINGERPRINT)  # a split copies A and W
def held_out_split(problem: Problem, fraction: float, seed: int) -> Holdout:
    """:func:`wlra_core.holdout` of the problem, once per setting: its fit part keeps its
    fingerprint (the cache key of every result fitted to it) across reruns."""
    return holdout(problem, fraction=fraction, seed=seed)


# --- Images: observed | filled | truth ---------------------------------------------------------

# Images tiled side by side when each row (or column) of A is one.
TILES = 24


@dataclass(frozen=True)
class ImageLayout:
    """How a matrix is seen as images: ``kind`` ``"matrix"`` (A is the picture), ``"rows"``
    (each row of A is an image of ``shape``) or ``"columns"`` (each column is)."""

    kind: str
    shape: tuple[int, int]

    def describe(self) -> str:
        h, w = self.shape
        return {"matrix": f"A is an image of {h} x {w} pixels",
                "rows": f"each row of A is an image of {h} x {w} pixels (the first {TILES} shown)",
                "columns": f"each column of A is an image of {h} x {w} pixels (the first {TILES} shown)"}[self.kind]


def image_layout(problem: Problem, shape: tuple[int, int] | None = None) -> ImageLayout | None:
    """The problem's images: the given ``(height, width)`` (an upload's choice), else its
    meta (``matrix_is_image``, ``row_image_shape``, a grayscale MLP's ``image_shape``: its
    kernel's columns are images); None when there is none.

    Raises
    ------
    ValueError
        ``shape`` fits neither A (n x d), nor its rows (d entries), nor its columns (n).
    """
    n, d = problem.shape
    if shape is not None:
        h, w = (int(x) for x in shape)
        if (h, w) == (n, d):
            return ImageLayout("matrix", (h, w))
        if h * w == d:
            return ImageLayout("rows", (h, w))
        if h * w == n:
            return ImageLayout("columns", (h, w))
        raise ValueError(f"a {h} x {w} image has {h * w:,} pixels: it is neither A ({n} x {d}) nor one of its "
                         f"rows ({d} entries) nor one of its columns ({n} entries)")
    if problem.meta.get("matrix_is_image"):
        return ImageLayout("matrix", (n, d))
    rows = problem.meta.get("row_image_shape")
    if rows is not None and int(np.prod(rows)) == d:
        return ImageLayout("rows", (int(rows[0]), int(rows[1])))
    pixels = problem.image_shape
    if pixels is not None and len(pixels) == 3 and pixels[2] == 1 and pixels[0] * pixels[1] == n:
        return ImageLayout("columns", (int(pixels[0]), int(pixels[1])))
    return None


def tiled(M: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """``M`` as one picture: itself, or its first :data:`TILES` rows (columns) as images side
    by side in a grid, one NaN pixel between them."""
    if layout.kind == "matrix":
        return M
    h, w = layout.shape
    images = (M if layout.kind == "rows" else M.T)[:TILES]
    per_line = min(len(images), 8)
    lines = -(-len(images) // per_line)
    out = np.full((lines * (h + 1) - 1, per_line * (w + 1) - 1), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, per_line)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = image.reshape(h, w)
    return out


@dataclass
class Pictures:
    """What the image view shows for one result.

    Attributes
    ----------
    observed : ndarray
        A where the method saw it, NaN elsewhere (missing and held-out entries).
    filled : ndarray
        The seen entries as given, the others from the approximation -- or, when the method
        saw every entry, the approximation itself (there is nothing to fill).
    unseen : int
        Entries the method did not see (missing or held out).
    truth : ndarray or None
        The complete matrix, when the problem keeps it.
    missing_rmse : float or None
        RMSE of the approximation against the truth on the missing (W = 0) entries.
    heldout_rmse : float or None
        Weighted RMSE on the held-out entries, when the result was fitted to a split.
    value_range : tuple of float
        Smallest and largest entry of A where the method saw it: the gray scale of all three.
    """

    observed: np.ndarray
    filled: np.ndarray
    unseen: int
    truth: np.ndarray | None
    missing_rmse: float | None
    heldout_rmse: float | None
    value_range: tuple[float, float]


def pictures(problem: Problem, result: WLRAResult, layout: ImageLayout, split: Holdout | None = None) -> Pictures:
    """Observed | filled | truth of ``result`` (fitted to ``split.fit`` when given, else to
    ``problem``), tiled per ``layout``, and its errors on the entries its fit never saw."""
    seen = (split.fit if split is not None else problem).W > 0
    unseen = int(seen.size - np.count_nonzero(seen))
    X = result.approx
    missing = missing_check(problem)
    return Pictures(
        observed=tiled(np.where(seen, problem.A, np.nan), layout),
        filled=tiled(np.where(seen, problem.A, X) if unseen else X, layout), unseen=unseen,
        truth=None if problem.truth is None else tiled(problem.truth, layout),
        missing_rmse=None if missing is None else missing.error(X).rmse,
        heldout_rmse=None if split is None else split.error(X).weighted_rmse,
        value_range=(float(problem.A[seen].min()), float(problem.A[seen].max())))


# --- Results: chart series, loss histories, the paper's Figure 4 -----------------------------


@dataclass(frozen=True)
class Series:
    """What a chart draws for one method: statistics over trials of one value at each rank.

    Attributes
    ----------
    method : str
        The method's label.
    algorithm : str
        Its algorithm (for its style).
    rank, n_params : ndarray of int
        The ranks where at least one trial succeeded, and the stored numbers there.
    mean, std, min, max : ndarray of float
        Of the value over the successful trials at each of those ranks.
    warnings : list of str
        Per rank, the warnings of its trials ("" for none).
    failed_ranks : ndarray of int
        Ranks where some trial failed.
    """

    method: str
    algorithm: str
    rank: np.ndarray
    n_params: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    warnings: list[str]
    failed_ranks: np.ndarray


def curves(rows: list[ResultRow], value: str = "relative_loss") -> dict[str, Series]:
    """Chart series per method label: mean, std, min and max over trials of ``value`` at each rank.

    ``value`` is a measured column (``"loss"``, ``"relative_loss"``, ``"seconds"``).
    Statistics are :func:`wlra_core.tables.summarize`'s.
    """
    ranks = sorted({r.rank for r in rows})
    table = summarize(rows, ranks, values=(value,))
    series: dict[str, Series] = {}
    for method in dict.fromkeys(r.method for r in rows):
        entries = [e for e in table if e.method == method]
        ok = [e for e in entries if e.trials > 0]
        stats = [e.stats[value] for e in ok]
        series[method] = Series(
            method=method,
            algorithm=next(r.algorithm for r in rows if r.method == method),
            rank=np.array([e.rank for e in ok], dtype=int),
            n_params=np.array([e.n_params for e in ok], dtype=int),
            mean=np.array([s.mean for s in stats], dtype=float),
            std=np.array([s.std for s in stats], dtype=float),
            min=np.array([s.min for s in stats], dtype=float),
            max=np.array([s.max for s in stats], dtype=float),
            warnings=[e.warnings for e in ok],
            failed_ranks=np.array([e.rank for e in entries if e.failed], dtype=int),
        )
    return series


@dataclass(frozen=True)
class LossHistory:
    """A result's relative loss after each iteration (iteration 0 is the start), and the
    seconds since the start of its solve at each."""

    iteration: np.ndarray
    seconds: np.ndarray
    relative_loss: np.ndarray


def relative_history(result: WLRAResult) -> LossHistory:
    """``result``'s loss history (:attr:`WLRAResult.history`) as a :class:`LossHistory`."""
    points = result.history
    return LossHistory(iteration=np.array([p.iteration for p in points], dtype=int),
                       seconds=np.array([p.seconds for p in points], dtype=float),
                       relative_loss=np.array([p.relative_loss for p in points], dtype=float))


# Label -> (algorithm, options). The EM iterations count is added by refine_sweep.
REFINE_STARTS = {
    "EM from svd_w_practical (svd_w_em)": ("svd_w_em", {}),
    "EM from zero": ("em", {"init": "zero"}),
    "EM from svd": ("em", {"init": "svd"}),
}


def refine_sweep(problem: Problem, rank: int, n_iter: int, *, seed: int = 0) -> Sweep:
    """EM for ``n_iter`` iterations from each start in :data:`REFINE_STARTS`, at ``rank``.

    Each result's ``history`` holds the loss after every iteration; its elapsed time
    includes computing the start (so svd_w_em's curve begins after its SVD, as in Figure 4).
    ``tol=0`` turns EM's stopping rule off, so every curve has exactly ``n_iter`` iterations.
    """
    methods = [make_method(name, {**options, "n_iter": n_iter, "tol": 0.0}, label=label, shape=problem.shape)
               for label, (name, options) in REFINE_STARTS.items()]
    return make_sweep(problem, methods, [rank], 1, seed)


# --- Text: a generator's description --------------------------------------------------------

# A Sphinx cross-reference such as :class:`~pkg.Name`, :func:`pkg.f` or :meth:`title <target>`.
_SPHINX_ROLE = re.compile(r":(?:[\w-]+:)+`(~?)([^`<]+?)(?:\s*<[^`>]*>)?`")
# A numpydoc section header: a title line underlined with dashes.
_DOC_SECTION = re.compile(r"^[A-Z][\w ]*\n-{3,}\s*$", re.MULTILINE)


def _role_text(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def doc_description(obj, values: dict | None = None) -> str:
    """The description in ``obj``'s docstring, as Markdown for a reader who never saw the code.

    The text before the first numpydoc section (``Parameters``, ``Returns``, ...), with
    Sphinx roles reduced to their text as inline code (``:class:`~pkg.Name``` becomes
    ```Name```) and reST literals (````x````) turned into Markdown ones (```x```). A
    parameter named in ``values`` right after "rank-" or "rank " reads as its value: "Planted
    rank-`rank` A" becomes "Planted rank-5 A".
    """
    text = inspect.getdoc(obj) or ""
    section = _DOC_SECTION.search(text)
    if section is not None:
        text = text[:section.start()]
    text = _SPHINX_ROLE.sub(_role_text, text).replace("``", "`").strip()
    for name, value in (values or {}).items():
        text = re.sub(rf"(?<=rank[- ])`{re.escape(name)}`", f"{value:g}" if isinstance(value, float) else str(value), text)
    return text


# --- The landing page's example ---------------------------------------------------------------


class GroupLosses(NamedTuple):
    """A fit's weighted loss on the light points (weight 1) and on the heavy ones."""

    light: float
    heavy: float


@dataclass
class TeachingExample:
    """Points in the plane (rows of A), their weights and two rank-1 fits.

    ``W`` gives each point (row) one weight on both coordinates, so W has rank 1 and
    ``svd_w_practical`` returns the exact weighted optimum.
    """

    A: np.ndarray  # (n, 2) points
    W: np.ndarray  # (n, 2) weights, equal across each row
    heavy: np.ndarray  # bool (n,): the points whose weight the slider sets
    svd: WLRAResult
    weighted: WLRAResult

    @staticmethod
    def direction(result: WLRAResult) -> np.ndarray:
        """Unit direction of a rank-1 fit's line through the origin."""
        return truncated_svd(result.approx, 1, method="exact")[2][0]

    @property
    def weights_equal(self) -> bool:
        """True when every point has the same weight: the weighted fit is then the SVD's."""
        return bool(np.ptp(self.W) == 0)

    def group_losses(self, result: WLRAResult) -> GroupLosses:
        """``result``'s weighted loss split between the light and the heavy points."""
        per_point = np.sum((self.W * (self.A - result.approx)) ** 2, axis=1)
        return GroupLosses(light=float(per_point[~self.heavy].sum()), heavy=float(per_point[self.heavy].sum()))


def teaching_example(heavy_weight: float, *, n_points: int = 14, n_heavy: int = 3, seed: int = 0) -> TeachingExample:
    """A cloud of points along one direction plus ``n_heavy`` points off it.

    The off-direction points get weight ``heavy_weight``, all others 1. The unweighted
    rank-1 SVD ignores the weights; the weighted rank-1 solution turns toward the heavy
    points as their weight grows.
    """
    if heavy_weight <= 0:
        raise ValueError(f"heavy_weight must be > 0, got {heavy_weight}")
    rng = np.random.default_rng(seed)
    t = rng.uniform(-3, 3, n_points - n_heavy)
    main = np.column_stack([t, 0.35 * t]) + 0.25 * rng.standard_normal((t.size, 2))
    angle = np.deg2rad(70)
    s = rng.uniform(1.2, 2.2, n_heavy) * rng.choice([-1, 1], n_heavy)
    off = np.column_stack([s * np.cos(angle), s * np.sin(angle)]) + 0.1 * rng.standard_normal((n_heavy, 2))
    A = np.vstack([main, off])
    heavy = np.arange(n_points) >= n_points - n_heavy
    W = np.where(heavy, float(heavy_weight), 1.0)[:, None] * np.ones((1, 2))
    return TeachingExample(A, W, heavy, solve("svd", A, W, 1), solve("svd_w_practical", A, W, 1))
