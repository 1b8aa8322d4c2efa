"""Image datasets for the MLP experiments: the paper's four tfds sets plus sklearn digits.

Table 1 of the paper: ``mnist`` and ``fashion_mnist`` (28 x 28 x 1 -> 784 inputs, 128
hidden units), ``smallnorb`` (96 x 96 x 1 -> 9216, 1024) and ``colorectal_histology``
(150 x 150 x 3 -> 67500, 1024). ``digits`` is scikit-learn's bundled 8 x 8 set (64
inputs), real data that needs no download.

Where the data comes from, in order:

1. ``fashion_mnist`` with an explicit ``idx_dir``: the IDX files in that folder.
2. tensorflow_datasets under the data dir (option > ``WLRA_TFDS_DIR`` > ``data/tfds``),
   probed with ``download=False``, which fails in milliseconds when the data is absent.
3. ``download=True`` only: a tfds download, after a 5-second network check (an offline
   tfds download retries for minutes before it fails).
4. ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` IDX files.
5. Otherwise a ``ValueError`` saying what to do.

TensorFlow and tfds are imported inside functions only.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import DEBIAN_FASHION_MNIST, load_idx_dataset
from ..options import Interval, NoneAllowed, Option
from ..paths import DATA_DIR

__all__ = [
    "DatasetSpec",
    "ImageData",
    "DATASETS",
    "TFDS_DIR_ENV",
    "tfds_data_dir",
    "get_spec",
    "load_image_data",
    "require_network",
    "MAX_TRAIN",
]

TFDS_DIR_ENV = "WLRA_TFDS_DIR"
DEFAULT_TFDS_DIR = DATA_DIR / "tfds"
# Host probed before a download: tfds' own bucket, reachable whenever downloads can work.
NETWORK_PROBE = ("storage.googleapis.com", 443)
NETWORK_TIMEOUT = 5.0
MAX_TRAIN = Option(None, (Interval(int, 1), NoneAllowed("every training example")),
                   "keep only the first max_train training examples")
# sklearn digits has no test split: a fixed permutation (independent of the training
# seed) puts this fraction of the 1797 images in the test set.
DIGITS_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DatasetSpec:
    """What the pipeline needs to know about one dataset.

    Attributes
    ----------
    name : str
    image_shape : tuple of int
        Height, width, channels.
    n_classes : int
    hidden : int
        Default hidden width (Table 1 of the paper; 32 for digits).
    epochs : int
        Default training epochs.
    input_scale : float
        Raw pixel values times this are the network's inputs.
    origin : {"tfds", "sklearn"}
    train_split, test_split : str
        tfds split names (colorectal_histology has only ``train``: 80/20 slices).
    paper_first_singular_mass : float or None
        Table 2 of the paper: fraction of ``||W||_F^2`` in the first singular value.
    """

    name: str
    image_shape: tuple[int, int, int]
    n_classes: int
    hidden: int
    epochs: int
    input_scale: float
    origin: str
    train_split: str = "train"
    test_split: str = "test"
    paper_first_singular_mass: float | None = None

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.image_shape))


DATASETS = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist", (28, 28, 1), 10, 128, 5, 1 / 255, "tfds", paper_first_singular_mass=0.954),
        DatasetSpec("fashion_mnist", (28, 28, 1), 10, 128, 5, 1 / 255, "tfds", paper_first_singular_mass=0.959),
        DatasetSpec("smallnorb", (96, 96, 1), 5, 1024, 5, 1 / 255, "tfds", paper_first_singular_mass=0.999),
        DatasetSpec(
            "colorectal_histology", (150, 150, 3), 8, 1024, 5, 1 / 255, "tfds",
            train_split="train[:80%]", test_split="train[80%:]", paper_first_singular_mass=0.993,
        ),
        DatasetSpec("digits", (8, 8, 1), 10, 32, 50, 1 / 16, "sklearn"),
    )
}


@dataclass
class ImageData:
    """Flattened images (uint8, one row per image) and int64 labels of one dataset."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    location: str


