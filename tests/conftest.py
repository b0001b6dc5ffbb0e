import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Decoded-dataset cache and Keras home inside the test's temporary folder, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["LRLAB_CACHE"] = str(cache)
    os.environ.pop("LRLAB_CIFAR10", None)
    yield cache


@pytest.fixture(scope="session")
def synthetic_archive(tmp_path_factory):
    from lrlab.data import write_synthetic_cifar10

    return write_synthetic_cifar10(tmp_path_factory.mktemp("data") / "cifar-10-python.tar.gz")
