"""Problems this server keeps for every session, so that a reload or a shared link finds
them again (see ``app_pages/_url_state.py``): trained MLP problems, generated problems and
uploads. Each store is bounded; what falls out of one is said so when a link asks for it.
"""
from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from app_pages._url_state import SYNTHETIC, check_synthetic_size
from wlra_core import Problem, load_problem

# Trained problems kept in memory; older ones reload from the pipeline's disk cache.
KEPT_TRAINED = 4
# Uploads kept for reloads and links: the newest always, older ones while all together
# stay under KEPT_UPLOAD_BYTES (an upload may hold two 400 MB matrices).
KEPT_UPLOADS = 4
KEPT_UPLOAD_BYTES = 2**30


@dataclass
class TrainedProblems:
    """This server's trained problems by (dataset, hidden, epochs), shared by every session,
    and the lock that lets one training run at a time (two would share the 2 cores and
    race to write the same cache file)."""

    problems: dict[tuple[str, int, int], Problem] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, settings: tuple[str, int, int], problem: Problem) -> None:
        """Keep ``problem``, forgetting the oldest beyond :data:`KEPT_TRAINED`."""
        self.problems[settings] = problem
        for oldest in list(self.problems)[:-KEPT_TRAINED]:
            del self.problems[oldest]


@st.cache_resource(show_spinner=False)
def trained_problems() -> TrainedProblems:
    """The server's :class:`TrainedProblems`, filled by the Data page's training outside any
    cached function: the training draws a progress bar, and a cached function must not write
    to elements created outside it (replaying it on the next call would fail)."""
    return TrainedProblems()


def stored_trained_problem(dataset: str, hidden: int, epochs: int) -> Problem | None:
    """The trained problem for these settings when this server has it -- in memory or in the
    pipeline's disk cache -- else None (it would need training, which a link never starts)."""
    trained, settings = trained_problems(), (dataset, hidden, epochs)
    if settings in trained.problems:
        return trained.problems[settings]
    from wlra_core.datasets.pipeline import cache_path, fisher_problem

    # The pipeline's own default folder (tests point it at a temporary one).
    cache_dir = inspect.signature(fisher_problem).parameters["cache_dir"].default
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, dataset, hidden=hidden, epochs=epochs, seed=0, max_train=None)
    if not path.is_file():
        return None
    problem = load_problem(path, max_bytes=None, max_entries=None)  # the pipeline's own file
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
