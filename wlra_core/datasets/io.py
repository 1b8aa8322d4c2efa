"""Read and write WLRA problems: uploads (.npy, .npz, .csv/.txt, .mtx) and saved problems.

Files are untrusted: nothing is ever unpickled (``allow_pickle=False``), sizes are capped
*before* arrays are materialised, and every defect becomes a ``ValueError`` whose text
names the file, says what is wrong and what is expected. Matrix checks themselves (NaN,
shape, sign of the weights...) are :func:`wlra_core.problem.validate_problem`'s; this
module only prefixes their messages with the file name.

Saved-problem convention (``.npz``): arrays ``A``, ``W``, ``model_<key>`` for each array of
``Problem.model``, and 0-d string arrays ``meta`` (JSON), ``name`` and ``source``.

This module must not import TensorFlow: the dashboard loads the shipped problem with it.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..problem import Problem, as_float_matrix, validate_problem

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_ENTRIES",
    "SUPPORTED_EXTENSIONS",
    "DATA_DIR",
    "DEFAULT_PROBLEM_PATH",
    "load_problem",
    "save_problem",
    "default_problem",
]

# Upload limits: a 200 MiB file, and at most 50 million entries (400 MB as float64) in
# any one array, checked from the file header before the array is read.
MAX_FILE_BYTES = 200 * 2**20
MAX_ENTRIES = 50_000_000

SUPPORTED_EXTENSIONS = (".npy", ".npz", ".csv", ".txt", ".mtx")
_EXPECTED_TYPES = ".npy, .npz, .csv, .txt or .mtx"

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_PROBLEM_PATH = DATA_DIR / "fashion_mnist_mlp.npz"

_MODEL_PREFIX = "model_"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes:,} bytes"


class _Limits:
    """Size caps for one load; ``None`` disables a cap (trusted local files)."""

    def __init__(self, max_bytes: int | None, max_entries: int | None):
        self.max_bytes = max_bytes
        self.max_entries = max_entries

    def check_bytes(self, label: str, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise ValueError(f"{label}: file is {_size(size)}; the limit is {_size(self.max_bytes)}")

    def check_shape(self, label: str, shape: tuple[int, ...]) -> None:
        entries = int(np.prod(shape, dtype=np.int64))
        if self.max_entries is not None and entries > self.max_entries:
            raise ValueError(
                f"{label}: array of shape {shape} has {entries:,} entries; the limit is "
                f"{self.max_entries:,} entries per array"
            )


# ---------------------------------------------------------------------------- opening


def _open(file_or_path, limits: _Limits) -> tuple[str, str, Any, bool]:
    """Return ``(label, extension, binary file object, is_upload)`` for a path or upload.

    Uploads (objects with ``read``, e.g. Streamlit's UploadedFile) are read into memory,
    at most ``max_bytes + 1`` bytes; paths are opened after a size check.
    """
    if hasattr(file_or_path, "read"):
        label = Path(str(getattr(file_or_path, "name", "") or "upload")).name
        if hasattr(file_or_path, "getvalue"):
            data = file_or_path.getvalue()
        else:
            cap = None if limits.max_bytes is None else limits.max_bytes + 1
            data = file_or_path.read() if cap is None else file_or_path.read(cap)
        if isinstance(data, str):
            data = data.encode()
        limits.check_bytes(label, len(data))
        return label, Path(label).suffix.lower(), io.BytesIO(data), True
    path = Path(file_or_path)
    label = path.name
    if not path.is_file():
        raise ValueError(f"{label}: no such file ({path})")
    limits.check_bytes(label, path.stat().st_size)
    return label, path.suffix.lower(), open(path, "rb"), False


def _is_empty(fh) -> bool:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    return size == 0


# ---------------------------------------------------------------------------- .npy / .npz


def _npy_header(fh, label: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the data."""
    start = fh.read(len(np.lib.format.MAGIC_PREFIX))
    if start != np.lib.format.MAGIC_PREFIX:
        if start[:1] == b"\x80":
            raise ValueError(
                f"{label}: is a Python pickle; pickles are never loaded (they can run code). "
                "Expected a NumPy array saved with numpy.save(..., allow_pickle=False)"
            )
        raise ValueError(f"{label}: is not a NumPy .npy file (no NumPy header)")
    fh.seek(-len(start), os.SEEK_CUR)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as err:
        raise ValueError(f"{label}: corrupt .npy header ({err})") from None
    return shape, dtype


def _read_npy(fh, label: str, limits: _Limits) -> np.ndarray:
    shape, dtype = _npy_header(fh, label)
    if dtype.hasobject:
        raise ValueError(
            f"{label}: holds pickled Python objects (dtype object); pickles are never loaded. "
            "Expected a plain numeric array (numpy.save(..., allow_pickle=False))"
        )
    limits.check_shape(label, shape)
    fh.seek(0)
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"{label}: truncated or corrupt .npy data ({err})") from None


