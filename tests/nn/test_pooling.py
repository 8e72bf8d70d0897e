"""Pooling layers against torch.nn: MaxPool2d, AvgPool2d, LPPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d.

Outputs, indices and input gradients through ``check_module`` (float64 rtol 1e-8, float32 1e-4), PyTorch's
reprs and attributes, use inside Sequential, and errors naming the layer.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn as nn
from tests.oracle import check_module

RTOL = 1e-8

LAYERS = [
    ("MaxPool2d", (3, 2), {}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool2d", ((2, 3),), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1), "ceil_mode": True}),
    ("MaxPool2d", (3, 2), {"return_indices": True, "ceil_mode": True}),
    ("MaxPool2d", (2, 1), {"padding": 1, "dilation": 2, "return_indices": True}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1), {}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("AvgPool2d", ((2, 3),), {"stride": (1, 2), "padding": (1, 1), "ceil_mode": True}),
    ("AvgPool2d", (2,), {"divisor_override": 3}),
    ("LPPool2d", (2, 2), {}),
    ("LPPool2d", (2, 3), {"stride": 2, "ceil_mode": True}),
    ("LPPool2d", (3, (2, 3)), {"stride": (1, 2)}),
    ("LPPool2d", (1.5, 2), {}),
    ("LPPool2d", (float("inf"), 3), {"stride": 1}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((3, 4),), {}),
    ("AdaptiveAvgPool2d", ((None, 2),), {}),
    ("AdaptiveAvgPool2d", (7,), {}),
    ("AdaptiveMaxPool2d", (1,), {}),
    ("AdaptiveMaxPool2d", ((3, None),), {"return_indices": True}),
    ("AdaptiveMaxPool2d", (4,), {}),
]


def make(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


def layer_input(name, args, shape, dtype, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    if name == "LPPool2d" and args[0] != 2:
        x = np.abs(x) + 0.1  # odd and fractional powers of negative window sums are NaN
    return x.astype(dtype)


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 7)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_matches_torch(name, args, kwargs, shape, dtype):
    ck_m, th_m = make(name, args, kwargs)
    x = layer_input(name, args, shape, dtype)
    check_module(ck_m, th_m, [x], rtol=RTOL if dtype == np.float64 else None)
    y = ck_m(ck.tensor(x))
    y = y[0] if isinstance(y, tuple) else y
    assert y.dtype == dtype


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
def test_repr_and_attributes_match_torch(name, args, kwargs):
    ck_m, th_m = make(name, args, kwargs)
    assert repr(ck_m) == repr(th_m)
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices", "count_include_pad",
                 "divisor_override", "norm_type", "output_size"):
        if hasattr(th_m, attr):
            assert getattr(ck_m, attr) == getattr(th_m, attr), attr
    assert list(ck_m.parameters()) == [] and dict(ck_m.state_dict()) == {}


def test_stride_defaults_to_kernel():
    assert nn.MaxPool2d(3).stride == 3
    assert nn.AvgPool2d((2, 3)).stride == (2, 3)
    assert nn.LPPool2d(2, 3).stride is None


def test_in_a_network_with_train_and_eval():
    torch.manual_seed(0)
    ck_net = nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d(1))
    th_net = torch.nn.Sequential(torch.nn.MaxPool2d(3, 2, 1), torch.nn.AvgPool2d(2, ceil_mode=True),
                                 torch.nn.AdaptiveAvgPool2d(1))
    x = np.random.default_rng(1).standard_normal((2, 4, 15, 13))
    check_module(ck_net, th_net, [x], rtol=RTOL)
    check_module(ck_net, th_net, [x], rtol=RTOL, train=False)
    assert repr(ck_net) == repr(th_net)


def test_return_indices_layer_gives_torch_indices():
    x = np.round(np.random.default_rng(2).standard_normal((2, 3, 11, 11)) * 2)
    y, idx = nn.MaxPool2d(3, 2, return_indices=True)(ck.tensor(x))
    th_y, th_idx = torch.nn.MaxPool2d(3, 2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx._data, th_idx.numpy())
    np.testing.assert_array_equal(y._data, th_y.numpy())


@given(st.integers(1, 4), st.integers(1, 3), st.booleans(), st.integers(4, 12), st.integers(0, 2 ** 16))
def test_max_and_avg_layers_hypothesis(k, s, ceil, size, seed):
    p = k // 2
    x = np.random.default_rng(seed).standard_normal((2, 2, size, size + 1))
    check_module(nn.MaxPool2d(k, s, p, ceil_mode=ceil), torch.nn.MaxPool2d(k, s, p, ceil_mode=ceil), [x], rtol=RTOL)
    check_module(nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=False),
                 torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=False), [x], rtol=RTOL)


# ===== errors name the layer =======================================================================

@pytest.mark.parametrize("build,exc,match", [
    (lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be positive, got 0"),
    (lambda: nn.MaxPool2d(2, -1), ValueError, "MaxPool2d: stride must be positive, got -1"),
    (lambda: nn.MaxPool2d(3, padding=2), ValueError, "padding must be at most half the kernel size"),
    (lambda: nn.MaxPool2d(3, dilation=0), ValueError, "dilation must be positive"),
    (lambda: nn.MaxPool2d(2.0), TypeError, "MaxPool2d: kernel_size must be an int or a tuple of two "
                                           "ints, got 2.0"),
    (lambda: nn.MaxPool2d(2, ceil_mode="yes"), TypeError, "ceil_mode must be a bool"),
    (lambda: nn.AvgPool2d(2, padding=-1), ValueError, "AvgPool2d: padding must be non-negative, got -1"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, "AvgPool2d: divisor_override must not be zero, "
                                                              "got 0"),
    (lambda: nn.LPPool2d(0, 2), ValueError, "LPPool2d: norm_type must be a non-zero number (p of the "
                                            "L_p norm), got 0"),
    (lambda: nn.LPPool2d("l2", 2), TypeError, "LPPool2d: norm_type must be a number, got 'l2'"),
    (lambda: nn.LPPool2d(2, 2, 0), ValueError, "stride must be positive"),
    (lambda: nn.AdaptiveAvgPool2d(-2), ValueError, "AdaptiveAvgPool2d: output_size must be non-negative, "
                                                   "got -2"),
    (lambda: nn.AdaptiveMaxPool2d((1, 2, 3)), ValueError, "AdaptiveMaxPool2d: output_size must be an int or a "
                                                          "tuple of two ints (or None), got (1, 2, 3)"),
])
def test_bad_arguments_fail_at_construction(build, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        build()


@pytest.mark.parametrize("layer,x,exc,match", [
    (nn.MaxPool2d(3, 2), np.zeros((5, 5)), ValueError,
     "MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False): max_pool2d: expected a 3-d (C, H, "
     "W) or 4-d "
     "(N, C, H, W) input with non-zero C, H and W, got shape (5, 5)"),
    (nn.MaxPool2d(3, 2), np.zeros((1, 1, 2, 2)), ValueError,
     "MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False): max_pool2d: the kernel (3, 3)"),
    (nn.AvgPool2d(4, padding=1), np.zeros((1, 1, 1, 1)), ValueError,
     "AvgPool2d(kernel_size=4, stride=4, padding=1): avg_pool2d: the kernel (4, 4) (spanning (4, 4) with dilation (1, 1)) is "
     "larger than the input (1, 1) padded by (1, 1)"),
    (nn.LPPool2d(2, 3), np.zeros((2, 1, 1, 3, 3)), ValueError, "LPPool2d(norm_type=2, kernel_size=3, stride=None, "
                                                              "ceil_mode=False): lp_pool2d: expected a 3-d"),
    (nn.AdaptiveAvgPool2d(1), np.zeros((8, 512)), ValueError, "AdaptiveAvgPool2d(output_size=1): adaptive_avg_pool2d: expected "
                                                            "a 3-d"),
    (nn.AdaptiveMaxPool2d(2), np.zeros((1, 3, 0, 4)), ValueError, "AdaptiveMaxPool2d(output_size=2): adaptive_max_pool2d: "
                                                                 "expected a 3-d"),
    (nn.AvgPool2d(2), np.zeros((1, 1, 4, 4), np.int32), TypeError, "AvgPool2d(kernel_size=2, stride=2, padding=0): "
                                                                   "avg_pool2d: expected a floating point input, got dtype int32"),
])
def test_bad_inputs_fail_naming_the_layer(layer, x, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        layer(ck.tensor(x))
