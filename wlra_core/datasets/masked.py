"""Offline demos of missing entries that keep the truth behind the mask.

scikit-learn ships two photographs (``china.jpg``, ``flower.jpg``, 427 x 640) and the
8 x 8 digits table (1797 x 64, scaled to [0, 1]); nothing is downloaded. Each demo hides a seeded random
share of the entries (NaN in A, so W = 0 there) and keeps the complete matrix as
:attr:`Problem.truth`, so the error on the missing entries can be measured.

Meta: a photo sets ``matrix_is_image`` (A itself is the picture, row i of A is row i of
the image); digits set ``row_image_shape = [8, 8]`` (each row of A is an 8 x 8 image).
Neither is ``image_shape``, which says the rows of A are the pixels of an MLP's input.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from ..problem import Problem
from ..seeding import as_seed_sequence, seed_label

__all__ = ["SAMPLE_IMAGES", "masked_image", "masked_digits", "grayscale"]

SAMPLE_IMAGES = ("china", "flower")

# ITU-R BT.601 luma: the usual RGB -> gray weights (PIL's "L" mode uses them too).
_LUMA = np.array([0.299, 0.587, 0.114])


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """An (h, w, 3) 8-bit RGB image as an (h, w) float64 matrix in [0, 1]."""
    return np.ascontiguousarray(rgb.astype(np.float64) @ _LUMA / 255.0)


def _check_observed(observed) -> float:
    if not isinstance(observed, Real) or isinstance(observed, bool) or not 0 < observed <= 1:
        raise ValueError(f"observed must be a fraction in (0, 1], got {observed!r}")
    return float(observed)


def _masked(truth: np.ndarray, observed: float, seed) -> tuple[np.ndarray, int | str]:
    """``truth`` with each entry hidden (NaN) independently with probability ``1 - observed``."""
    sequence = as_seed_sequence(seed)
    hidden = np.random.default_rng(sequence).random(truth.shape) >= observed
    return np.where(hidden, np.nan, truth), seed_label(sequence)


def _shrunk(image: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` x ``factor`` pixel blocks (the last partial rows and columns dropped)."""
    h, w = (size // factor * factor for size in image.shape)
    return np.ascontiguousarray(image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3)))


def masked_image(image: str = "china", observed: float = 0.5, seed: int = 0, downscale: int = 1) -> Problem:
    """One of scikit-learn's sample photographs in grayscale with random pixels missing.

    Parameters
    ----------
    image : {"china", "flower"}
    observed : float in (0, 1]
        Probability that a pixel is kept.
    seed : int >= 0 or SeedSequence
        The mask's seed.
    downscale : int >= 1
        Average blocks of ``downscale`` x ``downscale`` pixels first (1: the full 427 x 640
        photograph; 4: 106 x 160).

    Returns
    -------
    Problem
        A (427 x 640 at full size, values in [0, 1]) with the missing pixels at 0 and W = 0
        there (1 elsewhere), ``truth`` the whole grayscale image, ``meta["matrix_is_image"]`` True.
    """
    if image not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {image!r}; choose one of {', '.join(SAMPLE_IMAGES)}")
    observed = _check_observed(observed)
    if isinstance(downscale, bool) or not isinstance(downscale, (int, np.integer)) or not 1 <= downscale <= 100:
        raise ValueError(f"downscale must be an integer from 1 to 100, got {downscale!r}")
    from sklearn.datasets import load_sample_image

    try:
        rgb = load_sample_image(f"{image}.jpg")
    except ImportError as err:  # scikit-learn reads the JPEG files with Pillow
        raise ValueError(f"the sample images need Pillow ({' '.join(str(err).split())})") from None
    truth = _shrunk(grayscale(rgb), int(downscale)) if downscale > 1 else grayscale(rgb)
    A, label = _masked(truth, observed, seed)
    size = "" if downscale == 1 else f" ({truth.shape[0]} x {truth.shape[1]})"
    return Problem(A, None, name=f"{image}.jpg{size}, {observed:.0%} of pixels observed", source="demo",
                   meta={"dataset": f"scikit-learn sample image {image}.jpg (grayscale)", "matrix_is_image": True,
                         "observed": observed, "mask_seed": label, "downscale": int(downscale)},
                   truth=truth)


def masked_digits(observed: float = 0.5, seed: int = 0) -> Problem:
    """scikit-learn's digits table (1797 images of 8 x 8 pixels) in [0, 1] with random entries missing.

    Parameters
    ----------
    observed : float in (0, 1]
        Probability that an entry is kept.
    seed : int >= 0 or SeedSequence

    Returns
    -------
    Problem
        A of shape (1797, 64), one image per row, the 0-16 grey levels divided by 16,
        missing entries at 0 with W = 0 there; ``truth`` the whole table;
        ``meta["row_image_shape"] = [8, 8]``.
    """
    observed = _check_observed(observed)
    from sklearn.datasets import load_digits

    truth = np.ascontiguousarray(load_digits().data, dtype=np.float64) / 16.0
    A, label = _masked(truth, observed, seed)
    return Problem(A, None, name=f"digits, {observed:.0%} of entries observed", source="demo",
                   meta={"dataset": "scikit-learn digits (1797 x 64)", "row_image_shape": [8, 8],
                         "observed": observed, "mask_seed": label},
                   truth=truth)
