"""The column-subset-selection protocol of Theorem 3.1, run for real, and its bit counts.

:func:`run_protocol` runs the protocol with every message serialized to bytes by the bit
packer of :mod:`.bits`, and the coordinator rebuilds its answer from those bytes and ``W``
alone. Its rounds:

1. each server selects ``min(|S|, d_i)`` candidate columns of its block of ``W o A`` and
   sends them sparsely (column index, nonzero count, then (row index, value) pairs);
2. the coordinator selects ``|S| = min(d, ceil(r k / eps))`` of the candidates (sorted:
   that is the order of the rows of X) and sends each server that did not send all of them
   the column indices of S and the columns it lacks;
3. each server fits its columns of ``W o A`` by least squares on ``(W o A)_S`` and sends the
   ``|S| x d_i`` coefficients X at the chosen bit width (IEEE float16/32/64).

With ``m = 1`` round 2 is empty and the messages are exactly those of Theorem 3.1: the
selected columns of A and X. The field widths of the wire format are in :mod:`.bits`.

:func:`bits_table` and :func:`bits_sweep` put a run's bits next to sending A raw, the
protocol's own bound, Theorem 3.1's O(.) and Theorem 1.5's lower bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..algorithms.css import SELECTIONS, select_columns
from ..linalg import divide_by_weights, numerical_rank, tail_mass, weighted_loss, weighted_mass
from ..options import Choices, Interval, Option, validate_fields
from .bits import (
    BIT_WIDTHS,
    BitReader,
    BitWriter,
    field_widths,
    read_floats,
    read_sparse_columns,
    sparse_column_bits,
    write_floats,
    write_sparse_columns,
)

__all__ = [
    "SELECTIONS",
    "SETTING_OPTIONS",
    "NOISE",
    "Setting",
    "Message",
    "ProtocolRun",
    "make_instance",
    "run_protocol",
    "raw_bits",
    "protocol_bits_bound",
    "serialized_bits_bound",
    "theorem_bits",
    "lower_bound_bits",
    "bits_table",
    "SWEEPABLE",
    "sweep_values",
    "bits_sweep",
]

# Weights of generated instances: W = U V^T with integer factors in 1..WEIGHT_LEVELS.
WEIGHT_LEVELS = 3


def _count(default: int, help_text: str) -> Option:
    return Option(default, (Interval(int, 1),), help_text)


# The parameters of the communication game (see Setting); their bounds on one another
# (s <= n, k <= min(n, d), m <= d) are checked by Setting itself.
SETTING_OPTIONS = {
    "n": _count(200, "rows of A"),
    "d": _count(200, "columns of A"),
    "sparsity": _count(100, "s, the most nonzeros in any column of A"),
    "rank": _count(2, "k, the target rank"),
    "weight_rank": _count(2, "r, the rank of W"),
    "eps": Option(0.5, (Interval(float, 0.0, closed="neither"),), "accuracy: the protocol sends ceil(r k / eps) columns"),
    "servers": _count(1, "m, servers holding contiguous blocks of A's columns"),
    "bit_width": Option(32, (Choices(BIT_WIDTHS),), "bits per entry of A (signed integer) and of X (IEEE float)"),
}
NOISE = Option(1, (Interval(int, 0, 1000),), "integer noise added to A's nonzeros (0: A is exactly rank k)")


@dataclass(frozen=True)
class Setting:
    """Parameters of the communication game, validated on construction (:data:`SETTING_OPTIONS`).

    Attributes
    ----------
    n, d : int
        Shape of A.
    sparsity : int
        s, the most nonzeros in any column of A.
    rank : int
        k, target rank.
    weight_rank : int
        r, rank of W.
    eps : float
        Accuracy parameter: the protocol selects ``ceil(r k / eps)`` columns (at most d).
    servers : int
        m, number of servers holding contiguous blocks of A's columns.
    bit_width : int
        Bits per entry of A (signed integer) and of X (IEEE float), one of 16, 32, 64.
    """

    n: int = SETTING_OPTIONS["n"].default
    d: int = SETTING_OPTIONS["d"].default
    sparsity: int = SETTING_OPTIONS["sparsity"].default
    rank: int = SETTING_OPTIONS["rank"].default
    weight_rank: int = SETTING_OPTIONS["weight_rank"].default
    eps: float = SETTING_OPTIONS["eps"].default
    servers: int = SETTING_OPTIONS["servers"].default
    bit_width: int = SETTING_OPTIONS["bit_width"].default

    def __post_init__(self):
        validate_fields(self, SETTING_OPTIONS, owner="Setting")
        if self.sparsity > self.n:
            raise ValueError(f"sparsity s={self.sparsity} cannot exceed n={self.n}")
        if self.rank > min(self.n, self.d):
            raise ValueError(f"rank k={self.rank} cannot exceed min(n, d)={min(self.n, self.d)}")
        if self.servers > self.d:
            raise ValueError(f"servers m={self.servers} cannot exceed the d={self.d} columns")

    @property
    def n_selected(self) -> int:
        """|S| = min(d, ceil(r k / eps)), the columns the protocol sends."""
        return min(self.d, math.ceil(self.weight_rank * self.rank / self.eps))

    def server_columns(self) -> list[np.ndarray]:
        """Global column indices held by each server (contiguous, sizes differ by <= 1)."""
        return np.array_split(np.arange(self.d), self.servers)


# -- instances ----------------------------------------------------------------------------

def make_instance(setting: Setting, *, noise: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random instance of the communication game.

    ``A`` (int64, n x d): each column is a signed integer multiple (1..3) of one of ``k``
    sparse integer base columns (s nonzeros, values +-1..7) plus integer noise in
    ``[-noise, noise]`` on the same rows, so A is close to rank k and has at most ``s``
    nonzeros per column. ``W`` (int64) is ``U V^T`` with integer factors in
    ``1..WEIGHT_LEVELS`` of width r: positive, and of rank r for generic draws.
    """
    noise = NOISE.validate(noise, name="noise", algorithm="make_instance")
    n, d, s, k, r = setting.n, setting.d, setting.sparsity, setting.rank, setting.weight_rank
    rng = np.random.default_rng(seed)
    base_rows = np.stack([rng.choice(n, size=s, replace=False) for _ in range(k)])
    base_values = rng.integers(1, 8, size=(k, s)) * rng.choice([-1, 1], size=(k, s))
    group = rng.integers(0, k, size=d)
    multiple = rng.integers(1, 4, size=d) * rng.choice([-1, 1], size=d)
    A = np.zeros((n, d), dtype=np.int64)
    values = multiple[:, None] * base_values[group] + rng.integers(-noise, noise + 1, size=(d, s))
    A[base_rows[group], np.arange(d)[:, None]] = values
    U = rng.integers(1, WEIGHT_LEVELS + 1, size=(n, r))
    V = rng.integers(1, WEIGHT_LEVELS + 1, size=(d, r))
    return A, U @ V.T


