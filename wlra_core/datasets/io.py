"""Read and write WLRA problems: uploads (.npy, .npz, .csv/.txt, .mtx) and saved problems.

Files are untrusted. Nothing is ever unpickled; every reader first works out what the
file *declares* -- a .npy header (format 1.0, 2.0 or 3.0), the headers of the .npz
members it needs, a Matrix Market size line, a text table's line and value counts --
and has one :class:`~wlra_core.datasets.limits.LoadBudget` compare it with the size caps
and the free memory before any data is read. Every defect, and every exception a parser
raises on hostile bytes, becomes one :class:`~wlra_core.datasets.limits.LoadError` (a
``ValueError``) whose one-line text names the file, says what is wrong and what is
expected. Matrix checks themselves (NaN, shape, sign of the weights...) are
:func:`wlra_core.problem.validate_problem`'s; this module prefixes their messages with the
file name. A saved problem's extras (``meta``, ``name``, ``source``, ``model_*``) are
checked by :mod:`wlra_core.datasets.saved`: a bad one is dropped with a warning.

Saved-problem convention (``.npz``): arrays ``A``, ``W``, ``model_<key>`` for each array of
``Problem.model``, and 0-d string arrays ``meta`` (JSON), ``name`` and ``source``.

This module must not import TensorFlow: the dashboard loads the shipped problem with it.
"""
from __future__ import annotations

import ast
import codecs
import io
import json
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..paths import SHIPPED_PROBLEM
from ..problem import Problem, as_float_matrix
from .limits import MAX_ENTRIES, MAX_FILE_BYTES, LoadBudget, LoadError, format_bytes, one_line, shape_text
from .saved import MODEL_PREFIX, saved_extras

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_ENTRIES",
    "SUPPORTED_EXTENSIONS",
    "DEFAULT_PROBLEM_PATH",
    "LoadError",
    "load_problem",
    "save_problem",
    "default_problem",
]

SUPPORTED_EXTENSIONS = (".npy", ".npz", ".csv", ".txt", ".mtx")
_EXPECTED_TYPES = ".npy, .npz, .csv, .txt or .mtx"

DEFAULT_PROBLEM_PATH = SHIPPED_PROBLEM

# What each kind of file is called, and what is expected of it, in messages.
_KINDS = {
    ".npy": ("NumPy .npy file", "a file written by numpy.save(..., allow_pickle=False)"),
    ".npz": (".npz archive", "a file written by numpy.savez or numpy.savez_compressed"),
    ".mtx": ("Matrix Market file",
             "a '%%MatrixMarket matrix coordinate|array real|integer|pattern general' file"),
    ".csv": ("text table", "numbers separated by commas or whitespace"),
    ".txt": ("text table", "numbers separated by commas or whitespace"),
}
# Exceptions parsers (numpy, zipfile, zlib, lzma, scipy) raise on hostile bytes; each
# becomes one LoadError naming the file. MemoryError is reported on its own.
_PARSER_ERRORS = (
    ValueError, ArithmeticError, SyntaxError, TypeError, LookupError, EOFError, struct.error,
    zlib.error, lzma.LZMAError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError,
)
_PICKLE_MESSAGE = "pickles are never loaded (they can run code)"


# ---------------------------------------------------------------------------- opening


def _file_name(file_or_path) -> str:
    """The name of a path, or of an upload (``"upload"`` when it has none)."""
    if hasattr(file_or_path, "read"):
        name = getattr(file_or_path, "name", None)
        return Path(name).name if isinstance(name, str) and name else "upload"
    return Path(file_or_path).name or str(file_or_path) or "(empty path)"


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x00``): messages stay one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _label(file_or_path) -> str:
    """The file name shown in messages: printable, at most 100 characters (extension kept)."""
    name = _printable(_file_name(file_or_path))
    return name if len(name) <= 100 else f"{name[:60]}...{name[-37:]}"


