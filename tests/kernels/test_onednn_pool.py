"""Pooling on the optional oneDNN backend (cnnkit/kernels/onednn/pool.py): max and average pooling forward and
backward against PyTorch (float32 against a torch float64 reference, tests/oracle.py's rules) on a grid of
geometries, layouts (NCHW, NHWC, 3-d) and on hypothesis-drawn ones, on both backends; the execution counter
proves which backend ran. The cases oneDNN computes differently from PyTorch (NaN and −∞ in max pooling, a
window of only padding, a partial ceil_mode window counted with its padding) must fall back to NumPy."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn as nn
import cnnkit.nn.functional as F
from cnnkit.function import Function
from cnnkit.kernels import onednn as backend
from cnnkit.kernels.pool_windows import pool_out_size
from tests.oracle import check_op

needs_onednn = pytest.mark.skipif(not backend.available(),
                                  reason=f"oneDNN library not loaded: {backend.load_error()}")
BACKENDS = ["numpy", pytest.param("onednn", marks=needs_onednn)]


@pytest.fixture(params=BACKENDS)
def on(request):
    """Runs the test with the backend switched to ``request.param``; yields that name."""
    with ck.backends.onednn.flags(enabled=request.param == "onednn"):
        yield request.param


class ChannelsLast(Function):
    """The identity, with the output in NHWC memory (as a oneDNN convolution leaves it)."""

    def forward(self, x):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def backward(self, gy):
        return gy


def layout(x, how: str):
    return ChannelsLast()(x) if how == "nhwc" else x


# (shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 8, 8), 2, 2, 0, 1, False),            # 2×2/2
    ((2, 4, 9, 9), 3, 2, 1, 1, False),            # ResNet's stem pool
    ((2, 5, 13, 13), 3, 2, 0, 1, False),          # AlexNet's overlapping pool
    ((2, 5, 13, 13), 3, 2, 0, 1, True),           # ceil_mode: a partial last window
    ((1, 3, 10, 11), (3, 2), (2, 1), (1, 0), 1, True),
    ((2, 3, 9, 8), 3, 1, 1, 2, False),            # dilated
    ((2, 2, 11, 10), (3, 2), (2, 3), (1, 1), (2, 3), True),   # dilated, strided, asymmetric, ceil
    ((1, 16, 7, 7), 7, 1, 3, 1, False),           # window as large as the input
    ((3, 1, 6, 6), 2, 1, 1, 1, False),            # one channel, stride 1, overlapping
    ((2, 3, 5, 5), 4, 3, 2, 1, True),
]
AVG_CASES = [
    ((2, 3, 8, 8), 2, 2, 0, False),
    ((2, 4, 9, 9), 3, 1, 1, False),               # Inception's 3×3/1 pad 1
    ((2, 4, 9, 9), 3, 2, 1, False),
    ((2, 5, 13, 13), 3, 2, 1, True),              # ceil_mode with padding
    ((1, 3, 10, 11), (3, 2), (2, 1), (1, 0), True),
    ((2, 3, 5, 5), 4, 3, 2, True),
    ((1, 8, 7, 7), 7, 1, 0, False),
]


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _ran(before) -> int:
    return ck.backends.onednn.executions() - before


@pytest.mark.parametrize("how", ["nchw", "nhwc", "3d"])
@pytest.mark.parametrize("case", MAX_CASES, ids=str)
def test_max_pool2d_float32_parity(on, case, how):
    shape, k, s, p, d, ceil = case
    x = _x(shape[1:] if how == "3d" else shape)
    before = ck.backends.onednn.executions()
    out = check_op(lambda t: F.max_pool2d(layout(t, how), k, s, p, d, ceil),
                   lambda t: TF.max_pool2d(t, k, s, p, d, ceil), [x], what=f"max_pool2d{case} {how} {on}")
    assert out[0].dtype == np.float32
    # forward (training, with workspace) and backward; oneDNN 3.2 has only its reference (scalar) implementation
    # for dilated pooling, which the backend refuses
    assert (_ran(before) == 2) == (on == "onednn" and d == 1)


@pytest.mark.parametrize("how", ["nchw", "nhwc", "3d"])
@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("case", AVG_CASES, ids=str)
def test_avg_pool2d_float32_parity(on, case, include, how):
    shape, k, s, p, ceil = case
    x = _x(shape[1:] if how == "3d" else shape)
    before = ck.backends.onednn.executions()
    out = check_op(lambda t: F.avg_pool2d(layout(t, how), k, s, p, ceil, include),
                   lambda t: TF.avg_pool2d(t, k, s, p, ceil, include), [x],
                   what=f"avg_pool2d{case} include={include} {how} {on}")
    assert out[0].dtype == np.float32
    # PyTorch divides a partial ceil_mode window by its size clipped to the padded input, oneDNN by kH·kW
    clipped = include and ceil and _clipped_divisor(shape[-2:], k, s, p)
    assert (_ran(before) == 2) == (on == "onednn" and not clipped)


def _clipped_divisor(hw, k, s, p) -> bool:
    """Does PyTorch's count_include_pad divisor of some ceil_mode window differ from kH·kW?"""
    k, s, p = ((v, v) if isinstance(v, int) else tuple(v) for v in (k, s, p))
    for n, kk, ss, pp in zip(hw, k, s, p):
        out = pool_out_size(n, kk, ss, pp, 1, True)
        if (out - 1) * ss - pp + kk > n + pp:
            return True
    return False


