"""Gradient utilities (cnnkit.nn.utils) against torch.nn.utils."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn import Parameter
from cnnkit.nn.utils import (
    NonFiniteNormError,
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    l1_penalty,
    parameters_to_vector,
    vector_to_parameters,
)
from tests.oracle import assert_close

SHAPES = [(3, 4), (7,), (2, 2, 3), (5,)]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def make(dtype, scale=1.0, seed=0, with_none=True):
    """Parameters with gradients (the last one without) in cnnkit and torch, same values."""
    rng = np.random.default_rng(seed)
    ck_ps, th_ps = [], []
    for i, s in enumerate(SHAPES):
        w = rng.standard_normal(s).astype(dtype)
        g = (scale * rng.standard_normal(s)).astype(dtype)
        if i == 1:
            g[::3] = 0.0  # some exact zeros (norm 0 counts non-zeros)
        p, q = Parameter(w.copy()), torch.nn.Parameter(torch.from_numpy(w.copy()))
        if not (with_none and i == len(SHAPES) - 1):
            p.grad, q.grad = ck.Tensor(g.copy()), torch.from_numpy(g.copy())
        ck_ps.append(p)
        th_ps.append(q)
    return ck_ps, th_ps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0, 2])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ck_ps, th_ps = make(dtype)
    total = clip_grad_norm_(ck_ps, max_norm, norm_type=norm_type)
    th_total = torch.nn.utils.clip_grad_norm_(th_ps, max_norm, norm_type=norm_type)
    assert isinstance(total, ck.Tensor) and total.shape == () and total.dtype == dtype
    assert_close(total, th_total, RTOL[dtype], "total norm")
    for i, (p, q) in enumerate(zip(ck_ps, th_ps)):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == dtype
            assert_close(p.grad, q.grad, RTOL[dtype], f"clipped grad {i}")


def test_clip_grad_norm_actually_clips_to_max_norm():
    ck_ps, _ = make(np.float64, scale=10.0)
    before = float(clip_grad_norm_(ck_ps, 1.0))
    assert before > 1.0
    after = float(get_total_norm([p.grad for p in ck_ps if p.grad is not None]))
    assert abs(after - 1.0) < 1e-5


def test_clip_grad_norm_single_tensor_and_generator():
    p, q = make(np.float64)
    t1 = clip_grad_norm_(p[0], 0.1)
    t2 = torch.nn.utils.clip_grad_norm_(q[0], 0.1)
    assert_close(t1, t2, 1e-12, "single tensor")
    assert_close(p[0].grad, q[0].grad, 1e-12, "single tensor grad")
    p, q = make(np.float64)
    assert_close(clip_grad_norm_((x for x in p), 0.1), torch.nn.utils.clip_grad_norm_((x for x in q), 0.1), 1e-12,
                 "generator")


def test_clip_grad_norm_without_gradients():
    p = Parameter(np.ones(3))
    total = clip_grad_norm_([p], 1.0)
    assert total.dtype == np.float32 and float(total) == 0.0
    assert float(torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(3))], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((x for x in []), 1.0)


def test_clip_grad_norm_nonfinite():
    ck_ps, th_ps = make(np.float64)
    ck_ps[0].grad._data[0, 0] = np.nan
    th_ps[0].grad[0, 0] = float("nan")
    with pytest.raises(NonFiniteNormError, match=r"clip_grad_norm_: the total norm of order 2.0 .* non-finite"):
        clip_grad_norm_(ck_ps, 1.0, error_if_nonfinite=True)
    assert issubclass(NonFiniteNormError, RuntimeError)  # torch raises RuntimeError
    assert not np.isnan(ck_ps[1].grad._data).any()  # nothing was scaled
    total = clip_grad_norm_(ck_ps, 1.0)
    th_total = torch.nn.utils.clip_grad_norm_(th_ps, 1.0)
    assert np.isnan(float(total)) and np.isnan(float(th_total))
    for p, q in zip(ck_ps, th_ps):
        if q.grad is not None:
            np.testing.assert_array_equal(np.isnan(p.grad._data), np.isnan(q.grad.numpy()))


@pytest.mark.parametrize("call,exc,match", [
    (lambda ps: clip_grad_norm_(ps, -1.0), ValueError, r"clip_grad_norm_: max_norm must be >= 0, got -1.0"),
    (lambda ps: clip_grad_norm_(ps, "1"), TypeError, r"clip_grad_norm_: max_norm must be a number, got '1'$"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type="fro"), TypeError, r"clip_grad_norm_: norm_type must be a number, got 'fro'$"),
    (lambda ps: clip_grad_norm_(3.0, 1.0), TypeError, r"clip_grad_norm_: parameters must be a Tensor or an iterable"),
    (lambda ps: clip_grad_norm_([np.ones(2)], 1.0), TypeError, r"clip_grad_norm_: parameters must be Tensors"),
    (lambda ps: clip_grad_value_(ps, -0.5), ValueError, r"clip_grad_value_: clip_value must be >= 0, got -0.5"),
    (lambda ps: clip_grad_value_(ps, None), TypeError, r"clip_grad_value_: clip_value must be a number, got None$"),
    (lambda ps: l1_penalty([ck.tensor([1, 2])]), TypeError, r"l1_penalty: parameters must be floating point"),
    (lambda ps: parameters_to_vector([]), ValueError, r"parameters_to_vector: got no parameters"),
    (lambda ps: vector_to_parameters(ck.zeros(3), ps), ValueError, r"vector_to_parameters: the vector has 3 "
                                                                   r"elements, the parameters have 36"),
    (lambda ps: vector_to_parameters(ck.zeros((2, 2)), ps), ValueError, r"vector_to_parameters: expected a 1-d"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_errors(call, exc, match):
    ck_ps, _ = make(np.float64)
    with pytest.raises(exc, match=match):
        call(ck_ps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip_value", [0.3, 1.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    ck_ps, th_ps = make(dtype)
    assert clip_grad_value_(ck_ps, clip_value) is None
    torch.nn.utils.clip_grad_value_(th_ps, clip_value)
    for p, q in zip(ck_ps, th_ps):
        if q.grad is not None:
            assert p.grad.dtype == dtype
            assert_close(p.grad, q.grad, 0.0, "clipped value")
            assert np.abs(p.grad._data).max() <= clip_value


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l1_penalty_value_and_gradient(dtype):
    ck_ps, th_ps = make(dtype, with_none=False)
    ck_ps[0]._data[0, :2] = 0.0  # |w| has gradient 0 at 0, as in torch
    with torch.no_grad():
        th_ps[0][0, :2] = 0.0
    for p, q in zip(ck_ps, th_ps):
        p.grad, q.grad = None, None
    pen = l1_penalty(ck_ps)
    th_pen = sum(q.abs().sum() for q in th_ps)
    assert pen.shape == () and pen.dtype == dtype and pen.requires_grad
    assert_close(pen, th_pen, RTOL[dtype], "L1 penalty")
    (0.01 * pen).backward()
    (0.01 * th_pen).backward()
    for i, (p, q) in enumerate(zip(ck_ps, th_ps)):
        assert_close(p.grad, q.grad, RTOL[dtype], f"L1 gradient {i}")
    assert np.all(ck_ps[0].grad._data[0, :2] == 0)


def test_l1_penalty_of_module_parameters_and_empty():
    from cnnkit.nn import Module

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.array([[1.0, -2.0], [0.5, 0.0]]))
            self.b = Parameter(np.array([-3.0]))

    assert float(l1_penalty(Net().parameters())) == 6.5
    assert float(l1_penalty(ck.tensor([-1.5, 2.0]))) == 3.5
    empty = l1_penalty([])
    assert float(empty) == 0.0 and empty.dtype == np.float32


def test_parameters_to_vector_and_back():
    ck_ps, th_ps = make(np.float64)
    vec = parameters_to_vector(ck_ps)
    th_vec = torch.nn.utils.parameters_to_vector(th_ps)
    assert_close(vec, th_vec, 0.0, "vector")
    for p in ck_ps:
        p.grad = None
    (vec * vec).sum().backward()  # differentiable: d/dp sum(vec^2) = 2p
    for p in ck_ps:
        np.testing.assert_array_equal(p.grad._data, 2 * p._data)
    new = ck.tensor(np.arange(vec.shape[0], dtype=np.float64))
    views = [p._data for p in ck_ps]
    vector_to_parameters(new, ck_ps)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new._data.copy()), th_ps)
    for p, q, v in zip(ck_ps, th_ps, views):
        assert p._data is v  # copied in place: modules sharing the arrays see the values
        assert_close(p.data, q.detach(), 0.0, "vector_to_parameters")