def _check_instance(A: np.ndarray, W: np.ndarray, setting: Setting) -> None:
    if A.shape != (setting.n, setting.d) or W.shape != A.shape:
        raise ValueError(f"A and W must have shape ({setting.n}, {setting.d}), got {A.shape} and {W.shape}")
    if not np.issubdtype(A.dtype, np.integer):
        raise ValueError("A must hold integers (Definition 1.4)")
    limit = 1 << (setting.bit_width - 1)
    if A.size and (A.min() < -limit or A.max() >= limit):
        raise ValueError(f"entries of A do not fit in {setting.bit_width}-bit signed integers")
    densest = int(np.count_nonzero(A, axis=0).max())
    if densest > setting.sparsity:
        raise ValueError(f"a column of A has {densest} nonzeros, more than s={setting.sparsity}")
    if (W < 0).any():
        raise ValueError("W must be nonnegative")


# -- the protocol of Theorem 3.1 ----------------------------------------------------------

@dataclass
class Message:
    """One serialized message: ``n_bits`` fields packed into ``payload``."""

    sender: str
    receiver: str
    kind: str
    payload: bytes
    n_bits: int


@dataclass
class ProtocolRun:
    """Everything a run of :func:`run_protocol` sent and what the coordinator output.

    Attributes
    ----------
    messages : list of Message
    selected : ndarray
        S, sorted global column indices; the rows of X follow this order.
    X : ndarray of shape (|S|, d)
        Coefficients as the coordinator decoded them.
    approx : ndarray of shape (n, d)
        The coordinator's output ``W^{o-1} o ((W o A)_S X)``, rebuilt from payloads and W.
    loss : float
        ``||W o (A - approx)||_F^2``.
    lower_bound : float
        ``||(W o A)_{-rk}||_F^2``, a lower bound on the rank-k optimum when rank(W) <= r.
    reference : float
        ``||W o A||_F^2``, the loss of the zero matrix.
    weight_rank_observed : int
        Numerical rank of W (the bound is proven only if this is <= r).
    """

    setting: Setting
    messages: list[Message]
    selected: np.ndarray
    X: np.ndarray
    approx: np.ndarray
    loss: float
    lower_bound: float
    reference: float
    weight_rank_observed: int
    extra: dict = field(default_factory=dict)

    @property
    def n_bits(self) -> int:
        return sum(m.n_bits for m in self.messages)

    @property
    def n_bytes(self) -> int:
        return sum(len(m.payload) for m in self.messages)

    @property
    def approximation_ratio(self) -> float:
        """loss / lower bound: an upper bound on the true approximation factor.

        Both are compared with ``||W o A||_F^2`` first: when the bound is zero up to
        rounding, an exact solution has ratio 1 and any other an infinite ratio.
        """
        tolerance = 1e-12 * self.reference
        if self.lower_bound > tolerance:
            return self.loss / self.lower_bound
        return 1.0 if self.loss <= tolerance else float("inf")


