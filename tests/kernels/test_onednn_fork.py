"""Fork safety of the oneDNN backend: GNU OpenMP hangs in a child forked after the parent ran a parallel region,
so a forked child runs oneDNN on one thread (cnnkit/kernels/onednn/library.py). A DataLoader-style
multiprocessing 'fork' child runs a convolution on oneDNN, in time, with the right values."""
from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import onednn as backend
from tests.oracle import assert_close32

pytestmark = pytest.mark.skipif(not backend.available(), reason=f"oneDNN not loaded: {backend.load_error()}")

TIMEOUT = 60       # seconds; the child takes well under one (a hang never ends)


def _inputs(side: int):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((4, 32, side, side)).astype(np.float32),
            rng.standard_normal((64, 32, 3, 3)).astype(np.float32))


def _child(queue, x, w):
    runs = backend.executions()
    y = F.conv2d(ck.tensor(x), ck.tensor(w), padding=1).numpy()
    queue.put((y, backend.executions() - runs, backend.library.forked(), backend.library.usable_threads(4),
               backend.library.openmp().omp_get_max_threads(), backend.library.last_run_threads()))


@pytest.mark.parametrize("side", [20, 64])
def test_a_forked_child_runs_onednn_convolutions(side):
    """side 64: an NCHW input of 2^19 floats, which goes to NHWC through a oneDNN reorder (conv.REORDER_MIN)."""
    x, w = _inputs(side)
    assert (x.size >= backend.conv.REORDER_MIN) == (side == 64)
    with kernels.using(threads=2):                     # the parent runs an OpenMP team of two threads first
        before = backend.executions()
        F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)
        assert backend.executions() > before
    assert not backend.library.forked() and backend.library.usable_threads(4) == 4
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue, x, w))
    child.start()
    try:
        y, runs, forked, usable, omp_threads, team = queue.get(timeout=TIMEOUT)
    except Exception:
        child.kill()
        child.join()
        pytest.fail(f"the forked child's oneDNN convolution did not finish in {TIMEOUT} s (OpenMP hang after fork)")
    child.join(TIMEOUT)
    assert child.exitcode == 0
    assert forked and usable == team == 1 and runs >= 1  # oneDNN really ran in the child, on one thread ...
    assert omp_threads == backend.library.openmp().omp_get_max_threads()    # ... and OpenMP's setting restored
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    assert_close32(y, TF.conv2d(xt.double(), wt.double(), padding=1).numpy(), TF.conv2d(xt, wt, padding=1).numpy(),
                   what="conv2d in a forked child")
