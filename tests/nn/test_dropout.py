"""nn.Dropout / nn.Dropout2d: train vs eval, reprs equal to torch's, reproducibility, gradients equal to the
output pattern, errors naming the layer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn as nn


def nonzero(shape, seed=0, dtype=np.float32):
    v = np.random.default_rng(seed).standard_normal(shape)
    return np.where(v >= 0, v + 0.5, v - 0.5).astype(dtype)


@pytest.mark.parametrize("args", [(), (0.2,), (0.5, True), (0.0,), (1.0,), (1,)])
@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_repr_equals_torchs(cls, args):
    assert repr(getattr(nn, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.75])
def test_dropout_module_train_and_eval(p, dtype):
    m = nn.Dropout(p)
    x = ck.tensor(nonzero((64, 256), seed=1, dtype=dtype), requires_grad=True)
    assert m.training
    y = m(x)
    kept = y._data != 0
    s = dtype(1 / (1 - p))
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / kept.size)
    np.testing.assert_array_equal(y.data[kept], x.data[kept] * s)
    y.backward(np.ones(x.shape, dtype))
    np.testing.assert_array_equal(x.grad.data, kept * s)
    m.eval()
    x.grad = None
    y = m(x)
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 1.0)
    assert y.dtype == dtype


def test_dropout_module_in_sequential_follows_train_eval():
    net = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    x = ck.randn(200, 10)
    net.eval()
    a, b = net(x)._data, net(x)._data
    np.testing.assert_array_equal(a, b)
    net.train()
    c = net(x)._data
    assert np.mean(c == 0) > 0.4 and not np.array_equal(a, c)


def test_dropout_module_reproducible():
    m = nn.Dropout(0.3)
    x = ck.tensor(nonzero((10, 10)))
    ck.manual_seed(42)
    a = m(x)._data
    ck.manual_seed(42)
    np.testing.assert_array_equal(m(x)._data, a)


@pytest.mark.parametrize("shape", [(8, 16, 4, 4), (8, 16, 10)])
def test_dropout2d_module(shape):
    m = nn.Dropout2d(0.5)
    x = ck.tensor(nonzero(shape, seed=2), requires_grad=True)
    y = m(x)
    kept = (y._data != 0).reshape(shape[0], shape[1], -1)
    assert np.all(kept.all(axis=2) | ~kept.any(axis=2))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, (y.data != 0) * np.float32(2.0))
    np.testing.assert_array_equal(m.eval()(x).data, x.data)


def test_dropout_modules_have_no_state():
    for m in (nn.Dropout(), nn.Dropout2d()):
        assert m.state_dict() == {} and list(m.parameters()) == []


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Dropout(1.5), ValueError, r"^Dropout: p must be a probability in \[0, 1\], got 1.5$"),
    (lambda: nn.Dropout(-0.2), ValueError, r"^Dropout: p must be a probability in \[0, 1\], got -0.2$"),
    (lambda: nn.Dropout2d(2), ValueError, r"^Dropout2d: p must be a probability in \[0, 1\], got 2$"),
    (lambda: nn.Dropout("0.5"), TypeError, r"Dropout: p must be a number"),
    (lambda: nn.Dropout()(ck.tensor([1, 2])), TypeError,
     r"Dropout\(p=0.5, inplace=False\): dropout: expected a floating point tensor, got dtype int64"),
    (lambda: nn.Dropout2d()(ck.randn(4)), ValueError,
     r"Dropout2d\(p=0.5, inplace=False\): dropout2d: expected input of shape \(N, C, H, W\) or \(N, C, L\), got shape \(4,\)"),
    (lambda: nn.Dropout()([1.0]), TypeError, r"Dropout\(p=0.5, inplace=False\): dropout: expected a Tensor, got list"),
])
def test_errors_name_the_layer(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_p_changed_after_construction_is_checked_at_call():
    m = nn.Dropout(0.5)
    m.p = 3.0
    with pytest.raises(ValueError, match=r"Dropout\(p=3.0, inplace=False\): dropout: p must be a probability in \[0, 1\], got 3.0$"):
        m(ck.randn(3))