@needs_onednn
@pytest.mark.parametrize("how", ["nchw", "nhwc"])
@pytest.mark.parametrize("k,s,p,d", [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 1), (2, 1, 1, 1), (3, 2, 0, 1),
                                     (3, 1, 1, 2)])
def test_max_pool2d_ties_route_to_the_first_maximum(k, s, p, d, how):
    """Inputs with many equal values (0, 1, 2) and a constant plane: the gradient goes to the first maximum
    of each window in row-major order, as PyTorch's; oneDNN's workspace must agree element by element (an
    integer cotangent, so that sums of overlapping windows' gradients are exact in any order)."""
    x = np.random.default_rng(3).integers(0, 3, (2, 4, 9, 9)).astype(np.float32)
    x[1, 2] = 1.0
    a, b = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(4).integers(-9, 10, TF.max_pool2d(b, k, s, p, d).shape).astype(np.float32)
    before = ck.backends.onednn.executions()
    F.max_pool2d(layout(a, how), k, s, p, d).backward(ck.tensor(g))
    TF.max_pool2d(b, k, s, p, d).backward(torch.tensor(g))
    assert _ran(before) == (2 if d == 1 else 0)
    np.testing.assert_array_equal(a.grad._data, b.grad.numpy())


@needs_onednn
@pytest.mark.parametrize("k,s,p,d", [(3, 2, 1, 1), (2, 1, 1, 1), (3, 1, 1, 2)])
def test_max_pool2d_nan_and_neg_inf_fall_back(k, s, p, d):
    """oneDNN's max skips NaN and starts at the lowest finite float: such inputs run on NumPy (PyTorch's NaN
    and −∞ results and gradients)."""
    for poison in (np.nan, -np.inf):
        x = _x((2, 2, 7, 7), seed=4)
        x[0, 0, 1, 1] = x[1, 1, 5, 5] = poison
        x[0, 1, :3, :3] = -np.inf
        a, b = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        before = ck.backends.onednn.executions()
        ya, yb = F.max_pool2d(a, k, s, p, d), TF.max_pool2d(b, k, s, p, d)
        assert _ran(before) == 0
        np.testing.assert_array_equal(ya._data, yb.detach().numpy())
        g = np.ones(ya.shape, np.float32)
        ya.backward(ck.tensor(g))
        yb.backward(torch.tensor(g))
        np.testing.assert_array_equal(a.grad._data, b.grad.numpy())


@needs_onednn
def test_max_pool2d_window_of_padding_only_falls_back():
    x = ck.tensor(_x((1, 1, 2, 2)))
    before = ck.backends.onednn.executions()
    y = F.max_pool2d(x, 2, 1, 1, 3)
    assert _ran(before) == 0 and y._data.tolist() == [[[[-np.inf]]]]


@needs_onednn
def test_what_stays_on_numpy():
    """Indices, float64, divisor_override and lp_pool run on NumPy; the switch off keeps everything there."""
    x32 = ck.tensor(_x((2, 3, 8, 8)), requires_grad=True)
    before = ck.backends.onednn.executions()
    y, idx = F.max_pool2d(x32, 2, return_indices=True)
    y.sum().backward()
    F.max_pool2d(ck.tensor(_x((2, 3, 8, 8)).astype(np.float64)), 2)
    F.avg_pool2d(x32, 2, divisor_override=3)
    F.lp_pool2d(x32, 2, 2)
    with ck.backends.onednn.flags(enabled=False):
        F.max_pool2d(x32, 2).sum().backward()
        F.avg_pool2d(x32, 3, 1, 1).sum().backward()
    assert _ran(before) == 0
    assert idx._data.dtype == np.int64


@needs_onednn
def test_inference_runs_one_primitive_without_workspace():
    x = ck.tensor(_x((2, 3, 9, 9)))
    before = ck.backends.onednn.executions()
    with ck.no_grad():
        y = F.max_pool2d(x, 3, 2, 1)
    assert _ran(before) == 1
    np.testing.assert_array_equal(y._data, TF.max_pool2d(torch.tensor(x._data), 3, 2, 1).numpy())


