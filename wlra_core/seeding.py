"""Seeds: one :class:`numpy.random.SeedSequence` per run, spawned per trial and per iteration.

A child is derived from its parent's entropy and spawn key plus an index, without
mutating the parent (``SeedSequence.spawn`` counts its children, which would make the
streams depend on call order). Trial ``t`` of a sweep with seed ``s`` is
``SeedSequence(s, spawn_key=(t,))``: the same stream as ``SeedSequence(s).spawn(t + 1)[t]``,
and never the stream of another (seed, trial) pair.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["as_seed_sequence", "child_seed", "trial_seed", "seed_label", "int_seed"]


def as_seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """``seed`` (a non-negative integer or a SeedSequence) as a SeedSequence; ValueError otherwise."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, Integral) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ValueError(f"{name} must be a non-negative integer (or a numpy.random.SeedSequence), got {seed!r}")


def child_seed(seed: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``seed`` (e.g. one per trial, one per iteration)."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(index)))


def trial_seed(seed, trial: int) -> np.random.SeedSequence:
    """The seed of trial ``trial`` of a sweep started with ``seed``."""
    return child_seed(as_seed_sequence(seed), trial)


def seed_label(seed) -> int | str:
    """How results report a seed: the integer itself, or ``entropy/spawn_key`` for a child."""
    seq = as_seed_sequence(seed)
    if not seq.spawn_key and isinstance(seq.entropy, Integral):
        return int(seq.entropy)
    return f"{seq.entropy}/{'.'.join(map(str, seq.spawn_key))}"


def int_seed(seed) -> int:
    """A 32-bit integer drawn from ``seed``, for libraries that take only integers (scikit-learn)."""
    return int(as_seed_sequence(seed).generate_state(1)[0])
