"""Dataset -> trained MLP -> (A = hidden kernel, W = empirical Fisher) as a cached Problem.

The returned :class:`~wlra_core.problem.Problem` follows the trained-MLP convention:
``model`` holds ``hidden_bias``, ``output_kernel``, ``output_bias`` (float32, as trained),
``x_test`` (uint8 raw pixels, one flattened image per row) and ``y_test``, and the
calibration moments over the *training* set (float64; see
:mod:`wlra_core.datasets.fisher`): ``input_moment`` (n x n, ``E[x x^T]``, absent above
``MAX_MOMENT_INPUTS`` inputs) and ``grad_moment`` (h x h, ``E[delta delta^T]``). ``meta``
holds the settings, ``image_shape``, ``input_scale``, ``test_accuracy``, ``calibration``
(what the moments are) and, when C was not computed, ``input_moment_skipped`` (why).
Results are cached as ``.npz`` under ``data/cache`` keyed by dataset and settings, so the
second call with the same settings loads in milliseconds. A cache file that cannot be read
is set aside (renamed ``<name>.corrupt-<time>``) and the network trained again; a cache
that cannot be written leaves the trained problem to the caller alone. Either way the
caller's ``notify`` hears one line without any server path, which goes to the log.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..linalg import first_singular_mass
from ..options import Interval, NoneAllowed, Option, validate_options
from ..problem import Problem
from .fisher import FISHER_BATCH, fisher_statistics
from ..paths import CACHE_DIR
from .io import load_problem, save_problem
from .limits import one_line
from .mlp import BATCH_SIZE, mlp_parameters, train_mlp
from .sources import MAX_TRAIN, get_spec, load_image_data

__all__ = ["DEFAULT_CACHE_DIR", "CACHE_VERSION", "SETTINGS", "cache_path", "cached_fisher_problem",
           "fisher_problem", "fisher_summary"]

# The cache folder used when a call does not name one: read at each call, so that setting
# this attribute (tests, a server for a browser walk) moves every default lookup and save.
DEFAULT_CACHE_DIR = CACHE_DIR
# Bump when the pipeline's output for the same settings changes, to invalidate caches.
# 2: calibration moments input_moment and grad_moment.
CACHE_VERSION = 2

# Share of the progress bar per stage.
_LOAD_END, _TRAIN_END, _FISHER_END = 0.05, 0.85, 0.98

logger = logging.getLogger(__name__)


# The training settings of fisher_problem (and cached_fisher_problem), validated on every call.
SETTINGS = {
    "hidden": Option(None, (Interval(int, 1), NoneAllowed("the dataset's default")), "hidden width"),
    "epochs": Option(None, (Interval(int, 1), NoneAllowed("the dataset's default")), "training epochs"),
    "seed": Option(0, (Interval(int, 0),), "seed of weight initialisation and shuffling"),
    "max_train": MAX_TRAIN,
}


def cache_path(cache_dir, dataset: str, *, hidden: int, epochs: int, seed: int, max_train: int | None) -> Path:
    """The cache file for one setting, e.g. ``fashion_mnist-h128-e5-s0-all-v2.npz``."""
    examples = "all" if max_train is None else f"n{max_train}"
    return Path(cache_dir) / f"{dataset}-h{hidden}-e{epochs}-s{seed}-{examples}-v{CACHE_VERSION}.npz"


class _DefaultDir:
    """The ``cache_dir`` default: :data:`DEFAULT_CACHE_DIR` as it is at call time."""

    def __repr__(self) -> str:
        return "DEFAULT_CACHE_DIR"


_DEFAULT_DIR = _DefaultDir()


def _settings(dataset: str, hidden, epochs, seed, max_train):
    """The dataset's spec and the checked :data:`SETTINGS`, dataset defaults filled in (ValueError if bad)."""
    spec = get_spec(dataset)
    settings = validate_options(SETTINGS, {"hidden": hidden, "epochs": epochs, "seed": seed, "max_train": max_train},
                                owner="fisher_problem")
    hidden = spec.hidden if settings["hidden"] is None else settings["hidden"]
    epochs = spec.epochs if settings["epochs"] is None else settings["epochs"]
    return spec, hidden, epochs, settings["seed"], settings["max_train"]


def _cache_file(cache_dir, dataset: str, *, hidden: int, epochs: int, seed: int,
                max_train: int | None) -> Path | None:
    """Where these settings are cached, or None when the cache is off (``cache_dir=None``)."""
    if cache_dir is _DEFAULT_DIR:
        cache_dir = DEFAULT_CACHE_DIR
    if cache_dir is None:
        return None
    return cache_path(cache_dir, dataset, hidden=hidden, epochs=epochs, seed=seed, max_train=max_train)


