"""A corpus of hostile inputs for WLRA Explorer's loader, CLI and Data page.

Every file is generated when the tests run; nothing large is stored or written to disk.
The "zip bombs" are *declared*: an .npy header (alone, or as an .npz member) claims a
huge shape while the payload is a few bytes, or the compressed payload is a repeated
full-flush deflate block that costs a millisecond to build however much it expands to.
The one file that really expands to gigabytes (eight 50-million-entry members in 3 MB)
is assembled from one such block and is only ever refused from its headers.

Each :class:`Case` says what a user must see: ``error`` is a regular expression the
loader's one-line message must match after ``"<file at fault>: "`` (None: the file loads),
``cli_error`` the same when the CLI lifts the upload caps (None: same as ``error``).

Run ``python tests/hostile_corpus.py DIR`` to write the corpus (small files only) to DIR.
"""
from __future__ import annotations

import codecs
import io
import json
import pickle
import re
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

F8 = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }"
MiB = 2**20


@dataclass(frozen=True)
class Case:
    """One hostile (or awkward but valid) input.

    Attributes
    ----------
    name : str
        File name, as uploaded and as written to disk.
    make : callable
        Returns the file's bytes.
    error : str or None
        Regex the message must match after ``"<fault>: "``; None when the file loads.
    cli_error : str or None
        The regex when the caps are lifted (CLI), if it differs from ``error``.
    weights : (name, make) or None
        A weights file uploaded with it.
    fault : str or None
        The file the message names (default: ``name``).
    warnings : tuple of str
        Regexes, one per load warning expected (files that load).
    shape : (int, int) or None
        A's shape when the file loads.
    on_disk : bool
        False for the few hundred-MB inputs: used in memory only, never written.
    in_cli : bool
        False when the CLI (caps lifted) would legitimately read gigabytes.
    model : bool
        It loads with a complete trained-MLP model (the compress command can run).
    """

    name: str
    make: Callable[[], bytes]
    error: str | None = None
    cli_error: str | None = None
    weights: tuple[str, Callable[[], bytes]] | None = None
    fault: str | None = None
    warnings: tuple[str, ...] = ()
    shape: tuple[int, int] | None = None
    on_disk: bool = True
    in_cli: bool = True
    model: bool = False

    @property
    def loads(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        """What the message starts with: the file at fault."""
        return self.fault or self.name

    def expected(self, capped: bool) -> str | None:
        return self.error if capped or self.cli_error is None else self.cli_error


# ---------------------------------------------------------------------------- builders


def npy(array, version=None) -> bytes:
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buffer, np.asarray(array), version=version, allow_pickle=False)
    return buffer.getvalue()


def npy_raw(header: str, data: bytes = b"", version=(1, 0), length: int | None = None) -> bytes:
    """A .npy file with exactly this header text (padded like numpy's) and data."""
    text = header.encode("utf8" if version == (3, 0) else "latin1")
    size_format = "<H" if version == (1, 0) else "<I"
    prefix = 6 + 2 + struct.calcsize(size_format)
    text += b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_format, len(text) if length is None else length) + text + data


def npz(*unnamed, compress=False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, *unnamed, **arrays)
    return buffer.getvalue()