def _selection_rank(setting: Setting, n_columns: int) -> int:
    return max(1, min(setting.weight_rank * setting.rank, n_columns))


def _serialize_columns(A: np.ndarray, columns, widths) -> tuple[bytes, int]:
    writer = BitWriter()
    write_sparse_columns(writer, A, columns, widths)
    return writer.to_bytes(), writer.n_bits


def run_protocol(
    A: np.ndarray,
    W: np.ndarray,
    setting: Setting,
    *,
    selection: str = "pivoted_qr",
    seed: int = 0,
) -> ProtocolRun:
    """Run the column subset selection protocol (Theorem 3.1, m servers) on ``(A, W)``.

    Servers read A; the coordinator sees only W and the bytes it receives (see the
    module docstring for the rounds, and :mod:`.bits` for the wire format).

    Parameters
    ----------
    A : ndarray of int, shape (n, d)
        At most ``setting.sparsity`` nonzeros per column, entries fitting ``bit_width``.
    W : ndarray, shape (n, d)
        Nonnegative weights known to every party.
    setting : Setting
    selection : {"pivoted_qr", "leverage", "uniform"}
        Column selection rule used by the servers and the coordinator.
    seed : int
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    A = np.asarray(A)
    W = np.asarray(W, dtype=np.float64)
    _check_instance(A, W, setting)
    n, d, b = setting.n, setting.d, setting.bit_width
    widths = field_widths(n, d, b)
    size = setting.n_selected
    blocks = setting.server_columns()
    WA = W * A
    messages: list[Message] = []

    # Round 1: servers -> coordinator, candidate columns.
    candidates = []
    for i, cols in enumerate(blocks):
        count = min(size, cols.size)
        local = select_columns(WA[:, cols], count, selection, rank=_selection_rank(setting, count), seed=seed + i)
        candidates.append(np.sort(cols[np.asarray(local)]))
        payload, bits = _serialize_columns(A, candidates[-1], widths)
        messages.append(Message(f"server {i + 1}", "coordinator", "candidate columns", payload, bits))

    # Coordinator: decode (W and payloads only), select S.
    received = [read_sparse_columns(BitReader(m.payload), n, widths) for m in messages]
    cand_index = np.concatenate([index for index, _ in received])
    cand_values = np.hstack([values for _, values in received])
    pick = select_columns(W[:, cand_index] * cand_values, size, selection,
                          rank=_selection_rank(setting, size), seed=seed)
    order = np.argsort(cand_index[np.asarray(pick)])
    selected = cand_index[np.asarray(pick)][order]
    A_selected = cand_values[:, np.asarray(pick)][:, order]

    # Round 2: coordinator -> servers that do not know S yet: S and the columns they lack.
    server_selected = []
    for i, cols in enumerate(blocks):
        if np.array_equal(candidates[i], selected):
            server_selected.append(A[:, selected])  # it sent exactly S, so it knows S
            continue
        writer = BitWriter()
        writer.write(selected, widths["column"])
        lacking = np.flatnonzero(~np.isin(selected, cols))
        write_sparse_columns(writer, A_selected, lacking, widths)
        message = Message("coordinator", f"server {i + 1}", "selected columns", writer.to_bytes(), writer.n_bits)
        messages.append(message)
        server_selected.append(_server_decode_selected(message.payload, A, cols, size, widths))

    # Round 3: servers -> coordinator, least-squares coefficients of their columns.
    coefficient_messages = []
    for i, cols in enumerate(blocks):
        basis = W[:, selected] * server_selected[i]
        X_block = np.linalg.lstsq(basis, WA[:, cols], rcond=None)[0]
        writer = BitWriter()
        write_floats(writer, X_block, b)
        coefficient_messages.append(
            Message(f"server {i + 1}", "coordinator", "coefficients X", writer.to_bytes(), writer.n_bits))
    messages.extend(coefficient_messages)

    # Coordinator output, from the payloads and W alone.
    X = np.hstack([read_floats(BitReader(m.payload), (size, cols.size), b)
                   for m, cols in zip(coefficient_messages, blocks)])
    approx = divide_by_weights((W[:, selected] * A_selected) @ X, W)
    return ProtocolRun(
        setting=setting,
        messages=messages,
        selected=selected,
        X=X,
        approx=approx,
        loss=weighted_loss(A.astype(np.float64), W, approx),
        lower_bound=tail_mass(WA, min(setting.weight_rank * setting.rank, min(n, d))),
        reference=weighted_mass(A.astype(np.float64), W),
        weight_rank_observed=numerical_rank(W),
        extra={"selection": selection, "seed": seed},
    )


def _server_decode_selected(payload: bytes, A: np.ndarray, cols: np.ndarray, size: int, widths) -> np.ndarray:
    """A server's view of A_S: its own columns plus those decoded from the coordinator."""
    reader = BitReader(payload)
    selected = reader.read(size, widths["column"]).astype(np.int64)
    lacking_positions, lacking_values = read_sparse_columns(reader, A.shape[0], widths)
    A_selected = A[:, selected] * np.isin(selected, cols)
    A_selected[:, lacking_positions] = lacking_values
    return A_selected


