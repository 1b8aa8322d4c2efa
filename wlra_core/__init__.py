"""wlra_core: weighted low rank approximation solvers, data and benchmarks.

Find X minimising ``||W o (A - X)||_F^2`` with few stored parameters. Every algorithm
of "Reweighted solutions for weighted low rank approximation" (Woodruff & Yasuda)
and the baselines it compares against sit behind one API::

    import wlra_core
    res = wlra_core.solve("svd_w", A, W, rank=10)
    res.loss, res.relative_loss, res.seconds, res.n_params, res.factors, res.warnings

TensorFlow is imported only by the ``adam`` solver and the MLP/Fisher pipeline; Keras
keeps its configuration under ``data/cache/keras`` (see :mod:`wlra_core.paths`).
scikit-learn is imported when :class:`WeightedLowRank` is first used.
"""
from .paths import keep_keras_home_in_cache

keep_keras_home_in_cache()

from .algorithms import ALGORITHMS, describe, get_algorithm
from .api import relative_loss, solve, solve_ranks
from .completion import Completion, complete
from .factors import Factorization, LowRank, Reweighted
from .heldout import Holdout, HoldoutError, holdout
from .linalg import truncated_svd, weighted_loss, weighted_mass
from .problem import Problem, validate_problem
from .result import SolverFailed, Stopped, WLRAResult

__all__ = [
    "ALGORITHMS",
    "Completion",
    "Factorization",
    "Holdout",
    "HoldoutError",
    "LowRank",
    "Problem",
    "Reweighted",
    "SolverFailed",
    "Stopped",
    "WLRAResult",
    "WeightedLowRank",
    "complete",
    "describe",
    "get_algorithm",
    "holdout",
    "load_problem",
    "relative_loss",
    "solve",
    "solve_ranks",
    "truncated_svd",
    "validate_problem",
    "weighted_loss",
    "weighted_mass",
]


def __getattr__(name):
    # load_problem pulls in file parsers (scipy.io), WeightedLowRank scikit-learn (1.5 s):
    # keep `import wlra_core` light.
    if name == "load_problem":
        from .datasets.io import load_problem

        return load_problem
    if name == "WeightedLowRank":
        try:
            from .estimator import WeightedLowRank
        except ModuleNotFoundError as err:
            if err.name != "sklearn":
                raise
            raise ModuleNotFoundError("WeightedLowRank needs scikit-learn: pip install 'wlra-core[estimator]'",
                                      name="sklearn") from err
        return WeightedLowRank
    raise AttributeError(f"module 'wlra_core' has no attribute {name!r}")
