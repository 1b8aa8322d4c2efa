"""A scikit-learn style estimator around :func:`wlra_core.solve`.

:class:`WeightedLowRank` follows scikit-learn's estimator conventions by hand (this module
does not import scikit-learn): ``__init__`` stores its parameters as given, ``fit``
validates them (through the options each algorithm declares, :mod:`wlra_core.options`)
and sets attributes ending in ``_``, and ``get_params``/``set_params`` make
``sklearn.base.clone`` and parameter searches work::

    est = WeightedLowRank("svd_w", n_components=10, weight_floor=1e-3).fit(A, W)
    est.loss_, est.relative_loss_, est.n_params_, x @ est.factors_
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from .algorithms import get_algorithm
from .api import solve
from .problem import Problem, validate_rank
from .result import SolverFailed, WLRAResult
from .seeding import as_seed_sequence

__all__ = ["WeightedLowRank", "FlaggedResultWarning", "FitFailedError"]


class FlaggedResultWarning(UserWarning):
    """A fit finished but its result deserves a second look (see ``WLRAResult.warnings``):
    entries blown up by tiny weights, a relative loss above 1, a loss float64 cannot hold."""


class FitFailedError(SolverFailed):
    """The algorithm produced no usable answer; ``result`` is the failed :class:`WLRAResult`."""

    def __init__(self, message: str, result: WLRAResult):
        super().__init__(message)
        self.result = result


# The named parameters; every other keyword is an option of the chosen algorithm.
_NAMED = ("method", "n_components", "random_state")
# Set by fit; a new fit starts by removing them, so a fit that raises leaves none behind.
_FITTED = ("result_", "factors_", "loss_", "relative_loss_", "n_params_", "warnings_")


class WeightedLowRank:
    """Weighted low rank approximation: find X of rank ``n_components`` minimising
    ``||W o (A - X)||_F^2`` with one of :data:`wlra_core.ALGORITHMS`.

    Parameters
    ----------
    method : str, default="svd_w"
        The algorithm (a name of :data:`wlra_core.ALGORITHMS`).
    n_components : int, default=10
        The target rank k, ``1 <= k <= min(n, d)``.
    random_state : int >= 0, numpy.random.SeedSequence or None, default=0
        The seed of every random choice the algorithm makes. Unlike scikit-learn, None does
        not draw fresh entropy: it means 0, :func:`wlra_core.solve`'s default, so every fit
        is reproducible.
    **options
        Options of ``method``, as declared in ``get_algorithm(method).options`` (e.g.
        ``weight_floor`` for svd_w, ``n_iter`` for em); omitted ones take their defaults.
        Names and values are checked by :meth:`fit` (names also by :meth:`set_params`).

    Attributes
    ----------
    result_ : WLRAResult
        Everything :func:`wlra_core.solve` returned (seconds, history, options used...).
    factors_ : Factorization
        The stored arrays of X: ``x @ est.factors_`` computes ``x @ X`` without forming X.
    approx_ : ndarray of shape (n, d)
        The dense approximation X, formed from ``factors_`` on first access.
    loss_ : float
        ``||W o (A - X)||_F^2``.
    relative_loss_ : float
        ``loss_ / ||W o A||_F^2``.
    n_params_ : int
        Entries of the stored arrays (svd_w and css store W itself).
    warnings_ : list of str
        Why the result deserves a second look (also emitted as :class:`FlaggedResultWarning`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, W = rng.standard_normal((30, 20)), rng.random((30, 20))
    >>> est = WeightedLowRank("em", n_components=3, n_iter=10).fit(A, W)
    >>> est
    WeightedLowRank(method='em', n_components=3, n_iter=10)
    >>> est.n_params_
    150
    """

    def __init__(self, method="svd_w", n_components=10, *, random_state=0, **options):
        self.method = method
        self.n_components = n_components
        self.random_state = random_state
        self._options = options

    def __getattr__(self, name):
        # Called only when normal lookup fails: options read like parameters
        # (est.weight_floor), and unfitted attributes say so.
        options = self.__dict__.get("_options", {})
        if name in options:
            return options[name]
        if name in (*_FITTED, "approx_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: call fit before reading {name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_params(self, deep=True) -> dict:
        """``method``, ``n_components``, ``random_state`` and the options that were set.

        ``deep`` is accepted for scikit-learn's sake; there are no nested estimators.
        """
        return {"method": self.method, "n_components": self.n_components,
                "random_state": self.random_state, **self._options}

    def set_params(self, **params) -> "WeightedLowRank":
        """Set parameters and options; ValueError naming any name that is neither a
        parameter nor an option declared by the (new) method. Values are checked by fit."""
        options = {key: value for key, value in params.items() if key not in _NAMED}
        if options:
            algorithm = get_algorithm(params.get("method", self.method))
            unknown = sorted(set(options) - set(algorithm.options))
            if unknown:
                declared = ", ".join(sorted(algorithm.options)) or "none"
                raise ValueError(f"invalid parameter {unknown[0]!r} for {type(self).__name__} with "
                                 f"method={algorithm.name!r}; parameters: {', '.join(_NAMED)} and "
                                 f"{algorithm.name}'s options: {declared}")
        for key in _NAMED:
            if key in params:
                setattr(self, key, params[key])
        self._options.update(options)
        return self

    def fit(self, A, W=None, *, model=None) -> "WeightedLowRank":
        """Run ``method`` at rank ``n_components`` on ``A`` with weights ``W``.

        Parameters
        ----------
        A : array_like of shape (n, d), or Problem
            The matrix, or a :class:`~wlra_core.Problem` (whose W and model arrays are used).
        W : array_like of shape (n, d), optional
            Nonnegative weights (None: all ones). Not with a Problem.
        model : dict of ndarray, optional
            Arrays the method requires (whiten: ``input_moment``; kfac: also
            ``grad_moment``); taken from the Problem by default.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad A or W, ``n_components`` out of range, an unknown method or option, an
            invalid option value or seed (the message names it), missing model arrays.
        FitFailedError
            The run produced no usable answer (its ``result`` says why).

        Warns
        -----
        FlaggedResultWarning
            Once per note in ``result_.warnings``.
        """
        for name in _FITTED:
            self.__dict__.pop(name, None)
        if not isinstance(A, Problem):
            A, W = Problem(A, W), None  # validated once; solve reuses its scaling
        try:
            rank = validate_rank(self.n_components, A.shape)
        except ValueError as err:
            raise ValueError(f"invalid n_components={self.n_components!r}: {err}") from None
        seed = as_seed_sequence(0 if self.random_state is None else self.random_state, name="random_state")
        result = solve(self.method, A, W, rank, seed=seed, model=model, **self._options)
        if result.failed:
            raise FitFailedError(f"{result.algorithm} failed at n_components={rank}: {result.message}", result)
        for note in result.warnings:
            warnings.warn(f"{result.algorithm} at n_components={rank}: {note}", FlaggedResultWarning, stacklevel=2)
        self.result_ = result
        self.factors_ = result.factors
        self.loss_ = result.loss
        self.relative_loss_ = result.relative_loss
        self.n_params_ = result.n_params
        self.warnings_ = list(result.warnings)
        return self

    @property
    def approx_(self) -> np.ndarray:
        return self.result_.approx

    def __repr__(self) -> str:
        # Like scikit-learn: only parameters that differ from the signature's defaults
        # (options have none, so every option that was set is shown).
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        shown = [f"{key}={_short_repr(value)}" for key, value in self.get_params().items()
                 if key not in defaults or repr(value) != repr(defaults[key])]
        return f"{type(self).__name__}({', '.join(shown)})"


def _short_repr(value) -> str:
    """``repr``, except arrays (an em ``init``) by their shape."""
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>"
    return repr(value)
