"""Batch normalization on oneDNN (cnnkit/kernels/onednn/batch_norm.py): the evaluation-mode forward that the
op dispatches there, parity with PyTorch on both backends (float32 against a torch float64 reference,
tests/oracle.py's rules), the execution counter proving which backend ran, the fallbacks, and the kernel's
training forward and backward against torch (which the op does not dispatch: see docs/performance.md)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.kernels import is_channels_last
from cnnkit.kernels import onednn as backend
from tests.oracle import assert_close, assert_close32

needs_onednn = pytest.mark.skipif(not backend.available(),
                                  reason=f"oneDNN library not loaded: {backend.load_error()}")
BACKENDS = ["numpy", pytest.param("onednn", marks=needs_onednn)]
SHAPES = [(2, 3, 5, 4), (4, 16, 7, 7), (1, 8, 1, 1), (3, 5, 2, 9), (2, 32, 12, 10)]
AFFINE = ["wb", "w", "b", ""]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(params=BACKENDS)
def on(request):
    """Runs the test with the backend switched to ``request.param``; yields that name."""
    with ck.backends.onednn.flags(enabled=request.param == "onednn"):
        yield request.param


def _channels_last(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _layout(a: np.ndarray) -> tuple:
    return a.flags.c_contiguous, is_channels_last(a)


def _values(shape, seed=0, dtype=np.float32):
    """x with a per-channel offset and scale, weight, bias, running mean and (positive) running var."""
    rng = np.random.default_rng([seed, *shape])
    c = shape[1]
    x = rng.standard_normal(shape) * (rng.random((1, c, 1, 1)) * 2 + 0.5) + rng.standard_normal((1, c, 1, 1)) * 2
    w, b, rm = rng.standard_normal(c) + 0.5, rng.standard_normal(c), rng.standard_normal(c)
    rv = rng.random(c) + 0.5
    return [np.asarray(a, dtype) for a in (x, w, b, rm, rv)]


def _torch_bn(x, w, b, gy, dtype, training, rm=None, rv=None, eps=1e-5):
    """torch's y, dx, dγ, dβ in ``dtype`` on the same values (None where w/b is None)."""
    tx = torch.tensor(x, dtype=dtype, requires_grad=True)
    tw, tb = (None if a is None else torch.tensor(a, dtype=dtype, requires_grad=True) for a in (w, b))
    stats = (None, None) if training else (torch.tensor(rm, dtype=dtype), torch.tensor(rv, dtype=dtype))
    y = TF.batch_norm(tx, *stats, tw, tb, training=training, eps=eps)
    y.backward(torch.tensor(gy, dtype=dtype))
    return [y.detach().numpy(), tx.grad.numpy()] + [None if t is None else t.grad.numpy() for t in (tw, tb)]


def _eval_check(shape, affine, layout, eps=1e-5, seed=0, what=""):
    """F.batch_norm in evaluation mode vs torch (float64 reference, torch float32's error as the floor), forward
    and every gradient, with x in ``layout``; returns the oneDNN executions it took."""
    x, w, b, rm, rv = _values(shape, seed)
    gy = np.random.default_rng(seed + 1).standard_normal(shape).astype(np.float32)
    if layout == "channels_last":            # NHWC memory, as the convolutions return it
        x = _channels_last(x)
    w, b = (w if "w" in affine else None), (b if "b" in affine else None)
    xt = ck.from_numpy(x).requires_grad_(True)
    wt, bt = (None if a is None else ck.tensor(a, requires_grad=True) for a in (w, b))
    before = backend.executions()
    y = F.batch_norm(xt, ck.tensor(rm), ck.tensor(rv), wt, bt, training=False, eps=eps)
    y.backward(ck.tensor(gy))
    ran = backend.executions() - before
    assert y.dtype == np.float32 and _layout(y._data) == _layout(x)       # y in x's memory layout
    got = [y, xt.grad] + [None if t is None else t.grad for t in (wt, bt)]
    ref = _torch_bn(x, w, b, gy, torch.float64, False, rm, rv, eps)
    th32 = _torch_bn(x, w, b, gy, torch.float32, False, rm, rv, eps)
    for name, a, e, t in zip(("y", "dx", "dweight", "dbias"), got, ref, th32):
        assert (a is None) == (e is None), name
        if a is not None:
            assert_close32(a, e, t, what=f"batch_norm eval {shape} {affine!r} {layout} eps={eps} {what}: {name}")
    return ran


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_eval_batch_norm_parity(on, shape, affine, layout):
    ran = _eval_check(shape, affine, layout, what=on)
    assert ran == (1 if on == "onednn" else 0)        # the forward ran on oneDNN; the backward is NumPy's


@needs_onednn
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 9), h=st.integers(1, 6), w=st.integers(1, 6),
       affine=st.sampled_from(AFFINE), layout=st.sampled_from(["contiguous", "channels_last"]),
       eps=st.sampled_from([1e-5, 1e-3, 0.0, 0.5]), seed=st.integers(0, 2 ** 16))
def test_eval_batch_norm_hypothesis(n, c, h, w, affine, layout, eps, seed):
    assert _eval_check((n, c, h, w), affine, layout, eps, seed) == 1


