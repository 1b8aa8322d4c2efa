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

from .options import InstanceOf, Interval, Option

__all__ = ["SEED", "as_seed_sequence", "child_seed", "trial_seed", "seed_label", "int_seed"]

SEED = Option(0, (Interval(int, 0), InstanceOf((np.random.SeedSequence,), "a numpy.random.SeedSequence")),
              "the seed of every random choice")


def as_seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """``seed`` (see :data:`SEED`) as a SeedSequence; ValueError naming ``name`` otherwise."""
    seed = SEED.validate(seed, name=name)
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


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
