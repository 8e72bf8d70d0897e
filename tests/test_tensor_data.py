"""``Tensor.data`` is torch's: a detached Tensor sharing the array, whose in-place changes autograd does not count;
``t.data = other`` replaces the array. Each case runs the same code on torch and on cnnkit and compares."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
from tests.oracle import RTOL64, assert_close


def _pair(values, requires_grad=False):
    values = np.asarray(values, dtype=np.float64)
    return (ck.tensor(values, requires_grad=requires_grad),
            torch.tensor(values, requires_grad=requires_grad))


def test_data_is_a_detached_tensor_sharing_memory():
    (c, t) = _pair([1.0, 2.0, 3.0], requires_grad=True)
    for lib, x in (("cnnkit", c), ("torch", t)):
        y = (x * 2).data
        d = x.data
        assert type(d).__name__ == "Tensor", lib
        assert (d.requires_grad, d.grad_fn, d.is_leaf, d.grad) == (False, None, True, None), lib
        assert (y.requires_grad, y.grad_fn, y.is_leaf) == (False, None, True), lib
        assert d is not x.data, lib  # a new Tensor each time, as in torch
        d[0] = 10.0
        assert x[0].item() == 10.0, lib  # shares memory
    assert np.shares_memory(c.data.numpy(), c.numpy())
    assert type(ck.nn.Parameter(ck.ones(2)).data) is ck.Tensor  # a Parameter's .data is a plain Tensor
    assert type(torch.nn.Parameter(torch.ones(2)).data) is torch.Tensor


def test_inplace_change_through_data_is_not_counted_but_through_detach_is():
    results = {}
    for lib, x in zip(("cnnkit", "torch"), _pair([1.0, 2.0, 3.0], requires_grad=True)):
        y = x * x
        x.data.mul_(2)  # autograd does not see it: backward uses the changed values
        y.sum().backward()
        results[lib] = x.grad
    assert_close(results["cnnkit"], results["torch"], RTOL64)
    np.testing.assert_array_equal(results["cnnkit"].numpy(), [4.0, 8.0, 12.0])
    for x in _pair([1.0, 2.0, 3.0], requires_grad=True):
        y = x * x
        x.detach().mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_hand_written_sgd_through_data_matches_torch():
    rng = np.random.default_rng(0)
    w0, b0, xs, ys = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    models = {}
    for lib, m in (("cnnkit", ck), ("torch", torch)):
        lin = m.nn.Linear(4, 3).double()
        lin.weight.data.copy_(m.tensor(w0))
        lin.bias.data.copy_(m.tensor(b0))
        for _ in range(3):
            loss = m.nn.functional.cross_entropy(lin(m.tensor(xs)), m.tensor(ys))
            lin.zero_grad()
            loss.backward()
            for p in lin.parameters():
                p.data.sub_(0.5 * p.grad.data)
        models[lib] = lin
    assert_close(models["cnnkit"].weight, models["torch"].weight.detach(), 1e-8)
    assert_close(models["cnnkit"].bias, models["torch"].bias.detach(), 1e-8)


def test_init_zero_clone_and_device_through_data():
    ck.manual_seed(0)
    conv = ck.nn.Conv2d(3, 64, 5)
    conv.weight.data.normal_(0, 0.02)
    conv.bias.data.zero_()
    w = conv.weight.numpy()
    assert abs(w.mean()) < 0.002 and abs(w.std() - 0.02) < 0.002
    assert not conv.bias.numpy().any() and conv.weight.requires_grad and conv.weight.grad_fn is None
    for lib, x in zip(("cnnkit", "torch"), _pair([1.0, 2.0], requires_grad=True)):
        c = x.data.clone()
        c.add_(1)
        assert x[0].item() == 1.0 and not c.requires_grad, lib
        assert str(x.data.device) == "cpu", lib
    bn = ck.nn.BatchNorm2d(4)
    assert bn.running_mean.data.device == ck.device("cpu")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_setting_data_follows_torch(dtype):
    for lib, m in (("cnnkit", ck), ("torch", torch)):
        p = m.nn.Parameter(m.randn(3))
        q = m.zeros(5, dtype=getattr(m, dtype))
        p.data = q  # another shape and dtype: accepted, memory shared
        assert tuple(p.shape) == (5,) and str(p.dtype).endswith(dtype) and p.requires_grad, lib
        q[0] = 7.0
        assert p[0].item() == 7.0, lib
        with pytest.raises(TypeError):
            p.data = 3
        with pytest.raises(RuntimeError, match="floating point"):
            p.data = m.arange(3)  # a tensor that requires grad must stay floating point
        plain = m.zeros(2)
        plain.data = m.arange(3)  # no grad required: any dtype
        assert plain.tolist() == [0, 1, 2], lib
    p = ck.nn.Parameter(ck.zeros(2))
    arr = np.arange(4.0)
    p.data = arr  # cnnkit also takes an ndarray (torch does not)
    assert p.numpy() is arr