@needs_onednn
def test_eval_module_runs_on_onednn_and_leaves_running_stats():
    bn = ck.nn.BatchNorm2d(6)
    bn.running_mean._data[:] = np.arange(6)
    bn.running_var._data[:] = np.arange(1, 7)
    bn.eval()
    x = _channels_last(_values((3, 6, 5, 5))[0])
    before = backend.executions()
    y = bn(ck.tensor(x))
    assert backend.executions() == before + 1
    expected = (x.astype(np.float64) - np.arange(6).reshape(1, 6, 1, 1)) / np.sqrt(
        np.arange(1, 7).reshape(1, 6, 1, 1) + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.arange(6))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.arange(1, 7))


@needs_onednn
@pytest.mark.parametrize("case", ["float64", "3-d", "5-d", "fortran", "sliced", "training", "switched off"])
def test_cases_oneDNN_does_not_take_run_on_numpy(case):
    """float64, other ranks, other memory layouts, training mode and the switch off: NumPy, same numbers as torch."""
    shape = {"3-d": (3, 4, 6), "5-d": (2, 3, 2, 3, 2)}.get(case, (3, 4, 5, 6))
    rng = np.random.default_rng(0)
    dtype = np.float64 if case == "float64" else np.float32
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    if case == "fortran":
        x = np.asfortranarray(x)
    if case == "sliced":
        x = rng.standard_normal((3, 4, 5, 12)).astype(dtype)[..., ::2]
    rm, rv = np.zeros(shape[1], dtype), np.full(shape[1], 2.0, dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    training = case == "training"
    assert backend.batch_norm.supports(x) == (case in ("training", "switched off"))
    before = backend.executions()
    xt = ck.from_numpy(x).requires_grad_(True)
    with ck.backends.onednn.flags(enabled=case != "switched off"):
        y = F.batch_norm(xt, ck.tensor(rm.copy()), ck.tensor(rv.copy()), training=training)
        y.backward(ck.tensor(gy))
    ref = _torch_bn(x, None, None, gy, torch.float64, training, rm, rv)
    th = _torch_bn(x, None, None, gy, torch.float32, training, rm, rv)
    for name, a, e, t in zip(("y", "dx"), (y, xt.grad), ref, th):
        if dtype == np.float64:
            assert_close(a, e, 1e-8, f"batch_norm {case}: {name}")
        else:
            assert_close32(a, e, t, what=f"batch_norm {case}: {name}")
    assert backend.executions() == before


# ===== the kernel's training forward and backward (not dispatched by the op) ==========================

@needs_onednn
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[0] * s[2] * s[3] > 2], ids=str)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("training", [True, False])
def test_kernel_forward_and_backward_match_torch(shape, affine, layout, training):
    x, w, b, rm, rv = _values(shape, 1)
    gy = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    if layout == "channels_last":
        x = _channels_last(x)
    w, b = (w if "w" in affine else None), (b if "b" in affine else None)
    k = backend.batch_norm
    before = backend.executions()
    if training:
        y, mean, var = k.forward_training(x, w, b)
        # the batch statistics, the variance biased (the op derives the unbiased one for running_var)
        x64 = x.astype(np.float64)
        np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
        stats = mean, var
    else:
        y, stats = k.forward_inference(x, rm, rv, w, b), (rm, rv)
    gx, gw, gb = k.backward(gy, x, *stats, w, b, training=training)
    assert backend.executions() == before + 2
    assert _layout(y) == _layout(x) == _layout(gx)
    ref = _torch_bn(x, w, b, gy, torch.float64, training, rm, rv)
    th32 = _torch_bn(x, w, b, gy, torch.float32, training, rm, rv)
    for name, a, e, t in zip(("y", "dx", "dweight", "dbias"), (y, gx, gw, gb), ref, th32):
        assert (a is None) == (e is None), name
        if a is not None:
            assert_close32(a, e, t, what=f"{name} {shape} {affine!r} {layout} training={training}")


@needs_onednn
def test_kernel_backward_takes_dy_in_another_layout():
    x, w, b, _, _ = _values((2, 6, 4, 5), 3)
    x = _channels_last(x)
    gy = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)        # NCHW-contiguous
    k = backend.batch_norm
    _, mean, var = k.forward_training(x, w, b)
    got = k.backward(gy, x, mean, var, w, b)
    same = k.backward(_channels_last(gy), x, mean, var, w, b)
    for a, e in zip(got, same):
        np.testing.assert_array_equal(a, e)


@needs_onednn
def test_primitives_are_cached_per_shape_layout_and_flags():
    x = _values((2, 4, 3, 3))[0]
    k = backend.batch_norm
    p = k.primitive(x, None, None, 1e-5, training=False)
    assert p is k.primitive(x, None, None, 1e-5, training=False)
    assert p is not k.primitive(_channels_last(x), None, None, 1e-5, training=False)
    assert p is not k.primitive(x, np.ones(4, np.float32), None, 1e-5, training=False)
    assert p is not k.primitive(x, None, None, 1e-3, training=False)
