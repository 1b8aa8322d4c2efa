"""Where the dashboard's problems come from, made once per server: the shipped problem,
seeded generators, MLPs trained on a dataset, and uploads.

This server keeps what it made for every session, so that a reload or a shared link (see
``_links.py``) finds it again: generated problems in Streamlit's resource cache, trained
problems and uploads in :class:`~app_pages._store.BoundedStore` s. Each store is bounded;
what falls out of one is said so when a link asks for it.
"""
from __future__ import annotations

import inspect
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import streamlit as st

from app_pages._store import BoundedStore
from wlra_core import Problem
from wlra_core.datasets.fisher_like import fisher_like_problem
from wlra_core.datasets.limits import LoadBudget
from wlra_core.datasets.masked import masked_digits, masked_image
from wlra_core.datasets.synthetic import GENERATORS

__all__ = [
    "SYNTHETIC", "DEMOS", "GENERATED", "SYNTHETIC_MAX_ENTRIES", "KEPT_TRAINED", "KEPT_UPLOADS", "KEPT_UPLOAD_BYTES",
    "synthetic_defaults", "check_synthetic_size", "synthetic_problem", "shipped_problem",
    "trained_problems", "stored_trained_problem", "trained_problem", "kept_uploads", "keep_upload",
]

# The teaching generators, and Fisher-like problems up to the paper's largest kernels.
SYNTHETIC = {**GENERATORS, "fisher_like": fisher_like_problem}
# Offline demos of missing entries that keep the truth behind them (scikit-learn's bundled
# photographs and digits, a seeded random mask).
DEMOS = {"masked_image": masked_image, "masked_digits": masked_digits}
# Every seeded maker a link can name, by name.
GENERATED = {**SYNTHETIC, **DEMOS}
# Entries of A (and of W) a generated problem may have: the paper's largest kernel
# (colorectal_histology, 67500 x 1024: two 550 MB matrices). Memory is checked too.
SYNTHETIC_MAX_ENTRIES = 67_500 * 1_024
# Trained problems kept in memory; older ones reload from the pipeline's disk cache.
KEPT_TRAINED = 4
# Uploads kept for reloads and links: the newest always, older ones while all together
# stay under KEPT_UPLOAD_BYTES (an upload may hold two 400 MB matrices).
KEPT_UPLOADS = 4
KEPT_UPLOAD_BYTES = 2**30


@st.cache_resource(show_spinner="Loading the shipped Fashion-MNIST problem...")
def shipped_problem() -> Problem:
    """The shipped default problem (loaded once per server)."""
    from wlra_core.datasets.io import default_problem

    return default_problem()


# --- Generated problems (synthetic and demos) ----------------------------------------------


def synthetic_defaults(generator: str) -> dict[str, Any]:
    """A generator's parameters and their defaults, in signature order."""
    return {name: p.default for name, p in inspect.signature(GENERATED[generator]).parameters.items()}


def check_synthetic_size(generator: str, params: Mapping[str, Any]) -> None:
    """Refuse (ValueError) a generated problem over :data:`SYNTHETIC_MAX_ENTRIES` entries or
    the memory left, before generating it. ``block_diagonal`` and a ``d`` of None are n x n."""
    n, d = params.get("n"), params.get("d")
    d = n if d is None else d
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (n, d)):
        return  # the generator itself names the bad size
    budget = LoadBudget(max_bytes=None, max_entries=SYNTHETIC_MAX_ENTRIES)
    for matrix in ("A", "W"):
        budget.claim(generator, (int(n), int(d)), np.dtype(np.float64), matrix=True, what=f"{matrix} ({n} x {d})")


@st.cache_resource(show_spinner="Generating...", max_entries=4)  # paper-sized ones take 1.1 GB each
def _generated(generator: str, params: tuple) -> Problem:
    return GENERATED[generator](**dict(params))


def synthetic_problem(generator: str, params: dict) -> Problem:
    """The seeded problem ``generator(**params)``, generated once per server; refuses (ValueError)
    a size over the cap or the memory left before generating anything."""
    check_synthetic_size(generator, params)
    return _generated(generator, tuple(params.items()))


# --- Trained MLP problems -------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def trained_problems() -> BoundedStore[tuple[str, int, int], Problem]:
    """This server's trained problems by (dataset, hidden, epochs), at most :data:`KEPT_TRAINED`.
    Filled outside any cached function: the training draws a progress bar, and a cached
    function must not write to elements created outside it (replaying it on the next call
    would fail)."""
    return BoundedStore(KEPT_TRAINED)


@st.cache_resource(show_spinner=False)
def training_lock() -> threading.Lock:
    """Held by the one training this server runs at a time: two would share the 2 cores and
    race to write the same cache file."""
    return threading.Lock()


def stored_trained_problem(dataset: str, hidden: int, epochs: int) -> Problem | None:
    """The trained problem for these settings when this server has it -- in memory or in the
    pipeline's disk cache -- else None (it would need training, which a link never starts)."""
    trained, settings = trained_problems(), (dataset, hidden, epochs)
    problem = trained.get(settings)
    if problem is None:
        from wlra_core.datasets.pipeline import cached_fisher_problem

        problem = cached_fisher_problem(dataset, hidden=hidden, epochs=epochs)
        if problem is not None:
            trained.put(settings, problem)
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
    trained, training, settings = trained_problems(), training_lock(), (dataset, hidden, epochs)
    problem = trained.get(settings)
    if problem is not None:
        return problem
    from wlra_core.datasets.pipeline import fisher_problem

    if training.locked() and progress is not None:
        progress(0.0, f"{dataset}: waiting for another training on this server to finish...")
    with training:
        problem = trained.get(settings)  # the other session may have trained it
        if problem is None:
            problem = fisher_problem(dataset, hidden=hidden, epochs=epochs, download=download, progress=progress,
                                     notify=notify)
            trained.put(settings, problem)
    return problem


# --- Uploads --------------------------------------------------------------------------------


def _nbytes(problem: Problem) -> int:
    return problem.A.nbytes + problem.W.nbytes + sum(np.asarray(v).nbytes for v in problem.model.values())


@st.cache_resource(show_spinner=False)
def kept_uploads() -> BoundedStore[str, Problem]:
    """This server's uploads by key (gone when the server restarts); see :data:`KEPT_UPLOADS`."""
    return BoundedStore(KEPT_UPLOADS, max_bytes=KEPT_UPLOAD_BYTES, size=_nbytes)


def keep_upload(problem: Problem) -> str:
    """Keep an uploaded problem on this server, for reloads and links, under a new random key
    (32 hexadecimal digits), and return the key.

    The key is drawn from :mod:`secrets`, not derived from the upload: a link to an upload
    is a capability that only its holders have, and no one can open another visitor's upload
    (its file name included) by computing a key from a matrix they guess.
    """
    key = secrets.token_hex(16)
    kept_uploads().put(key, problem)
    return key
