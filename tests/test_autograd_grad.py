"""autograd.grad against torch.autograd.grad: leaves and intermediate tensors as inputs, several outputs with
grad_outputs, inputs used twice, retain_graph, allow_unused / materialize_grads, .grad left untouched, and the
refusals (create_graph: no double backward)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.oracle import assert_close, assert_close32


def _pair(*arrays):
    return ([ck.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays])


def _net(lib, fn, x, w, b):
    h = fn.conv2d(x, w, b, padding=1)
    r = fn.relu(h)
    return h, (r * r).sum() + lib.tanh(h).mean()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_leaves_and_an_intermediate(dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(2, 3, 5, 5), (4, 3, 3, 3), (4,)])
    (cx, cw, cb), (tx, tw, tb) = _pair(x, w, b)
    ch, cl = _net(ck, F, cx, cw, cb)
    got = ck.autograd.grad(cl, [cw, ch, cx])
    th_runs = []
    for tdt in ([torch.float64] if dtype == np.float64 else [torch.float32, torch.float64]):
        tx, tw, tb = (torch.tensor(a, dtype=tdt, requires_grad=True) for a in (x, w, b))
        th, tl = _net(torch, torch.nn.functional, tx, tw, tb)
        th_runs.append(torch.autograd.grad(tl, [tw, th, tx]))
    for k, what in enumerate(["weight", "intermediate", "input"]):
        assert not got[k].requires_grad
        if dtype == np.float64:
            assert_close(got[k], th_runs[0][k], 1e-10, what)
        else:
            assert_close32(got[k], th_runs[1][k], th_runs[0][k], what=what)
    assert cw.grad is None and cx.grad is None  # nothing accumulated


def test_several_outputs_with_grad_outputs_and_an_input_used_twice():
    rng = np.random.default_rng(1)
    a, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    (ca,), (ta,) = _pair(a)
    outs_ck = [ca * ca * ca, (ca.exp() * ca).sum()]
    outs_th = [ta * ta * ta, (ta.exp() * ta).sum()]
    (g_ck,) = ck.autograd.grad(outs_ck, ca, grad_outputs=[ck.tensor(v), None])
    (g_th,) = torch.autograd.grad(outs_th, ta, grad_outputs=[torch.tensor(v), None])
    assert_close(g_ck, g_th, 1e-10)


def test_retain_graph_and_freed_graph():
    (x,), _ = _pair(np.array([1.0, 2.0, 3.0]))
    y = (x * x).sum()
    (g1,) = ck.autograd.grad(y, x, retain_graph=True)
    (g2,) = ck.autograd.grad(y, x)
    np.testing.assert_array_equal(g1.numpy(), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(g2.numpy(), g1.numpy())
    with pytest.raises(RuntimeError, match="already freed"):
        ck.autograd.grad(y, x)


def test_unused_inputs():
    (x, z), _ = _pair(np.ones(2), np.ones(3))
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph; set allow_unused=True"):
        ck.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = ck.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None and gx.numpy().tolist() == [2.0, 2.0]
    gx, gz = ck.autograd.grad(y, [x, z], materialize_grads=True)
    assert gz.numpy().tolist() == [0.0, 0.0, 0.0]


def test_the_gradient_is_a_new_array():
    """The result never shares memory with grad_outputs (an op whose backward passes the gradient on as it is)."""
    (x,), _ = _pair(np.ones(3))
    y = x + 0
    v = ck.tensor([1.0, 2.0, 3.0])
    (g,) = ck.autograd.grad(y, x, v)
    g._data[0] = 100
    assert v.numpy().tolist() == [1.0, 2.0, 3.0]


def test_refusals():
    (x,), _ = _pair(np.ones(3))
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="create_graph=True .* is not supported"):
        ck.autograd.grad(y, x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ck.autograd.grad(y, ck.ones(3))
    with pytest.raises(RuntimeError, match="a gradient can be implied only for a one-element output"):
        ck.autograd.grad(x * 2, x)
    with pytest.raises(ValueError, match="expected allow_unused to be True"):
        ck.autograd.grad(y, x, allow_unused=False, materialize_grads=True)
