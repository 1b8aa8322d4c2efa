"""Problems to explore: uploads, the shipped Fashion-MNIST MLP, tfds/IDX/sklearn datasets
turned into (hidden kernel, empirical Fisher) pairs, and seeded synthetic patterns.

Importing this package is light (numpy, scipy): TensorFlow and tfds are imported only
when a network is trained (:func:`fisher_problem`).
"""
from .io import (
    DEFAULT_PROBLEM_PATH,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    SUPPORTED_EXTENSIONS,
    default_problem,
    load_problem,
    save_problem,
)
from .pipeline import fisher_problem, fisher_summary
from .sources import DATASETS, get_spec
from .synthetic import GENERATORS

__all__ = [
    "DATASETS",
    "DEFAULT_PROBLEM_PATH",
    "GENERATORS",
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "SUPPORTED_EXTENSIONS",
    "default_problem",
    "fisher_problem",
    "fisher_summary",
    "get_spec",
    "load_problem",
    "save_problem",
]