def zip_of(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def patched_zip(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    """Set the flag bits or the compression method of every member (local and central headers)."""
    data = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        while at >= 0:
            if flags is not None:
                data[at + flag_at:at + flag_at + 2] = struct.pack("<H", flags)
            if method is not None:
                data[at + method_at:at + method_at + 2] = struct.pack("<H", method)
            at = data.find(signature, at + 4)
    return bytes(data)


def overwritten(data: bytes, start: int, count: int) -> bytes:
    """``data`` with ``count`` bytes from ``start`` replaced by 0xff (corrupt compressed data)."""
    return data[:start] + b"\xff" * count + data[start + count:]


def _deflated_zeros(n_bytes: int, header: bytes) -> tuple[bytes, int]:
    """Raw deflate of ``header + n_bytes zeros`` and its CRC-32, built from repeated blocks.

    A full flush makes each compressed block independent of what came before, so one
    compressed MiB of zeros repeated stands for any number of MiB.
    """
    def block(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    whole, rest = divmod(n_bytes, MiB)
    zeros = bytes(MiB)
    final = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = block(header) + block(zeros) * whole + block(bytes(rest)) + final.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    for _ in range(whole):
        crc = zlib.crc32(zeros, crc)
    return stream, zlib.crc32(bytes(rest), crc)


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already-deflated members ``(name, deflated, crc, size)`` (no ZIP64: < 4 GiB each)."""
    out, central = io.BytesIO(), []
    for name, deflated, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 8, 0, 0x21, crc, len(deflated), size,
                              len(encoded), 0) + encoded + deflated)
        central.append(struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 8, 0, 0x21, crc,
                                   len(deflated), size, len(encoded), 0, 0, 0, 0, 0o644 << 16, offset) + encoded)
    start = out.tell()
    directory = b"".join(central)
    out.write(directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                      len(directory), start, 0))
    return out.getvalue()


def bomb_npz() -> bytes:
    """The reviewer's 3 MB .npz: eight members of 50 million float64 zeros (3.2 GB in all).

    Members A, W and model_* are all ones the loader reads; each is exactly at the
    per-array cap, so only a cap on the total stops it.
    """
    shape = (5000, 10000)
    header = npy_raw(F8 % (shape,))
    deflated, crc = _deflated_zeros(8 * shape[0] * shape[1], header)
    size = len(header) + 8 * shape[0] * shape[1]
    names = ["A.npy", "W.npy"] + [f"model_part{i}.npy" for i in range(6)]
    return _raw_zip([(name, deflated, crc, size) for name in names])


def declared_member_npz(shape, name="A.npy") -> bytes:
    """An .npz whose member header declares ``shape`` (float64) with a few KiB of payload."""
    return zip_of({name: npy_raw(F8 % (shape,), bytes(4096))}, zipfile.ZIP_DEFLATED)


def many_members_npz(count=30_000) -> bytes:
    """A zip of ``count`` empty members: a central directory of about 1.7 MiB."""
    empty = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return _raw_zip([(f"m{i}.npy", empty, 0, 0) for i in range(count)])


def text(rows, sep=",") -> str:
    return "".join(sep.join(repr(float(v)) for v in row) + "\n" for row in rows)


GOOD = np.arange(1.0, 7.0).reshape(3, 2)
GOOD_TEXT = text(GOOD)
GOOD_W = np.full((3, 2), 0.5)


def toy_mlp_model(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The model arrays of a 12-5-3 MLP (hidden kernel excluded) with 7 test images of 3 x 4 x 1."""
    return {
        "hidden_bias": rng.standard_normal(5).astype(np.float32),
        "output_kernel": rng.standard_normal((5, 3)).astype(np.float32),
        "output_bias": rng.standard_normal(3).astype(np.float32),
        "x_test": rng.integers(0, 256, size=(7, 12), dtype=np.uint8),
        "y_test": rng.integers(0, 3, size=7),
    }


def mlp_arrays(meta_overrides: dict | None = None, **model_overrides) -> dict[str, np.ndarray]:
    """A saved trained-MLP problem: 12 x 5 kernel, 3 classes, 7 test images of 3 x 4 x 1.

    ``meta_overrides`` replace meta fields; ``model_overrides`` replace (or, with None,
    remove) model arrays.
    """
    rng = np.random.default_rng(0)
    meta = {"dataset": "toy", "hidden": 5, "epochs": 1, "seed": 0, "batch_size": 32, "max_train": None,
            "n_train": 20, "n_test": 7, "test_accuracy": 0.5, "train_loss": [1.0, 0.5],
            "train_accuracy": [0.4, 0.6], "image_shape": [3, 4, 1], "input_scale": 1 / 255,
            "data_source": "synthetic", "data_location": "memory", "weights": "test", "fisher_batch": 8,
            "train_seconds": 0.1, "fisher_seconds": 0.1, "paper_first_singular_mass": 0.95, "cache_version": 1}
    meta.update(meta_overrides or {})
    model = toy_mlp_model(rng)
    model.update(model_overrides)
    arrays = {"A": rng.standard_normal((12, 5)), "W": rng.random((12, 5)) + 0.1,
              "meta": np.array(json.dumps(meta)), "name": np.array("toy MLP"), "source": np.array("tfds")}
    arrays.update({f"model_{k}": v for k, v in model.items() if v is not None})
    return arrays


def mlp_npz(meta_overrides=None, **model_overrides) -> Callable[[], bytes]:
    return lambda: npz(**mlp_arrays(meta_overrides, **model_overrides))


def raw_meta_npz(meta) -> Callable[[], bytes]:
    """An .npz of A, W and a ``meta`` array exactly as given (a string or any array)."""
    return lambda: npz(A=GOOD, W=GOOD_W, meta=np.asarray(meta))


def mtx(text_: str) -> Callable[[], bytes]:
    return lambda: text_.encode()


def const(data) -> Callable[[], bytes]:
    return lambda: data.encode() if isinstance(data, str) else data


def pickled() -> bytes:
    return pickle.dumps({"A": [[1.0, 2.0]]})


def object_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, "x"], [None, 2]], dtype=object), allow_pickle=True)
    return buffer.getvalue()


MTX_HEADER = "%%MatrixMarket matrix coordinate real general\n"
MTX_ARRAY = "%%MatrixMarket matrix array real general\n"
NUMBER = r"is not a number"
NAN = r"A has \d+ infinite entries"

# ---------------------------------------------------------------------------- the corpus