def _open(file_or_path, label: str, budget: LoadBudget) -> tuple[str, Any, bool]:
    """Return ``(extension, binary file object, is_upload)`` for a path or an upload.

    Uploads (objects with ``read``, e.g. Streamlit's UploadedFile) are read into memory,
    at most ``max_bytes + 1`` bytes; paths are opened after a size check.
    """
    if hasattr(file_or_path, "read"):
        if hasattr(file_or_path, "getvalue"):
            data = file_or_path.getvalue()
        else:
            cap = None if budget.max_bytes is None else budget.max_bytes + 1
            data = file_or_path.read() if cap is None else file_or_path.read(cap)
        if isinstance(data, str):
            data = data.encode()
        budget.check_file(label, len(data))
        return Path(_file_name(file_or_path)).suffix.lower(), io.BytesIO(data), True
    path = Path(file_or_path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise LoadError(f"{label}: is a directory; expected a file")
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(f"{label}: is not a regular file (a device, pipe or socket); expected a file")
        budget.check_file(label, info.st_size)
        return path.suffix.lower(), open(path, "rb"), False
    except FileNotFoundError:
        raise LoadError(f"{label}: no such file in {one_line(repr(str(path.parent)), 120)}") from None
    except (OSError, ValueError) as err:  # permissions, a NUL in the path, a name too long...
        if isinstance(err, LoadError):
            raise
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise LoadError(f"{label}: cannot be opened ({one_line(reason)})") from None


def _file_size(fh) -> int:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    return size


def _refuse_foreign(head: bytes, label: str, kind: str) -> None:
    """Name a pickle or a zip given where another format was expected."""
    if head[:1] == b"\x80":
        raise LoadError(f"{label}: is a Python pickle; {_PICKLE_MESSAGE}. Expected {_KINDS[kind][1]}")
    if head.startswith(b"PK\x03\x04") and kind == ".npy":
        raise LoadError(f"{label}: is a zip archive, not a .npy file; name it .npz if numpy.savez wrote it")


# ---------------------------------------------------------------------------- .npy / .npz


class _NpyHeader(NamedTuple):
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype


# Header length field and text encoding of each .npy format version.
_NPY_VERSIONS = {(1, 0): ("<H", "latin1"), (2, 0): ("<I", "latin1"), (3, 0): ("<I", "utf8")}
_MAX_NPY_HEADER = 10_000  # numpy's own limit for headers of untrusted files
_READ_CHUNK = 16 * 2**20


def _exactly(fh, size: int, label: str, what: str) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise LoadError(f"{label}: truncated .npy header (the file ends inside its {what})")
    return data


def _npy_header(fh, label: str) -> _NpyHeader:
    """Shape, order and dtype a .npy header declares, read without touching the data."""
    head = fh.read(8)
    if not head.startswith(np.lib.format.MAGIC_PREFIX):
        _refuse_foreign(head, label, ".npy")
        raise LoadError(f"{label}: is not a NumPy .npy file (no NumPy header); expected {_KINDS['.npy'][1]}")
    if len(head) < 8:
        raise LoadError(f"{label}: truncated .npy header (the file ends inside its version)")
    version = (head[6], head[7])
    if version not in _NPY_VERSIONS:
        raise LoadError(f"{label}: unsupported .npy format version {head[6]}.{head[7]}; expected 1.0, 2.0 or 3.0")
    length_format, encoding = _NPY_VERSIONS[version]
    (length,) = struct.unpack(length_format, _exactly(fh, struct.calcsize(length_format), label, "length"))
    if length > _MAX_NPY_HEADER:
        raise LoadError(f"{label}: corrupt .npy header: it claims {length:,} bytes; numpy writes at most "
                        f"a few hundred (limit {_MAX_NPY_HEADER:,})")
    raw = _exactly(fh, length, label, "header")
    corrupt = f"{label}: corrupt .npy header {one_line(repr(raw), 90)}"
    try:
        fields = ast.literal_eval(raw.decode(encoding))
    except (UnicodeError, SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise LoadError(f"{corrupt}: not a Python dict literal") from None
    if not isinstance(fields, dict) or set(fields) != {"descr", "fortran_order", "shape"}:
        raise LoadError(f"{corrupt}: expected a dict of 'descr', 'fortran_order' and 'shape'")
    shape, fortran_order = fields["shape"], fields["fortran_order"]
    if not (isinstance(shape, tuple) and all(type(x) is int and x >= 0 for x in shape)):
        raise LoadError(f"{corrupt}: shape is not a tuple of non-negative integers")
    if not isinstance(fortran_order, bool):
        raise LoadError(f"{corrupt}: fortran_order is not True or False")
    try:
        dtype = np.lib.format.descr_to_dtype(fields["descr"])
    except (TypeError, ValueError, LookupError, ArithmeticError, RecursionError, MemoryError):
        raise LoadError(f"{corrupt}: descr is not a NumPy dtype") from None
    if dtype.hasobject:
        raise LoadError(
            f"{label}: holds pickled Python objects (dtype object); {_PICKLE_MESSAGE}. "
            "Expected a plain numeric array (numpy.save(..., allow_pickle=False))"
        )
    return _NpyHeader(shape, fortran_order, dtype)


def _npy_data(fh, header: _NpyHeader, label: str) -> np.ndarray:
    """The array after its header, read in chunks straight into its final buffer."""
    shape, fortran_order, dtype = header
    array = np.empty(shape[::-1] if fortran_order else shape, dtype=dtype)
    buffer = memoryview(array.reshape(-1).view(np.uint8)) if array.nbytes else memoryview(b"")
    done = 0
    while done < len(buffer):
        got = fh.readinto(buffer[done:done + _READ_CHUNK])
        if not got:
            raise LoadError(f"{label}: truncated or corrupt .npy data (the header declares "
                            f"{format_bytes(array.nbytes)} of {dtype}, the file holds {format_bytes(done)})")
        done += got
    return array.T if fortran_order else array


def _read_npy(fh, label: str, budget: LoadBudget) -> np.ndarray:
    header = _npy_header(fh, label)
    budget.claim(label, header.shape, header.dtype, matrix=True)
    return _npy_data(fh, header, label)


# Zip directory (central directory) bytes zipfile may parse: room for thousands of
# arrays; a hostile zip of millions of tiny members would cost gigabytes of ZipInfo.
_MAX_ZIP_DIRECTORY = 2**20


def _zip_directory_size(fh) -> int | None:
    """Bytes of central directory a zip's end record declares, found the way zipfile does.

    None when there is no end record (zipfile then reports the defect itself).
    """
    size = _file_size(fh)
    fh.seek(max(size - 22 - 65535, 0))
    tail = fh.read()
    fh.seek(0)
    if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0":  # no archive comment
        at = len(tail) - 22
    else:
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
    (directory,) = struct.unpack_from("<I", tail, at + 12)
    if at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":  # ZIP64: the real size is further back
        (record_at,) = struct.unpack_from("<Q", tail, at - 12)
        fh.seek(record_at)
        record = fh.read(56)
        fh.seek(0)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            (directory,) = struct.unpack_from("<Q", record, 40)
    return directory


def _npz_members(names: list[str], label: str, role: str) -> dict[str, str]:
    """``{key: member}`` of the members a load reads, keyed as the load uses them.

    The problem file (``role="A"``): ``A`` (or its only array) with ``W``, ``meta``,
    ``name``, ``source`` and ``model_*``; a weights file (``role="W"``): ``W`` or its only
    array. Other members are never read.
    """
    members = {name[: -len(".npy")]: name for name in names if name.endswith(".npy")}
    other = "W" if role == "A" else "A"
    if role in members:
        primary = role
    elif len(members) == 1 and other not in members:
        primary = next(iter(members))
    elif not members:
        raise LoadError(f"{label}: contains no arrays; expected arrays A and optional W, "
                        "e.g. numpy.savez(path, A=A, W=W)")
    else:
        keys = sorted(members)
        found = ", ".join(map(_printable, keys[:10])) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
        expected = ("expected arrays A and optional W, e.g. numpy.savez(path, A=A, W=W)" if role == "A"
                    else "expected the weights W")
        raise LoadError(f"{label}: no array named {role!r} (found {found}); {expected}")
    wanted = {role: members[primary]}
    if role == "A":
        wanted.update({key: name for key, name in members.items() if key != primary and (
            key in ("W", "meta", "name", "source") or key.startswith(MODEL_PREFIX))})
    return wanted


def _read_npz(fh, label: str, budget: LoadBudget, role: str) -> dict[str, np.ndarray]:
    _refuse_foreign(fh.read(4), label, ".npz")
    directory = _zip_directory_size(fh)
    if directory is not None and directory > _MAX_ZIP_DIRECTORY:
        raise LoadError(f"{label}: its zip directory is {format_bytes(directory)} (very many members); "
                        f"the limit is {format_bytes(_MAX_ZIP_DIRECTORY)}")
    with zipfile.ZipFile(fh) as archive:
        wanted = _npz_members(archive.namelist(), label, role)
        labels = {key: f"{label} (array {key!r})" for key in wanted}
        headers = {}
        for key, member in wanted.items():  # every header first: refuse before reading any data
            with archive.open(member) as part:
                headers[key] = _npy_header(part, labels[key])
            budget.claim(labels[key], headers[key].shape, headers[key].dtype, matrix=key in ("A", "W"))
        arrays = {}
        for key, member in wanted.items():
            with archive.open(member) as part:
                _npy_header(part, labels[key])
                arrays[key] = _npy_data(part, headers[key], labels[key])
    return arrays


# ---------------------------------------------------------------------------- text tables


_TEXT_CHUNK = 2**20  # characters per read while scanning


def _text_encoding(head: bytes) -> tuple[str, int]:
    """Codec and BOM length of a text file starting with ``head``: UTF-8, -16 or -32."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", 0
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    if len(head) >= 2 and head[0] and not head[1]:  # "1\0,\0": UTF-16 without a BOM
        return "utf-16-le", 0
    if len(head) >= 2 and not head[0] and head[1]:
        return "utf-16-be", 0
    return "utf-8", 0


def _text(fh) -> io.TextIOWrapper:
    """``fh`` from its start as text in its encoding, every newline (``\\r\\n``, ``\\r``) as ``\\n``.

    The caller detaches the wrapper so that ``fh`` stays open.
    """
    fh.seek(0)
    encoding, bom = _text_encoding(fh.read(4))
    fh.seek(bom)
    return io.TextIOWrapper(fh, encoding=encoding, newline=None)


def _not_text(label: str, err) -> LoadError:
    return LoadError(f"{label}: is not a text file ({one_line(err, 120)}); expected UTF-8 or UTF-16 text "
                     "of numbers separated by commas or whitespace")


def _has_numbers(line: str) -> bool:
    return bool(line.split("#", 1)[0].strip())


def _scan_table(text: io.TextIOWrapper, label: str) -> tuple[int, str | None]:
    """Lines of a text table and its first line with numbers, reading chunks (never all of it)."""
    lines, first, pending, ended = 0, None, [], True
    try:
        while chunk := text.read(_TEXT_CHUNK):
            if "\x00" in chunk:
                raise _not_text(label, "it contains NUL characters")
            lines += chunk.count("\n")
            ended = chunk.endswith("\n")
            if first is None:
                *complete, rest = chunk.split("\n")
                if complete:
                    complete[0] = "".join(pending) + complete[0]
                    pending = []
                    first = next((line for line in complete if _has_numbers(line)), None)
                pending.append(rest)
    except UnicodeError as err:
        raise _not_text(label, err) from None
    if first is None and _has_numbers("".join(pending)):
        first = "".join(pending)
    return lines + (not ended), first


# Lines longer than this are not split value by value to describe a defect.
_DESCRIBED_LINE = 2**20


def _first_table_defect(lines, delimiter: str | None) -> str | None:
    """Describe the first non-numeric value or ragged row (1-based line numbers), if found."""
    width, width_line = None, None
    for number, line in enumerate(lines, start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        if len(content) > _DESCRIBED_LINE:
            return None
        values = [v.strip() for v in content.split(delimiter)]
        for value in values:
            try:
                float(value)
            except ValueError:
                shown = one_line(repr(value), 60) if value else "(empty)"
                return f"line {number}: {shown} is not a number"
        if width is None:
            width, width_line = len(values), number
        elif len(values) != width:
            return f"ragged rows: line {number} has {len(values)} values but line {width_line} has {width}"
    return None


def _read_table(fh, label: str, budget: LoadBudget) -> np.ndarray:
    text = _text(fh)
    try:
        rows, first = _scan_table(text, label)
    finally:
        text.detach()
    if first is None:
        raise LoadError(f"{label}: contains no numbers; expected a numeric table")
    content = first.split("#", 1)[0]
    delimiter = "," if "," in content else None
    columns = content.count(",") + 1 if delimiter else sum(1 for _ in re.finditer(r"\S+", content))
    budget.claim(label, (rows, columns), np.dtype(np.float64), matrix=True,
                 what=f"table of up to {rows:,} rows x {columns:,} values")
    text = _text(fh)
    try:
        return np.loadtxt(text, delimiter=delimiter, ndmin=2, dtype=np.float64, comments="#")
    except ValueError as err:
        failure = one_line(err, 150)
    finally:
        text.detach()
    text = _text(fh)
    try:
        defect = _first_table_defect(text, delimiter) or failure
    finally:
        text.detach()
    separated = "commas" if delimiter else "whitespace"
    raise LoadError(f"{label}: {defect}; expected only numbers separated by {separated}, the same count "
                    "on every row (no header row)")


# ---------------------------------------------------------------------------- Matrix Market


def _read_mtx(fh, label: str, budget: LoadBudget) -> np.ndarray:
    import scipy.io

    expected = _KINDS[".mtx"][1]
    size = _file_size(fh)
    # scipy's C++ reader aborts the whole process on some real file objects: it reads an
    # in-memory copy (in UTF-8 with \n newlines, whatever the file used).
    budget.claim_memory(label, 3 * size, "an in-memory copy of the file")
    head = fh.read(4096)
    encoding, _ = _text_encoding(head)
    fh.seek(0)
    if encoding == "utf-8" and (b"\n" in head or b"\r" not in head):
        data = fh.read()
    else:
        text = _text(fh)
        try:
            data = text.read().encode()
        except UnicodeError as err:
            raise _not_text(label, err) from None
        finally:
            text.detach()
    try:
        rows, cols, entries, layout, field, _ = scipy.io.mminfo(io.BytesIO(data))
    except _PARSER_ERRORS as err:
        raise LoadError(f"{label}: not a readable Matrix Market file ({one_line(err)}); {expected}") from None
    if field == "complex":
        raise LoadError(f"{label}: A is complex; only real matrices are supported")
    budget.claim(label, (rows, cols), np.dtype(np.float64), matrix=True,
                 what=f"Matrix Market matrix of shape {shape_text((rows, cols))}")
    if layout == "coordinate":
        if entries > rows * cols:
            raise LoadError(f"{label}: declares {entries:,} entries but a {rows:,} x {cols:,} matrix has only "
                            f"{rows * cols:,}; {expected}")
        budget.claim_memory(label, 24 * entries, f"{entries:,} coordinate entries")
    try:
        matrix = scipy.io.mmread(io.BytesIO(data), spmatrix=False)
    except _PARSER_ERRORS as err:
        raise LoadError(f"{label}: corrupt Matrix Market data ({one_line(err)}); {expected}") from None
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


# ---------------------------------------------------------------------------- dispatch


def _read_file(file_or_path, label: str, budget: LoadBudget, role: str) -> tuple[dict[str, np.ndarray], bool]:
    """Read one file into ``{key: array}`` with the matrix under ``role`` (``"A"`` or ``"W"``).

    A problem .npz adds its ``W``, ``meta``, ``name``, ``source`` and ``model_*`` arrays.
    Returns the arrays and whether the file was an upload.
    """
    ext, fh, is_upload = _open(file_or_path, label, budget)
    with fh:
        if ext not in SUPPORTED_EXTENSIONS:
            raise LoadError(f"{label}: unsupported file type {ext or '(no extension)'!r}; "
                            f"expected {_EXPECTED_TYPES}")
        if _file_size(fh) == 0:
            raise LoadError(f"{label}: file is empty")
        try:
            if ext == ".npz":
                return _read_npz(fh, label, budget, role), is_upload
            if ext == ".npy":
                matrix = _read_npy(fh, label, budget)
            elif ext == ".mtx":
                matrix = _read_mtx(fh, label, budget)
            else:
                matrix = _read_table(fh, label, budget)
            return {role: matrix}, is_upload
        except LoadError:
            raise
        except MemoryError as err:
            raise LoadError(f"{label}: not enough memory to read it ({one_line(err)})") from None
        except _PARSER_ERRORS as err:
            kind, expected = _KINDS[ext]
            raise LoadError(f"{label}: not a readable {kind} ({type(err).__name__}: {one_line(err)}); "
                            f"expected {expected}") from None


def _fault(A, W, label: str, W_label: str) -> str:
    """The file a failed matrix check names: A's own defects name A's file, W's its own,
    and a defect of the two together (shape mismatch, sign, all zeros) names both.

    Called only after a check failed, so the happy path validates each matrix once.
    """
    if W_label == label:
        return label
    for matrix, name, fault in ((A, "A", label), (W, "W", W_label)):
        try:
            as_float_matrix(matrix, name, missing=name == "A")  # NaN in A is a missing entry, not a defect
        except ValueError:
            return fault
    return f"{label} + {W_label}"


def load_problem(
    file_or_path,
    weights=None,
    *,
    max_bytes: int | None = MAX_FILE_BYTES,
    max_entries: int | None = MAX_ENTRIES,
) -> Problem:
    """Load a WLRA problem from a file path or an uploaded file.

    Parameters
    ----------
    file_or_path : str, Path or file-like with ``name`` and ``read``/``getvalue``
        ``.npy`` (the matrix A), ``.npz`` (arrays ``A`` and optional ``W``, or a single
        array taken as A; also the saved-problem convention with ``model_*`` and
        ``meta``), ``.csv``/``.txt`` (numbers separated by commas or whitespace, ``#``
        comments; UTF-8 or UTF-16, any newline convention) or Matrix Market ``.mtx``.
    weights : same kinds as ``file_or_path``, optional
        A second file holding W (its ``W`` array, or its only array). Without it, W
        comes from the first file's ``W`` array or is all ones.
    max_bytes, max_entries : int or None
        Caps on file size and on the entries of any one array (defaults
        :data:`MAX_FILE_BYTES` = 200 MiB and :data:`MAX_ENTRIES` = 50 million); all
        arrays of one load together may hold twice ``max_entries``. ``None`` lifts a cap
        for trusted local files. Declared sizes are compared with the free memory either
        way, before anything is read.

    Returns
    -------
    Problem
        ``name`` is the file name (``"A.csv + W.csv"`` with a weights file) unless a saved
        problem records one; ``source`` is ``"upload"`` for file objects, ``"file"`` for
        paths, or what a saved problem recorded; ``meta["file"]`` names the file, and
        ``meta["load_warnings"]`` (present only if any) lists the extras dropped (see
        :mod:`wlra_core.datasets.saved`).

    Raises
    ------
    LoadError
        A ``ValueError`` whose one-line message names the file, the defect and what is
        expected.
    """
    budget = LoadBudget(max_bytes, max_entries)
    label = _label(file_or_path)
    arrays, is_upload = _read_file(file_or_path, label, budget, "A")
    A, W, W_label = arrays["A"], arrays.get("W"), label
    if weights is not None:
        W_label = _label(weights)
        if W is not None:
            raise LoadError(f"{label}: already contains W, and weights file {W_label} was given too; "
                            "expected one source of weights")
        W = _read_file(weights, W_label, budget, "W")[0]["W"]
    pair = label if W_label == label else f"{label} + {W_label}"
    # Problem validates A and W, once (each pass over a 67500 x 1024 pair reads 1.1 GB).
    try:
        problem = Problem(A, W, name=pair, source="upload" if is_upload else "file")
    except ValueError as err:
        raise LoadError(f"{_fault(A, W, label, W_label)}: {err}") from None
    except MemoryError as err:
        raise LoadError(f"{pair}: not enough memory to check it ({one_line(err)})") from None
    # The extras are checked against A's validated shape, then fill in the problem.
    extras = saved_extras(arrays, label, problem.shape)
    problem.meta = {**extras.meta, "file": label}
    problem.meta.pop("load_warnings", None)  # a saved problem's old warnings are not this load's
    if extras.warnings:
        problem.meta["load_warnings"] = extras.warnings
    problem.name = extras.name or pair
    problem.source = extras.source or problem.source
    problem.model = extras.model
    return problem


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"meta value {value!r} of type {type(value).__name__} is not JSON serialisable")


def save_problem(problem: Problem, path) -> Path:
    """Write ``problem`` as a compressed ``.npz`` (see the module docstring's convention).

    The file is written to a temporary name and renamed, so an interrupted save never
    leaves a truncated cache entry. Returns the path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path.name}: problems are saved as .npz; give a file name ending in .npz")
    arrays = {
        "A": problem.A,
        "W": problem.W,
        "meta": np.array(json.dumps(problem.meta, default=_json_default)),
        "name": np.array(problem.name),
        "source": np.array(problem.source),
    }
    arrays.update({MODEL_PREFIX + k: np.asarray(v) for k, v in problem.model.items()})
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise ValueError(f"cannot save {key!r}: object arrays are not allowed")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(partial, path)
    return path


def default_problem() -> Problem:
    """The shipped Fashion-MNIST MLP problem (``data/fashion_mnist_mlp.npz``).

    784 x 128 hidden kernel A, its empirical Fisher W, the rest of the trained network
    and the 10000 test images; loads offline in well under a second, no TensorFlow.
    """
    if not DEFAULT_PROBLEM_PATH.is_file():
        raise FileNotFoundError(
            f"the shipped problem {DEFAULT_PROBLEM_PATH} is missing; recreate it with "
            "`python -m wlra_core fisher --dataset fashion_mnist --out data/fashion_mnist_mlp.npz`"
        )
    problem = load_problem(DEFAULT_PROBLEM_PATH)
    problem.source = "shipped"
    return problem
