"""Communication complexity of WLRA (section 3 of the paper), run for real.

The setting (Definition 1.4, distributed form): the columns of an integer matrix ``A``
(n x d, at most ``s`` nonzeros per column) are split among ``m`` servers; everyone knows the
integer rank-``r`` weights ``W``; a coordinator must output a rank-``k`` WLRA.

:func:`run_protocol` runs the column-subset-selection protocol of Theorem 3.1 with every
message serialized to bytes by a bit packer, and the coordinator rebuilds its answer from
those bytes and ``W`` alone. Its rounds:

1. each server selects ``min(|S|, d_i)`` candidate columns of its block of ``W o A`` and
   sends them sparsely (column index, nonzero count, then (row index, value) pairs);
2. the coordinator selects ``|S| = min(d, ceil(r k / eps))`` of the candidates (sorted:
   that is the order of the rows of X) and sends each server that did not send all of them
   the column indices of S and the columns it lacks;
3. each server fits its columns of ``W o A`` by least squares on ``(W o A)_S`` and sends the
   ``|S| x d_i`` coefficients X at the chosen bit width (IEEE float16/32/64).

With ``m = 1`` round 2 is empty and the messages are exactly those of Theorem 3.1: the
selected columns of A and X. Integer fields use ``ceil(log2(count))`` bits: row indices
``ceil(log2 n)``, column indices ``ceil(log2 d)``, nonzero counts ``ceil(log2(n + 1))``;
entries of A are two's-complement integers of the chosen bit width.

:func:`lower_bound_instance` builds the hard instance of Theorem 1.5 (block diagonal
mask of Definition 3.2) on which the optimum is 0, so that any finite-factor solution
reveals the ``s r k`` random bits of ``A_dense``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .algorithms.css import select_columns
from .linalg import divide_by_weights, numerical_rank, tail_mass, weighted_loss, weighted_mass

__all__ = [
    "BIT_WIDTHS",
    "Setting",
    "BitWriter",
    "BitReader",
    "Message",
    "ProtocolRun",
    "field_widths",
    "make_instance",
    "run_protocol",
    "raw_bits",
    "protocol_bits_bound",
    "theorem_bits",
    "lower_bound_bits",
    "bits_table",
    "SWEEPABLE",
    "sweep_values",
    "bits_sweep",
    "LowerBoundInstance",
    "block_diagonal_mask",
    "lower_bound_instance",
    "recover_dense",
    "LOWER_BOUND_SOLUTIONS",
    "lower_bound_solution",
    "recovery_report",
]

BIT_WIDTHS = (16, 32, 64)
SELECTIONS = ("pivoted_qr", "leverage", "uniform")
# Weights of generated instances: W = U V^T with integer factors in 1..WEIGHT_LEVELS.
WEIGHT_LEVELS = 3


@dataclass(frozen=True)
class Setting:
    """Parameters of the communication game, validated on construction.

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

    n: int
    d: int
    sparsity: int
    rank: int
    weight_rank: int
    eps: float
    servers: int = 1
    bit_width: int = 32

    def __post_init__(self):
        for name in ("n", "d", "sparsity", "rank", "weight_rank", "servers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.sparsity > self.n:
            raise ValueError(f"sparsity s={self.sparsity} cannot exceed n={self.n}")
        if self.rank > min(self.n, self.d):
            raise ValueError(f"rank k={self.rank} cannot exceed min(n, d)={min(self.n, self.d)}")
        if self.servers > self.d:
            raise ValueError(f"servers m={self.servers} cannot exceed the d={self.d} columns")
        if not (isinstance(self.eps, (int, float)) and 0 < self.eps and math.isfinite(self.eps)):
            raise ValueError(f"eps must be a positive number, got {self.eps!r}")
        if self.bit_width not in BIT_WIDTHS:
            raise ValueError(f"bit_width must be one of {BIT_WIDTHS}, got {self.bit_width!r}")

    @property
    def n_selected(self) -> int:
        """|S| = min(d, ceil(r k / eps)), the columns the protocol sends."""
        return min(self.d, math.ceil(self.weight_rank * self.rank / self.eps))

    def server_columns(self) -> list[np.ndarray]:
        """Global column indices held by each server (contiguous, sizes differ by <= 1)."""
        return np.array_split(np.arange(self.d), self.servers)


# -- bit packing --------------------------------------------------------------------------

def index_bits(count: int) -> int:
    """Bits for an index in ``range(count)``: ``ceil(log2(count))`` (0 when count <= 1)."""
    return max(int(count) - 1, 0).bit_length()


def field_widths(n: int, d: int, bit_width: int) -> dict[str, int]:
    """Bits per field of the sparse column format (see :func:`write_sparse_columns`)."""
    return {
        "n_columns": index_bits(d + 1),
        "column": index_bits(d),
        "count": index_bits(n + 1),
        "row": index_bits(n),
        "value": bit_width,
    }


def _bit_matrix(values, width: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.uint64).ravel()
    if width < 64 and np.any(values >> np.uint64(width)):
        raise ValueError(f"a value does not fit in {width} bits")
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)


