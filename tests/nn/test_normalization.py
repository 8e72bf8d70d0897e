"""nn.BatchNorm1d, nn.BatchNorm2d and nn.LocalResponseNorm against torch.nn: outputs, gradients, buffers
after every call (running statistics and num_batches_tracked), state_dict layout, repr, gradcheck, errors."""
from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.autograd import gradcheck
from tests.oracle import assert_close, assert_close32, check_module

RTOL = 1e-8
DTYPES = [np.float64, np.float32]
# (layer, input shape): BatchNorm1d on (N, C) and (N, C, L), BatchNorm2d on (N, C, H, W)
BN_CASES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (3, 3, 4, 5))]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _rng(*key):
    return np.random.default_rng(abs(hash(key)) % (2 ** 32))


def _pair(layer, c, dtype, **kw):
    """The same layer in cnnkit and torch, both in ``dtype``."""
    ck_m = getattr(nn, layer)(c, **kw)
    th_m = getattr(torch.nn, layer)(c, **kw)
    if dtype == np.float64:
        ck_m.double()
        th_m.double()
    return ck_m, th_m


def _randomize(m, seed=0, batches=3):
    """Random γ, β and running statistics (and a batch count), so that every term of the layer matters."""
    rng = _rng(seed, m.num_features)
    with ck.no_grad():
        for name in ("weight", "bias", "running_mean"):
            t = getattr(m, name)
            if t is not None:
                t._data[...] = rng.standard_normal(t.shape)
        if m.running_var is not None:
            m.running_var._data[...] = rng.random(m.num_features) + 0.5
        if m.num_batches_tracked is not None:
            m.num_batches_tracked._data[...] = batches


def _input(shape, dtype, seed=0):
    rng = _rng(17, seed, *shape)
    c = shape[1]
    view = (1, c) + (1,) * (len(shape) - 2)
    return np.asarray(rng.standard_normal(shape) * (rng.random(c) + 0.5).reshape(view)
                      + rng.standard_normal(c).reshape(view), dtype=dtype)


# ===== the grid: 3 cases x 3 momenta x affine x track x train/eval x 2 dtypes = 144 configurations ==

