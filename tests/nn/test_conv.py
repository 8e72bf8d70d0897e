"""nn.Conv2d, nn.ConvTranspose2d and nn.TableConv2d against PyTorch's modules: outputs, input and parameter
gradients, default initialization, repr, state_dict, padding modes, output_size, and errors naming the layer."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.autograd import gradcheck
from cnnkit.models.lenet import LENET5_C3_TABLE
from tests.oracle import assert_close, assert_close32, check_module

RTOL = 1e-8


def _x(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CONV_MODULES = [  # (args, kwargs, input shape)
    ((3, 16, 3), {}, (2, 3, 9, 9)),
    ((1, 6, 5), dict(padding=2), (4, 1, 12, 12)),
    ((3, 8, 11), dict(stride=4, padding=2), (1, 3, 35, 35)),
    ((4, 8, 5), dict(padding=2, groups=2), (2, 4, 9, 9)),
    ((4, 4, 3), dict(padding=1, groups=4, bias=False), (2, 4, 6, 6)),
    ((4, 8, (1, 3)), dict(padding=(0, 1), dilation=(1, 2)), (2, 4, 5, 7)),
    ((4, 6, (3, 1)), dict(stride=(2, 1), padding="valid"), (2, 4, 7, 5)),
    ((4, 6, 4), dict(padding="same", dilation=2), (2, 4, 9, 8)),
    ((8, 4, 1), dict(stride=2), (2, 8, 7, 7)),
    ((2, 3, 3), dict(padding=1, padding_mode="reflect"), (2, 2, 5, 6)),
    ((2, 3, 3), dict(padding=2, padding_mode="replicate", stride=2), (2, 2, 5, 6)),
    ((2, 3, (2, 4)), dict(padding="same", padding_mode="circular"), (2, 2, 5, 6)),
    ((3, 4, 3), dict(padding=1), (3, 6, 5)),   # unbatched
]

TRANSPOSE_MODULES = [
    ((4, 2, 2), dict(stride=2), (2, 4, 5, 5)),
    ((4, 3, 4), dict(stride=2, padding=1), (2, 4, 4, 4)),
    ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 3, 5)),
    ((3, 3, 3), dict(dilation=2, output_padding=1, bias=False), (1, 3, 4, 4)),
    ((6, 4, 1), dict(groups=2), (2, 6, 5, 5)),
    ((3, 2, (2, 3)), dict(stride=(2, 1), padding=(1, 0)), (3, 4, 3)),  # unbatched
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args,kwargs,shape", CONV_MODULES, ids=str)
def test_conv2d_module(args, kwargs, shape, dtype):
    m = nn.Conv2d(*args, **kwargs, dtype=dtype)
    tm = torch.nn.Conv2d(*args, **kwargs, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    check_module(m, tm, [_x(*shape, dtype=dtype)], rtol=RTOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args,kwargs,shape", TRANSPOSE_MODULES, ids=str)
def test_conv_transpose2d_module(args, kwargs, shape, dtype):
    m = nn.ConvTranspose2d(*args, **kwargs, dtype=dtype)
    tm = torch.nn.ConvTranspose2d(*args, **kwargs, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    check_module(m, tm, [_x(*shape, dtype=dtype)], rtol=RTOL)


@pytest.mark.parametrize("cls,args,kwargs,shape", [
    (nn.Conv2d, (2, 3, 3), dict(padding=1), (2, 2, 4, 5)),
    (nn.Conv2d, (2, 3, 3), dict(stride=2, padding=1, padding_mode="reflect"), (2, 2, 5, 4)),
    (nn.Conv2d, (2, 2, (2, 3)), dict(padding="same", padding_mode="replicate"), (2, 2, 4, 4)),
    (nn.Conv2d, (2, 4, 3), dict(padding=2, groups=2, padding_mode="circular"), (1, 2, 3, 4)),
    (nn.ConvTranspose2d, (2, 3, 3), dict(stride=2, padding=1, output_padding=1), (2, 2, 3, 3)),
], ids=str)
def test_module_gradcheck(cls, args, kwargs, shape):
    m = cls(*args, **kwargs).double()
    x = ck.tensor(_x(*shape), requires_grad=True)
    assert gradcheck(lambda t, w, b: m(t), [x, m.weight, m.bias])


@pytest.mark.parametrize("args,kwargs", [
    ((3, 16, 3), {}), ((3, 16, (3, 5)), dict(stride=2, padding=(1, 2))), ((4, 8, 3), dict(groups=4, bias=False)),
    ((4, 8, 3), dict(padding="same", dilation=(2, 1), padding_mode="reflect")), ((4, 8, 2), dict(padding="valid")),
    ((4, 8, 1), dict(padding_mode="circular")),
])
def test_conv2d_repr_and_parameters(args, kwargs):
    m, tm = nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs)
    assert repr(m) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in tm.parameters())
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode", "output_padding"):
        assert getattr(m, attr) == getattr(tm, attr), attr


@pytest.mark.parametrize("args,kwargs", [
    ((4, 8, 3), {}), ((4, 8, 3), dict(stride=2, padding=1, output_padding=1, groups=2, bias=False)),
    ((4, 8, (2, 3)), dict(dilation=2, output_padding=(1, 0))),
])
def test_conv_transpose2d_repr_and_parameters(args, kwargs):
    m, tm = nn.ConvTranspose2d(*args, **kwargs), torch.nn.ConvTranspose2d(*args, **kwargs)
    assert repr(m) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]


@pytest.mark.parametrize("cls,args,fan_in", [(nn.Conv2d, (16, 64, 5), 16 * 25),
                                             (nn.Conv2d, (16, 64, 3, 1, 1, 1, 4), 4 * 9),
                                             (nn.ConvTranspose2d, (64, 32, 4), 32 * 16)])
def test_default_initialization(cls, args, fan_in):
    """kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in) for the weight, the same bound for the bias."""
    ck.manual_seed(3)
    m = cls(*args)
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight._data, m.bias._data
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform: std = bound/√3
    assert np.abs(w).max() > 0.95 * bound
    ck.manual_seed(3)
    assert np.array_equal(cls(*args).weight._data, w)  # drawn from the project generator


def test_output_size_argument():
    m = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    tm.load_state_dict({k: torch.from_numpy(v._data.copy()) for k, v in m.state_dict().items()})
    x = _x(2, 3, 4, 4)
    for size in [(7, 7), (8, 7), [2, 2, 8, 8]]:
        y, yt = m(ck.tensor(x), output_size=size), tm(torch.from_numpy(x), output_size=size)
        assert_close(y, yt, RTOL)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 2, kernel_size=\(3, 3\), stride=\(2, 2\), "
                                         r"padding=\(1, 1\)\): requested output size \(9, 7\) is not reachable"):
        m(ck.tensor(x), output_size=(9, 7))


# ----- TableConv2d -------------------------------------------------------------------------------------------

def test_lenet5_table():
    t = LENET5_C3_TABLE
    assert t.shape == (16, 6) and t.dtype == bool and int(t.sum()) == 60
    assert t.sum(axis=1).tolist() == [3] * 6 + [4] * 9 + [6]
    # LeCun et al. 1998, Table I, read column by column (C3 map j: the S2 maps marked X)
    assert [np.flatnonzero(t[j]).tolist() for j in (0, 4, 9, 12, 13, 14)] == \
        [[0, 1, 2], [0, 4, 5], [0, 3, 4, 5], [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    assert np.flatnonzero(t[:, 0]).tolist() == [0, 4, 5, 6, 9, 10, 11, 12, 14, 15]
    assert not t.flags.writeable


def test_table_conv2d_parameter_count():
    m = nn.TableConv2d(6, 16, 5, LENET5_C3_TABLE)
    assert sum(p.numel() for p in m.parameters()) == 60 * 25 + 16 == 1516
    assert m.weight.shape == (60, 5, 5) and m.bias.shape == (16,)
    assert repr(m) == "TableConv2d(6, 16, kernel_size=(5, 5), stride=(1, 1), connections=60)"
    assert list(m.state_dict()) == ["weight", "bias"]


def _dense_torch(m: nn.TableConv2d, dtype):
    """The equivalent torch Conv2d: dense weight = the kernels where the table allows, zeros elsewhere."""
    tm = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                         bias=m.bias is not None, dtype=dtype)
    with torch.no_grad():
        tm.weight.zero_()
        tm.weight[torch.from_numpy(m.table)] = torch.from_numpy(m.weight._data.copy()).to(dtype)
        if m.bias is not None:
            tm.bias.copy_(torch.from_numpy(m.bias._data))  # copy_ converts the dtype
    return tm


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs,shape", [(dict(), (4, 6, 14, 14)),
                                          (dict(stride=2, padding=2, bias=False), (2, 6, 9, 8)),
                                          (dict(padding="same"), (6, 10, 10))])
def test_table_conv2d_against_masked_torch_conv(kwargs, shape, dtype):
    m = nn.TableConv2d(6, 16, 5, LENET5_C3_TABLE, dtype=dtype, **kwargs)
    x = _x(*shape, dtype=dtype)
    xc = ck.tensor(x, requires_grad=True)
    y = m(xc)
    g = _x(*y.shape, dtype=dtype, seed=1)
    y.backward(g)
    # torch in the test's dtype and, for float32, in float64 on the same values (tests/oracle.py's rule)
    runs = {}
    for tdt in ((torch.float64,) if dtype == np.float64 else (torch.float32, torch.float64)):
        tm = _dense_torch(m, tdt)
        xt = torch.tensor(x, requires_grad=True, dtype=tdt)
        yt = tm(xt)
        yt.backward(torch.from_numpy(g).to(tdt))
        grads = {"input gradient": xt.grad, "weight gradient": tm.weight.grad[torch.from_numpy(m.table)]}
        runs[tdt] = {"output": yt, **grads, **({"bias gradient": tm.bias.grad} if m.bias is not None else {})}
    # only the connected kernels are parameters; their gradients are the dense gradient where the table allows
    assert m.weight.grad.shape == (60, 5, 5)
    ours = {"output": y, "input gradient": xc.grad, "weight gradient": m.weight.grad, "bias gradient":
            m.bias.grad if m.bias is not None else None}
    for what, ref in runs[torch.float64].items():
        if dtype == np.float64:
            assert_close(ours[what], ref, RTOL, what)
        else:
            assert_close32(ours[what], ref, runs[torch.float32][what], 1e-4, what)


def test_table_conv2d_initialization_and_gradcheck():
    ck.manual_seed(0)
    m = nn.TableConv2d(6, 16, 5, LENET5_C3_TABLE)
    fan_in = LENET5_C3_TABLE.sum(axis=1) * 25
    rows = np.nonzero(LENET5_C3_TABLE)[0]
    assert np.all(np.abs(m.weight._data).max(axis=(1, 2)) <= 1 / np.sqrt(fan_in[rows]))
    assert np.all(np.abs(m.bias._data) <= 1 / np.sqrt(fan_in))
    table = np.array([[1, 0, 1], [0, 1, 0]], bool)
    small = nn.TableConv2d(3, 2, 2, table, padding=1).double()
    x = ck.tensor(_x(2, 3, 3, 3), requires_grad=True)
    assert gradcheck(lambda t, w, b: small(t), [x, small.weight, small.bias])


def test_table_conv2d_dense_weight():
    m = nn.TableConv2d(6, 16, 5, LENET5_C3_TABLE)
    dense = m.dense_weight()._data
    assert dense.shape == (16, 6, 5, 5)
    assert np.all(dense[~LENET5_C3_TABLE] == 0)
    assert np.array_equal(dense[LENET5_C3_TABLE], m.weight._data)


# ----- errors name the layer -------------------------------------------------------------------------------------

def _in(*shape, dtype=np.float32):
    return ck.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nn.Conv2d(3, 16, 3)(_in(8, 1, 28, 28)), ValueError,
     r"^Conv2d\(3, 16, kernel_size=\(3, 3\), stride=\(1, 1\)\): conv2d: expected input with 3 "
     r"channels \(weight \(16, 3, 3, 3\), groups=1\), got shape \(8, 1, 28, 28\)$"),
    (lambda: nn.Conv2d(3, 16, 3)(_in(28, 28)), ValueError,
     r"^Conv2d\(3, 16, kernel_size=\(3, 3\), stride=\(1, 1\)\): conv2d: expected a 3-d \(C, H, W\) or 4-d "
     r"\(N, C, H, W\) input, got shape \(28, 28\)$"),
    (lambda: nn.Conv2d(3, 16, 5)(_in(1, 3, 4, 4)), ValueError,
     r"^Conv2d\(3, 16, kernel_size=\(5, 5\), stride=\(1, 1\)\): conv2d: kernel size \(5, 5\) .*larger than the padded "
     r"input \(4, 4\)"),
    (lambda: nn.Conv2d(3, 16, 3)(_in(1, 3, 8, 8, dtype=np.float64)), TypeError,
     r"^Conv2d\(3, 16, .*\): conv2d: expected input, weight and bias of one dtype, got input float64, weight float32"),
    (lambda: nn.Conv2d(3, 16, 3)(np.zeros((1, 3, 8, 8))), TypeError, r"^Conv2d\(3, 16, .*\): conv2d: expected a Tensor input, got ndarray"),
    (lambda: nn.Conv2d(3, 16, 0), ValueError, r"^Conv2d: kernel_size must be positive, got 0$"),
    (lambda: nn.Conv2d(3, 16, 3, stride=(1, 0)), ValueError, r"^Conv2d: stride must be positive, got \(1, 0\)$"),
    (lambda: nn.Conv2d(3, 16, 3, dilation=-1), ValueError, r"^Conv2d: dilation must be positive, got -1$"),
    (lambda: nn.Conv2d(3, 16, 3, padding=-1), ValueError, r"^Conv2d: padding must be non-negative, got -1$"),
    (lambda: nn.Conv2d(0, 16, 3), ValueError, r"^Conv2d: in_channels must be positive, got 0$"),
    (lambda: nn.Conv2d(3, -2, 3), ValueError, r"^Conv2d: out_channels must be positive, got -2$"),
    (lambda: nn.Conv2d(3, 16, 3, groups=2), ValueError,
     r"^Conv2d: in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     r"^Conv2d: out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=0), ValueError, r"^Conv2d: groups must be positive, got 0$"),
    (lambda: nn.Conv2d(3, 16, 3, stride=2, padding="same"), ValueError,
     r"^Conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(3, 16, 3, padding="full"), ValueError, r"^Conv2d: padding must be 'valid', 'same', an int or a tuple of two ints, got 'full'$"),
    (lambda: nn.Conv2d(3, 16, 3, padding_mode="mirror"), ValueError,
     r"^Conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', 'circular'\), got 'mirror'$"),
    (lambda: nn.Conv2d(3, 16, 3, padding=3, padding_mode="reflect")(_in(1, 3, 3, 3)), ValueError,
     r"^Conv2d\(3, 16, .*padding_mode=reflect\): pad: reflect padding \(3, 3, 3, 3\) must be smaller than the input"),
    (lambda: nn.Conv2d(3, 16, 3, dtype=np.int64), TypeError, r"^Conv2d: dtype must be a floating point type"),
    (lambda: nn.ConvTranspose2d(4, 8, 3)(_in(2, 8, 5, 5)), ValueError,
     r"^ConvTranspose2d\(4, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\): conv_transpose2d: expected input with 4 "
     r"channels \(weight \(4, 8, 3, 3\)\), got shape \(2, 8, 5, 5\)$"),
    (lambda: nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=2), ValueError,
     r"^ConvTranspose2d: output_padding must be smaller than stride or dilation, got output_padding \(2, 2\) for "
     r"stride \(2, 2\) and dilation \(1, 1\)$"),
    (lambda: nn.ConvTranspose2d(4, 8, 3, padding="same"), ValueError,
     r"^ConvTranspose2d: padding must be an int or a tuple of two ints, got 'same'$"),
    (lambda: nn.ConvTranspose2d(4, 8, 3, padding_mode="reflect"), ValueError,
     r"^ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'"),
    (lambda: nn.ConvTranspose2d(4, 8, 3, groups=3), ValueError,
     r"^ConvTranspose2d: in_channels \(4\) must be divisible by groups \(3\)"),
    (lambda: nn.ConvTranspose2d(4, 8, 3, padding=3)(_in(1, 4, 1, 1)), ValueError,
     r"^ConvTranspose2d\(4, 8, .*\): conv_transpose2d: the output size \(-3, -3\) is not positive"),
    (lambda: nn.TableConv2d(6, 16, 5, LENET5_C3_TABLE)(_in(1, 3, 14, 14)), ValueError,
     r"^TableConv2d\(6, 16, kernel_size=\(5, 5\), stride=\(1, 1\), connections=60\): table_conv2d: expected "
     r"input with 6 channels \(table of shape \(16, 6\)\), got shape \(1, 3, 14, 14\)$"),
    (lambda: nn.TableConv2d(6, 10, 5, LENET5_C3_TABLE), ValueError,
     r"^TableConv2d: expected a table of shape \(out_channels, in_channels\) = \(10, 6\), got shape \(16, 6\)"),
    (lambda: nn.TableConv2d(2, 2, 3, np.array([[1, 0], [0, 0]])), ValueError,
     r"^TableConv2d: output map\(s\) \[1\] have no input in the connection table"),
    (lambda: nn.TableConv2d(2, 2, 3, np.array([[1, 2], [0, 1]])), ValueError,
     r"^TableConv2d: expected a 2-d boolean table"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