class BitWriter:
    """Append fixed-width unsigned fields; :meth:`to_bytes` packs them MSB first.

    ``n_bits`` is the sum of the widths written; the packed payload has
    ``ceil(n_bits / 8)`` bytes (the last byte zero-padded).
    """

    def __init__(self):
        self._bits: list[np.ndarray] = []
        self.n_bits = 0

    def write(self, values, width: int) -> None:
        """Append each of ``values`` (nonnegative integers < 2**width) in ``width`` bits."""
        self.write_records([(values, width)])

    def write_records(self, fields: list[tuple[object, int]]) -> None:
        """Append records field by field: record i is ``(values_1[i], values_2[i], ...)``."""
        blocks = [_bit_matrix(values, width) for values, width in fields if width > 0]
        if not blocks or blocks[0].shape[0] == 0:
            return
        record = np.hstack(blocks)
        self._bits.append(record.ravel())
        self.n_bits += record.size

    def to_bytes(self) -> bytes:
        if not self._bits:
            return b""
        return np.packbits(np.concatenate(self._bits)).tobytes()


class BitReader:
    """Read back what a :class:`BitWriter` wrote, field by field."""

    def __init__(self, payload: bytes):
        self._bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
        self.position = 0

    def read(self, count: int, width: int) -> np.ndarray:
        """``count`` unsigned values of ``width`` bits, as uint64."""
        return self.read_records(count, [width])[0]

    def read_records(self, count: int, widths: list[int]) -> list[np.ndarray]:
        """``count`` records of the given field widths; one uint64 array per field."""
        total = sum(widths)
        end = self.position + count * total
        if end > self._bits.size:
            raise ValueError("payload is shorter than its fields say")
        chunk = self._bits[self.position:end].reshape(count, total).astype(np.uint64)
        self.position = end
        out, offset = [], 0
        for width in widths:
            shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
            part = chunk[:, offset:offset + width] << shifts
            out.append(np.bitwise_or.reduce(part, axis=1) if width else np.zeros(count, np.uint64))
            offset += width
        return out


def _to_twos_complement(values: np.ndarray, width: int) -> np.ndarray:
    unsigned = np.asarray(values, dtype=np.int64).view(np.uint64)
    return unsigned if width == 64 else unsigned & np.uint64((1 << width) - 1)


def _from_twos_complement(values: np.ndarray, width: int) -> np.ndarray:
    if width == 64:
        return values.view(np.int64)
    signed = values.astype(np.int64)
    return np.where(signed >= 1 << (width - 1), signed - (1 << width), signed)


def _float_dtype(width: int):
    return {16: np.float16, 32: np.float32, 64: np.float64}[width]


def quantize(X: np.ndarray, width: int) -> np.ndarray:
    """``X`` rounded to IEEE floats of ``width`` bits, returned as float64."""
    return np.asarray(X, dtype=_float_dtype(width)).astype(np.float64)


