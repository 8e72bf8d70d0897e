"""Activation modules against torch.nn (check_module: output and input gradient), their reprs, the legacy
implicit softmax dim, cnnkit's Maxout module and errors that name the layer."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn as nn
import cnnkit.nn.functional as F
from tests.oracle import check_module, check_op

RTOL = 1e-8
DTYPES = (np.float64, np.float32)


def values(shape, seed=0, dtype=np.float64):
    v = np.random.default_rng(seed).standard_normal(shape)
    v.reshape(-1)[::5] = 0.0
    return v.astype(dtype)


# (cnnkit module, torch module, input shape)
PAIRS = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (4, 5)),
    (lambda: nn.ReLU(inplace=True), lambda: torch.nn.ReLU(inplace=False), (2, 3, 4, 4)),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(), (2, 3, 4, 4)),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (6,)),
    (lambda: nn.LeakyReLU(negative_slope=0.3, inplace=True), lambda: torch.nn.LeakyReLU(0.3), (3, 4)),
    (lambda: nn.ELU(), lambda: torch.nn.ELU(), (2, 3, 4, 4)),
    (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5), (3, 5)),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (2, 3, 4, 4)),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (2, 3, 4)),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (2, 3, 4, 4)),
    (lambda: nn.Softmax(-1), lambda: torch.nn.Softmax(-1), (4, 10)),
    (lambda: nn.Softmax(0), lambda: torch.nn.Softmax(0), (5,)),
    (lambda: nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1), (4, 10)),
    (lambda: nn.LogSoftmax(-2), lambda: torch.nn.LogSoftmax(-2), (2, 3, 4, 4)),
    (lambda: nn.GLU(), lambda: torch.nn.GLU(), (3, 8)),
    (lambda: nn.GLU(dim=1), lambda: torch.nn.GLU(dim=1), (2, 6, 3, 3)),
    (lambda: nn.GLU(-3), lambda: torch.nn.GLU(-3), (2, 4, 3, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", range(len(PAIRS)))
def test_modules_against_torch(k, dtype):
    ck_m, th_m, shape = PAIRS[k]
    m = ck_m()
    check_module(m, th_m(), [values(shape, seed=k, dtype=dtype)], rtol=RTOL)


@pytest.mark.parametrize("k", range(len(PAIRS)))
def test_module_repr_equals_torchs(k):
    ck_m, th_m, _ = PAIRS[k]
    m = ck_m()
    expected = repr(th_m())
    if getattr(m, "inplace", False):
        expected = expected[:-1] + ("inplace=True)" if expected.endswith("()") else ", inplace=True)")
    assert repr(m) == expected


def test_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.ELU(0.5, True)) == repr(torch.nn.ELU(0.5, True))
    assert repr(nn.ELU(1)) == repr(torch.nn.ELU(1)) and repr(nn.LeakyReLU(1)) == repr(torch.nn.LeakyReLU(1))
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Softmax()) == repr(torch.nn.Softmax()) == "Softmax(dim=None)"
    assert repr(nn.LogSoftmax()) == repr(torch.nn.LogSoftmax())
    assert repr(nn.GLU()) == "GLU(dim=-1)"
    assert repr(nn.Maxout(2)) == "Maxout(pieces=2, dim=1)"
    assert repr(nn.Sigmoid()) == "Sigmoid()" and repr(nn.Tanh()) == "Tanh()"


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_module_implicit_dim(cls, shape):
    x = values(shape, seed=1)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = getattr(nn, cls)()(ck.tensor(x))._data
    with pytest.warns(UserWarning):
        yt = getattr(torch.nn, cls)()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y, yt, rtol=1e-12, atol=1e-15)


def test_softmax_warning_points_at_the_caller_of_the_function():
    """The warning points at the user's line (here this file), through the layer or the functional."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.Softmax()(ck.randn(2, 3))
        F.softmax(ck.randn(2, 3))
        F.log_softmax(ck.randn(2, 3))
    assert [r.filename for r in w] == [__file__, __file__, __file__]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, pieces, dim", [((2, 6, 3, 3), 2, 1), ((2, 6, 3, 3), 3, 1), ((4, 8), 4, -1),
                                                ((2, 3, 6), 2, 2), ((2, 4, 6), 2, 1)])