# -- bit counts to compare ----------------------------------------------------------------

def raw_bits(A: np.ndarray, setting: Setting) -> dict[str, int]:
    """Bits to send A whole, from real serializations.

    ``dense``: every entry as a ``bit_width``-bit integer (``ndarray.tobytes``);
    ``sparse``: each server's columns in the sparse column format.
    """
    dense = len(np.ascontiguousarray(A, dtype=np.dtype(f"int{setting.bit_width}")).tobytes()) * 8
    widths = field_widths(setting.n, setting.d, setting.bit_width)
    sparse = sum(_serialize_columns(A, cols, widths)[1] for cols in setting.server_columns())
    return {"dense": dense, "sparse": sparse}


def protocol_bits_bound(setting: Setting) -> int:
    """Bits :func:`run_protocol` sends at most, with its constants, if every column has
    ``s`` nonzeros; equal to the count of a run when m = 1 and every column has ``s``.

    Round 1: ``min(|S|, d_i)`` sparse columns per server; round 2 (m > 1): ``|S|`` indices
    and at most ``|S|`` sparse columns per server; round 3: ``|S| d`` floats.
    """
    widths = field_widths(setting.n, setting.d, setting.bit_width)
    size = setting.n_selected
    s = setting.sparsity
    bits = 0
    for cols in setting.server_columns():
        bits += sparse_column_bits([s] * min(size, cols.size), widths)
        if setting.servers > 1:
            bits += size * widths["column"] + sparse_column_bits([s] * size, widths)
    return bits + size * setting.d * setting.bit_width