def _tell(notify: Callable[[str], None] | None, message: str, detail: str) -> None:
    """``message`` to the caller's ``notify`` (a user may read it: no path); ``message`` and
    ``detail`` (paths, the OS error) to the log."""
    logger.warning("%s (%s)", message, detail)
    if notify is not None:
        notify(message)


def _read_cached(path: Path | None, notify: Callable[[str], None] | None = None) -> Problem | None:
    """The problem cached at ``path``, or None when there is no such file -- or when it cannot
    be read: it is then set aside as ``<name>.corrupt-<time>`` (so that it is trained again,
    and kept for a look) and ``notify`` is told."""
    if path is None or not path.is_file():
        return None
    try:
        return load_problem(path, max_bytes=None, max_entries=None)  # the pipeline's own file
    except (ValueError, OSError) as err:  # truncated, corrupt, unreadable
        why = one_line(err.strerror if isinstance(err, OSError) and err.strerror else err)
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        os.replace(path, aside)
        where = f"{path} moved to {aside.name}"
    except OSError as err:  # another session moved it first, or the folder is read-only
        where = f"{path} could not be moved aside: {err}"
    _tell(notify, f"The cached network for these settings could not be read ({why}); it was set aside and "
                  "the network is trained again.", where)
    return None


def cached_fisher_problem(
    dataset: str,
    *,
    hidden: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    max_train: int | None = None,
    cache_dir=_DEFAULT_DIR,
    notify: Callable[[str], None] | None = None,
) -> Problem | None:
    """The problem :func:`fisher_problem` would return for these settings when its disk cache
    holds it, else None -- never trains, never imports TensorFlow.

    Parameters are :func:`fisher_problem`'s (``cache_dir=None``: no cache, so None). A cache
    file that cannot be read is set aside (None, and ``notify`` is told).

    Raises
    ------
    ValueError
        Unknown dataset or bad setting.
    """
    _, hidden, epochs, seed, max_train = _settings(dataset, hidden, epochs, seed, max_train)
    return _read_cached(_cache_file(cache_dir, dataset, hidden=hidden, epochs=epochs, seed=seed, max_train=max_train),
                        notify)