@needs_onednn
def test_layers_run_on_onednn_in_the_input_layout():
    """nn.MaxPool2d / nn.AvgPool2d go through the same ops; the output keeps an NHWC input's memory layout."""
    from cnnkit.kernels import is_channels_last

    x = ck.from_numpy(np.ascontiguousarray(_x((2, 4, 9, 9)).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
    x.requires_grad_()
    before = ck.backends.onednn.executions()
    y = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)(nn.MaxPool2d(3, 1, 1)(x))
    y.sum().backward()
    assert _ran(before) == 4 and is_channels_last(y._data) and is_channels_last(x.grad._data)
    t = torch.tensor(x._data, requires_grad=True)
    TF.avg_pool2d(TF.max_pool2d(t, 3, 1, 1), 3, 2, 1, True, False).sum().backward()
    np.testing.assert_allclose(y._data, TF.avg_pool2d(TF.max_pool2d(t, 3, 1, 1), 3, 2, 1, True, False).detach(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad._data, t.grad.numpy(), rtol=1e-5, atol=1e-6)


@needs_onednn
def test_environment_switch_keeps_pooling_on_numpy():
    code = ("import numpy as np, cnnkit as ck, cnnkit.nn.functional as F; "
            "x = ck.tensor(np.ones((1, 2, 4, 4), np.float32), requires_grad=True); "
            "F.max_pool2d(x, 2).sum().backward(); F.avg_pool2d(x, 2).sum().backward(); "
            "print(ck.backends.onednn.executions(), float(x.grad.numpy().sum()))")
    env = dict(os.environ, CNNKIT_ONEDNN="0", PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "16.0"]       # 8 max windows route 1 each, avg gives 32 pixels 1/4 each


@st.composite
def _geometry(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    hw = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    ceil = draw(st.booleans())
    for n, kk, ss, pp, dd in zip(hw, k, s, p, d):
        out = pool_out_size(n, kk, ss, pp, dd, ceil)
        assume(out >= 1)     # and every window must see a pixel (PyTorch's backward fails on one of padding only)
        assume(all(any(0 <= o * ss - pp + i * dd < n for i in range(kk)) for o in range(out)))
    return hw, k, s, p, d, ceil


@needs_onednn
@settings(max_examples=40, deadline=None)
@given(_geometry(), st.sampled_from(["max", "avg_include", "avg_exclude"]), st.sampled_from(["nchw", "nhwc"]))
def test_pooling_float32_parity_hypothesis(geometry, kind, how):
    hw, k, s, p, d, ceil = geometry
    if kind != "max":
        d = 1
        assume(all(pool_out_size(n, kk, ss, pp, 1, ceil) >= 1 for n, kk, ss, pp in zip(hw, k, s, p)))
    x = _x((2, 3) + hw, seed=sum(hw))
    if kind == "max":
        ck_fn, th_fn = (lambda t: F.max_pool2d(layout(t, how), k, s, p, d, ceil),
                        lambda t: TF.max_pool2d(t, k, s, p, d, ceil))
    else:
        include = kind == "avg_include"
        ck_fn, th_fn = (lambda t: F.avg_pool2d(layout(t, how), k, s, p, ceil, include),
                        lambda t: TF.avg_pool2d(t, k, s, p, ceil, include))
    check_op(ck_fn, th_fn, [x], what=f"{kind}{geometry} {how}")


@needs_onednn
def test_adaptive_average_pooling_of_equal_windows_runs_on_onednn():
    """adaptive_avg_pool2d to a size dividing the input is plain average pooling (oneDNN); other sizes and the
    global mean stay on NumPy."""
    x = _x((2, 3, 8, 12))
    for size, ran in (((4, 3), 2), (3, 0), (1, 0)):
        before = ck.backends.onednn.executions()
        check_op(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size), [x],
                 what=f"adaptive_avg_pool2d {size}")
        assert _ran(before) == ran


@needs_onednn
def test_empty_batch_and_a_thread_change_between_forward_and_backward():
    """An empty batch stays on NumPy; a backward run with another thread count uses the forward's (the
    workspace is laid out for the forward's primitive)."""
    from cnnkit import kernels

    y = F.max_pool2d(ck.tensor(np.zeros((0, 3, 8, 8), np.float32)), 2)
    assert y.shape == (0, 3, 4, 4)
    x = _x((2, 8, 9, 9))
    a, b = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with kernels.using(threads=1):
        ya = F.max_pool2d(a, 3, 2, 1)
    before = ck.backends.onednn.executions()
    with kernels.using(threads=2):
        ya.sum().backward()
    TF.max_pool2d(b, 3, 2, 1).sum().backward()
    assert _ran(before) == 1
    np.testing.assert_array_equal(a.grad._data, b.grad.numpy())
