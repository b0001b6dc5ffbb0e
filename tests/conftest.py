import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the figures of the smoke report (and of its executed compare.ipynb): one number, so that a figure added or lost
# is counted in one place
SMOKE_FIGURES = 14
sys.path.insert(0, str(ROOT / "lib"))


def build(*args, env=None):
    """build_report.py as a user runs it: a process of its own, its output and exit status captured."""
    return subprocess.run([sys.executable, str(ROOT / "build_report.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or os.environ.copy(), timeout=900)


def pytest_collection_modifyitems(config, items):
    """The smoke build end to end (minutes) and every test that reads it belong to the slow tier: `make test`
    stays a few minutes, and CI, which runs both tiers, builds it once."""
    for item in items:
        if "smoke_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """The whole smoke report built once per session, as a user builds it, with a schedule of the user's own
    (examples/my_code.py) against the baselines: (output folder, finished process).
    Every test that looks at a build's report, executed notebooks or runs reads this one."""
    out = tmp_path_factory.mktemp("outputs")
    return out, build("--profile", "smoke", "--jobs", "2", "-p", f"output_dir={out}",
                      "-p", "schedule=examples.my_code:warmup_then_cosine")