CASES: list[Case] = [
    # --- 1. malformed .npy headers
    Case("npy_shape_1e30.npy", lambda: npy_raw(F8 % f"({10**30}, 1)"),
         r"array of shape \(10{30}, 1\) has 1,000(,000){9} entries; the limit is 50,000,000 entries per array",
         cli_error=r"array of shape \(10{30}, 1\) \(float64\) needs 8\.00e\+30 bytes of memory; only .* is available"),
    Case("npy_header_unterminated.npy", lambda: npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (3, "),
         r"corrupt \.npy header .*: not a Python dict literal"),
    Case("npy_header_garbage.npy", lambda: npy_raw("\x00\x01\x02 not a dict ((("),
         r"corrupt \.npy header .*: not a Python dict literal"),
    Case("npy_header_list.npy", lambda: npy_raw("[1, 2, 3]"),
         r"corrupt \.npy header .*: expected a dict of 'descr', 'fortran_order' and 'shape'"),
    Case("npy_header_extra_key.npy", lambda: npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1}"),
         r"expected a dict of 'descr', 'fortran_order' and 'shape'"),
    Case("npy_negative_shape.npy", lambda: npy_raw(F8 % "(-1, 2)"), r"shape is not a tuple of non-negative integers"),
    Case("npy_float_shape.npy", lambda: npy_raw(F8 % "(2.5, 2)"), r"shape is not a tuple of non-negative integers"),
    Case("npy_bool_shape.npy", lambda: npy_raw(F8 % "(True, 2)"), r"shape is not a tuple of non-negative integers"),
    Case("npy_fortran_order_int.npy", lambda: npy_raw("{'descr': '<f8', 'fortran_order': 1, 'shape': (1, 1)}"),
         r"fortran_order is not True or False"),
    Case("npy_bad_descr.npy", lambda: npy_raw("{'descr': '<q9!', 'fortran_order': False, 'shape': (1, 1)}"),
         r"descr is not a NumPy dtype"),
    Case("npy_descr_number.npy", lambda: npy_raw("{'descr': 7, 'fortran_order': False, 'shape': (1, 1)}"),
         r"descr is not a NumPy dtype"),
    Case("npy_header_length_2gib.npy", lambda: npy_raw(F8 % "(1, 1)", version=(2, 0), length=2**31),
         r"corrupt \.npy header: it claims 2,147,483,648 bytes"),
    Case("npy_header_cut.npy", lambda: npy_raw(F8 % "(1, 1)")[:20], r"truncated \.npy header"),
    Case("npy_magic_only.npy", const(b"\x93NUMPY"), r"truncated \.npy header \(the file ends inside its version\)"),
    Case("npy_version_9.npy", lambda: b"\x93NUMPY\x09\x00" + npy_raw(F8 % "(1, 1)")[8:],
         r"unsupported \.npy format version 9\.0; expected 1\.0, 2\.0 or 3\.0"),
    Case("npy_nested_header.npy", lambda: npy_raw("(" * 3000 + ")" * 3000), r"not a Python dict literal"),
    Case("npy_5000_digit_shape.npy", lambda: npy_raw(F8 % f"({'9' * 5000}, 1)"), r"not a Python dict literal"),
    Case("npy_object.npy", object_npy, r"holds pickled Python objects \(dtype object\); pickles are never loaded"),
    Case("npy_pickle.npy", pickled, r"is a Python pickle; pickles are never loaded"),
    Case("npy_is_a_zip.npy", lambda: npz(A=GOOD), r"is a zip archive, not a \.npy file"),
    Case("npy_text.npy", const("1,2,3\n"), r"is not a NumPy \.npy file \(no NumPy header\)"),
    Case("npy_truncated_data.npy", lambda: npy(np.ones((50, 50)))[:500],
         r"truncated or corrupt \.npy data \(the header declares 20,000 bytes of float64, the file holds 372 bytes\)"),
    # --- 2./3. declared sizes beyond the caps and the memory
    Case("npy_7tib.npy", lambda: npy_raw(F8 % "(1000000, 1000000)"),
         r"array of shape \(1000000, 1000000\) has 1,000,000,000,000 entries; the limit is 50,000,000",
         cli_error=r"array of shape \(1000000, 1000000\) \(float64\) needs 7\.3 TiB of memory; only .* is available"),
    Case("npy_huge_itemsize.npy", lambda: npy_raw("{'descr': '<U500000000', 'fortran_order': False, 'shape': (2000,)}"),
         r"array of shape \(2000,\) brings this load to 3\.6 TiB; the limit is 762\.9 MiB for all arrays",
         cli_error=r"array of shape \(2000,\) \(<U500000000\) needs 3\.6 TiB of memory"),
    Case("npz_eight_50M_members.npz", bomb_npz,
         r"\(array 'model_part0'\): array of shape \(5000, 10000\) brings this load to 150,000,000 entries; "
         r"the limit is 100,000,000 entries for all arrays", fault="npz_eight_50M_members.npz (array 'model_part0')",
         in_cli=False),
    Case("npz_8gib_member.npz", lambda: declared_member_npz((32768, 32768)),
         r"array of shape \(32768, 32768\) has 1,073,741,824 entries; the limit is 50,000,000",
         cli_error=r"needs 8\.0 GiB of memory; only .* is available|truncated or corrupt \.npy data \(the header declares 8\.0 GiB",
         fault="npz_8gib_member.npz (array 'A')"),
    Case("npz_1pib_member.npz", lambda: declared_member_npz((2**25, 2**22)),
         r"has 140,737,488,355,328 entries", cli_error=r"\(float64\) needs 1\.0 PiB of memory; only .* is available",
         fault="npz_1pib_member.npz (array 'A')"),
    Case("npz_many_members.npz", many_members_npz,
         r"its zip directory is 1\.\d MiB \(very many members\); the limit is 1\.0 MiB"),
    Case("mtx_71pib.mtx", mtx(MTX_ARRAY + "100000000 100000000\n1\n"),
         r"Matrix Market matrix of shape \(100000000, 100000000\) has 10,000,000,000,000,000 entries",
         cli_error=r"Matrix Market matrix of shape \(100000000, 100000000\) \(float64\) needs 71\.1 PiB of memory"),
    Case("mtx_huge_nnz.mtx", mtx(MTX_HEADER + "3 3 100000000000000\n1 1 1\n"),
         r"declares 100,000,000,000,000 entries but a 3 x 3 matrix has only 9"),
    Case("mtx_huge_sparse.mtx", mtx(MTX_HEADER + "100000000000 100000000000 1\n1 1 1\n"),
         r"has 10,000,000,000,000,000,000,000 entries", cli_error=r"needs 8\.00e\+22 bytes of memory"),
    Case("csv_200mb_one_column.csv", lambda: b"1\n" * 100_000_000,
         r"table of up to 100,000,000 rows x 1 values has 100,000,000 entries; the limit is 50,000,000",
         on_disk=False, in_cli=False),
    Case("csv_60M_values_one_line.csv", lambda: b"0," * 59_999_999 + b"0\n",
         r"table of up to 1 rows x 60,000,000 values has 60,000,000 entries", on_disk=False, in_cli=False),
    # --- npz archives
    Case("npz_not_a_zip.npz", const("this is not a zip archive"), r"not a readable \.npz archive \(BadZipFile"),
    Case("npz_truncated.npz", lambda: npz(A=np.ones((50, 50)))[:300], r"not a readable \.npz archive"),
    Case("npz_pickle.npz", pickled, r"is a Python pickle; pickles are never loaded"),
    Case("npz_encrypted.npz", lambda: patched_zip(npz(A=GOOD), flags=1),
         r"not a readable \.npz archive \(RuntimeError: .*encrypted"),
    Case("npz_unknown_compression.npz", lambda: patched_zip(npz(A=GOOD), method=99),
         r"not a readable \.npz archive \(NotImplementedError"),
    Case("npz_bad_crc.npz", lambda: npz(A=GOOD).replace(npy(GOOD)[-8:], b"\x00" * 8),
         r"not a readable \.npz archive \(BadZipFile: Bad CRC-32"),
    Case("npz_corrupt_deflate.npz", lambda: overwritten(npz(compress=True, A=np.arange(4000.0).reshape(2000, 2)), 60, 200),
         r"not a readable \.npz archive \((error|BadZipFile)"),
    Case("npz_no_arrays.npz", lambda: zip_of({"readme.txt": b"hello"}), r"contains no arrays"),
    Case("npz_without_A.npz", lambda: npz(X=GOOD, Y=GOOD), r"no array named 'A' \(found X, Y\)"),
    Case("npz_W_only.npz", lambda: npz(W=GOOD), r"no array named 'A' \(found W\)"),
    Case("npz_object_member.npz", lambda: zip_of({"A.npy": object_npy()}),
         r"\(array 'A'\): holds pickled Python objects", fault="npz_object_member.npz (array 'A')"),
    Case("npz_member_bad_header.npz", lambda: zip_of({"A.npy": npy_raw("{'descr': '<f8', 'shape': (3, ")}),
         r"corrupt \.npy header", fault="npz_member_bad_header.npz (array 'A')"),
    Case("npz_member_truncated.npz", lambda: zip_of({"A.npy": npy(np.ones((50, 50)))[:300]}),
         r"truncated or corrupt \.npy data", fault="npz_member_truncated.npz (array 'A')"),
    Case("npz_shape_mismatch.npz", lambda: npz(A=GOOD, W=np.ones((2, 3))),
         r"W has shape \(2, 3\) but A has shape \(3, 2\)"),
    Case("npz_negative_W.npz", lambda: npz(A=GOOD, W=-np.ones((3, 2))), r"W has 6 negative entries"),
    Case("npz_zero_W.npz", lambda: npz(A=GOOD, W=np.zeros((3, 2))), r"W is all zeros"),
    Case("npz_nan_W.npz", lambda: npz(A=GOOD, W=np.where(GOOD > 5, np.nan, 1.0)), r"W has 1 NaN/Inf entries"),
    Case("npz_W_strings.npz", lambda: npz(A=GOOD, W=np.array([["a", "b"]] * 3)), r"W must be numeric, got dtype <U1"),
    # --- values of A
    Case("npy_nan.npy", lambda: npy(np.array([[1.0, np.nan]])), shape=(1, 2)),  # NaN: a missing entry
    Case("npy_all_nan.npy", lambda: npy(np.full((2, 2), np.nan)), r"A is all NaN"),
    Case("npy_inf.npy", lambda: npy(np.array([[np.inf, 1.0], [1.0, -np.inf]])), r"A has 2 infinite entries"),
    Case("npy_complex.npy", lambda: npy(np.ones((2, 2)) * 1j), r"A is complex; only real matrices are supported"),
    Case("npy_strings.npy", lambda: npy(np.array([["a", "b"]])), r"A must be numeric, got dtype <U1"),
    Case("npy_structured.npy", lambda: npy(np.zeros((2, 2), dtype=[("x", "<f8"), ("y", "<i4")])),
         r"A must be numeric, got dtype \[\('x', '<f8'\), \('y', '<i4'\)\]"),
    Case("npy_datetime.npy", lambda: npy(np.zeros((2, 2), dtype="M8[s]")), r"A must be numeric, got dtype datetime64"),
    Case("npy_1d.npy", lambda: npy(np.arange(5.0)), r"A must be a 2-D matrix, got 1-D with shape \(5,\)"),
    Case("npy_3d.npy", lambda: npy(np.ones((2, 2, 2))), r"A must be a 2-D matrix, got 3-D with shape \(2, 2, 2\)"),
    Case("npy_0d.npy", lambda: npy(np.float64(3.0)), r"A must be a 2-D matrix, got 0-D with shape \(\)"),
    Case("npy_empty.npy", lambda: npy(np.zeros((0, 3))), r"A is empty \(shape \(0, 3\)\)"),
    # --- text tables
    Case("csv_nan.csv", const("1,2\n3,nan\n"), shape=(2, 2)),
    Case("csv_inf.csv", const("1,inf\n3,4\n"), NAN),
    Case("csv_1e400.csv", const("1,1e400\n3,4\n"), NAN),
    Case("csv_header_row.csv", const("x,y\n1,2\n"), r"line 1: 'x' " + NUMBER),
    Case("csv_ragged.csv", const("1,2,3\n4,5,6\n7,8\n"), r"ragged rows: line 3 has 2 values but line 1 has 3"),
    Case("csv_empty_field.csv", const("1,,2\n"), r"line 1: \(empty\) " + NUMBER),
    Case("csv_semicolons.csv", const("1;2\n3;4\n"), r"line 1: '1;2' " + NUMBER),
    Case("csv_quoted.csv", const('"1","2"\n'), r"line 1: '\"1\"' " + NUMBER),
    Case("csv_hex.csv", const("0x10,1\n"), r"line 1: '0x10' " + NUMBER),
    Case("csv_complex.csv", const("1+2j,1\n"), r"line 1: '1\+2j' " + NUMBER),
    Case("csv_binary.csv", const(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), r"is not a text file"),
    Case("csv_nul.csv", const(b"1,2\n3,\x004\n"), r"is not a text file \(it contains NUL characters\)"),
    Case("csv_latin1.csv", const(b"1,2\n3,\xe9\n"), r"is not a text file \('utf-8' codec can't decode byte 0xe9"),
    Case("csv_utf16_odd_bytes.csv", lambda: codecs.BOM_UTF16_LE + "1,2\n".encode("utf-16-le") + b"\x00",
         r"is not a text file \('utf-16-le' codec can't decode byte 0x00"),
    Case("csv_only_comments.txt", const("# nothing\n\n   \n# here\n"), r"contains no numbers"),
    Case("csv_whitespace_only.csv", const(" \t \n\n"), r"contains no numbers"),
    Case("csv_empty.csv", const(b""), r"file is empty"),
    Case("txt_ragged_whitespace.txt", const("1 2\n3 4 5\n"),
         r"ragged rows: line 2 has 3 values but line 1 has 2; expected only numbers separated by whitespace"),
    # --- Matrix Market
    Case("mtx_negative_dims.mtx", mtx(MTX_HEADER + "-3 3 1\n1 1 1\n"), r"not a readable Matrix Market file"),
    Case("mtx_bigint_dims.mtx", mtx(MTX_HEADER + "99999999999999999999999999 3 1\n1 1 1\n"),
         r"not a readable Matrix Market file \(Integer out of range"),
    Case("mtx_header_cut.mtx", mtx(MTX_HEADER + "3 3\n"), r"not a readable Matrix Market file"),
    Case("mtx_data_cut.mtx", mtx(MTX_HEADER + "3 3 2\n1 1 1\n"), r"corrupt Matrix Market data \(Truncated file"),
    Case("mtx_index_out_of_range.mtx", mtx(MTX_HEADER + "3 3 1\n5 5 1\n"),
         r"corrupt Matrix Market data \(Line 3: Row index out of bounds"),
    Case("mtx_int_overflow.mtx", mtx("%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 99999999999999999999999\n"),
         r"corrupt Matrix Market data"),
    Case("mtx_garbage.mtx", mtx("hello world\n"), r"not a readable Matrix Market file"),
    Case("mtx_complex.mtx", mtx("%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 2.0\n"),
         r"A is complex"),
    Case("mtx_vector.mtx", mtx("%%MatrixMarket vector coordinate real general\n3 1\n1 1\n"),
         r"corrupt Matrix Market data \(Vector Matrix Market files not supported"),
    Case("mtx_nan.mtx", mtx(MTX_ARRAY + "1 2\nnan\n1\n"), shape=(1, 2)),
    # --- file names and types
    Case("data.pkl", pickled, r"unsupported file type '\.pkl'; expected \.npy, \.npz, \.csv, \.txt or \.mtx"),
    Case("matrix", const(GOOD_TEXT), r"unsupported file type '\(no extension\)'"),
    Case("sheet.xlsx", lambda: zip_of({"xl/workbook.xml": b"<x/>"}), r"unsupported file type '\.xlsx'"),
    Case("empty.npy", const(b""), r"file is empty"),
    Case("new\nline.csv", const("1,x\n"), r"line 1: 'x' " + NUMBER, fault="new\\nline.csv"),
    # --- weights files
    Case("pair_mismatch.npy", lambda: npy(GOOD), r"W has shape \(2, 3\) but A has shape \(3, 2\)",
         weights=("pair_mismatch_w.npy", lambda: npy(np.ones((2, 3)))), fault="pair_mismatch.npy + pair_mismatch_w.npy"),
    Case("pair_twice.npz", lambda: npz(A=GOOD, W=GOOD_W), r"already contains W, and weights file pair_twice_w.npy",
         weights=("pair_twice_w.npy", lambda: npy(GOOD_W))),
    Case("pair_no_W.csv", const(GOOD_TEXT), r"no array named 'W' \(found X, Y\); expected the weights W",
         weights=("pair_no_W_w.npz", lambda: npz(X=GOOD, Y=GOOD)), fault="pair_no_W_w.npz"),
    Case("pair_negative.csv", const(GOOD_TEXT), r"W has 1 negative entries",
         weights=("pair_negative_w.csv", const("1,-2\n3,4\n5,6\n")), fault="pair_negative.csv + pair_negative_w.csv"),
    Case("pair_pickle.csv", const(GOOD_TEXT), r"is a Python pickle",
         weights=("pair_pickle_w.npy", pickled), fault="pair_pickle_w.npy"),
    Case("pair_7tib.csv", const(GOOD_TEXT), r"array of shape \(1000000, 1000000\) has 1,000,000,000,000 entries",
         weights=("pair_7tib_w.npy", lambda: npy_raw(F8 % "(1000000, 1000000)")), fault="pair_7tib_w.npy"),
    # --- readable oddities: they load
    Case("npy_v3.npy", lambda: npy(GOOD, version=(3, 0)), shape=(3, 2)),
    Case("npy_v2.npy", lambda: npy(GOOD, version=(2, 0)), shape=(3, 2)),
    Case("npy_fortran.npy", lambda: npy(np.asfortranarray(GOOD)), shape=(3, 2)),
    Case("npy_big_endian.npy", lambda: npy(GOOD.astype(">f8")), shape=(3, 2)),
    Case("npy_float16.npy", lambda: npy(GOOD.astype(np.float16)), shape=(3, 2)),
    Case("npy_int8.npy", lambda: npy(GOOD.astype(np.int8)), shape=(3, 2)),
    Case("npy_bool.npy", lambda: npy(np.eye(3, dtype=bool)), shape=(3, 3)),
    Case("npy_1e300.npy", lambda: npy(GOOD * 1e300), shape=(3, 2)),
    Case("npy_1x1.npy", lambda: npy(np.array([[2.0]])), shape=(1, 1)),
    Case("npy_one_row.npy", lambda: npy(np.arange(1.0, 9.0)[None]), shape=(1, 8)),
    Case("npz_lzma.npz", lambda: zip_of({"A.npy": npy(GOOD), "W.npy": npy(GOOD_W)}, zipfile.ZIP_LZMA), shape=(3, 2)),
    Case("npz_arr_0.npz", lambda: npz(GOOD), shape=(3, 2)),
    Case("npz_extra_arrays_ignored.npz", lambda: npz(A=GOOD, junk=np.array([["x"]]), more=np.ones(3)), shape=(3, 2)),
    Case("npz_v3_members.npz", lambda: zip_of({"A.npy": npy(GOOD, version=(3, 0))}), shape=(3, 2)),
    Case("csv_utf16_bom.csv", lambda: GOOD_TEXT.encode("utf-16"), shape=(3, 2)),
    Case("csv_utf16be_bom.csv", lambda: codecs.BOM_UTF16_BE + GOOD_TEXT.encode("utf-16-be"), shape=(3, 2)),
    Case("csv_utf16le_no_bom.csv", lambda: GOOD_TEXT.encode("utf-16-le"), shape=(3, 2)),
    Case("csv_utf8_bom.csv", lambda: codecs.BOM_UTF8 + GOOD_TEXT.encode(), shape=(3, 2)),
    Case("csv_cr_only.csv", lambda: GOOD_TEXT.replace("\n", "\r").encode(), shape=(3, 2)),
    Case("csv_crlf.csv", lambda: GOOD_TEXT.replace("\n", "\r\n").encode(), shape=(3, 2)),
    Case("csv_mixed_newlines.csv", const("1,2\r\n3,4\r5,6\n"), shape=(3, 2)),
    Case("csv_no_final_newline.csv", const("1,2\n3,4\n5,6"), shape=(3, 2)),
    Case("csv_comments_and_blanks.csv", const("# A\n\n1,2 # first\n\n3,4\n5,6\n# end\n"), shape=(3, 2)),
    Case("csv_1e300.csv", const("1e300,2\n3,4\n5,-1e300\n"), shape=(3, 2)),
    Case("csv_single_value.csv", const("7\n"), shape=(1, 1)),
    Case("UPPER.CSV", const(GOOD_TEXT), shape=(3, 2)),
    Case("txt_tabs.txt", const("1\t2\n3\t4\n5\t6\n"), shape=(3, 2)),
    Case("mtx_cr_only.mtx", mtx((MTX_ARRAY + "3 2\n1\n2\n3\n4\n5\n6\n").replace("\n", "\r")), shape=(3, 2)),
    Case("mtx_utf16.mtx", lambda: (MTX_ARRAY + "3 2\n1\n2\n3\n4\n5\n6\n").encode("utf-16"), shape=(3, 2)),
    Case("mtx_pattern.mtx", mtx("%%MatrixMarket matrix coordinate pattern general\n3 2 2\n1 1\n3 2\n"), shape=(3, 2)),
    Case("mtx_symmetric.mtx", mtx("%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 5\n3 3 1\n"),
         shape=(3, 3)),
    Case("pair_good.csv", const(GOOD_TEXT), weights=("pair_good_w.csv", const(text(GOOD_W))), shape=(3, 2)),
    Case("x" * 150 + ".csv", const(GOOD_TEXT), shape=(3, 2)),
    # --- 4. saved problems: a bad extra is dropped with a warning, the problem loads
    Case("mlp_complete.npz", mlp_npz(), shape=(12, 5), model=True),
    Case("mlp_test_accuracy_abc.npz", mlp_npz({"test_accuracy": "abc"}), shape=(12, 5), model=True,
         warnings=(r"meta field 'test_accuracy' dropped: 'abc' is not a number between 0 and 1 or null",)),
    Case("mlp_test_accuracy_list.npz", mlp_npz({"test_accuracy": [1, 2]}), shape=(12, 5), model=True,
         warnings=(r"meta field 'test_accuracy' dropped: \[1, 2\] is not a number between 0 and 1",)),
    Case("mlp_test_accuracy_7.npz", mlp_npz({"test_accuracy": 7}), shape=(12, 5), model=True,
         warnings=(r"meta field 'test_accuracy' dropped: 7 is not a number between 0 and 1",)),
    Case("mlp_image_shape_abc.npz", mlp_npz({"image_shape": "abc"}), shape=(12, 5), model=True,
         warnings=(r"meta field 'image_shape' dropped: 'abc' is not null or a list of positive integers whose "
                   r"product is A's 12 rows",)),
    Case("mlp_image_shape_wrong.npz", mlp_npz({"image_shape": [28, 28, 1]}), shape=(12, 5), model=True,
         warnings=(r"meta field 'image_shape' dropped: \[28, 28, 1\]",)),
    Case("mlp_image_shape_negative.npz", mlp_npz({"image_shape": [-3, -4, 1]}), shape=(12, 5), model=True,
         warnings=(r"meta field 'image_shape' dropped",)),
    Case("mlp_paper_mass_x.npz", mlp_npz({"paper_first_singular_mass": "x"}), shape=(12, 5), model=True,
         warnings=(r"meta field 'paper_first_singular_mass' dropped: 'x' is not a number between 0 and 1 or null",)),
    Case("mlp_input_scale_nan.npz", mlp_npz({"input_scale": float("nan")}), shape=(12, 5), model=True,
         warnings=(r"meta field 'input_scale' dropped: nan is not a number > 0",)),
    Case("mlp_every_field_wrong.npz", mlp_npz({"test_accuracy": "abc", "image_shape": "abc",
                                               "paper_first_singular_mass": "x", "hidden": "5", "seed": 1.5,
                                               "train_loss": "low", "dataset": 3}),
         shape=(12, 5), model=True,
         warnings=(r"'dataset' dropped", r"'hidden' dropped", r"'seed' dropped", r"'test_accuracy' dropped",
                   r"'train_loss' dropped", r"'paper_first_singular_mass' dropped", r"'image_shape' dropped")),
    Case("mlp_bad_hidden_bias.npz", mlp_npz(hidden_bias=np.ones(4, np.float32)), shape=(12, 5),
         warnings=(r"model array 'hidden_bias' dropped: shape \(4,\), expected \(5,\) for A of shape 12 x 5",)),
    Case("mlp_nan_output_kernel.npz", mlp_npz(output_kernel=np.full((5, 3), np.nan, np.float32)), shape=(12, 5),
         warnings=(r"model array 'output_kernel' dropped: 15 NaN/Inf entries",)),
    Case("mlp_output_bias_mismatch.npz", mlp_npz(output_bias=np.ones(4)), shape=(12, 5),
         warnings=(r"model array 'output_bias' dropped: shape \(4,\), expected \(3,\)",)),
    Case("mlp_x_test_strings.npz", mlp_npz(x_test=np.array([["a"] * 12] * 7)), shape=(12, 5),
         warnings=(r"model array 'x_test' dropped: dtype <U1 is not real numbers",)),
    Case("mlp_x_test_wrong_width.npz", mlp_npz(x_test=np.zeros((7, 11), np.uint8)), shape=(12, 5),
         warnings=(r"model array 'x_test' dropped: shape \(7, 11\), expected \(test, 12\) for A of shape 12 x 5",)),
    Case("mlp_y_test_float.npz", mlp_npz(y_test=np.zeros(7)), shape=(12, 5),
         warnings=(r"model array 'y_test' dropped: class labels must be integers, got dtype float64",)),
    Case("mlp_y_test_too_short.npz", mlp_npz(y_test=np.zeros(3, int)), shape=(12, 5),
         warnings=(r"model array 'y_test' dropped: shape \(3,\), expected \(7,\)",)),
    Case("mlp_complex_model.npz", mlp_npz(hidden_bias=np.ones(5) * 1j), shape=(12, 5),
         warnings=(r"model array 'hidden_bias' dropped: dtype complex128 is not real numbers",)),
    Case("mlp_bad_moments.npz", mlp_npz(input_moment=np.ones((5, 5)), grad_moment=np.full((5, 5), np.inf)),
         shape=(12, 5), model=True,
         warnings=(r"model array 'input_moment' dropped: shape \(5, 5\), expected \(12, 12\)",
                   r"model array 'grad_moment' dropped: 25 NaN/Inf entries")),
    Case("mlp_unknown_model_strings.npz", mlp_npz(extra=np.array(["x"])), shape=(12, 5), model=True,
         warnings=(r"model array 'extra' dropped: dtype <U1 is not real numbers",)),
    Case("meta_not_json.npz", raw_meta_npz("{not json"), shape=(3, 2),
         warnings=(r"array 'meta' dropped: not valid JSON",)),
    Case("meta_list.npz", raw_meta_npz("[1, 2]"), shape=(3, 2),
         warnings=(r"array 'meta' dropped: expected a JSON object, got list",)),
    Case("meta_deep.npz", raw_meta_npz("[" * 100_000 + "]" * 100_000), shape=(3, 2),
         warnings=(r"array 'meta' dropped: not valid JSON \(maximum recursion depth",)),
    Case("meta_huge_int.npz", raw_meta_npz('{"seed": ' + "9" * 5000 + "}"), shape=(3, 2),
         warnings=(r"array 'meta' dropped: not valid JSON \(Exceeds the limit",)),
    Case("meta_float_array.npz", raw_meta_npz(np.ones(3)), shape=(3, 2),
         warnings=(r"array 'meta' dropped: expected a single string, got dtype float64 shape \(3,\)",)),
    Case("meta_name_newline.npz", lambda: npz(A=GOOD, name=np.array("two\nlines"), source=np.array(["a", "b"])),
         shape=(3, 2), warnings=(r"array 'name' dropped: expected one line of 1 to 200 printable characters",
                                 r"array 'source' dropped: expected a single string")),
]


