"""Sharing the cores (``cnnkit.kernels.contention``): with other processes keeping every core busy, oneDNN's
primitives and cnnkit's batch split start one thread; on a quiet machine they start ``threads`` again, even more
than there are cores; ``kernels.using(adaptive_threads=False)`` keeps ``threads``. The busy cores are real:
processes spinning on them."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import contention, parallel
from cnnkit.kernels import onednn as backend

pytestmark = pytest.mark.adaptive_threads  # tests the adaptation itself (tests/conftest.py)

needs_procfs = pytest.mark.skipif(not os.path.exists("/proc/loadavg") or not os.path.isdir("/proc/self/task"),
                                  reason="no /proc/loadavg or /proc/self/task: the estimate is always 0")
CORES = os.cpu_count() or 1


def _wait_for(condition, seconds: float = 10.0) -> bool:
    """Ask ``condition()`` every few milliseconds (each ask may take a new reading) until it holds or time is up."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.003)
    return condition()


@contextlib.contextmanager
def _spinning(settle: bool = True):
    """One process spinning on every core of the machine for the block (each also ends with this process); the
    block starts once cnnkit counts every core as busy and (``settle``) ends once it counts none."""
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(CORES)]
    try:
        assert _wait_for(lambda: contention.threads(CORES + 2) == 1), contention.readings()
        yield
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()
        if settle:                                                       # the next test starts on a quiet estimate
            _wait_for(lambda: contention.threads(CORES + 2) == CORES + 2)


@pytest.fixture
def busy_cores():
    """One process spinning on every core of the machine, for the test's duration."""
    with _spinning():
        yield


@pytest.mark.parametrize("n, busy, cores, expected", [
    (2, 0, 2, 2), (3, 0, 2, 3), (2, 1, 2, 1), (2, 2, 2, 1), (2, 5, 2, 1), (8, 3, 8, 5), (4, 3, 8, 4),
    (1, 1, 2, 1), (16, 0, 2, 16),
])
def test_share(n, busy, cores, expected):
    """n on a quiet machine (even above the cores), else one thread fewer per busy core, at least one."""
    assert contention.share(n, busy, cores) == expected


@pytest.mark.parametrize("before, measured, expected", [
    (0, 0.3, 0), (0, 0.55, 0), (0, 0.6, 1), (0, 1.5, 1), (0, 1.7, 2), (1, 0.6, 1), (1, 0.35, 1), (1, 0.25, 0),
    (1, -0.1, 0), (1, 1.6, 2), (2, 1.4, 2), (2, 1.2, 1), (2, 0.1, 0),
])
def test_settled(before, measured, expected):
    """Up to k once the measurement reaches k - 1 + RISE (0.6); down only once it is more than FALL (0.7) below."""
    assert (contention.RISE, contention.FALL) == (0.6, 0.7)
    assert contention.settled(before, measured) == expected


def _reading():
    contention._read(time.monotonic())
    return contention.readings()[-1]


@needs_procfs
def test_this_process_is_not_a_neighbour():
    """A process keeping a core busy itself (this one, spinning for 0.3 s) is not counted as busy cores: the
    measurement over its spin is within half a core of the one over 0.3 s of sleep (whatever else the machine
    runs meanwhile)."""
    first = _reading()
    time.sleep(0.3)
    idle = contention.busy_cores(first, _reading())
    first = _reading()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    assert contention.busy_cores(first, _reading()) < idle + 0.5


@needs_procfs
def test_busy_cores_take_threads_away_and_give_them_back(busy_cores):
    """Every core busy: about as many busy cores as spinners, and one thread whatever n."""
    first = _reading()
    time.sleep(0.3)
    assert contention.busy_cores(first, _reading()) > CORES - 0.5
    assert contention.threads(2) == 1 and contention.threads(CORES + 2) == 1 and contention.estimate() >= CORES


@needs_procfs
def test_threads_return_when_the_neighbours_stop():
    with _spinning():
        assert contention.threads(2) == 1
    assert _wait_for(lambda: contention.threads(CORES + 1) == CORES + 1), contention.readings()
    assert contention.estimate() == 0


