"""Bit packing for the communication protocol: every message is real bytes.

:class:`BitWriter` appends fixed-width unsigned fields and packs them MSB first;
:class:`BitReader` reads them back. On top of them, two wire formats:

* sparse integer columns (:func:`write_sparse_columns`): the number of columns, then per
  column its index, its nonzero count and one (row index, value) record per nonzero;
* dense IEEE floats (:func:`write_floats`), row major, of 16, 32 or 64 bits.

Integer fields use ``ceil(log2(count))`` bits (:func:`index_bits`): row indices
``ceil(log2 n)``, column indices ``ceil(log2 d)``, nonzero counts ``ceil(log2(n + 1))``;
values of A are two's-complement integers of the chosen bit width.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "BIT_WIDTHS",
    "BitWriter",
    "BitReader",
    "index_bits",
    "field_widths",
    "write_floats",
    "read_floats",
    "write_sparse_columns",
    "read_sparse_columns",
    "sparse_column_bits",
]

# Bits per value: signed integers of A and IEEE floats of X.
BIT_WIDTHS = (16, 32, 64)


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
    """``(len(values), width)`` uint8 bits of ``values``, most significant first."""
    values = np.asarray(values, dtype=np.uint64).ravel()
    if width < 64 and np.any(values >> np.uint64(width)):
        raise ValueError(f"a value does not fit in {width} bits")
    # Unpack only the low bytes that hold the field: about one byte of memory per bit
    # (shifting a uint64 per bit would take eight).
    n_bytes = -(-width // 8)
    low_bytes = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - n_bytes:]
    return np.unpackbits(low_bytes, axis=1)[:, 8 * n_bytes - width:]


def _bit_values(bits: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_bit_matrix`: the uint64 values of the rows of a (count, width) bit array."""
    count, width = bits.shape
    n_bytes = -(-width // 8)
    padded = np.zeros((count, 8 * n_bytes), dtype=np.uint8)
    padded[:, 8 * n_bytes - width:] = bits
    big_endian = np.zeros((count, 8), dtype=np.uint8)
    big_endian[:, 8 - n_bytes:] = np.packbits(padded, axis=1)
    return big_endian.view(">u8").ravel().astype(np.uint64)


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

    def write_bits(self, bits: np.ndarray) -> None:
        """Append raw bits (a uint8 array of 0s and 1s), as laid out by the caller."""
        if bits.size:
            self._bits.append(bits)
            self.n_bits += bits.size

    def to_bytes(self) -> bytes:
        """The fields written so far, packed MSB first."""
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
        chunk = self._bits[self.position:end].reshape(count, total)
        self.position = end
        offsets = np.cumsum([0, *widths])
        return [_bit_values(chunk[:, start:stop]) for start, stop in zip(offsets[:-1], offsets[1:])]


def _to_twos_complement(values: np.ndarray, width: int) -> np.ndarray:
    """``width``-bit two's-complement codes of signed integers; ValueError for one that does not fit.

    The range is checked before the codes are masked to ``width`` bits: masking an
    out-of-range value would silently write another number.
    """
    signed = np.asarray(values, dtype=np.int64)
    if width < 64 and signed.size:
        low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
        outside = (signed < low) | (signed > high)
        if outside.any():
            raise ValueError(f"value {signed[outside][0]} does not fit in a {width}-bit signed field "
                             f"({low} to {high})")
    unsigned = signed.view(np.uint64)
    return unsigned if width == 64 else unsigned & np.uint64((1 << width) - 1)


def _from_twos_complement(values: np.ndarray, width: int) -> np.ndarray:
    if width == 64:
        return values.view(np.int64)
    signed = values.astype(np.int64)
    return np.where(signed >= 1 << (width - 1), signed - (1 << width), signed)


def _float_dtype(width: int):
    return {16: np.float16, 32: np.float32, 64: np.float64}[width]


def write_floats(writer: BitWriter, X: np.ndarray, width: int) -> None:
    """Append the entries of ``X`` (row major) as IEEE floats of ``width`` bits."""
    raw = np.ascontiguousarray(X, dtype=_float_dtype(width)).view(np.dtype(f"uint{width}"))
    writer.write(raw, width)


def read_floats(reader: BitReader, shape: tuple[int, int], width: int) -> np.ndarray:
    """Inverse of :func:`write_floats`: a ``shape`` array of ``width``-bit floats, as float64."""
    raw = reader.read(shape[0] * shape[1], width).astype(np.dtype(f"uint{width}"))
    return raw.view(_float_dtype(width)).astype(np.float64).reshape(shape)


def write_sparse_columns(writer: BitWriter, A: np.ndarray, columns, widths: dict[str, int]) -> None:
    """Sparse columns of integer ``A``.

    Format: the number of columns, then per column its index, its nonzero count and
    one (row index, value) record per nonzero (values in two's complement).
    """
    columns = np.asarray(columns, dtype=np.int64)
    writer.write([columns.size], widths["n_columns"])
    block = np.asarray(A)[:, columns]
    positions, rows = np.nonzero(block.T)  # by column, then by row within it
    counts = np.bincount(positions, minlength=columns.size)
    headers = _record_bits([(columns, widths["column"]), (counts, widths["count"])], columns.size)
    entries = _record_bits([(rows, widths["row"]),
                            (_to_twos_complement(block[rows, positions], widths["value"]), widths["value"])],
                           rows.size)
    # Column j's bits: its header, then its entries; all columns laid out in one pass.
    header_width, entry_width = headers.shape[1], entries.shape[1]
    lengths = header_width + counts * entry_width
    starts = np.cumsum(lengths) - lengths
    bits = np.empty(int(lengths.sum()), dtype=np.uint8)
    bits[starts[:, None] + np.arange(header_width)] = headers
    rank_in_column = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    entry_starts = starts[positions] + header_width + rank_in_column * entry_width
    bits[entry_starts[:, None] + np.arange(entry_width)] = entries
    writer.write_bits(bits)


def _record_bits(fields: list[tuple[object, int]], count: int) -> np.ndarray:
    """``(count, total width)`` bits of records made of these fields (0-bit fields take none)."""
    blocks = [_bit_matrix(values, width) for values, width in fields if width > 0]
    return np.hstack(blocks) if blocks else np.zeros((count, 0), dtype=np.uint8)


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

