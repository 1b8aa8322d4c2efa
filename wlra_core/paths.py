"""Where the project keeps files: the shipped data and the git-ignored cache.

Everything the tools write at run time goes under :data:`CACHE_DIR` (``data/cache``):
trained problems, Dask's scratch space, Keras' configuration. The data folder is
``$WLRA_DATA_DIR`` when set, else the checkout's ``data/`` (next to ``pyproject.toml``),
else ``~/.cache/wlra`` for an installed copy of the package.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR", "CACHE_DIR", "SHIPPED_PROBLEM", "keep_keras_home_in_cache"]

DATA_ENV = "WLRA_DATA_DIR"
_CHECKOUT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / "data"
    return Path.home() / ".cache" / "wlra"


DATA_DIR = _data_dir()
CACHE_DIR = DATA_DIR / "cache"
# The shipped default problem lives in the checkout (it is not part of the installed package).
SHIPPED_PROBLEM = _CHECKOUT / "data" / "fashion_mnist_mlp.npz"


def keep_keras_home_in_cache() -> None:
    """Point Keras at ``data/cache/keras`` (it writes ``keras.json`` to ``~/.keras`` otherwise).

    Called when :mod:`wlra_core` is imported, before anything imports Keras or TensorFlow;
    an explicit ``KERAS_HOME`` set by the operator wins.
    """
    os.environ.setdefault("KERAS_HOME", str(CACHE_DIR / "keras"))