def test_maxout_module(shape, pieces, dim, dtype):
    x = (np.random.default_rng(pieces).permutation(int(np.prod(shape))) * 0.1).reshape(shape).astype(dtype)
    m = nn.Maxout(pieces, dim)
    assert list(m.parameters()) == [] and m.state_dict() == {}

    def torch_ref(t):
        d = dim % t.dim()
        return t.unflatten(d, (t.shape[d] // pieces, pieces)).max(d + 1).values
    out = check_op(m, torch_ref, [x], rtol=RTOL)[0]
    assert out.shape == shape[:dim % len(shape)] + (shape[dim % len(shape)] // pieces,) + shape[dim % len(shape) + 1:]


def test_maxout_after_conv_like_layer_in_sequential():
    net = nn.Sequential(nn.Linear(5, 12), nn.Maxout(3), nn.Tanh(), nn.Linear(4, 2), nn.LogSoftmax(1))
    x = ck.randn(7, 5)
    y = net(x)
    assert y.shape == (7, 2)
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("m", [nn.ReLU(), nn.ELU(), nn.Sigmoid(), nn.Softmax(1), nn.GLU(), nn.Maxout(2)])
def test_activation_modules_have_no_state(m):
    assert list(m.parameters()) == [] and list(m.buffers()) == [] and m.state_dict() == {}


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.GLU()(ck.randn(2, 5)), ValueError,
     r"GLU\(dim=-1\): glu: halving dimension must be even, but dimension -1 has size 5 \(input shape \(2, 5\)\)"),
    (lambda: nn.GLU(3)(ck.randn(2, 4)), IndexError, r"GLU\(dim=3\): glu: dim 3 is out of range"),
    (lambda: nn.GLU(1.5), TypeError, r"GLU: dim must be an int"),
    (lambda: nn.Maxout(2)(ck.randn(8, 5, 3, 3)), ValueError,
     r"Maxout\(pieces=2, dim=1\): maxout: the size 5 of dimension 1 is not divisible by pieces=2 "
     r"\(input shape \(8, 5, 3, 3\)\)"),
    (lambda: nn.Maxout(0), ValueError, r"Maxout: pieces must be positive, got 0"),
    (lambda: nn.Maxout(2, dim="1"), TypeError, r"Maxout: dim must be an int"),
    (lambda: nn.Maxout(2, dim=4)(ck.randn(2, 4)), IndexError, r"Maxout\(pieces=2, dim=4\): maxout: dim 4 is out of range"),
    (lambda: nn.Softmax(2)(ck.randn(2, 4)), IndexError,
     r"Softmax\(dim=2\): softmax: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda: nn.LogSoftmax(-3)(ck.randn(2, 4)), IndexError, r"LogSoftmax\(dim=-3\): log_softmax: dim -3 is out of range"),
    (lambda: nn.Softmax("1"), TypeError, r"Softmax: dim must be an int or None"),
    (lambda: nn.Softmax(1)(ck.tensor([[1, 2]])), TypeError, r"Softmax\(dim=1\): softmax: expected a floating point tensor"),
    (lambda: nn.LeakyReLU("a"), TypeError, r"LeakyReLU: negative_slope must be a number"),
    (lambda: nn.ELU(alpha=None), TypeError, r"ELU: alpha must be a number"),
    (lambda: nn.ELU()(ck.tensor([1, 2])), TypeError, r"ELU\(alpha=1.0\): elu: expected a floating point tensor"),
    (lambda: nn.ReLU()([1.0]), TypeError, r"ReLU\(\): relu: expected a Tensor, got list"),
    (lambda: nn.Sigmoid()("x"), TypeError, r"Sigmoid\(\): sigmoid: expected a Tensor, got str"),
])
def test_errors_name_the_layer(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@given(seed=st.integers(0, 2**16), k=st.integers(0, len(PAIRS) - 1), batch=st.integers(1, 3),
       dtype=st.sampled_from(DTYPES))
def test_modules_hypothesis(seed, k, batch, dtype):
    ck_m, th_m, shape = PAIRS[k]
    shape = (batch,) + shape[1:] if len(shape) > 1 else shape
    check_module(ck_m(), th_m(), [values(shape, seed=seed, dtype=dtype)], rtol=RTOL)