@pytest.mark.parametrize("layer,shape", BN_CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.25, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_module_grid(layer, shape, momentum, affine, track, train, dtype):
    ck_m, th_m = _pair(layer, shape[1], dtype, momentum=momentum, affine=affine, track_running_stats=track)
    _randomize(ck_m)
    check_module(ck_m, th_m, [_input(shape, dtype)], rtol=RTOL, train=train)
    if track:
        assert int(ck_m.num_batches_tracked._data) == 3 + int(train)
    assert all(b.dtype == dtype for name, b in ck_m.named_buffers() if name != "num_batches_tracked")


@pytest.mark.parametrize("layer,shape", BN_CASES)
@pytest.mark.parametrize("momentum", [0.1, None, 0.9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_several_steps_like_torch(layer, shape, momentum, dtype):
    """Synchronised once, then five training steps and an evaluation: outputs, gradients and buffers stay
    equal to torch's at every step (the running statistics evolve identically)."""
    ck_m, th_m = _pair(layer, shape[1], dtype, momentum=momentum)
    _randomize(ck_m, batches=0)
    th_m.load_state_dict({k: torch.from_numpy(v._data.copy()) for k, v in ck_m.state_dict().items()})
    # float32: torch's float32 run and a float64 copy as the reference (tests/oracle.py's rule)
    th_ref = copy.deepcopy(th_m).double() if dtype == np.float32 else th_m

    def close(ours, theirs, reference, what):
        if dtype == np.float64:
            assert_close(ours, theirs, RTOL, what)
        else:
            assert_close32(ours, reference, theirs, 1e-4, what)

    for step in range(6):
        train = step < 5
        ck_m.train(train)
        th_m.train(train)
        th_ref.train(train)
        x = _input(shape, dtype, seed=step) * (1 + step)
        g = _rng(19, step).standard_normal(shape).astype(dtype)
        x_ck, x_th = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y_ck, y_th = ck_m(x_ck), th_m(x_th)
        ck_m.zero_grad()
        th_m.zero_grad()
        y_ck.backward(g)
        y_th.backward(torch.from_numpy(g))
        if th_ref is th_m:
            x_ref, y_ref = x_th, y_th
        else:
            x_ref = torch.tensor(x.astype(np.float64), requires_grad=True)
            y_ref = th_ref(x_ref)
            th_ref.zero_grad()
            y_ref.backward(torch.from_numpy(g.astype(np.float64)))
        close(y_ck, y_th, y_ref, f"step {step}: output")
        close(x_ck.grad, x_th.grad, x_ref.grad, f"step {step}: input gradient")
        close(ck_m.weight.grad, th_m.weight.grad, th_ref.weight.grad, f"step {step}: weight gradient")
        close(ck_m.bias.grad, th_m.bias.grad, th_ref.bias.grad, f"step {step}: bias gradient")
        th_buffers, ref_buffers = dict(th_m.named_buffers()), dict(th_ref.named_buffers())
        for name, b in ck_m.named_buffers():
            if th_buffers[name].dtype.is_floating_point:
                close(b, th_buffers[name], ref_buffers[name], f"step {step}: buffer {name}")
            else:
                assert_close(b, th_buffers[name], 0, f"step {step}: buffer {name}")
    assert int(ck_m.num_batches_tracked.data) == 5


def test_cumulative_moving_average():
    """momentum=None: the running mean is the plain average of the batch means seen so far."""
    m = nn.BatchNorm1d(2, momentum=None).double()
    means = []
    for step in range(4):
        x = _input((5, 2), np.float64, seed=step) + step
        means.append(x.mean(axis=0))
        m(ck.tensor(x))
    np.testing.assert_allclose(m.running_mean._data, np.mean(means, axis=0), rtol=1e-12)
    assert m.num_batches_tracked._data == 4 and m.num_batches_tracked.dtype == np.int64


@given(layer_shape=st.sampled_from(BN_CASES + [("BatchNorm2d", (2, 4, 1, 3)), ("BatchNorm1d", (3, 5, 1))]),
       momentum=st.one_of(st.none(), st.floats(0.0, 1.0)), eps=st.sampled_from([1e-5, 1e-3, 0.1]),
       affine=st.booleans(), bias=st.booleans(), track=st.booleans(), train=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 16))
def test_batchnorm_module_hypothesis(layer_shape, momentum, eps, affine, bias, track, train, dtype, seed):
    layer, shape = layer_shape
    ck_m, th_m = _pair(layer, shape[1], dtype, momentum=momentum, eps=eps, affine=affine,
                       track_running_stats=track, bias=bias)
    _randomize(ck_m, seed=seed)
    check_module(ck_m, th_m, [_input(shape, dtype, seed)], rtol=RTOL, train=train)


@pytest.mark.parametrize("layer,shape,train", [
    ("BatchNorm2d", (3, 2, 2, 3), True), ("BatchNorm2d", (2, 2, 3, 1), False),
    ("BatchNorm1d", (5, 3), True), ("BatchNorm1d", (3, 2, 4), False)])
def test_batchnorm_gradcheck(layer, shape, train):
    m = getattr(nn, layer)(shape[1], momentum=0.0).double()  # momentum 0: the running stats stay put
    _randomize(m)
    m.train(train)
    params = [m.weight, m.bias]

    def fn(x, w, b):
        m.weight, m.bias = w, b
        return m(x)

    x = ck.tensor(_input(shape, np.float64), requires_grad=True)
    assert gradcheck(fn, [x] + [nn.Parameter(p._data.copy()) for p in params])


# ===== structure: parameters, buffers, state_dict, repr, resets ======================================

CONFIGS = [dict(), dict(affine=False), dict(track_running_stats=False), dict(bias=False),
           dict(affine=False, track_running_stats=False), dict(eps=1e-3, momentum=None),
           dict(momentum=0.01, eps=0.5, affine=True, track_running_stats=True)]


@pytest.mark.parametrize("layer", ["BatchNorm1d", "BatchNorm2d"])
@pytest.mark.parametrize("kw", CONFIGS)
def test_batchnorm_structure_like_torch(layer, kw):
    ck_m, th_m = getattr(nn, layer)(64, **kw), getattr(torch.nn, layer)(64, **kw)
    assert repr(ck_m) == repr(th_m)
    ck_sd, th_sd = ck_m.state_dict(), th_m.state_dict()
    assert list(ck_sd) == list(th_sd)
    for k in ck_sd:
        assert ck_sd[k].shape == tuple(th_sd[k].shape), k
        assert_close(ck_sd[k], th_sd[k], 0.0, k)  # defaults: γ = 1, β = 0, mean 0, var 1, count 0 (int64)
    assert [n for n, _ in ck_m.named_parameters()] == [n for n, _ in th_m.named_parameters()]
    assert [n for n, _ in ck_m.named_buffers()] == [n for n, _ in th_m.named_buffers()]
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        assert (getattr(ck_m, name) is None) == (getattr(th_m, name) is None), name
    assert all(p.dtype == np.float32 for p in ck_m.parameters())


def test_batchnorm_repr_exact():
    assert repr(nn.BatchNorm2d(64)) == \
        "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert repr(nn.BatchNorm1d(3, momentum=None, affine=False)) == \
        "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)"


def test_batchnorm_resets():
    m = nn.BatchNorm2d(4)
    _randomize(m)
    m.reset_running_stats()
    np.testing.assert_array_equal(m.running_mean._data, 0)
    np.testing.assert_array_equal(m.running_var._data, 1)
    assert m.num_batches_tracked._data == 0
    assert np.any(m.weight._data != 1)  # parameters untouched by reset_running_stats
    _randomize(m)
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.data, 1)
    np.testing.assert_array_equal(m.bias.data, 0)
    np.testing.assert_array_equal(m.running_mean.data, 0)
    assert m.num_batches_tracked.data == 0
    nn.BatchNorm2d(4, track_running_stats=False).reset_running_stats()  # nothing to reset: no error