def serialized_bits_bound(setting: Setting) -> int:
    """Bits a run and :func:`raw_bits` serialize at most: :func:`protocol_bits_bound` plus
    A in the sparse column format with ``s`` nonzeros in every column.

    The serialization holds about a byte per bit in memory, so this measures a run's cost.
    """
    widths = field_widths(setting.n, setting.d, setting.bit_width)
    raw_sparse = sum(sparse_column_bits([setting.sparsity] * cols.size, widths) for cols in setting.server_columns())
    return protocol_bits_bound(setting) + raw_sparse


def theorem_bits(setting: Setting) -> float:
    """``(m s r k / eps + r k d) log2(n d)``: Theorem 3.1's O(.) at constant 1 (m = 1)."""
    srk = setting.servers * setting.sparsity * setting.weight_rank * setting.rank / setting.eps
    rkd = setting.weight_rank * setting.rank * setting.d
    return (srk + rkd) * math.log2(setting.n * setting.d)


def lower_bound_bits(setting: Setting) -> int:
    """``s r k``: the random bits any finite-factor protocol conveys on Theorem 1.5's instance."""
    return setting.sparsity * setting.weight_rank * setting.rank


def bits_table(run: ProtocolRun, A: np.ndarray) -> list[dict]:
    """Rows (what, bits, how obtained) comparing the protocol with the alternatives."""
    setting = run.setting
    raw = raw_bits(A, setting)
    return [
        {"what": "send A raw (dense)", "bits": raw["dense"], "source": "serialized"},
        {"what": "send A raw (sparse)", "bits": raw["sparse"], "source": "serialized"},
        {"what": "CSS protocol (this run)", "bits": run.n_bits, "source": "serialized"},
        {"what": "CSS protocol bound, our constants", "bits": protocol_bits_bound(setting), "source": "formula"},
        {"what": "(msrk/eps + rkd) log2(nd)", "bits": theorem_bits(setting), "source": "Theorem 3.1, constant 1"},
        {"what": "lower bound srk", "bits": lower_bound_bits(setting), "source": "Theorem 1.5, constant 1"},
    ]


SWEEPABLE = ("sparsity", "d", "rank", "weight_rank", "eps", "servers")


def sweep_values(base: Setting, parameter: str, n_points: int = 8) -> list:
    """A geometric grid of values of ``parameter`` around ``base`` that keep it valid."""
    if parameter not in SWEEPABLE:
        raise ValueError(f"parameter must be one of {SWEEPABLE}, got {parameter!r}")
    if parameter == "eps":
        return [float(v) for v in np.geomspace(0.1, 2.0, n_points).round(3)]
    low, high = {
        "sparsity": (1, base.n),
        "d": (max(base.rank, base.servers, 2), 4 * base.d),
        "rank": (1, min(base.n, base.d, 32)),
        "weight_rank": (1, 8),
        "servers": (1, min(base.d, 32)),
    }[parameter]
    return [int(v) for v in np.unique(np.geomspace(low, high, n_points).round().astype(int))]


def bits_sweep(base: Setting, parameter: str, values, *, noise: int = 1, selection: str = "pivoted_qr",
               seed: int = 0) -> list[dict]:
    """Run the protocol on a fresh instance for each value of one parameter of ``base``.

    Returns
    -------
    list of dict
        One row per value: ``parameter``, ``value``, every entry of :func:`bits_table`
        (by its ``what``), and the run's ``loss`` and ``lower_bound``.
    """
    if parameter not in SWEEPABLE:
        raise ValueError(f"parameter must be one of {SWEEPABLE}, got {parameter!r}")
    rows = []
    for value in values:
        setting = replace(base, **{parameter: value})
        A, W = make_instance(setting, noise=noise, seed=seed)
        run = run_protocol(A, W, setting, selection=selection, seed=seed)
        row = {"parameter": parameter, "value": value, "loss": run.loss, "lower_bound": run.lower_bound}
        row.update({entry["what"]: entry["bits"] for entry in bits_table(run, A)})
        rows.append(row)
    return rows