@needs_procfs
def test_a_neighbour_that_has_stopped_does_not_count():
    """Right after the spinners end, their CPU time still fills the last 0.2 s (``used``), but no other task is
    runnable: no core counts as busy (two processes taking turns must not slow each other down)."""
    with _spinning(settle=False):
        assert contention.threads(2) == 1
    seen = []

    def settled_to_zero():
        contention._read(time.monotonic())
        seen.append((contention.used(), contention.estimate()))
        return contention.estimate() == 0

    assert _wait_for(settled_to_zero, seconds=0.1), seen
    assert seen[-1][0] >= 1, seen           # the CPU-time estimate alone would still count them


@needs_procfs
def test_the_batch_split_shares_the_cores(busy_cores):
    """cnnkit's own workers (the depthwise kernels' batch split): one part while every core is busy, unless
    adaptive_threads is False."""
    with kernels.using(threads=2, parallel_min=0):
        assert parallel.parts_for(8, 1 << 20, blas=False) == 1
        with kernels.using(adaptive_threads=False):
            assert parallel.parts_for(8, 1 << 20, blas=False) == 2


@needs_procfs
@pytest.mark.skipif(not backend.available(), reason=f"oneDNN not loaded: {backend.load_error()}")
def test_onednn_runs_one_thread_while_the_cores_are_busy(busy_cores):
    """A oneDNN convolution (forward and both gradients) on one OpenMP thread while every core is busy, on
    ``threads`` with adaptive_threads=False; both agree with the float64 result (NumPy kernels) to float32's
    rounding."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    def run(dtype):
        xt, wt = ck.tensor(x.astype(dtype), requires_grad=True), ck.tensor(w.astype(dtype), requires_grad=True)
        y = F.conv2d(xt, wt, padding=1)
        y.backward(g.astype(dtype))
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy()

    reference = run(np.float64)
    teams = []
    for adaptive in (True, False):
        with kernels.using(threads=2, adaptive_threads=adaptive):
            runs = backend.executions()
            result = run(np.float32)
            assert backend.executions() >= runs + 3          # forward, input gradient, weight gradient
            teams.append(backend.library.last_run_threads())
        for got, want in zip(result, reference):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * float(np.abs(want).max()))
    assert teams == [1, 2]


@needs_procfs
@pytest.mark.skipif(not backend.available(), reason=f"oneDNN not loaded: {backend.load_error()}")
def test_deterministic_mode_keeps_the_thread_count(busy_cores):
    """``ck.use_deterministic_algorithms(True)``: the configured threads even while every core is busy (a weight
    gradient's bits depend on the thread count); False gives the adaptation back."""
    rng = np.random.default_rng(0)
    x = ck.tensor(rng.standard_normal((2, 8, 12, 12)).astype(np.float32))
    w = ck.tensor(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), requires_grad=True)
    assert not ck.are_deterministic_algorithms_enabled()
    teams = []
    try:
        ck.use_deterministic_algorithms(True)
        assert ck.are_deterministic_algorithms_enabled()
        with kernels.using(threads=2):
            F.conv2d(x, w, padding=1).sum().backward()
            teams.append(backend.library.last_run_threads())
    finally:
        ck.use_deterministic_algorithms(False)
    with kernels.using(threads=2):
        F.conv2d(x, w, padding=1).sum().backward()
        teams.append(backend.library.last_run_threads())
    assert teams == [2, 1] and not ck.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("args, kwargs, match", [
    ((1,), {}, "expected mode to be a bool, got 1"),
    ((True,), {"warn_only": None}, "expected warn_only to be a bool, got None"),
])
def test_use_deterministic_algorithms_checks_its_arguments(args, kwargs, match):
    with pytest.raises(TypeError, match=f"use_deterministic_algorithms: {match}"):
        ck.use_deterministic_algorithms(*args, **kwargs)
    assert not ck.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("value, enabled", [("0", True), ("1", False), (None, False)])
def test_the_environment_variable_sets_the_default(value, enabled):
    """CNNKIT_ADAPTIVE_THREADS=0: deterministic from the start (for a child process, e.g. the CLI)."""
    env = {k: v for k, v in os.environ.items() if k != "CNNKIT_ADAPTIVE_THREADS"}
    if value is not None:
        env["CNNKIT_ADAPTIVE_THREADS"] = value
    code = "import cnnkit as ck; print(ck.are_deterministic_algorithms_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(enabled)
