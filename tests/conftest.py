import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_GCE_CHECK", "true")

SHARED_DATA_ENV = "DYNAMIC_VAE_SHARED_DATA"
# The real clips live beside the repository (this file is tests/conftest.py, so parents[2] is
# the repository's parent folder), or wherever $DYNAMIC_VAE_SHARED_DATA points.
SHARED_DATA = Path(os.environ.get(SHARED_DATA_ENV)
                   or Path(__file__).resolve().parents[2] / "shared" / "data")
# The experiments read their default data from $DYNAMIC_VAE_DATA: the shared test data.
os.environ.setdefault("DYNAMIC_VAE_DATA", str(SHARED_DATA))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end tests (still run in CI)")


@pytest.fixture(scope="package")
def counting_frames():
    """A short real counting-MNIST sequence (cycle 1234) and its digits."""
    from dynamic_vae.data import counting_mnist

    return counting_mnist("1234", num_frames=400, seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="package")
def shared_data():
    """../shared/data beside the project root (or $DYNAMIC_VAE_SHARED_DATA).

    A fresh clone has no such folder, so the tests reading real clips are skipped there; CI
    (`CI=true`) must run them all, so there a missing folder fails them instead.
    """
    if not SHARED_DATA.is_dir():
        reason = (f"real test data not found at {SHARED_DATA}; set {SHARED_DATA_ENV} to the "
                  "folder holding dyntex/, traffic48/ and coil20/, or clone the project "
                  "beside shared/")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return SHARED_DATA