def write_floats(writer: BitWriter, X: np.ndarray, width: int) -> None:
    """Append the entries of ``X`` (row major) as IEEE floats of ``width`` bits."""
    raw = np.ascontiguousarray(X, dtype=_float_dtype(width)).view(np.dtype(f"uint{width}"))
    writer.write(raw, width)


def read_floats(reader: BitReader, shape: tuple[int, int], width: int) -> np.ndarray:
    raw = reader.read(shape[0] * shape[1], width).astype(np.dtype(f"uint{width}"))
    return raw.view(_float_dtype(width)).astype(np.float64).reshape(shape)


def write_sparse_columns(writer: BitWriter, A: np.ndarray, columns, widths: dict[str, int]) -> None:
    """Sparse columns of integer ``A``.

    Format: the number of columns, then per column its index, its nonzero count and
    one (row index, value) record per nonzero (values in two's complement).
    """
    columns = np.asarray(columns, dtype=np.int64)
    writer.write([columns.size], widths["n_columns"])
    for j in columns:
        rows = np.flatnonzero(A[:, j])
        writer.write_records([([j], widths["column"]), ([rows.size], widths["count"])])
        writer.write_records([
            (rows, widths["row"]),
            (_to_twos_complement(A[rows, j], widths["value"]), widths["value"]),
        ])


