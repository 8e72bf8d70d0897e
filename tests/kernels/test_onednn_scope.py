"""The oneDNN switch's scope: ``ck.backends.onednn.enabled = X`` is the process default, ``flags(enabled=...)``
overrides it for the calling thread / context only (a ContextVar, as ``kernels.using``), nests, and restores
on exceptions."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import ConvGeometry
from cnnkit.kernels import onednn as backend

pytestmark = pytest.mark.skipif(not backend.available(), reason=f"oneDNN not loaded: {backend.load_error()}")

G = ConvGeometry((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)


def _select() -> str:
    return kernels.select(G, (2, 4, 8, 8), (4, 4, 3, 3), np.float32)


def _conv_algorithm() -> str:
    """The algorithm a recorded conv2d ran with (its Function keeps the name select gave it)."""
    rng = np.random.default_rng(0)
    x = ck.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    w = ck.tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), requires_grad=True)
    return F.conv2d(x, w, padding=1).creator.algorithm


def test_flags_is_scoped_to_the_thread():
    """One thread inside flags(enabled=False), the other outside, both running convolutions at the same time:
    each sees its own setting throughout."""
    assert ck.backends.onednn.enabled
    inside_ready, outside_done = threading.Event(), threading.Event()
    seen, errors = {}, []

    def inside():
        try:
            with ck.backends.onednn.flags(enabled=False):
                inside_ready.set()
                seen["inside"] = [(_select(), _conv_algorithm(), ck.backends.onednn.enabled) for _ in range(3)]
                outside_done.wait(30)           # still inside the block while the other thread ran
                seen["inside"].append((_select(), _conv_algorithm(), ck.backends.onednn.enabled))
            seen["after"] = (_select(), ck.backends.onednn.enabled)
        except Exception as e:                  # reported below; a thread's exception would otherwise be lost
            errors.append(e)

    def outside():
        try:
            inside_ready.wait(30)
            before = backend.executions()
            seen["outside"] = [(_select(), _conv_algorithm(), ck.backends.onednn.enabled) for _ in range(3)]
            seen["outside_runs"] = backend.executions() - before
        except Exception as e:
            errors.append(e)
        finally:
            outside_done.set()

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert seen["inside"] == [("im2col", "im2col", False)] * 4
    assert seen["outside"] == [("onednn", "onednn", True)] * 3
    assert seen["outside_runs"] >= 3            # oneDNN primitives really ran in the other thread
    assert seen["after"] == ("onednn", True)
    assert ck.backends.onednn.enabled and _select() == "onednn"


def test_flags_nest_and_restore_on_exceptions():
    with ck.backends.onednn.flags(enabled=False):
        assert _select() == "im2col"
        with ck.backends.onednn.flags(enabled=True):
            assert _select() == "onednn"
            with pytest.raises(ZeroDivisionError):
                with ck.backends.onednn.flags(enabled=False):
                    assert _select() == "im2col"
                    1 / 0
            assert _select() == "onednn" and ck.backends.onednn.enabled
        assert _select() == "im2col" and not ck.backends.onednn.enabled
    assert _select() == "onednn" and ck.backends.onednn.enabled


def test_default_is_process_wide_and_the_override_wins():
    """``enabled = X`` sets the default every thread sees; a flags block still overrides it where it runs."""
    seen = []
    ck.backends.onednn.enabled = False
    try:
        t = threading.Thread(target=lambda: seen.append(_select()))
        t.start()
        t.join(60)
        assert seen == ["im2col"] and _select() == "im2col"
        with ck.backends.onednn.flags(enabled=True):
            assert _select() == "onednn"
    finally:
        ck.backends.onednn.enabled = True
    assert _select() == "onednn"


def test_flags_checks_its_argument():
    with pytest.raises(TypeError, match="backends.onednn.enabled: expected a bool, got 0"):
        with ck.backends.onednn.flags(enabled=0):
            pass
    assert ck.backends.onednn.enabled


def test_set_num_threads_is_followed_by_onednn():
    """``ck.set_num_threads(n)``: oneDNN's primitives run on an OpenMP team of n (omp_get_max_threads at the
    execution, set per call), and OpenMP's own setting of the calling thread is what it was after each call."""
    omp = backend.library.openmp()
    before, default = omp.omp_get_max_threads(), ck.get_num_threads()
    seen = []
    try:
        for n in (1, 3, 2):
            ck.set_num_threads(n)
            runs = backend.executions()
            with kernels.using(adaptive_threads=False):     # n even if other processes keep cores busy
                algorithm = _conv_algorithm()
            seen.append((algorithm, backend.executions() > runs, backend.library.last_run_threads(),
                         omp.omp_get_max_threads()))
        with kernels.using(threads=1):
            _conv_algorithm()
            seen.append(backend.library.last_run_threads())
    finally:
        ck.set_num_threads(default)
    assert seen == [("onednn", True, 1, before), ("onednn", True, 3, before), ("onednn", True, 2, before), 1]
