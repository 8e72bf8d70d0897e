"""Batch normalization on oneDNN (cnnkit/kernels/onednn/batch_norm.py): parity of F.batch_norm with PyTorch in
training and evaluation mode on both backends (float32 against a torch float64 reference, tests/oracle.py's
rules), the running statistics, the execution counter proving which backend ran, the fallbacks, and the kernel's
three passes (partial statistics, partial gradient sums, the per-channel affine map) against float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import is_channels_last
from cnnkit.kernels import onednn as backend
from tests.oracle import assert_close, assert_close32

needs_onednn = pytest.mark.skipif(not backend.available(),
                                  reason=f"oneDNN library not loaded: {backend.load_error()}")
BACKENDS = ["numpy", pytest.param("onednn", marks=needs_onednn)]
SHAPES = [(2, 3, 5, 4), (4, 16, 7, 7), (1, 8, 1, 1), (3, 5, 2, 9), (2, 32, 12, 10)]
AFFINE = ["wb", "w", "b", ""]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_batch_norm_on_onednn_is_on_by_default():
    assert kernels.Config().onednn_batch_norm is True


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


def _torch_bn(x, w, b, gy, dtype, training, rm, rv, eps=1e-5, momentum=0.1):
    """torch's y, dx, dγ, dβ and the running statistics after, in ``dtype`` on the same values (None where w/b is
    None)."""
    tx = torch.tensor(x, dtype=dtype, requires_grad=True)
    tw, tb = (None if a is None else torch.tensor(a, dtype=dtype, requires_grad=True) for a in (w, b))
    stats = torch.tensor(rm, dtype=dtype), torch.tensor(rv, dtype=dtype)
    y = TF.batch_norm(tx, *stats, tw, tb, training=training, momentum=momentum, eps=eps)
    y.backward(torch.tensor(gy, dtype=dtype))
    return ([y.detach().numpy(), tx.grad.numpy()] + [None if t is None else t.grad.numpy() for t in (tw, tb)]
            + [s.numpy() for s in stats])


def _check(shape, affine, layout, training, eps=1e-5, momentum=0.1, seed=0):
    """F.batch_norm vs torch (float64 reference, torch float32's error as the floor): output, every gradient and
    the running statistics, with x in ``layout``; returns the oneDNN executions it took."""
    x, w, b, rm, rv = _values(shape, seed)
    gy = np.random.default_rng(seed + 1).standard_normal(shape).astype(np.float32)
    if layout == "channels_last":            # NHWC memory, as the convolutions return it
        x = _channels_last(x)
    w, b = (w if "w" in affine else None), (b if "b" in affine else None)
    xt = ck.from_numpy(x).requires_grad_(True)
    wt, bt = (None if a is None else ck.tensor(a, requires_grad=True) for a in (w, b))
    rm_ck, rv_ck = ck.tensor(rm), ck.tensor(rv)
    before = backend.executions()
    y = F.batch_norm(xt, rm_ck, rv_ck, wt, bt, training=training, momentum=momentum, eps=eps)
    y.backward(ck.tensor(gy))
    ran = backend.executions() - before
    assert y.dtype == np.float32 and _layout(y._data) == _layout(x)       # y in x's memory layout
    got = [y, xt.grad] + [None if t is None else t.grad for t in (wt, bt)] + [rm_ck, rv_ck]
    what = f"batch_norm {shape} {affine!r} {layout} training={training} eps={eps}"
    ref = _torch_bn(x, w, b, gy, torch.float64, training, rm, rv, eps, momentum)
    th32 = _torch_bn(x, w, b, gy, torch.float32, training, rm, rv, eps, momentum)
    for name, a, e, t in zip(("y", "dx", "dweight", "dbias", "running_mean", "running_var"), got, ref, th32):
        assert (a is None) == (e is None), name
        if a is not None:
            assert_close32(a, e, t, what=f"{what}: {name}")
    return ran


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_parity(on, shape, affine, layout, training):
    x = _values(shape)[0]
    if training and shape[0] * shape[2] * shape[3] == 1:
        pytest.skip("one value per channel cannot be normalized in training")
    ran = _check(shape, affine, layout, training)
    onednn_layout = is_channels_last(_channels_last(x) if layout == "channels_last" else x)
    # training: statistics + normalization, gradient sums + the dx pass; evaluation: normalization, gradient sums
    assert ran == ((4 if training else 2) if on == "onednn" and onednn_layout else 0)


@needs_onednn
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 9), h=st.integers(1, 7), w=st.integers(1, 7),
       affine=st.sampled_from(AFFINE), training=st.booleans(), momentum=st.floats(0.0, 1.0),
       eps=st.sampled_from([1e-5, 1e-3, 0.5]), seed=st.integers(0, 2 ** 16))
def test_batch_norm_hypothesis(n, c, h, w, affine, training, momentum, eps, seed):
    if n * h * w == 1:
        training = False
    if training and n * h * w == 2:
        eps = 0.5          # x̂ = ±1 whatever x is: dx is O(eps) rounding noise unless eps is large (as tests/ops)
    assert _check((n, c, h, w), affine, "channels_last", training, eps, momentum, seed) > 0


@needs_onednn
def test_long_channels_match_float64_like_numpy():
    """A large batch (M = 50,176 values per channel, offset from zero): oneDNN's partial sums added in float64
    keep the statistics and gradients within the oracle, as the NumPy path does."""
    assert _check((16, 8, 56, 56), "wb", "channels_last", True) == 4


@needs_onednn
def test_module_in_train_then_eval_runs_on_onednn():
    bn = ck.nn.BatchNorm2d(6)
    x = _channels_last(_values((3, 6, 5, 5))[0])
    before = backend.executions()
    with ck.no_grad():
        bn(ck.tensor(x))                     # ck.tensor copies to NCHW: the NumPy path
        assert backend.executions() == before
        bn(ck.from_numpy(x))
    assert backend.executions() == before + 2
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.19 * x64.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.81 + 0.19 * x64.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    bn.eval()
    y = bn(ck.from_numpy(x))
    expected = (x64 - bn.running_mean.numpy().reshape(1, 6, 1, 1)) / np.sqrt(
        bn.running_var.numpy().reshape(1, 6, 1, 1) + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert backend.executions() == before + 3


@needs_onednn
@pytest.mark.parametrize("case", ["float64", "nchw", "3-d", "5-d", "fortran", "sliced", "switched off",
                                  "option off"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_cases_oneDNN_does_not_take_run_on_numpy(case, training):
    """float64, NCHW memory (oneDNN's NCHW batch norm is slower than the NumPy path), other ranks and layouts,
    the backend switched off, and ``kernels.using(onednn_batch_norm=False)``: the NumPy path, the same numbers as
    torch."""
    shape = {"3-d": (3, 4, 6), "5-d": (2, 3, 2, 3, 2)}.get(case, (3, 4, 5, 6))
    rng = np.random.default_rng(0)
    dtype = np.float64 if case == "float64" else np.float32
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    if case in ("float64", "switched off", "option off"):
        x = _channels_last(x)
    if case == "fortran":
        x = np.asfortranarray(x)
    if case == "sliced":
        x = rng.standard_normal((3, 4, 5, 12)).astype(dtype)[..., ::2]
    rm, rv = np.zeros(shape[1], dtype), np.full(shape[1], 2.0, dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    assert backend.batch_norm.supports(x) == (case in ("switched off", "option off"))
    before = backend.executions()
    xt = ck.from_numpy(x).requires_grad_(True)
    with ck.backends.onednn.flags(enabled=case != "switched off"), \
            kernels.using(onednn_batch_norm=case != "option off"):
        y = F.batch_norm(xt, ck.tensor(rm.copy()), ck.tensor(rv.copy()), training=training)
        y.backward(ck.tensor(gy))
    assert backend.executions() == before
    ref = _torch_bn(x, None, None, gy, torch.float64, training, rm, rv)
    th = _torch_bn(x, None, None, gy, torch.float32, training, rm, rv)
    for name, a, e, t in zip(("y", "dx"), (y, xt.grad), ref, th):
        if dtype == np.float64:
            assert_close(a, e, 1e-8, f"batch_norm {case}: {name}")
        else:
            assert_close32(a, e, t, what=f"batch_norm {case}: {name}")


# ===== the kernel's passes against float64 ===========================================================

@needs_onednn
@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (4, 16, 7, 7), (16, 32, 8, 8), (1, 4, 1, 37), (3, 2, 1, 1)],
                         ids=str)
def test_kernel_passes_match_float64(shape):
    rng = np.random.default_rng(5)
    x = _channels_last((rng.standard_normal(shape) * 3 + 5).astype(np.float32))
    gy = _channels_last(rng.standard_normal(shape).astype(np.float32))
    c = shape[1]
    k = backend.batch_norm
    assert k.supports(x)
    x64, g64 = x.astype(np.float64), gy.astype(np.float64)
    mean, var = k.batch_stats(x, np.empty_like(x))
    assert mean.dtype == var.dtype == np.float64
    # float32 partial sums of r values (32 here, or the whole run when shorter, or 50 = 2·5·5), added in float64
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=1e-5)    # biased, like torch's normalization
    m32, a = mean.astype(np.float32), rng.standard_normal(c).astype(np.float32)
    ay = np.empty_like(x)
    gsum, gdot = k.grad_sums(gy, x, m32, a, ay)
    per = (1, c, 1, 1)
    scale = np.abs(g64).sum(axis=(0, 2, 3)) * 1e-6
    np.testing.assert_array_less(np.abs(gsum - g64.sum(axis=(0, 2, 3))), scale + 1e-30)
    centred = x64 - m32.reshape(per)
    scale = np.abs(g64 * centred).sum(axis=(0, 2, 3)) * 1e-6
    np.testing.assert_array_less(np.abs(gdot - (g64 * centred).sum(axis=(0, 2, 3))), scale + 1e-30)
    np.testing.assert_allclose(ay, a.reshape(per) * g64, rtol=1e-6, atol=1e-30)
    s, t = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    y = k.normalize(x, m32, s, t)
    assert is_channels_last(y)
    np.testing.assert_allclose(y, s.reshape(per) * centred + t.reshape(per), rtol=1e-5,
                               atol=1e-6 * np.abs(centred).max())


@needs_onednn
def test_kernel_takes_dy_in_another_layout():
    rng = np.random.default_rng(6)
    x = _channels_last(rng.standard_normal((2, 6, 4, 5)).astype(np.float32))
    gy = rng.standard_normal(x.shape).astype(np.float32)                  # NCHW-contiguous
    a, m = np.ones(6, np.float32), np.zeros(6, np.float32)
    k = backend.batch_norm
    out1, out2 = np.empty_like(x), np.empty_like(x)
    got, same = k.grad_sums(gy, x, m, a, out1), k.grad_sums(_channels_last(gy), x, m, a, out2)
    np.testing.assert_array_equal(got[0], same[0])
    np.testing.assert_array_equal(got[1], same[1])
    np.testing.assert_array_equal(out1, out2)


def test_partial_length():
    """r: the whole run below 32 values, else the smallest divisor ≥ 32 (None beyond 1024: NumPy path)."""
    from cnnkit.kernels.onednn.batch_norm import _part
    assert [_part(n) for n in (1, 31, 32, 50, 64, 96, 49 * 8, 1031, 2 * 1031)] == [1, 31, 32, 50, 32, 32, 49, None,
                                                                                 None]


@needs_onednn
def test_primitives_are_cached():
    x = _channels_last(_values((2, 4, 3, 3))[0])
    backend.cache.clear()
    y = F.batch_norm(ck.from_numpy(x), None, None, training=True)
    made = backend.cache.size()
    F.batch_norm(ck.from_numpy(x), None, None, training=True)
    assert backend.cache.size() == made >= 2
    F.batch_norm(ck.from_numpy(x[:1]), None, None, training=True)             # another batch: other primitives
    assert backend.cache.size() > made
    assert y.shape == x.shape


@needs_onednn
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_parameter_gradients_only(training):
    """A network's first layer: x needs no gradient, γ and β do (and x's memory is not kept in training)."""
    x, w, b, rm, rv = _values((4, 5, 6, 3), 8)
    x = _channels_last(x)
    gy = _channels_last(np.random.default_rng(9).standard_normal(x.shape).astype(np.float32))
    wt, bt = ck.tensor(w, requires_grad=True), ck.tensor(b, requires_grad=True)
    before = backend.executions()
    F.batch_norm(ck.from_numpy(x), ck.tensor(rm), ck.tensor(rv), wt, bt, training=training).backward(
        ck.from_numpy(gy))
    assert backend.executions() == before + (3 if training else 2)      # no dx pass
    ref = _torch_bn(x, w, b, gy, torch.float64, training, rm, rv)
    th = _torch_bn(x, w, b, gy, torch.float32, training, rm, rv)
    assert_close32(wt.grad, ref[2], th[2], what="dweight")
    assert_close32(bt.grad, ref[3], th[3], what="dbias")


@needs_onednn
def test_evaluation_without_gradient_needs_no_partial_length():
    """N·H·W = 1,031 (a prime above 1,024) has no partial length: training runs on NumPy, but evaluation under
    no_grad needs only the per-channel affine map and runs on oneDNN, with torch's numbers."""
    shape = (1, 4, 1, 1031)
    rng = np.random.default_rng(0)
    x = _channels_last((rng.standard_normal(shape) * 2 + 1).astype(np.float32))
    rm, rv = rng.standard_normal(4).astype(np.float32), (rng.random(4) + 0.5).astype(np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    assert backend.batch_norm.supports(x, statistics=False) and not backend.batch_norm.supports(x)
    before = backend.executions()
    with ck.no_grad():
        y = F.batch_norm(ck.from_numpy(x), ck.tensor(rm), ck.tensor(rv), ck.tensor(w), ck.tensor(b), training=False)
    assert backend.executions() == before + 1
    gy = np.zeros(shape, np.float32)
    ref = _torch_bn(x, w, b, gy, torch.float64, False, rm, rv)
    th = _torch_bn(x, w, b, gy, torch.float32, False, rm, rv)
    assert_close32(y, ref[0], th[0], what="batch_norm eval, no partial length: y")
    before = backend.executions()
    F.batch_norm(ck.from_numpy(x), ck.tensor(rm.copy()), ck.tensor(rv.copy()), training=True)
    assert backend.executions() == before