def test_batchnorm_loads_torch_weights_and_converts_dtype():
    th_m = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        th_m(torch.randn(4, 3, 2, 2) * 3 + 1)
        th_m.weight.uniform_(0.5, 2)
        th_m.bias.normal_()
    ck_m = nn.BatchNorm2d(3)
    ck_m.load_state_dict(th_m.state_dict())
    ck_m.eval()
    th_m.eval()
    x = _input((2, 3, 4, 4), np.float32)
    assert_close32(ck_m(ck.tensor(x)), copy.deepcopy(th_m).double()(torch.tensor(x.astype(np.float64))),
                   th_m(torch.tensor(x)), 1e-4, "eval output after loading torch weights")
    ck_m.double()
    assert ck_m.weight.dtype == ck_m.running_var.dtype == np.float64
    assert ck_m.num_batches_tracked.dtype == np.int64 and ck_m.num_batches_tracked._data == 1
    assert ck_m(ck.tensor(x.astype(np.float64))).dtype == np.float64


def test_batchnorm_eval_accepts_a_single_sample():
    m = nn.BatchNorm1d(3).eval()
    assert m(ck.randn(1, 3)).shape == (1, 3)


def test_batchnorm_no_grad_inference_still_updates_stats_in_training():
    m = nn.BatchNorm1d(3)
    with ck.no_grad():
        m(ck.randn(8, 3) + 5)
    assert m.num_batches_tracked._data == 1 and np.all(m.running_mean._data > 0.2)


# ===== errors =======================================================================================

