"""oneDNN primitive runs reuse prepared arguments (cnnkit/kernels/onednn/memory.py): memory objects made once per
thread and descriptor list, pointed at each run's buffers; one per-thread scratchpad buffer. These tests run one
primitive over many different buffers, from several threads at once and past the prepared-set bound, and check
every result against torch float64 (tests/oracle.py's float32 rule)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.kernels import onednn as backend
from cnnkit.kernels.onednn import memory
from tests.oracle import assert_close32

pytestmark = pytest.mark.skipif(not backend.available(), reason=f"oneDNN library not loaded: {backend.load_error()}")


def _case(seed: int, n: int = 2):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 8, 10, 10)).astype(np.float32), rng.standard_normal((12, 8, 3, 3)).astype(np.float32),
            rng.standard_normal(12).astype(np.float32))


def _torch_conv(x, w, b, gy, dtype):
    ts = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b)]
    y = TF.conv2d(*ts, padding=1)
    y.backward(torch.tensor(gy, dtype=dtype))
    return {"y": y, "gx": ts[0].grad, "gw": ts[1].grad, "gb": ts[2].grad}


def _check_conv(x, w, b, what: str) -> None:
    """Forward and both gradients of conv2d (padding 1) on oneDNN against torch float64 (float32's bound)."""
    xt, wt, bt = (ck.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=1)
    gy = np.random.default_rng(len(what)).standard_normal(y.shape).astype(np.float32)
    y.backward(ck.tensor(gy))
    ref, t32 = _torch_conv(x, w, b, gy, torch.float64), _torch_conv(x, w, b, gy, torch.float32)
    for name, got in (("y", y), ("gx", xt.grad), ("gw", wt.grad), ("gb", bt.grad)):
        assert_close32(got, ref[name], t32[name], what=f"{what} {name}")


def test_one_primitive_over_many_buffers():
    """The same layer (same primitives, same prepared memory objects) over ten fresh inputs: each result is its
    own input's, so each run pointed the memory objects at that run's buffers."""
    before = backend.executions()
    for seed in range(10):
        _check_conv(*_case(seed), what=f"input {seed}")
    assert backend.executions() - before >= 30            # forward, dx and dW on oneDNN each time


def test_threads_running_one_primitive_at_once():
    """Four threads run the same layer shape together, each on its own inputs; every thread's results are its
    own (each thread has its own memory objects and scratchpad)."""
    errors = []
    start = threading.Barrier(4)

    def work(k):
        try:
            start.wait()
            for i in range(5):
                _check_conv(*_case(100 * k + i), what=f"thread {k} run {i}")
        except Exception as e:         # reported below with the thread's number
            errors.append(f"thread {k}: {e}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_prepared_sets_are_bounded():
    """A reorder (NCHW to NHWC memory) run from more threads, one after another, than a primitive keeps
    prepared sets for: the sets are dropped and remade, every copy is exact."""
    shape = (2, 3, 4, 5)
    src_md = memory.array_md(shape, (60, 20, 5, 1))
    dst_md = memory.array_md(shape, (60, 1, 15, 3))
    r = memory.reorder(src_md, dst_md)
    results = []

    def work(seed):
        x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        out = np.empty((2, 4, 5, 3), np.float32)
        memory.run_reorder(r, x, src_md, out, dst_md)
        results.append(np.array_equal(out, x.transpose(0, 2, 3, 1)))

    for k in range(memory.Primitive.MAX_BOUND + 6):
        t = threading.Thread(target=work, args=(k,))
        t.start()
        t.join()
    work(999)                    # and this thread
    assert len(results) == memory.Primitive.MAX_BOUND + 7 and all(results)
    assert 1 <= r.prepared() <= memory.Primitive.MAX_BOUND


def test_element_strides_of_c_contiguous_arrays():
    for shape in [(2, 3, 4, 5), (7,), (1, 1, 1), (4, 1, 3)]:
        a = np.zeros(shape, np.float32)
        assert memory.element_strides(a) == tuple(s // 4 for s in a.strides)
    assert memory.element_strides(np.zeros((3, 0, 2), np.float32)) == (0, 2, 1)


def test_transient_buffers_are_reused_per_thread_and_slot():
    a = memory.transient("test-slot", 1000)
    assert a.nbytes == 1000 and a.ctypes.data % 64 == 0
    assert memory.transient("test-slot", 800).ctypes.data == a.ctypes.data          # the same memory, reused
    assert memory.transient("test-other", 800).ctypes.data != a.ctypes.data         # another slot: its own
    grown = memory.transient("test-slot", 5000)                                       # grown when too small
    assert grown.nbytes == 5000 and memory.transient("test-slot", 10).ctypes.data == grown.ctypes.data
    seen = []
    worker = threading.Thread(target=lambda: seen.append(memory.transient("test-slot", 10).ctypes.data))
    worker.start()
    worker.join()
    assert seen[0] != grown.ctypes.data                                               # another thread: its own


def test_training_convolutions_reorder_into_the_same_buffers_each_step():
    """A weight being trained is reordered at each call into this thread's transient buffer, not a fresh one (a
    fresh buffer of megabytes costs page faults at every step); the results stay torch's."""
    x, w, b = _case(3)
    addresses = set()
    for step in range(3):
        _check_conv(x, w, b, f"step {step}")
        buffers = memory._local.__dict__.get("transient", {})
        assert "weights" in buffers and "out:diff_weights" in buffers
        addresses.add((buffers["weights"].ctypes.data, buffers["out:diff_weights"].ctypes.data))
    assert len(addresses) == 1
