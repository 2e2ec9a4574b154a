import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_GCE_CHECK", "true")
# The experiments read their default data from $DYNAMIC_VAE_DATA: the shared test data.
if "DYNAMIC_VAE_SHARED_DATA" in os.environ:
    os.environ.setdefault("DYNAMIC_VAE_DATA", os.environ["DYNAMIC_VAE_SHARED_DATA"])
else:
    os.environ.setdefault("DYNAMIC_VAE_DATA", os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "shared", "data"))

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


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data beside the project root (or $DYNAMIC_VAE_SHARED_DATA)."""
    from pathlib import Path

    root = Path(os.environ.get("DYNAMIC_VAE_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    assert root.is_dir(), (f"real test data not found at {root}; clone the project beside "
                           "shared/ or set DYNAMIC_VAE_SHARED_DATA")
    return root