def test_batchnorm_errors():
    bn1, bn2 = nn.BatchNorm1d(3), nn.BatchNorm2d(3)
    r1 = r"BatchNorm1d\(3, eps=1e-05, momentum=0\.1, affine=True, bias=True, track_running_stats=True\)"
    r2 = r"BatchNorm2d\(3, eps=1e-05, momentum=0\.1, affine=True, bias=True, track_running_stats=True\)"
    with pytest.raises(ValueError, match=r1 + r": expected 2-d \(N, C\) or 3-d \(N, C, L\) input, got shape "
                                          r"\(2, 3, 4, 4\)"):
        bn1(ck.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r1 + r": expected 2-d .* got shape \(3,\)"):
        bn1(ck.randn(3))
    with pytest.raises(ValueError, match=r2 + r": expected 4-d \(N, C, H, W\) input, got shape \(2, 3, 4\)"):
        bn2(ck.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r2 + r": expected input with 3 channels, got shape \(8, 1, 28, 28\)"):
        bn2(ck.randn(8, 1, 28, 28))
    with pytest.raises(ValueError, match=r1 + r": expected input with 3 channels, got shape \(2, 4\)"):
        bn1(ck.randn(2, 4))
    with pytest.raises(ValueError, match=r1 + r": batch_norm: expected more than 1 value per channel when "
                                          r"training, got input of shape \(1, 3\)"):
        bn1(ck.randn(1, 3))
    with pytest.raises(ValueError, match=r2 + r": batch_norm: expected more than 1 value per channel when "
                                          r"training"):
        bn2(ck.randn(1, 3, 1, 1))
    with pytest.raises(TypeError, match=r2 + r": the input has dtype float64 but the layer is float32; convert"):
        bn2(ck.randn(2, 3, 2, 2, dtype=ck.float64))
    with pytest.raises(TypeError, match=r"BatchNorm1d\(3, .*affine=False.*\): the input has dtype float32 but the "
                                        r"layer is float64"):
        nn.BatchNorm1d(3, affine=False).double()(ck.randn(2, 3))
    with pytest.raises(TypeError, match=r1 + r": expected a Tensor input, got ndarray"):
        bn1(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: num_features must be positive, got 0"):
        nn.BatchNorm2d(0)
    with pytest.raises(TypeError, match=r"BatchNorm1d: num_features must be an int, got 2\.5"):
        nn.BatchNorm1d(2.5)
    with pytest.raises(ValueError, match=r"BatchNorm2d: eps must be non-negative, got -1"):
        nn.BatchNorm2d(3, eps=-1)
    with pytest.raises(TypeError, match=r"BatchNorm2d: momentum must be a number or None, got '0.1'"):
        nn.BatchNorm2d(3, momentum="0.1")
    # the failed calls changed nothing (only a successful training call counts a batch)
    assert bn1.num_batches_tracked._data == 0 and bn2.num_batches_tracked._data == 0


# ===== LocalResponseNorm =============================================================================

@pytest.mark.parametrize("size,shape,params,dtype", list(itertools.product(
    [1, 2, 3, 5], [(2, 6, 5), (2, 7, 3, 4)], [(1e-4, 0.75, 2.0), (0.7, 0.6, 1.0), (1.5, 1.2, 0.8)], DTYPES)))
def test_local_response_norm_module(size, shape, params, dtype):
    ck_m, th_m = nn.LocalResponseNorm(size, *params), torch.nn.LocalResponseNorm(size, *params)
    x = np.asarray(_rng(23, *shape).standard_normal(shape) * 2, dtype=dtype)
    check_module(ck_m, th_m, [x], rtol=RTOL)


@pytest.mark.parametrize("args", [(5,), (2, 1e-3), (4, 0.5, 1.5, 3.0), (3, 1, 1, 1)])
def test_local_response_norm_module_structure(args):
    ck_m, th_m = nn.LocalResponseNorm(*args), torch.nn.LocalResponseNorm(*args)
    assert repr(ck_m) == repr(th_m)
    assert list(ck_m.state_dict()) == [] and list(ck_m.parameters()) == []


def test_local_response_norm_module_gradcheck():
    m = nn.LocalResponseNorm(3, alpha=1.0, beta=0.75, k=1.0)
    x = ck.tensor(_rng(29).standard_normal((2, 5, 3, 2)), requires_grad=True)
    assert gradcheck(m, [x])


def test_local_response_norm_module_errors():
    with pytest.raises(ValueError, match=r"LocalResponseNorm: size must be a positive number of channels, got 0"):
        nn.LocalResponseNorm(0)
    with pytest.raises(TypeError, match=r"LocalResponseNorm: size must be an int, got 1.5"):
        nn.LocalResponseNorm(1.5)
    with pytest.raises(TypeError, match=r"LocalResponseNorm: beta must be a number, got None"):
        nn.LocalResponseNorm(2, beta=None)
    with pytest.raises(ValueError, match=r"LocalResponseNorm\(5, alpha=0\.0001, beta=0\.75, k=1\.0\): "
                                         r"local_response_norm: expected an "
                                         r"input of 3 or more dims \(N, C, \*\), got shape \(4, 96\)"):
        nn.LocalResponseNorm(5)(ck.randn(4, 96))
