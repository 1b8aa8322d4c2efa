"""Problems this server keeps for every session, so that a reload or a shared link finds
them again (see ``app_pages/_url_state.py``): trained MLP problems, generated problems and
uploads. Each store is bounded; what falls out of one is said so when a link asks for it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from app_pages._url_state import SYNTHETIC, check_synthetic_size
from wlra_core import Problem

# Trained problems kept in memory; older ones reload from the pipeline's disk cache.
KEPT_TRAINED = 4
# Uploads kept for reloads and links: the newest always, older ones while all together
# stay under KEPT_UPLOAD_BYTES (an upload may hold two 400 MB matrices).
KEPT_UPLOADS = 4
KEPT_UPLOAD_BYTES = 2**30


@dataclass
class TrainedProblems:
    """This server's trained problems by (dataset, hidden, epochs), shared by every session,
    newest last; ``lock`` guards them, ``training`` lets one training run at a time (two
    would share the 2 cores and race to write the same cache file)."""

    problems: OrderedDict[tuple[str, int, int], Problem] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    training: threading.Lock = field(default_factory=threading.Lock)

    def get(self, settings: tuple[str, int, int]) -> Problem | None:
        with self.lock:
            return self.problems.get(settings)

    def add(self, settings: tuple[str, int, int], problem: Problem) -> None:
        """Keep ``problem``, forgetting the oldest beyond :data:`KEPT_TRAINED`."""
        with self.lock:
            self.problems[settings] = problem
            self.problems.move_to_end(settings)
            while len(self.problems) > KEPT_TRAINED:
                self.problems.popitem(last=False)


@st.cache_resource(show_spinner=False)
def trained_problems() -> TrainedProblems:
    """The server's :class:`TrainedProblems`, filled outside any cached function: the training
    draws a progress bar, and a cached function must not write to elements created outside
    it (replaying it on the next call would fail)."""
    return TrainedProblems()


def stored_trained_problem(dataset: str, hidden: int, epochs: int) -> Problem | None:
    """The trained problem for these settings when this server has it -- in memory or in the
    pipeline's disk cache -- else None (it would need training, which a link never starts)."""
    trained, settings = trained_problems(), (dataset, hidden, epochs)
    problem = trained.get(settings)
    if problem is None:
        from wlra_core.datasets.pipeline import cached_fisher_problem

        problem = cached_fisher_problem(dataset, hidden=hidden, epochs=epochs)
        if problem is not None:
            trained.add(settings, problem)
    return problem


def trained_problem(dataset: str, hidden: int, epochs: int, *, download: bool = False,
                    progress: Callable[[float, str], None] | None = None,
                    notify: Callable[[str], None] | None = None) -> Problem:
    """The trained problem for these settings: from memory, else from the pipeline (its disk
    cache, or training), one training at a time on this server. ``progress(fraction, message)``
    hears the pipeline's stages, and a wait for another session's training; ``notify`` the
    pipeline's notices (an unreadable cache file set aside, a save that failed: the problem
    is kept in memory here all the same).

    Raises
    ------
    ValueError
        The pipeline's: bad settings, data unavailable (the message says what to do).
    """
    trained, settings = trained_problems(), (dataset, hidden, epochs)
    problem = trained.get(settings)
    if problem is not None:
        return problem
    from wlra_core.datasets.pipeline import fisher_problem

    if trained.training.locked() and progress is not None:
        progress(0.0, f"{dataset}: waiting for another training on this server to finish...")
    with trained.training:
        problem = trained.get(settings)  # the other session may have trained it
        if problem is None:
            problem = fisher_problem(dataset, hidden=hidden, epochs=epochs, download=download, progress=progress,
                                     notify=notify)
            trained.add(settings, problem)
    return problem


def _nbytes(problem: Problem) -> int:
    return problem.A.nbytes + problem.W.nbytes + sum(np.asarray(v).nbytes for v in problem.model.values())


@dataclass
class KeptUploads:
    """Uploaded problems by key (their fingerprint), newest last; see :data:`KEPT_UPLOADS`."""

    problems: OrderedDict[str, Problem] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, key: str, problem: Problem) -> None:
        with self.lock:
            self.problems[key] = problem
            self.problems.move_to_end(key)
            while len(self.problems) > 1 and (len(self.problems) > KEPT_UPLOADS or sum(
                    map(_nbytes, self.problems.values())) > KEPT_UPLOAD_BYTES):
                self.problems.popitem(last=False)

    def get(self, key: str) -> Problem | None:
        with self.lock:
            return self.problems.get(key)


@st.cache_resource(show_spinner=False)
def kept_uploads() -> KeptUploads:
    """The server's :class:`KeptUploads` (gone when the server restarts)."""
    return KeptUploads()


@st.cache_resource(show_spinner="Generating...", max_entries=4)  # paper-sized ones take 1.1 GB each
def _generated(generator: str, params: tuple) -> Problem:
    return SYNTHETIC[generator](**dict(params))


def synthetic_problem(generator: str, params: dict) -> Problem:
    """The seeded problem ``generator(**params)``, generated once per server; refuses (ValueError)
    a size over the cap or the memory left before generating anything."""
    check_synthetic_size(generator, params)
    return _generated(generator, tuple(params.items()))