def read_sparse_columns(reader: BitReader, n: int, widths: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`write_sparse_columns`: ``(column indices, dense n x count int64)``."""
    count = int(reader.read(1, widths["n_columns"])[0])
    indices = np.empty(count, dtype=np.int64)
    dense = np.zeros((n, count), dtype=np.int64)
    for c in range(count):
        column, nnz = reader.read_records(1, [widths["column"], widths["count"]])
        indices[c] = int(column[0])
        rows, values = reader.read_records(int(nnz[0]), [widths["row"], widths["value"]])
        dense[rows.astype(np.int64), c] = _from_twos_complement(values, widths["value"])
    return indices, dense


def sparse_column_bits(nnz_per_column, widths: dict[str, int]) -> int:
    """Bits :func:`write_sparse_columns` uses for columns with these nonzero counts."""
    nnz = np.asarray(nnz_per_column, dtype=np.int64)
    per_column = widths["column"] + widths["count"]
    return int(widths["n_columns"] + nnz.size * per_column + nnz.sum() * (widths["row"] + widths["value"]))


# -- instances ----------------------------------------------------------------------------

def make_instance(setting: Setting, *, noise: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random instance of the communication game.

    ``A`` (int64, n x d): each column is a signed integer multiple (1..3) of one of ``k``
    sparse integer base columns (s nonzeros, values +-1..7) plus integer noise in
    ``[-noise, noise]`` on the same rows, so A is close to rank k and has at most ``s``
    nonzeros per column. ``W`` (int64) is ``U V^T`` with integer factors in
    ``1..WEIGHT_LEVELS`` of width r: positive, and of rank r for generic draws.
    """
    if isinstance(noise, bool) or not isinstance(noise, (int, np.integer)) or not 0 <= noise <= 1000:
        raise ValueError(f"noise must be an integer between 0 and 1000, got {noise!r}")
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

    def bits_by_kind(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for message in self.messages:
            totals[message.kind] = totals.get(message.kind, 0) + message.n_bits
        return totals

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
    module docstring for the rounds and the wire format).

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


# -- the lower-bound construction of Theorem 1.5 ------------------------------------------

def block_diagonal_mask(n: int, r: int) -> np.ndarray:
    """Definition 3.2: r diagonal all-ones blocks of size n/r, zeros elsewhere (n x n)."""
    if r < 1 or n < 1 or n % r:
        raise ValueError(f"n={n} must be a positive multiple of r={r}")
    return np.kron(np.eye(r), np.ones((n // r, n // r)))


@dataclass
class LowerBoundInstance:
    """The hard instance of Theorem 1.5.

    Attributes
    ----------
    A_dense : ndarray of shape (s r, k)
        The uniformly random bits that a finite-factor solution reveals.
    W : ndarray of shape (n, n)
        The block diagonal mask.
    A : ndarray of shape (n, n)
        The input: ``W o [A_pad, ..., A_pad]``, at most s nonzeros per column.
    A_star : ndarray of shape (n, n)
        ``[A_pad, ..., A_pad]`` (r copies), rank <= k and weighted loss 0: an optimum.
    """

    n: int
    r: int
    s: int
    k: int
    A_dense: np.ndarray
    W: np.ndarray
    A: np.ndarray
    A_star: np.ndarray


def lower_bound_instance(n: int, r: int, s: int, k: int, *, seed: int = 0) -> LowerBoundInstance:
    """Build Theorem 1.5's instance: row block j of ``A_pad`` holds rows ``j s .. (j+1) s``
    of a random binary ``A_dense`` in its first s rows and first k columns.
    """
    W = block_diagonal_mask(n, r)
    block = n // r
    if not (1 <= s <= block and 1 <= k <= block):
        raise ValueError(f"need 1 <= s, k <= n/r = {block}, got s={s}, k={k}")
    A_dense = np.random.default_rng(seed).integers(0, 2, size=(s * r, k))
    A_pad = np.zeros((n, block))
    for j in range(r):
        A_pad[j * block:j * block + s, :k] = A_dense[j * s:(j + 1) * s]
    A_star = np.tile(A_pad, (1, r))
    return LowerBoundInstance(n, r, s, k, A_dense, W, W * A_star, A_star)


def recover_dense(instance: LowerBoundInstance, approx: np.ndarray) -> np.ndarray:
    """Read ``A_dense`` back from a solution's diagonal blocks (rounded to integers)."""
    block = instance.n // instance.r
    s, k = instance.s, instance.k
    rows = [approx[j * block:j * block + s, j * block:j * block + k] for j in range(instance.r)]
    return np.rint(np.vstack(rows)).astype(np.int64)


# Solutions the lower-bound demo can try: label -> (algorithm or None for A*, uses weight rank).
LOWER_BOUND_SOLUTIONS = {
    "svd_w (weight rank r)": ("svd_w", True),
    "A* (rank-k construction)": (None, False),
    "svd (unweighted)": ("svd", False),
    "em": ("em", False),
    "als": ("als", False),
}


def lower_bound_solution(instance: LowerBoundInstance, method: str, *, seed: int = 0) -> np.ndarray:
    """A solution of the rank-k WLRA problem on the hard instance (see :data:`LOWER_BOUND_SOLUTIONS`)."""
    if method not in LOWER_BOUND_SOLUTIONS:
        raise ValueError(f"method must be one of {list(LOWER_BOUND_SOLUTIONS)}, got {method!r}")
    from .api import solve

    name, with_weight_rank = LOWER_BOUND_SOLUTIONS[method]
    if name is None:
        return instance.A_star
    options = {"weight_rank": instance.r} if with_weight_rank else {}
    return solve(name, instance.A, instance.W, instance.k, seed=seed, **options).approx


def recovery_report(instance: LowerBoundInstance, approx: np.ndarray) -> dict:
    """What a solution reveals: its loss, its largest error on W's support, and A_dense.

    ``recovered`` is True when rounding the solution's diagonal blocks gives back the
    planted ``A_dense`` exactly (its ``s r k`` random bits).
    """
    support = instance.W > 0
    dense = recover_dense(instance, approx)
    return {
        "loss": weighted_loss(instance.A, instance.W, approx),
        "max_support_error": float(np.abs(approx - instance.A)[support].max()),
        "recovered_dense": dense,
        "wrong_bits": int(np.count_nonzero(dense != instance.A_dense)),
        "recovered": bool(np.array_equal(dense, instance.A_dense)),
        "bits": instance.A_dense.size,
    }
