import os
import shutil

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

import cnnkit as ck

torch.set_num_threads(2)

# Keep the whole suite within a few minutes on 2 cores: hypothesis draws a bounded number of cases.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same cnnkit and NumPy seeds and with gradients enabled."""
    ck.manual_seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _tmp_path_removed_after_the_test(request):
    """A test's tmp_path is deleted when the test ends: the whole-model runs write checkpoints of up to 1 GB each,
    and pytest's own retention would keep every one of them until the session ends (about 36 GB per run)."""
    path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def torch_one_thread():
    """Run torch on one thread (for test files whose oracle calls are tiny). With two, torch's batch_norm
    waits ~0.1 s per call for its OpenMP worker whenever the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _deterministic_unless_marked(request):
    """Every test runs deterministically (the thread count never follows the machine's load, which other tests'
    processes raise: with adaptation on, a CLI resume test once failed in the full suite), except those marked
    ``adaptive_threads``, which test the adaptation or the default itself."""
    if request.node.get_closest_marker("adaptive_threads") is not None:
        yield
        return
    ck.use_deterministic_algorithms(True)
    yield
    ck.use_deterministic_algorithms(False)