def _read_npz(fh, label: str, limits: _Limits) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(fh)
        members = [m for m in archive.namelist() if m.endswith(".npy")]
        if not members:
            raise ValueError(
                f"{label}: contains no arrays; expected arrays A and optional W, "
                "e.g. numpy.savez(path, A=A, W=W)"
            )
        arrays = {}
        for member in members:
            key = member[: -len(".npy")]
            with archive.open(member) as part:
                arrays[key] = _read_npy(part, f"{label} (array {key!r})", limits)
        return arrays
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise ValueError(
            f"{label}: not a readable .npz archive ({err}); expected a file written by "
            "numpy.savez or numpy.savez_compressed"
        ) from None


# ---------------------------------------------------------------------------- text tables


def _text(fh, label: str) -> str:
    try:
        return fh.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(
            f"{label}: is not a text file; expected numbers separated by commas or whitespace"
        ) from None


def _first_table_defect(lines: list[str], delimiter: str | None) -> str:
    """Describe the first non-numeric value or ragged row (1-based line numbers)."""
    width, width_line = None, None
    for number, line in enumerate(lines, start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        values = [v.strip() for v in content.split(delimiter)]
        for value in values:
            try:
                float(value)
            except ValueError:
                shown = value if value else "(empty)"
                return f"line {number}: {shown!r} is not a number"
        if width is None:
            width, width_line = len(values), number
        elif len(values) != width:
            return f"ragged rows: line {number} has {len(values)} values but line {width_line} has {width}"
    return "unreadable table"


def _read_table(fh, label: str, limits: _Limits) -> np.ndarray:
    text = _text(fh, label)
    lines = text.splitlines()
    first = next((l for l in lines if l.split("#", 1)[0].strip()), None)
    if first is None:
        raise ValueError(f"{label}: contains no numbers; expected a numeric table")
    delimiter = "," if "," in first else None
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError:
        defect = _first_table_defect(lines, delimiter)
        raise ValueError(
            f"{label}: {defect}; expected only numbers separated by "
            f"{'commas' if delimiter else 'whitespace'}, the same count on every row "
            "(no header row)"
        ) from None
    limits.check_shape(label, table.shape)
    return table


# ---------------------------------------------------------------------------- Matrix Market


def _read_mtx(fh, label: str, limits: _Limits) -> np.ndarray:
    import scipy.io

    expected = (
        "expected a '%%MatrixMarket matrix coordinate|array real|integer|pattern general' file"
    )
    # scipy's C++ reader aborts the whole process on some real file objects; an
    # in-memory copy is read safely (and the file is at most max_bytes).
    fh = io.BytesIO(fh.read())
    try:
        rows, cols, _, _, field, _ = scipy.io.mminfo(fh)
    except (ValueError, OSError, IndexError, ArithmeticError) as err:
        raise ValueError(f"{label}: not a readable Matrix Market file ({err}); {expected}") from None
    if field == "complex":
        raise ValueError(f"{label}: A is complex; only real matrices are supported")
    limits.check_shape(label, (rows, cols))
    fh.seek(0)
    try:
        matrix = scipy.io.mmread(fh, spmatrix=False)
    except (ValueError, OSError, IndexError, ArithmeticError) as err:
        raise ValueError(f"{label}: corrupt Matrix Market data ({err}); {expected}") from None
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


# ---------------------------------------------------------------------------- dispatch


def _read_arrays(file_or_path, limits: _Limits) -> tuple[str, dict[str, np.ndarray], bool]:
    """Read one file into ``{name: array}``; non-.npz formats give ``{"": matrix}``."""
    label, ext, fh, is_upload = _open(file_or_path, limits)
    with fh:
        if ext not in SUPPORTED_EXTENSIONS:
            raise ValueError(
                f"{label}: unsupported file type {ext or '(no extension)'!r}; "
                f"expected {_EXPECTED_TYPES}"
            )
        if _is_empty(fh):
            raise ValueError(f"{label}: file is empty")
        if ext == ".npz":
            arrays = _read_npz(fh, label, limits)
        elif ext == ".npy":
            arrays = {"": _read_npy(fh, label, limits)}
        elif ext == ".mtx":
            arrays = {"": _read_mtx(fh, label, limits)}
        else:
            arrays = {"": _read_table(fh, label, limits)}
    return label, arrays, is_upload


def _pick(arrays: dict[str, np.ndarray], key: str, other: str) -> np.ndarray | None:
    """The array named ``key``, else the file's only array unless it is named ``other``."""
    if key in arrays:
        return arrays[key]
    if len(arrays) == 1 and other not in arrays:
        return next(iter(arrays.values()))
    return None


def _string(label: str, arrays: dict[str, np.ndarray], key: str) -> str | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.dtype.kind != "U" or value.ndim != 0:
        raise ValueError(f"{label}: array {key!r} must be a single string, got dtype {value.dtype} shape {value.shape}")
    return str(value)


def _prefixed(label: str, check, *args):
    """Run a problem.py check and name the file in its message."""
    try:
        return check(*args)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None


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
        comments) or Matrix Market ``.mtx``.
    weights : same kinds as ``file_or_path``, optional
        A second file holding W (its ``W`` array, or its only array). Without it, W
        comes from the first file's ``W`` array or is all ones.
    max_bytes, max_entries : int or None
        Caps on file size and on the entries of any one array (defaults
        :data:`MAX_FILE_BYTES` = 200 MiB and :data:`MAX_ENTRIES` = 50 million);
        ``None`` lifts a cap for trusted local files.

    Returns
    -------
    Problem
        ``source`` is ``"upload"`` for file objects, ``"file"`` for paths, or what a
        saved problem recorded; ``meta["file"]`` names the file.

    Raises
    ------
    ValueError
        Naming the file, the defect and what is expected.
    """
    limits = _Limits(max_bytes, max_entries)
    label, arrays, is_upload = _read_arrays(file_or_path, limits)
    A = _pick(arrays, "A", other="W")
    if A is None:
        found = ", ".join(sorted(arrays))
        raise ValueError(
            f"{label}: no array named 'A' (found {found}); expected arrays A and optional W, "
            "e.g. numpy.savez(path, A=A, W=W)"
        )
    A = _prefixed(label, as_float_matrix, A, "A")
    W = arrays.get("W")
    W_label = label
    if weights is not None:
        W_label, weight_arrays, _ = _read_arrays(weights, limits)
        if W is not None:
            raise ValueError(
                f"{label}: already contains W, and weights file {W_label} was given too; "
                "expected one source of weights"
            )
        W = _pick(weight_arrays, "W", other="A")
        if W is None:
            found = ", ".join(sorted(weight_arrays))
            raise ValueError(f"{W_label}: no array named 'W' (found {found}); expected the weights W")
    if W is not None:
        W = _prefixed(W_label, as_float_matrix, W, "W")
    pair = label if W_label == label else f"{label} + {W_label}"
    A, W = _prefixed(pair, validate_problem, A, W)

    meta_text = _string(label, arrays, "meta")
    try:
        meta = json.loads(meta_text) if meta_text is not None else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"{label}: array 'meta' is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{label}: array 'meta' must hold a JSON object, got {type(meta).__name__}")
    meta.setdefault("file", label)
    model = {k[len(_MODEL_PREFIX):]: v for k, v in arrays.items() if k.startswith(_MODEL_PREFIX)}
    name = _string(label, arrays, "name") or Path(label).stem
    source = _string(label, arrays, "source") or ("upload" if is_upload else "file")
    return Problem(A, W, name=name, source=source, meta=meta, model=model)


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
    arrays.update({_MODEL_PREFIX + k: np.asarray(v) for k, v in problem.model.items()})
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
