"""The oracle itself: ``check_op`` and ``check_module`` pass on a correct op and fail on a forward or a
gradient that is off by a small factor or a sign, in float64 and float32 (where the reference is torch in
float64 and the bound is derived from torch float32's own error)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.function import Function
from tests.oracle import RTOL32, assert_close32, check_module, check_op

DTYPES = [np.float64, np.float32]


class SinTimes(Function):
    """y = sin(x)·w, with optional mistakes: the forward scaled, a gradient scaled, the weight's gradient
    negated."""

    def __init__(self, forward_factor=1.0, dx_factor=1.0, dw_sign=1.0):
        self.forward_factor, self.dx_factor, self.dw_sign = forward_factor, dx_factor, dw_sign

    def forward(self, x, w):
        self.x, self.w = x, w
        return (np.sin(x) * w * self.forward_factor).astype(x.dtype, copy=False)

    def backward(self, gy):
        gx = gy * np.cos(self.x) * self.w * self.dx_factor
        gw = gy * np.sin(self.x) * self.dw_sign
        return gx.astype(self.x.dtype, copy=False), gw.astype(self.w.dtype, copy=False)


def torch_sin_times(x, w):
    return torch.sin(x) * w


def _inputs(dtype):
    rng = np.random.default_rng(5)
    return [rng.standard_normal((4, 6)).astype(dtype), rng.standard_normal((4, 6)).astype(dtype)]


# a relative mistake that float32 arithmetic cannot explain (its rounding is ~6e-8) and that float64 sees easily
SMALL = {np.float64: 1e-7, np.float32: 3e-3}


@pytest.mark.parametrize("dtype", DTYPES)
def test_passes_a_correct_op(dtype):
    out = check_op(lambda x, w: SinTimes()(x, w), torch_sin_times, _inputs(dtype))
    assert out[0].dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mistake, message", [
    ({"forward_factor": "small"}, "output 0"),
    ({"dx_factor": "small"}, "gradient of input 0"),
    ({"dw_sign": -1.0}, "gradient of input 1"),
])
def test_fails_a_wrong_op(dtype, mistake, message):
    kw = {k: (1 + SMALL[dtype] if v == "small" else v) for k, v in mistake.items()}
    with pytest.raises(AssertionError, match=message):
        check_op(lambda x, w: SinTimes(**kw)(x, w), torch_sin_times, _inputs(dtype))


def test_fails_a_float32_op_that_computes_in_float64():
    class Upcast(SinTimes):
        def forward(self, x, w):
            self.x, self.w = x, w
            return np.sin(x.astype(np.float64)) * w

    with pytest.raises(AssertionError, match="dtype float64 != torch's float32"):
        check_op(lambda x, w: Upcast()(x, w), torch_sin_times, _inputs(np.float32))


class Scale(ck.nn.Module):
    def __init__(self, **mistake):
        super().__init__()
        self.weight = ck.nn.Parameter(ck.tensor(np.linspace(-1.0, 1.0, 24).reshape(4, 6)))
        self.mistake = mistake

    def forward(self, x):
        return SinTimes(**self.mistake)(x, self.weight)


class TorchScale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(4, 6))

    def forward(self, x):
        return torch.sin(x) * self.weight


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_parameter_gradient(dtype):
    x = _inputs(dtype)[0]
    for mistake, fails in (({}, False), ({"dw_sign": -1.0}, True), ({"dw_sign": 1 + SMALL[dtype]}, True)):
        m = Scale(**mistake).double() if dtype == np.float64 else Scale(**mistake).float()
        t = TorchScale().double() if dtype == np.float64 else TorchScale().float()
        if not fails:
            check_module(m, t, [x])
        else:
            with pytest.raises(AssertionError, match="gradient of weight"):
                check_module(m, t, [x])


def test_float32_bound_follows_torchs_own_error():
    """The float32 bound is max(RTOL32 bound, 2 × torch float32's worst error against float64): an error
    twice torch's passes, three times fails; with torch exact, the RTOL32 bound alone applies."""
    ref = np.linspace(1.0, 2.0, 5)
    torch32 = (ref * (1 + 1e-3)).astype(np.float32)  # a float32 result whose worst error is ~2e-3
    err = float(np.max(np.abs(torch32 - ref)))
    assert_close32((ref + 1.9 * err).astype(np.float32), ref, torch32)
    with pytest.raises(AssertionError, match="floor"):
        assert_close32((ref + 3 * err).astype(np.float32), ref, torch32)
    exact = ref.astype(np.float32)
    assert_close32((ref * (1 + 0.5 * RTOL32)).astype(np.float32), exact.astype(np.float64), exact)
    with pytest.raises(AssertionError):
        assert_close32((ref * (1 + 3 * RTOL32)).astype(np.float32), exact.astype(np.float64), exact)
