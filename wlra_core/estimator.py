"""A scikit-learn estimator around :func:`wlra_core.solve`.

:class:`WeightedLowRank` is a scikit-learn transformer (it passes
``sklearn.utils.estimator_checks``; ``tests/test_estimator.py`` lists the checks that do
not apply and why). Rows of A are samples and columns features, as in scikit-learn::

    est = WeightedLowRank("als", n_components=10).fit(A, W=W)
    est.loss_, est.relative_loss_, est.n_params_, est.n_iter_, x @ est.factors_
    Z = est.transform(A, W=W)            # each row's weighted least-squares coordinates
    est.inverse_transform(Z)             # back in A's space: Z @ est.components_
    est.score(A, W=W_test)               # -(weighted RMS error) of approx_ on W_test's entries

This module imports scikit-learn (about 1.5 s); ``import wlra_core`` loads it only when
``wlra_core.WeightedLowRank`` is first used.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, check_random_state, validate_data

from .algorithms import get_algorithm
from .api import solve
from .factors import LowRank
from .linalg import residual_stats, square_sum, svd_flip, weighted_row_fit
from .options import InstanceOf, Interval, NoneAllowed, Option
from .problem import Problem, validate_rank
from .result import SolverFailed, WLRAResult

__all__ = ["WeightedLowRank", "FlaggedResultWarning", "FitFailedError", "RANDOM_STATE", "OPTIONS"]


class FlaggedResultWarning(UserWarning):
    """A fit finished but its result deserves a second look (see ``WLRAResult.warnings``):
    entries blown up by tiny weights, a relative loss above 1, a loss float64 cannot hold."""


class FitFailedError(SolverFailed):
    """The algorithm produced no usable answer; ``result`` is the failed :class:`WLRAResult`."""

    def __init__(self, message: str, result: WLRAResult):
        super().__init__(message)
        self.result = result


RANDOM_STATE = Option(
    None,
    (NoneAllowed("fresh entropy from NumPy's global RandomState, as in scikit-learn"), Interval(int, 0),
     InstanceOf((np.random.RandomState, np.random.Generator, np.random.SeedSequence),
                "a numpy.random RandomState, Generator or SeedSequence")),
    "the seed of every random choice the method makes")
OPTIONS = Option(None, (NoneAllowed("the method's defaults"), InstanceOf((Mapping,), "a dict of the method's options")),
                 "options of the method, as declared in get_algorithm(method).options")

# Set by fit; a new fit starts by removing them, so a fit that raises leaves none behind.
_FITTED = ("result_", "factors_", "loss_", "relative_loss_", "n_params_", "warnings_", "n_iter_", "components_",
           "n_features_in_", "feature_names_in_", "n_components_", "completion_")


def _seed_sequence(random_state) -> np.random.SeedSequence:
    """The SeedSequence a fit runs with (see :data:`RANDOM_STATE`).

    An integer is the seed itself (the fit equals ``solve(..., seed=random_state)``); None
    and RandomState/Generator instances give a seed drawn from them, so None follows
    ``numpy.random.seed`` as scikit-learn's estimators do, and an instance advances.
    """
    random_state = RANDOM_STATE.validate(random_state, name="random_state", algorithm="WeightedLowRank")
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, int):
        return np.random.SeedSequence(random_state)
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    source = check_random_state(random_state)  # None: the global RandomState numpy.random.seed sets
    return np.random.SeedSequence(int(source.randint(np.iinfo(np.int64).max, dtype=np.int64)))


def _refuse_weights_as_y(y, method: str) -> None:
    """``y`` is ignored; a 2-D one is almost surely weights passed positionally, which
    would otherwise be ignored in silence."""
    dimensions = None if y is None else np.asarray(y).ndim
    if dimensions is not None and dimensions >= 2:
        raise ValueError(f"{method}(A, y) ignores y, and this y is a {dimensions}-D array: pass weights by name, "
                         f"{method}(A, W=W)")


def _row_basis(factors: LowRank) -> np.ndarray:
    """Orthonormal rows spanning the row space of ``X = U V``: its right singular vectors,
    largest singular value first (QR of U, then the SVD of the small ``R V``), each with
    its largest-magnitude entry positive (the sign rule of scikit-learn's PCA)."""
    R = np.linalg.qr(factors.U, mode="r")
    Vt = np.linalg.svd(R @ factors.V, full_matrices=False)[2]
    return svd_flip(Vt.T, Vt)[1]  # svd_flip decides on columns of its first argument: here rows of Vt


class WeightedLowRank(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Weighted low rank approximation: find X of rank ``n_components`` minimising
    ``||W o (A - X)||_F^2`` with one of :data:`wlra_core.ALGORITHMS`.

    Rows of A are samples, columns features.

    Parameters
    ----------
    method : str, default="als"
        The algorithm (a name of :data:`wlra_core.ALGORITHMS`). The default, alternating
        weighted least squares from svd_w_practical's factors, returns rank-k factors (so
        ``components_`` and ``transform`` exist), never increases the loss, and ends with a
        weighted least-squares fit of every row, so tiny weights cannot blow its output up
        (zero-weight rows get 0); on the shipped problem it has the lowest loss of the
        rank-k methods. ``"svd_w"`` (the paper's Algorithm 1) divides by W and has no
        components.
    n_components : int or "auto", default=10
        The target rank k, ``1 <= k <= min(n, d)``; ``"auto"`` lets :func:`wlra_core.complete`
        choose it (and ``method``'s λ or ridge) by the error on a held-out share of the
        observed entries, then refit on all of them (``options`` must then be None).
    options : dict, default=None
        Options of ``method`` as declared in ``get_algorithm(method).options`` (e.g.
        ``{"weight_floor": 1e-3}`` for svd_w, ``{"n_iter": 50}`` for em); omitted ones take
        their defaults, None means all defaults. One dict rather than one parameter per
        option: options differ per method, and adding a method must not change this class.
        Searches vary it whole: ``param_grid={"options": [{...}, {...}]}``.
    random_state : int >= 0, RandomState, Generator, SeedSequence or None, default=None
        As in scikit-learn: None draws a fresh seed from NumPy's global RandomState (so
        ``numpy.random.seed`` makes fits reproducible); an int gives the same fit every time
        (equal to :func:`wlra_core.solve` with ``seed=random_state``); a RandomState or
        Generator is drawn from (successive fits differ). A SeedSequence is used as is.
        ``result_.options["seed"]`` is the seed used.

    Attributes
    ----------
    result_ : WLRAResult
        Everything :func:`wlra_core.solve` returned (seconds, history, options used...).
    factors_ : Factorization
        The stored arrays of X: ``x @ est.factors_`` computes ``x @ X`` without forming X.
    approx_ : ndarray of shape (n, d)
        The dense approximation X, formed from ``factors_`` on first access.
    components_ : ndarray of shape (k, d)
        Orthonormal rows spanning the row space of X, ordered by X's singular values (its
        right singular vectors), when X is a rank-k product ``U V`` (a ``LowRank``
        ``factors_``). Results that divide or multiply by weights entrywise (svd_w, css,
        svd_w_practical with ``weight_rank`` > 1 or ``approximate="inverse"``) are not of
        rank k: reading ``components_`` raises AttributeError saying so, and so do
        ``transform`` and ``inverse_transform``.
    n_components_ : int
        The rank fitted (``n_components``, or the one ``"auto"`` chose).
    completion_ : Completion
        With ``n_components="auto"`` only: what :func:`wlra_core.complete` chose and its
        validation table.
    n_iter_ : int
        Iterations the method ran (EM iterations, ALS sweeps, Adam epochs, greedy steps,
        which stop early when the gradient vanishes); 1 for one-shot methods.
    loss_ : float
        ``||W o (A - X)||_F^2``.
    relative_loss_ : float
        ``loss_ / ||W o A||_F^2``.
    n_params_ : int
        Entries of the stored arrays (svd_w and css store W itself).
    warnings_ : list of str
        Why the result deserves a second look (also emitted as :class:`FlaggedResultWarning`).
    n_features_in_ : int
        Columns d of A.
    feature_names_in_ : ndarray of str
        Column names, when A was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, W = rng.standard_normal((30, 20)), rng.random((30, 20))
    >>> est = WeightedLowRank("em", n_components=3, options={"n_iter": 10}).fit(A, W=W)
    >>> est
    WeightedLowRank(method='em', n_components=3, options={'n_iter': 10})
    >>> est.n_params_, est.n_iter_, est.components_.shape
    (150, 10, (3, 20))
    >>> Z = est.transform(A, W=W)
    >>> Z.shape, est.inverse_transform(Z).shape
    ((30, 3), (30, 20))
    """

    def __init__(self, method="als", n_components=10, *, options=None, random_state=None):
        self.method = method
        self.n_components = n_components
        self.options = options
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN in A marks a missing entry (weight 0 there, see wlra_core.validate_problem);
        # infinities are still refused.
        tags.input_tags.allow_nan = True
        return tags

    def __getattr__(self, name):
        # Called only when normal lookup fails: say why a fitted attribute is missing.
        fitted = vars(self)
        if name == "components_" and "factors_" in fitted:
            raise AttributeError(
                f"{type(self).__name__}(method={self.method!r}) has no components_: its approximation divides (or "
                f"multiplies) a low-rank product by weights entrywise ({type(self.factors_).__name__} factors_), so "
                f"it is not of rank n_components={self.n_components}; use approx_ or factors_, or a method whose "
                "result has rank k")
        if name in (*_FITTED, "approx_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: call fit before reading {name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _problem(self, A, W, *, reset: bool) -> Problem:
        """A and W as a validated Problem; A's columns (count and names) recorded by fit
        (``reset``) or checked against the fit's.

        scikit-learn's ``validate_data`` turns array-likes into a float64 matrix with its
        messages (sparse, complex, 1-D or empty input); the Problem then checks values and
        weights with the package's messages, so NaN and Inf are left to it.
        """
        if isinstance(A, Problem):
            if W is not None:
                raise ValueError("give W inside the Problem, not as a separate argument")
            validate_data(self, A.A, reset=reset, skip_check_array=True)
            return A
        A = validate_data(self, A, reset=reset, dtype=np.float64, ensure_all_finite=False)
        return Problem(A, W)

    def fit(self, A, y=None, *, W=None, model=None) -> "WeightedLowRank":
        """Run ``method`` at rank ``n_components`` on ``A`` with weights ``W``.

        Parameters
        ----------
        A : array_like of shape (n, d), or Problem
            The matrix, or a :class:`~wlra_core.Problem` (whose W and model arrays are used).
        y : None
            Ignored (scikit-learn's signature). A 2-D ``y`` raises ValueError: weights are
            passed by name, ``fit(A, W=W)``.
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
            invalid option value or random_state (the message names it), missing model arrays.
        FitFailedError
            The run produced no usable answer (its ``result`` says why).

        Warns
        -----
        FlaggedResultWarning
            Once per note in ``result_.warnings``.
        """
        _refuse_weights_as_y(y, "fit")
        for name in _FITTED:
            self.__dict__.pop(name, None)
        problem = self._problem(A, W, reset=True)
        if isinstance(self.n_components, str) and self.n_components == "auto":
            result = self._complete(problem)
            rank = result.rank
        else:
            try:
                rank = validate_rank(self.n_components, problem.shape)
            except ValueError as err:
                raise ValueError(f"invalid n_components={self.n_components!r}: {err}") from None
            given = OPTIONS.validate(self.options, name="options", algorithm=type(self).__name__) or {}
            # Names are checked before solve sees them, so an option can never stand for one of
            # solve's own keywords (seed, model, progress...).
            options = get_algorithm(self.method).resolve_options(dict(given), problem.shape)
            result = solve(self.method, problem, None, rank, seed=_seed_sequence(self.random_state), model=model,
                           **options)
        if result.failed:
            raise FitFailedError(f"{result.algorithm} failed at n_components={rank}: {result.message}", result)
        for note in result.warnings:
            warnings.warn(f"{result.algorithm} at n_components={rank}: {note}", FlaggedResultWarning, stacklevel=2)
        self.result_ = result
        self.n_components_ = rank
        self.factors_ = result.factors
        self.loss_ = result.loss
        self.relative_loss_ = result.relative_loss
        self.n_params_ = result.n_params
        self.warnings_ = list(result.warnings)
        self.n_iter_ = result.history[-1].iteration
        if isinstance(result.factors, LowRank):
            self.components_ = _row_basis(result.factors)
        return self

    def _complete(self, problem: Problem):
        """``n_components="auto"``: :func:`wlra_core.complete` with ``method`` as the only
        candidate; keeps its choice in ``completion_`` and returns the refit."""
        from .completion import complete

        if self.options:
            raise ValueError("options cannot be given with n_components='auto': complete chooses them "
                             "(soft_impute's lambda, als's l2) on held-out entries")
        completion = complete(problem, algorithms=[self.method], seed=_seed_sequence(self.random_state))
        self.completion_ = completion
        return completion.result

    @property
    def approx_(self) -> np.ndarray:
        return self.result_.approx

    @property
    def _n_features_out(self) -> int:
        """Columns of :meth:`transform`'s output (names: ``get_feature_names_out``)."""
        return self.components_.shape[0]

    def transform(self, A, W=None) -> np.ndarray:
        """Each row's weighted least-squares coordinates on ``components_``.

        Row i gets ``z_i`` minimising ``||w_i o (a_i - z_i @ components_)||^2``; a row whose
        weights are all zero gets 0 (the minimum-norm solution), and multiplying W by a
        constant changes nothing.

        Parameters
        ----------
        A : array_like of shape (m, d), or Problem
        W : array_like of shape (m, d), optional
            Nonnegative weights (None: all ones, the orthogonal projection). Not with a Problem.

        Returns
        -------
        ndarray of shape (m, k)
        """
        check_is_fitted(self)
        problem = self._problem(A, W, reset=False)
        # Each row's fit is unchanged by scaling its weights: scaling every row to a largest
        # weight of 1 keeps W^2 from underflowing (or overflowing) whatever W's scale.
        largest = problem.W.max(axis=1, keepdims=True)
        scaled = np.divide(problem.W, largest, out=np.zeros_like(problem.W), where=largest > 0)
        return weighted_row_fit(problem.A, scaled * scaled, self.components_)

    def fit_transform(self, A, y=None, *, W=None, model=None) -> np.ndarray:
        """``fit(A, W=W, model=model).transform(A, W=W)``."""
        return self.fit(A, y, W=W, model=model).transform(A, W)

    def inverse_transform(self, Z) -> np.ndarray:
        """``Z @ components_``: coordinates back in A's space, shape (m, d)."""
        check_is_fitted(self)
        Z = check_array(Z, dtype=np.float64)
        components = self.components_
        if Z.shape[1] != components.shape[0]:
            raise ValueError(f"Z has {Z.shape[1]} columns, but this fit has {components.shape[0]} components")
        return Z @ components

    def score(self, A, y=None, *, W=None) -> float:
        """Minus the weighted RMS error of the fitted approximation on the entries W > 0.

        ``-sqrt(sum(W^2 (A - X)^2) / sum(W^2))`` with X = ``approx_``: in A's units,
        unchanged when W is multiplied by a constant, 0 for a perfect fit, higher is
        better (scikit-learn's convention). On the data it was fitted on this is
        ``-sqrt(loss_ / sum(W^2))``; with weights marking held-out entries (a 0/1 mask of
        entries hidden from ``fit``) it is the RMS error on those entries, the number a
        completion is judged by. A is the matrix X approximates: it must have the fitted
        shape (n, d). For the error of ``components_`` on new rows, compare A with
        ``inverse_transform(transform(A, W))``.

        Parameters
        ----------
        A : array_like of shape (n, d), or Problem
        y : None
            Ignored; a 2-D ``y`` raises ValueError (pass weights as ``W=``).
        W : array_like of shape (n, d), optional
            Nonnegative weights (None: all ones). Not with a Problem.

        Returns
        -------
        float
        """
        _refuse_weights_as_y(y, "score")
        check_is_fitted(self)
        problem = self._problem(A, W, reset=False)
        if problem.shape != self.factors_.shape:
            raise ValueError(f"score compares A with the fitted {self.factors_.shape[0]} x {self.factors_.shape[1]} "
                             f"approximation, but A has shape {problem.shape}")
        loss = residual_stats(problem.A, problem.W, self.factors_).loss
        return -math.sqrt(loss.ratio(square_sum(problem.W)))
