import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_GCE_CHECK", "true")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end tests (still run in CI)")


@pytest.fixture(scope="session")
def counting_frames():
    """A short real counting-MNIST sequence (cycle 1234) and its digits."""
    from dynamic_vae.data import counting_mnist

    return counting_mnist("1234", num_frames=400, seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
