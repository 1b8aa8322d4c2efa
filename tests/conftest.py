"""Fixtures the test modules share."""
import numpy as np
import pytest

from wlra_core.datasets.io import default_problem
from wlra_core.sweep import blas_threads
from wlra_core.tables import ResultRow


@pytest.fixture(scope="session")
def shipped():
    """The shipped Fashion-MNIST problem (loaded once)."""
    return default_problem()


@pytest.fixture(scope="module")
def one_blas_thread():
    """Oracle solves with one BLAS thread, like the dashboard's engine: bit-identical numbers."""
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def problem():
    """A 30 x 20 problem (A, W) with random weights and two zero rows of W.

    Modules that need another problem define their own ``problem`` fixture, which
    overrides this one.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 20))
    W = rng.random((30, 20))
    W[[1, 4]] = 0.0
    return A, W


@pytest.fixture(scope="session")
def make_row():
    """A factory of :class:`wlra_core.tables.ResultRow` for tests of what consumes rows: the
    fields a test does not give get placeholders (problem "p", method "m", zero measurements)."""
    def make(**fields) -> ResultRow:
        placeholders = dict(problem="p", method="m", algorithm="svd", rank=1, loss=0.0, relative_loss=0.0,
                            seconds=0.0, n_params=1)
        return ResultRow(**{**placeholders, **fields})

    return make