CASES_BY_NAME: dict[str, Case] = {case.name: case for case in CASES}

# One file per way a file is refused, for the layers above the loader (CLI, Data page): they
# pass the loader's message on, so each class shows one message reaching the user.
REFUSAL_CLASSES: dict[str, str] = {
    "corrupt .npy header": "npy_header_unterminated.npy",
    "truncated .npy data": "npy_truncated_data.npy",
    "pickle": "npy_pickle.npy",
    "object dtype": "npz_object_member.npz",
    "not the declared format": "npy_is_a_zip.npy",
    "unsupported file type": "data.pkl",
    "declared size beyond the caps and the memory": "npy_7tib.npy",
    "zip bomb": "npz_eight_50M_members.npz",
    "zip directory too big": "npz_many_members.npz",
    "corrupt archive": "npz_bad_crc.npz",
    "no array A": "npz_without_A.npz",
    "shape mismatch": "npz_shape_mismatch.npz",
    "negative weights": "npz_negative_W.npz",
    "NaN/Inf": "npy_inf.npy",
    "non-numeric": "npy_strings.npy",
    "not 2-D": "npy_1d.npy",
    "empty": "csv_empty.csv",
    "text that is not a number": "csv_header_row.csv",
    "ragged text": "csv_ragged.csv",
    "binary text": "csv_binary.csv",
    "corrupt Matrix Market": "mtx_data_cut.mtx",
    "control character in the name": "new\nline.csv",
    "bad weights file": "pair_mismatch.npy",
}

