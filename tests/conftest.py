"""Fixtures the test modules share."""
import pytest

from wlra_core.datasets.io import default_problem
from wlra_core.sweep import blas_threads


@pytest.fixture(scope="session")
def shipped():
    """The shipped Fashion-MNIST problem (loaded once)."""
    return default_problem()


@pytest.fixture(scope="module")
def one_blas_thread():
    """Oracle solves with one BLAS thread, like the dashboard's engine: bit-identical numbers."""
    with blas_threads(1):
        yield
