"""Lazy layers (LazyLinear, LazyConv2d) against torch's, nn.init's deprecated aliases, and grad_fn introspection."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import cnnkit as ck
from tests.oracle import check_module


def _materialize_like_torch(ours, theirs, x):
    ours(ck.tensor(x))
    theirs(torch.from_numpy(x))
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lazy_linear_becomes_linear(dtype):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    ours = ck.nn.LazyLinear(3, dtype=dtype)
    theirs = torch.nn.LazyLinear(3, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    assert next(ours.parameters()).numel() == 0
    _materialize_like_torch(ours, theirs, x)
    assert type(ours) is ck.nn.Linear and type(theirs) is torch.nn.Linear
    assert ours.in_features == theirs.in_features == 5 and ours.weight.shape == tuple(theirs.weight.shape)
    check_module(ours, theirs, [x], rtol=1e-8)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, groups=2),
                                    dict(kernel_size=(1, 3), bias=False)])
def test_lazy_conv2d_becomes_conv2d(kwargs):
    x = np.random.default_rng(1).standard_normal((2, 4, 6, 6))
    ours = ck.nn.LazyConv2d(6, dtype=np.float64, **kwargs)
    theirs = torch.nn.LazyConv2d(6, dtype=torch.float64, **kwargs)
    _materialize_like_torch(ours, theirs, x)
    assert type(ours) is ck.nn.Conv2d and ours.in_channels == 4
    assert ours.weight.shape == tuple(theirs.weight.shape)
    check_module(ours, theirs, [x], rtol=1e-8)


def test_lazy_parameters_keep_identity_for_an_optimizer_built_first():
    ck.manual_seed(0)
    net = ck.nn.Sequential(ck.nn.LazyConv2d(2, 3), ck.nn.Flatten(), ck.nn.LazyLinear(1))
    params = list(net.parameters())
    opt = ck.optim.SGD(net.parameters(), lr=0.1)
    x = ck.randn(2, 1, 5, 5)
    before = net(x).sum()
    before.backward()
    opt.step()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert float(net(x).sum()) < float(before)


def test_lazy_init_draws_at_first_forward():
    ck.manual_seed(0)
    layer = ck.nn.LazyLinear(2)
    state = ck.get_rng_state()
    ck.manual_seed(0)
    assert ck.get_rng_state() == state  # construction drew nothing
    layer(ck.zeros(1, 3))
    ck.manual_seed(0)
    ref = ck.nn.Linear(3, 2)
    np.testing.assert_array_equal(layer.weight.numpy(), ref.weight.numpy())


@pytest.mark.parametrize("old, new", [("kaiming_normal", "kaiming_normal_"), ("kaiming_uniform", "kaiming_uniform_"),
                                      ("xavier_normal", "xavier_normal_"), ("xavier_uniform", "xavier_uniform_"),
                                      ("normal", "normal_"), ("uniform", "uniform_"), ("constant", "constant_")])
def test_deprecated_init_aliases(old, new):
    args = (0.5,) if old == "constant" else ()
    a, b = ck.empty(4, 3), ck.empty(4, 3)
    ck.manual_seed(3)
    with pytest.warns(FutureWarning, match=f"nn.init.{old} is now deprecated in favor of nn.init.{new}"):
        getattr(ck.nn.init, old)(a, *args)
    ck.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(ck.nn.init, new)(b, *args)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert hasattr(torch.nn.init, old)


def test_next_functions_like_torch():
    def build(lib):
        w = lib.tensor([[1.0, 2.0]], requires_grad=True)
        x = lib.tensor([[3.0], [4.0]])
        return w, (lib.matmul(w, x) * 2).sum()
    w, loss = build(ck)
    _, tloss = build(torch)

    def tree(fn):
        return None if fn is None else (fn.name().rpartition("::")[2], [tree(f) for f, _ in fn.next_functions])
    ours, theirs = tree(loss.grad_fn), tree(tloss.grad_fn)
    assert ours[0] == theirs[0] == "SumBackward0" and ours[1][0][0] == theirs[1][0][0] == "MulBackward0"
    assert len(loss.grad_fn.next_functions) == len(tloss.grad_fn.next_functions) == 1
    mm = loss.grad_fn.next_functions[0][0].next_functions[0][0]
    tmm = tloss.grad_fn.next_functions[0][0].next_functions[0][0]
    assert [None if f is None else f.name() for f, _ in mm.next_functions] == \
        [None if f is None else f.name().rpartition("::")[2] for f, _ in tmm.next_functions] == ["AccumulateGrad", None]
    assert mm.next_functions[0][0].variable is w
    loss.backward()
    assert loss.grad_fn.next_functions == ()  # the graph is freed (torch keeps the nodes but frees their buffers)


@pytest.mark.parametrize("ours_cls, theirs_cls, shape", [
    (ck.nn.LazyBatchNorm2d, torch.nn.LazyBatchNorm2d, (4, 3, 5, 5)),
    (ck.nn.LazyBatchNorm1d, torch.nn.LazyBatchNorm1d, (6, 4))])
def test_lazy_batch_norm(ours_cls, theirs_cls, shape):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    ours, theirs = ours_cls(momentum=0.2), theirs_cls(momentum=0.2)
    _materialize_like_torch(ours, theirs, x)
    assert type(ours).__name__ == type(theirs).__name__ and ours.num_features == shape[1]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    check_module(ours, theirs, [x], rtol=1e-6)