def _stage(progress, start: float, end: float):
    """Map a stage's own 0..1 progress onto ``[start, end]`` of the overall bar."""
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def fisher_problem(
    dataset: str,
    *,
    hidden: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    max_train: int | None = None,
    data_dir=None,
    idx_dir=None,
    cache_dir=_DEFAULT_DIR,
    progress: Callable[[float, str], None] | None = None,
    download: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Problem:
    """Train the paper's MLP on ``dataset`` and return (hidden kernel, Fisher) as a Problem.

    Parameters
    ----------
    dataset : str
        ``mnist``, ``fashion_mnist``, ``smallnorb``, ``colorectal_histology`` or ``digits``.
    hidden : int, optional
        Hidden width (default: Table 1 of the paper, 32 for digits).
    epochs : int, optional
        Training epochs (default per dataset, see ``sources.DATASETS``).
    seed : int
        Seeds weight initialisation and shuffling.
    max_train : int, optional
        Train (and compute the Fisher and moments) on the first ``max_train`` training
        examples only.
    data_dir : path, optional
        tfds data folder (default ``$WLRA_TFDS_DIR`` or ``data/tfds``).
    idx_dir : path, optional
        fashion_mnist: read IDX files from this folder instead of tfds.
    cache_dir : path or None, optional
        Where results are cached (default :data:`DEFAULT_CACHE_DIR`, ``data/cache`` in the
        repository); None disables the cache.
    progress : callable(fraction, message), optional
        Called with the overall fraction done (0..1) and the current stage.
    download : bool
        Allow a tfds download when the data is absent (never by default).
    notify : callable(message), optional
        Told, in one line without server paths, when the cache file could not be read (it
        is set aside and the network trained again) or the trained problem could not be
        saved (it is returned all the same); the log has the paths.

    Returns
    -------
    Problem
        ``source`` is where the images came from (``"tfds"``, ``"idx"``, ``"sklearn"``).

    Raises
    ------
    ValueError
        Unknown dataset, bad option, or data unavailable (the message says what to do).
    """
    spec, hidden, epochs, seed, max_train = _settings(dataset, hidden, epochs, seed, max_train)
    cached = _cache_file(cache_dir, dataset, hidden=hidden, epochs=epochs, seed=seed, max_train=max_train)
    problem = _read_cached(cached, notify)
    if problem is not None:
        if progress is not None:
            progress(1.0, f"loaded from cache {cached.name}")
        return problem

    if progress is not None:
        progress(0.0, f"loading {dataset}")
    data = load_image_data(dataset, data_dir=data_dir, idx_dir=idx_dir, download=download, max_train=max_train)
    if progress is not None:
        progress(_LOAD_END, f"training on {len(data.x_train)} images")
    trained = train_mlp(
        data.x_train, data.y_train, data.x_test, data.y_test,
        image_shape=spec.image_shape, n_classes=spec.n_classes, hidden=hidden, epochs=epochs,
        input_scale=spec.input_scale, seed=seed, progress=_stage(progress, _LOAD_END, _TRAIN_END),
    )
    start = time.perf_counter()
    stats = fisher_statistics(
        trained.model, data.x_train, data.y_train, input_scale=spec.input_scale,
        progress=_stage(progress, _TRAIN_END, _FISHER_END),
    )
    fisher_seconds = time.perf_counter() - start
    params = mlp_parameters(trained.model)
    meta = {
        "dataset": dataset,
        "hidden": hidden,
        "epochs": epochs,
        "seed": seed,
        "batch_size": BATCH_SIZE,
        "max_train": max_train,
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "test_accuracy": trained.test_accuracy,
        "train_loss": trained.history["loss"],
        "train_accuracy": trained.history["accuracy"],
        "image_shape": list(spec.image_shape),
        "input_scale": spec.input_scale,
        "data_source": data.source,
        "data_location": data.location,
        "weights": "empirical Fisher of the hidden kernel: mean over the training examples "
                   "of squared per-example gradients of the cross-entropy loss",
        "calibration": _calibration_note(stats, len(data.x_train), spec.input_scale),
        "fisher_batch": FISHER_BATCH,
        "train_seconds": round(trained.seconds, 3),
        "fisher_seconds": round(fisher_seconds, 3),
        "paper_first_singular_mass": spec.paper_first_singular_mass,
        "cache_version": CACHE_VERSION,
    }
    if stats.input_moment_skipped:
        meta["input_moment_skipped"] = stats.input_moment_skipped
    model = {
        "hidden_bias": params["hidden_bias"],
        "output_kernel": params["output_kernel"],
        "output_bias": params["output_bias"],
        "x_test": data.x_test,
        "y_test": data.y_test,
        "grad_moment": stats.grad_moment,
    }
    if stats.input_moment is not None:
        model["input_moment"] = stats.input_moment
    n_inputs = spec.n_inputs
    problem = Problem(
        params["kernel"].astype(np.float64), stats.fisher,
        name=f"{dataset} MLP ({n_inputs} x {hidden})", source=data.source, meta=meta, model=model,
    )
    if cached is not None:
        if progress is not None:
            progress(_FISHER_END, f"saving {cached.name}")
        try:
            save_problem(problem, cached)
        except OSError as err:  # a read-only or full disk: the training is not thrown away
            _tell(notify, f"The trained network could not be saved to the disk cache "
                          f"({err.strerror or type(err).__name__}); it is kept in memory only.",
                  f"saving {cached}: {err}")
    if progress is not None:
        progress(1.0, "done")
    return problem


def _calibration_note(stats, n_train: int, input_scale: float) -> str:
    """``meta["calibration"]``: what the stored moments are, in one sentence."""
    stored = "input_moment E[x x^T] and grad_moment" if stats.input_moment is not None else "grad_moment"
    return (f"{stored} E[delta delta^T] over the {n_train} training examples (float64, uncentred): "
            f"x = pixels * {input_scale:.6g} is the network input, delta = d loss_n / d z the "
            "per-example gradient of the cross-entropy at the hidden pre-activation z = x A + b")


def fisher_summary(problem: Problem) -> dict:
    """Figures the CLI and dashboard report for a trained-MLP problem.

    Returns
    -------
    dict
        ``test_accuracy``, ``first_singular_mass`` (fraction of ``||W||_F^2`` in s_1),
        ``paper_first_singular_mass`` (Table 2, or None), ``zero_rows`` and
        ``zero_columns`` of W, ``shape``.
    """
    W = problem.W
    return {
        "shape": problem.shape,
        "test_accuracy": problem.meta.get("test_accuracy"),
        "first_singular_mass": first_singular_mass(W),
        "paper_first_singular_mass": problem.meta.get("paper_first_singular_mass"),
        "zero_rows": int(np.sum(~W.any(axis=1))),
        "zero_columns": int(np.sum(~W.any(axis=0))),
    }