def get_spec(dataset: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``dataset`` or a ValueError listing the choices."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[dataset]


def tfds_data_dir(data_dir=None) -> Path:
    """The tfds data folder: ``data_dir`` if given, else ``$WLRA_TFDS_DIR``, else ``data/tfds``."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(TFDS_DIR_ENV) or DEFAULT_TFDS_DIR)


def _flatten(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.reshape(images.shape[0], -1))


def _image_data(spec, x_train, y_train, x_test, y_test, source, location, max_train) -> ImageData:
    if max_train is not None:
        x_train, y_train = x_train[:max_train], y_train[:max_train]
    x_train, x_test = _flatten(x_train), _flatten(x_test)
    for split, x in (("train", x_train), ("test", x_test)):
        if x.shape[1] != spec.n_inputs:
            raise ValueError(
                f"{spec.name} {split} images have {x.shape[1]} values, expected "
                f"{spec.n_inputs} = {' x '.join(map(str, spec.image_shape))}"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{spec.name} {split} split is empty ({location})")
    for split, y in (("train", y_train), ("test", y_test)):
        if y.min() < 0 or y.max() >= spec.n_classes:
            raise ValueError(
                f"{spec.name} {split} labels span {y.min()}..{y.max()}, expected 0..{spec.n_classes - 1}"
            )
    return ImageData(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), source, location)


def _missing_message(spec: DatasetSpec, data_dir: Path) -> str:
    message = (
        f"{spec.name}: no tensorflow_datasets copy in {data_dir}. With network access, run "
        f"`python -m wlra_core fisher --dataset {spec.name} --download` (or tick 'Allow download' "
        f"on the dashboard's Data page); or point --data-dir / ${TFDS_DIR_ENV} at a folder that has it"
    )
    if spec.name == "fashion_mnist":
        message += (
            "; or install the Debian package dataset-fashion-mnist, or pass --idx-dir "
            "with a folder of the four IDX files"
        )
    return message


def require_network(host: tuple[str, int] = NETWORK_PROBE, timeout: float = NETWORK_TIMEOUT) -> None:
    """Raise ValueError within ``timeout`` seconds if ``host`` cannot be reached."""
    try:
        socket.create_connection(host, timeout=timeout).close()
    except OSError as err:
        raise ValueError(
            f"cannot download: {host[0]} is unreachable ({err}); connect to the network, "
            "or copy a prepared tensorflow_datasets folder and point --data-dir at it"
        ) from None


@contextlib.contextmanager
def _quiet_absl():
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _tfds_splits(spec: DatasetSpec, data_dir: Path, download: bool, max_train: int | None):
    """(x_train, y_train, x_test, y_test) from tfds, or None when absent and not downloading."""
    import tensorflow_datasets as tfds

    def load(split, download):
        return tfds.load(
            spec.name, split=split, data_dir=str(data_dir), download=download,
            as_supervised=True, shuffle_files=False,
        )

    try:
        with _quiet_absl():  # tfds warns about every folder it probes
            splits = [load(spec.train_split, False), load(spec.test_split, False)]
    except AssertionError:  # tfds' "could not find data in <data_dir>"
        if not download:
            return None
        require_network()
        try:
            splits = [load(spec.train_split, True), load(spec.test_split, True)]
        except Exception as err:  # tfds raises many types on a failed download
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(
                f"{spec.name}: download into {data_dir} failed ({first_line}); check the network "
                "and free disk space, then retry"
            ) from None
    if max_train is not None:
        splits[0] = splits[0].take(max_train)
    arrays = []
    for ds in splits:
        images, labels = [], []
        # ds.batch(n), not batch_size=-1: the latter aborts under tfds.testing.mock_data.
        for x, y in tfds.as_numpy(ds.batch(1024)):
            images.append(_flatten(x))
            labels.append(y)
        arrays += [np.concatenate(images), np.concatenate(labels)]
    return arrays


def _digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)  # integer gray levels 0..16
    order = np.random.default_rng(0).permutation(len(images))
    n_test = int(round(DIGITS_TEST_FRACTION * len(images)))
    test, train = order[:n_test], order[n_test:]
    return images[train], digits.target[train], images[test], digits.target[test]


def load_image_data(
    dataset: str,
    *,
    data_dir=None,
    idx_dir=None,
    download: bool = False,
    max_train: int | None = None,
) -> ImageData:
    """Load ``dataset`` as flattened uint8 images and int labels (see the module docstring).

    Parameters
    ----------
    dataset : str
        A key of :data:`DATASETS`.
    data_dir : path, optional
        tfds data folder (default ``$WLRA_TFDS_DIR`` or ``data/tfds``).
    idx_dir : path, optional
        fashion_mnist only: read these IDX files instead of tfds.
    download : bool
        Allow a tfds download when the data is absent.
    max_train : int, optional
        Keep only the first ``max_train`` training examples.

    Raises
    ------
    ValueError
        Data absent (with what to do), download failure, or a bad option.
    """
    spec = get_spec(dataset)
    max_train = MAX_TRAIN.validate(max_train, name="max_train", algorithm="load_image_data")
    if idx_dir is not None and dataset != "fashion_mnist":
        raise ValueError(f"idx_dir applies to fashion_mnist only, not {dataset}")
    if spec.origin == "sklearn":
        return _image_data(spec, *_digits(), "sklearn", "sklearn.datasets.load_digits", max_train)
    if idx_dir is not None:
        return _image_data(spec, *load_idx_dataset(idx_dir), "idx", str(idx_dir), max_train)
    folder = tfds_data_dir(data_dir)
    arrays = _tfds_splits(spec, folder, download, max_train)
    if arrays is not None:
        return _image_data(spec, *arrays, "tfds", str(folder), max_train)
    if dataset == "fashion_mnist" and DEBIAN_FASHION_MNIST.is_dir():
        return _image_data(spec, *load_idx_dataset(DEBIAN_FASHION_MNIST), "idx", str(DEBIAN_FASHION_MNIST), max_train)
    raise ValueError(_missing_message(spec, folder))