# One file per way a file loads: plain, with NaN entries, 1 x 1, with a weights file, a
# complete trained MLP, extras dropped with warnings, a model array dropped (no compression).
LOADING_CLASSES: dict[str, str] = {
    "plain": "npy_v3.npy",
    "NaN entries": "csv_nan.csv",
    "1 x 1": "npy_1x1.npy",
    "weights file": "pair_good.csv",
    "trained MLP": "mlp_complete.npz",
    "meta fields dropped": "mlp_every_field_wrong.npz",
    "model array dropped": "mlp_bad_hidden_bias.npz",
}


def case_id(case: Case) -> str:
    """A pytest id: the file name, printable and short."""
    return re.sub(r"[^\w.+-]", "_", case.name)[:60]


def write_case(case: Case, folder: Path) -> tuple[Path, Path | None]:
    """Write a case's file (and weights file) into its own folder; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / case.name
    main.write_bytes(case.make())
    weights = None
    if case.weights:
        weights = folder / case.weights[0]
        weights.write_bytes(case.weights[1]())
    return main, weights


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_corpus")
    for number, item in enumerate(CASES):
        if item.on_disk:
            write_case(item, out / f"{number:03d}")
    print(f"wrote {sum(c.on_disk for c in CASES)} cases to {out}")
