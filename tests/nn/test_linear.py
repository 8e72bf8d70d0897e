"""nn.Linear against torch.nn.Linear (output, input/weight/bias gradients) for 1-d … 4-d inputs, bias on and
off, float64 and float32; PyTorch's default initialization; Flatten and Unflatten against torch; errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn as nn
from tests.oracle import check_module

RTOL = 1e-8
DTYPES = (np.float64, np.float32)

LINEAR_CASES = [  # (in, out, bias, input shape)
    (5, 3, True, (5,)), (5, 3, False, (5,)),
    (4, 6, True, (7, 4)), (4, 6, False, (7, 4)), (1, 1, True, (3, 1)), (16, 1, True, (2, 16)),
    (6, 2, True, (2, 3, 6)), (6, 2, False, (2, 3, 6)),
    (3, 4, True, (2, 2, 3, 3)), (3, 4, False, (1, 2, 5, 3)),
    (400, 120, True, (4, 400)),
]


def linear_pair(in_f, out_f, bias, dtype):
    m = nn.Linear(in_f, out_f, bias=bias)
    if dtype == np.float64:
        m.double()
    return m, torch.nn.Linear(in_f, out_f, bias=bias, dtype=torch.float64 if dtype == np.float64 else torch.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_f, out_f, bias, shape", LINEAR_CASES)
def test_linear_against_torch(in_f, out_f, bias, shape, dtype):
    m, tm = linear_pair(in_f, out_f, bias, dtype)
    x = np.random.default_rng(in_f).standard_normal(shape).astype(dtype)
    check_module(m, tm, [x], rtol=RTOL)
    assert m.weight.grad.dtype == dtype
    assert (m.bias is None) == (not bias)


@given(in_f=st.integers(1, 6), out_f=st.integers(1, 6), bias=st.booleans(), lead=st.lists(st.integers(1, 3),
       max_size=3), seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES))
def test_linear_hypothesis(in_f, out_f, bias, lead, seed, dtype):
    m, tm = linear_pair(in_f, out_f, bias, dtype)
    x = np.random.default_rng(seed).standard_normal(tuple(lead) + (in_f,)).astype(dtype)
    check_module(m, tm, [x], rtol=RTOL)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 2, 3)])
def test_linear_gradcheck(shape, bias):
    m = nn.Linear(3, 2, bias=bias).double()
    x = ck.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    params = [m.weight] + ([m.bias] if bias else [])
    assert ck.autograd.gradcheck(lambda t, *ps: m(t), [x] + params)


def test_linear_parameters_state_dict_and_repr():
    m = nn.Linear(400, 120)
    assert repr(m) == "Linear(in_features=400, out_features=120, bias=True)" == repr(torch.nn.Linear(400, 120))
    assert repr(nn.Linear(3, 4, bias=False)) == "Linear(in_features=3, out_features=4, bias=False)"
    assert list(m.state_dict()) == list(torch.nn.Linear(400, 120).state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (120, 400) and m.bias.shape == (120,)
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    assert sum(p.numel() for p in m.parameters()) == 400 * 120 + 120
    nb = nn.Linear(3, 4, bias=False)
    assert nb.bias is None and list(nb.state_dict()) == ["weight"]
    assert nn.Linear(3, 4, dtype=ck.float64).weight.dtype == np.float64


def test_linear_default_init_matches_pytorchs_distribution():
    """kaiming_uniform_(a=√5) = U(−1/√in, 1/√in) for W; U(−1/√in, 1/√in) for b."""
    m = nn.Linear(256, 512)
    bound = 1 / math.sqrt(256)
    w, b = m.weight._data, m.bias._data
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    assert b.std() > 0.5 * bound / math.sqrt(3)
    tw = torch.nn.Linear(256, 512).weight.detach().numpy()      # same law as torch's (different generator)
    assert abs(tw.std() - w.std()) < 0.01 * bound and abs(np.abs(tw).max() - np.abs(w).max()) < 0.01 * bound


def test_linear_init_reproducible_and_reset():
    ck.manual_seed(5)
    a = nn.Linear(10, 4)
    ck.manual_seed(5)
    b = nn.Linear(10, 4)
    np.testing.assert_array_equal(a.weight._data, b.weight._data)
    np.testing.assert_array_equal(a.bias._data, b.bias._data)
    w0 = a.weight._data.copy()
    a.reset_parameters()
    assert not np.array_equal(a.weight.data, w0)


def test_linear_zero_features():
    m = nn.Linear(0, 3)
    np.testing.assert_array_equal(m.bias._data, 0.0)
    y = m(ck.zeros(2, 0))
    assert y.shape == (2, 3)
    np.testing.assert_array_equal(y._data, 0.0)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Linear(400, 120)(ck.randn(4, 256)), ValueError,
     r"^Linear\(in_features=400, out_features=120, bias=True\): expected input with last dimension 400, "
     r"got shape \(4, 256\)$"),
    (lambda: nn.Linear(3, 2)(ck.tensor(1.0)), ValueError,
     r"Linear\(in_features=3, out_features=2, bias=True\): expected input with last dimension 3, got shape \(\)"),
    (lambda: nn.Linear(3, 2, bias=False)(ck.randn(3, 2)), ValueError,
     r"Linear\(in_features=3, out_features=2, bias=False\): expected input with last dimension 3"),
    (lambda: nn.Linear(3, 2)(ck.randn(4, 3, dtype=ck.float64)), TypeError,
     r"Linear\(in_features=3, out_features=2, bias=True\): input dtype float64 does not match the layer's "
     r"dtype float32"),
    (lambda: nn.Linear(3, 2)(ck.tensor([[1, 2, 3]])), TypeError,
     r"Linear\(in_features=3, out_features=2, bias=True\): input dtype int64 does not match"),
    (lambda: nn.Linear(3, 2)(np.ones((2, 3), np.float32)), TypeError,
     r"Linear\(in_features=3, out_features=2, bias=True\): expected a Tensor, got ndarray"),
    (lambda: nn.Linear(-1, 2), ValueError, r"Linear: in_features must be non-negative, got -1"),
    (lambda: nn.Linear(3, 2.5), TypeError, r"Linear: out_features must be an int, got 2.5"),
    (lambda: nn.Linear(3, 2, dtype=ck.int64), TypeError, r"Linear: dtype must be a floating point type"),
])
def test_linear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----- Flatten / Unflatten -----------------------------------------------------------------------

FLATTEN_CASES = [((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), -3, -2),
                 ((2, 3, 4, 5), 2, 2), ((2, 3), 1, -1), ((4,), 0, 0), ((3, 0, 2), 1, -1), ((2, 3, 4), 0, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, start, end", FLATTEN_CASES)
def test_flatten_against_torch(shape, start, end, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    check_module(nn.Flatten(start, end), torch.nn.Flatten(start, end), [x], rtol=RTOL)
    assert nn.Flatten(start, end)(ck.tensor(x)).shape == torch.nn.Flatten(start, end)(torch.tensor(x)).shape


def test_flatten_default_and_repr():
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)" == repr(torch.nn.Flatten())
    assert nn.Flatten()(ck.randn(8, 16, 5, 5)).shape == (8, 400)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, sizes", [((2, 12), 1, (3, 4)), ((2, 12, 5), 1, (2, -1, 3)),
                                               ((6, 4), 0, (2, 3)), ((2, 3, 8), -1, (2, 2, 2)), ((2, 4), 1, (4,))])
def test_unflatten_against_torch(shape, dim, sizes, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    check_module(nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes), [x], rtol=RTOL)
    assert repr(nn.Unflatten(dim, sizes)) == repr(torch.nn.Unflatten(dim, sizes))


def test_flatten_then_unflatten_roundtrip():
    x = ck.randn(2, 3, 4, 5)
    y = nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(y._data, x._data)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Flatten()(ck.randn(3)), IndexError,
     r"Flatten\(start_dim=1, end_dim=-1\): flatten: dim 1 is out of range for a tensor with 1 dimensions"),
    (lambda: nn.Flatten(2, 1)(ck.randn(2, 3, 4)), ValueError,
     r"Flatten\(start_dim=2, end_dim=1\): start_dim comes after end_dim for input of shape \(2, 3, 4\)"),
    (lambda: nn.Flatten(0, 5)(ck.randn(2, 3)), IndexError, r"Flatten\(start_dim=0, end_dim=5\): flatten: dim 5 is out of range"),
    (lambda: nn.Flatten(1.0), TypeError, r"Flatten: start_dim must be an int"),
    (lambda: nn.Flatten()(np.ones((2, 3))), TypeError, r"Flatten\(start_dim=1, end_dim=-1\): expected a Tensor"),
    (lambda: nn.Unflatten(1, (2, 4))(ck.randn(2, 6)), ValueError,
     r"Unflatten\(dim=1, unflattened_size=\(2, 4\)\): cannot split dimension 1 of size 6 into \(2, 4\)"),
    (lambda: nn.Unflatten(1, (-1, 4))(ck.randn(2, 6)), ValueError, r"cannot split dimension 1 of size 6"),
    (lambda: nn.Unflatten(1, (-1, -1)), ValueError, r"Unflatten: unflattened_size may hold"),
    (lambda: nn.Unflatten(1, 3), TypeError, r"Unflatten: unflattened_size must be a tuple of ints"),
    (lambda: nn.Unflatten(2, (1,))(ck.randn(2, 6)), IndexError, r"Unflatten\(dim=2, unflattened_size=\(1,\)\): unflatten: dim 2 is "
                                                                                     r"out of range"),
])
def test_flatten_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_lenet_style_head_against_torch():
    """Flatten -> Linear -> ReLU -> Dropout(eval) -> Linear -> LogSoftmax, parameters copied by name."""
    ck_net = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Dropout(0.5),
                           nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10), nn.LogSoftmax(dim=1)).double()
    th_net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
                                 torch.nn.Dropout(0.5), torch.nn.Linear(120, 84), torch.nn.Tanh(),
                                 torch.nn.Linear(84, 10), torch.nn.LogSoftmax(dim=1)).double()
    x = np.random.default_rng(2).standard_normal((4, 16, 5, 5))
    check_module(ck_net, th_net, [x], rtol=RTOL, train=False)
