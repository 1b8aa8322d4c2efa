"""Reader for IDX files (the MNIST / Fashion-MNIST distribution format), gzipped or plain.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), the dimensions as big-endian uint32, then the data in row-major order,
big-endian. Debian's ``dataset-fashion-mnist`` package installs the four Fashion-MNIST
files in :data:`DEBIAN_FASHION_MNIST`.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["DEBIAN_FASHION_MNIST", "read_idx", "load_idx_dataset"]

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain, recognised by content) into a native-endian array.

    Raises
    ------
    ValueError
        If the header is not IDX or the data is shorter or longer than the header says.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == _GZIP_MAGIC
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path.name}: cannot decompress ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path.name}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path.name}: header announces shape {shape} ({expected} bytes) but the file "
            f"holds {len(raw) - header} bytes of data"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    # Distributions spell the names "train-images-idx3-ubyte" or "train-images.idx3-ubyte".
    dotted = stem.replace("-idx", ".idx")
    for name in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"{folder}: no {stem}[.gz] file; expected the four MNIST-style IDX files")


def load_idx_dataset(folder=DEBIAN_FASHION_MNIST) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read an MNIST-style folder: ``(x_train, y_train, x_test, y_test)``.

    Images keep their IDX dtype and shape (``(N, 28, 28)`` uint8 for Fashion-MNIST);
    labels are int64.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder of IDX files")
    parts = []
    for split in ("train", "t10k"):
        images = read_idx(_find(folder, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{split}-labels-idx1-ubyte")).astype(np.int64)
        if labels.shape != images.shape[:1]:
            raise ValueError(f"{folder}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
        parts += [images, labels]
    return tuple(parts)
