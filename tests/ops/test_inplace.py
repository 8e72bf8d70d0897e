"""In-place Tensor methods against torch's (float64 and float32), the grad-mode refusals, and the version counter:
backward refuses an op whose input was changed in place after it was recorded, like torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
from tests.ops.engine_helpers import away_from_zero, normal, positive
from tests.oracle import assert_close, assert_close32

# name -> (args maker(dtype) -> list of arrays/numbers, kwargs, value maker for self)
CASES = {
    "add_": (lambda d: [normal((2, 3), 1).astype(d)], {}, normal),
    "add_alpha": (lambda d: [normal((3,), 1).astype(d)], {"alpha": -0.5}, normal),
    "sub_": (lambda d: [normal((1, 3), 1).astype(d)], {"alpha": 2}, normal),
    "mul_": (lambda d: [normal((2, 3), 1).astype(d)], {}, normal),
    "mul_scalar": (lambda d: [0.9], {}, normal),
    "div_": (lambda d: [away_from_zero((2, 3), 1).astype(d)], {}, normal),
    "pow_": (lambda d: [2.5], {}, positive),
    "clamp_": (lambda d: [-0.3, 0.4], {}, normal),
    "exp_": (lambda d: [], {}, normal), "log_": (lambda d: [], {}, positive), "sqrt_": (lambda d: [], {}, positive),
    "abs_": (lambda d: [], {}, normal), "neg_": (lambda d: [], {}, normal), "sin_": (lambda d: [], {}, normal),
    "cos_": (lambda d: [], {}, normal), "relu_": (lambda d: [], {}, normal), "sigmoid_": (lambda d: [], {}, normal),
    "tanh_": (lambda d: [], {}, normal), "zero_": (lambda d: [], {}, normal), "fill_": (lambda d: [1.25], {}, normal),
    "copy_": (lambda d: [normal((3,), 1).astype(d)], {}, normal),
    "addcmul_": (lambda d: [normal((2, 3), 1).astype(d), normal((3,), 2).astype(d)], {"value": 0.3}, normal),
    "addcdiv_": (lambda d: [normal((2, 3), 1).astype(d), positive((2, 3), 2).astype(d)], {"value": -0.1}, normal),
}


def _method(name):
    return {"add_alpha": "add_", "mul_scalar": "mul_"}.get(name, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CASES))
def test_inplace_matches_torch(name, dtype):
    make_args, kwargs, make_self = CASES[name]
    base = np.asarray(make_self((2, 3), 0)).astype(dtype)
    args = make_args(dtype)
    x = ck.tensor(base)
    ours = getattr(x, _method(name))(*[ck.tensor(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    assert ours is x and x.dtype == dtype and x._version[0] == 1
    t = torch.from_numpy(base.copy())
    getattr(t, _method(name))(*[torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    if dtype == np.float64:
        assert_close(x, t, 1e-12, name)
    else:
        ref = torch.from_numpy(base.astype(np.float64))
        getattr(ref, _method(name))(*[torch.from_numpy(a.astype(np.float64)) if isinstance(a, np.ndarray) else a
                                      for a in args], **kwargs)
        assert_close32(x, ref, t, what=name)


def test_inplace_on_parameters_under_no_grad_is_the_sgd_step():
    w = ck.nn.Parameter(np.array([1.0, -2.0, 3.0]))
    (w * w).sum().backward()
    with ck.no_grad():
        w.sub_(0.1 * w.grad)
        w.grad.zero_()
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6, 2.4])
    assert np.all(w.grad.numpy() == 0)


def test_inplace_refused_while_recording():
    w = ck.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a tensor that requires grad cannot be changed in place"):
        w.add_(1.0)
    h = w * 2
    with pytest.raises(RuntimeError, match="mul_: a tensor that requires grad"):
        h.mul_(3)
    buf = ck.zeros(2)
    with pytest.raises(RuntimeError, match="copy_: an operand requires grad"):
        buf.copy_(w)
    with ck.no_grad():
        buf.copy_(w)
    assert buf.tolist() == [1.0, 2.0]


def test_version_counter_like_torch():
    for lib in (ck, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0])
        y = (w * x).sum()  # mul saves x for the gradient of w
        x.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
    x = ck.tensor([3.0, 4.0])
    x.detach().zero_()  # detach shares the version counter, as in torch
    assert x._version[0] == 1 and x.tolist() == [0.0, 0.0]


def test_inplace_dtype_and_shape_rules_like_torch():
    i = ck.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(0.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 2, 3]).mul_(0.5)
    x = ck.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.add_(ck.zeros(2, 3))
    assert i.add_(2).tolist() == [3, 4, 5] and i.dtype == np.int64


def test_random_fills():
    ck.manual_seed(0)
    x = ck.empty(100_000, dtype=ck.float64).normal_(1.0, 2.0)
    assert abs(float(x.mean()) - 1.0) < 0.05 and abs(float(x.std()) - 2.0) < 0.05
    u = ck.empty(100_000).uniform_(-2, 3)
    assert u.dtype == np.float32 and -2 <= float(u.min()) and float(u.max()) < 3
    assert abs(float(u.mean()) - 0.5) < 0.05
    v = ck.empty(10).uniform_(**{"from": 5, "to": 6})
    assert 5 <= float(v.min()) and float(v.max()) < 6


def test_setitem_like_torch():
    base = normal((3, 4), 0)
    x, t = ck.tensor(base), torch.from_numpy(base.copy())
    for index, value in [((0, slice(None)), 1.0), ((slice(None), 1), 2.5)]:
        x[index] = value
        t[index] = value
    mask = base > 0.5
    x[ck.tensor(mask)] = 0.0
    t[torch.from_numpy(mask)] = 0.0
    assert_close(x, t, 0, "setitem")
    w = ck.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="__setitem__"):
        w[0] = 3.0


def test_masked_fill_inplace():
    base = normal((2, 3), 0)
    mask = base > 0
    x = ck.tensor(base).masked_fill_(ck.tensor(mask), -1.0)
    assert_close(x, torch.from_numpy(base.copy()).masked_fill_(torch.from_numpy(mask), -1.0), 0, "masked_fill_")


def test_augmented_assignment_updates_in_place_when_nothing_is_recorded():
    ck.manual_seed(0)
    layer = ck.nn.Linear(3, 1)
    before = layer.weight.numpy().copy()
    layer(ck.ones(2, 3)).sum().backward()
    with ck.no_grad():
        for p in layer.parameters():
            p -= 0.1 * p.grad  # the d2l / hand-written SGD idiom: must change the parameter itself
    np.testing.assert_allclose(layer.weight.numpy(), before - 0.1 * 2.0, rtol=1e-6)
    x = ck.ones(2)
    alias = x
    x *= 3
    assert alias.tolist() == [3.0, 3.0] and x is alias and x._version[0] == 1


def test_augmented_assignment_while_recording_gives_torchs_values():
    base, other = normal((2, 3), 0), normal((2, 3), 1)
    results = []
    for lib in (ck, torch):
        w = lib.tensor(base, requires_grad=True)
        out = w * 2
        out += lib.tensor(other)  # ResNet's `out += identity`: recorded in torch, out of place in cnnkit
        out *= w
        out.sum().backward()
        results.append((out, w.grad))
    assert_close(results[0][0], results[1][0], 1e-12, "out")
    assert_close(results[0][1], results[1][1], 1e-12, "gradient through +=")
    for lib in (ck, torch):
        w = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w += 1
