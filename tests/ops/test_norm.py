"""batch_norm and local_response_norm against PyTorch: forward, every gradient, the running statistics,
memory layouts, gradcheck, dtypes and errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.autograd import gradcheck
from tests.oracle import assert_close, assert_close32, check_op

RTOL = 1e-8  # float64; check_op raises it to 1e-4 for float32
DTYPES = [np.float64, np.float32]
# 2-d (N, C), 3-d (N, C, L), 4-d (N, C, H, W) and 5-d inputs, incl. 1-long spatial dims and tiny batches
BN_SHAPES = [(6, 3), (2, 4), (5, 3, 7), (1, 3, 2), (3, 4, 5, 6), (2, 3, 1, 1), (2, 2, 3, 2, 2)]
AFFINE = ["wb", "w", "b", ""]  # which of weight / bias are given


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _train_eps(shape, eps=1e-5):
    """With 2 values per channel x̂ = ±1 whatever x is, so dx is O(eps) and pure rounding noise in float32
    unless eps is large: such shapes are tested with eps = 0.5."""
    return 0.5 if int(np.prod(shape)) // shape[1] == 2 else eps


def _rng(*key):
    return np.random.default_rng(abs(hash(key)) % (2 ** 32))


def _bn_values(shape, dtype, seed=0):
    """Input (with a channel-dependent offset and scale), weight, bias, running mean and running var."""
    rng = _rng(seed, *shape)
    c = shape[1]
    offset = rng.standard_normal(c) * 2
    scale = rng.random(c) * 2 + 0.5
    x = rng.standard_normal(shape) * scale.reshape((1, c) + (1,) * (len(shape) - 2)) \
        + offset.reshape((1, c) + (1,) * (len(shape) - 2))
    w = rng.standard_normal(c) + 0.5
    b = rng.standard_normal(c)
    rm = rng.standard_normal(c)
    rv = rng.random(c) + 0.5
    return [np.asarray(a, dtype=dtype) for a in (x, w, b, rm, rv)]


def _check_bn(shape, dtype, affine, training, with_running, momentum=0.1, eps=1e-5, seed=0):
    """batch_norm vs torch: output, gradients of input/weight/bias, and the running statistics after."""
    x, w, b, rm, rv = _bn_values(shape, dtype, seed)
    rm_ck, rv_ck = (ck.tensor(rm.copy()), ck.tensor(rv.copy())) if with_running else (None, None)
    running = {}  # torch dtype -> its running statistics (float32 inputs also run a float64 reference)
    inputs = [x] + ([w] if "w" in affine else []) + ([b] if "b" in affine else [])

    def split(args):
        rest = list(args[1:])
        wt = rest.pop(0) if "w" in affine else None
        bt = rest.pop(0) if "b" in affine else None
        return args[0], wt, bt

    def ck_fn(*args):
        xt, wt, bt = split(args)
        return F.batch_norm(xt, rm_ck, rv_ck, wt, bt, training=training, momentum=momentum, eps=eps)

    def th_fn(*args):
        xt, wt, bt = split(args)
        if with_running:
            running.setdefault(xt.dtype, (torch.tensor(rm).to(xt.dtype), torch.tensor(rv).to(xt.dtype)))
        rm_th, rv_th = running.get(xt.dtype, (None, None))
        return TF.batch_norm(xt, rm_th, rv_th, wt, bt, training=training, momentum=momentum, eps=eps)

    what = f"batch_norm{shape} {np.dtype(dtype)} affine={affine!r} training={training} momentum={momentum}"
    out = check_op(ck_fn, th_fn, inputs, rtol=RTOL, what=what)
    assert out[0].dtype == dtype
    if with_running:
        if dtype == np.float64:
            assert_close(rm_ck, running[torch.float64][0], RTOL, what + ": running_mean")
            assert_close(rv_ck, running[torch.float64][1], RTOL, what + ": running_var")
        else:
            (rm_th, rv_th), (rm_ref, rv_ref) = running[torch.float32], running[torch.float64]
            assert_close32(rm_ck, rm_ref, rm_th, 1e-4, what + ": running_mean")
            assert_close32(rv_ck, rv_ref, rv_th, 1e-4, what + ": running_var")
        assert rm_ck.dtype == dtype and rv_ck.dtype == dtype
    return out


# ===== batch_norm: explicit grids ===================================================================
# training with running statistics: 7 shapes x 2 dtypes x 4 affine variants = 56 configurations

@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", AFFINE)
def test_batch_norm_training_grid(shape, dtype, affine):
    momentum = [0.1, 0.3, 0.9, 1.0, 0.0, 0.5, 0.25][BN_SHAPES.index(shape)]
    _check_bn(shape, dtype, affine, training=True, with_running=True, momentum=momentum, eps=_train_eps(shape))


# evaluation with the running statistics: 7 x 2 x 4 = 56 configurations
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", AFFINE)
def test_batch_norm_eval_grid(shape, dtype, affine):
    eps = [1e-5, 1e-3, 0.0, 0.5, 1e-5, 1e-1, 1e-5][BN_SHAPES.index(shape)]
    _check_bn(shape, dtype, affine, training=False, with_running=True, eps=eps)


# training without running statistics (batch statistics only): 7 x 2 = 14 configurations
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_training_without_running_stats(shape, dtype):
    _check_bn(shape, dtype, "wb", training=True, with_running=False, eps=_train_eps(shape, 1e-3))


@pytest.mark.parametrize("momentum", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_running_stats_evolve_like_torch(momentum, dtype):
    """Five training steps in a row on different batches, then evaluation: same running stats as torch."""
    x0, w, b, rm, rv = _bn_values((4, 3, 3, 2), dtype)
    rm_ck, rv_ck = ck.tensor(rm.copy()), ck.tensor(rv.copy())
    # torch in the test's dtype, and (for float32) a float64 reference on the same values
    torch_dtypes = (torch.float64,) if dtype == np.float64 else (torch.float32, torch.float64)
    stats = {dt: (torch.tensor(rm).to(dt), torch.tensor(rv).to(dt)) for dt in torch_dtypes}

    def torch_bn(x, training, *args):
        return {dt: TF.batch_norm(torch.tensor(x).to(dt), *stats[dt], torch.tensor(w).to(dt),
                                  torch.tensor(b).to(dt), training, *args) for dt in torch_dtypes}

    def close(a, by_dtype, what):
        if dtype == np.float64:
            assert_close(a, by_dtype[torch.float64], RTOL, what)
        else:
            assert_close32(a, by_dtype[torch.float64], by_dtype[torch.float32], 1e-4, what)

    for step in range(5):
        x = _bn_values((4, 3, 3, 2), dtype, seed=step + 1)[0] * (step + 1)
        y_ck = F.batch_norm(ck.tensor(x), rm_ck, rv_ck, ck.tensor(w), ck.tensor(b), True, momentum)
        close(y_ck, torch_bn(x, True, momentum), f"step {step}: output")
        close(rm_ck, {dt: s[0] for dt, s in stats.items()}, f"step {step}: running_mean")
        close(rv_ck, {dt: s[1] for dt, s in stats.items()}, f"step {step}: running_var")
    y_ck = F.batch_norm(ck.tensor(x0), rm_ck, rv_ck, ck.tensor(w), ck.tensor(b), False)
    close(y_ck, torch_bn(x0, False), "eval after training")


def test_batch_norm_running_var_is_unbiased():
    x = np.array([[1.0, 10.0], [3.0, 20.0], [8.0, 60.0]])
    rm, rv = ck.zeros(2, dtype=ck.float64), ck.ones(2, dtype=ck.float64)
    F.batch_norm(ck.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm._data, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(rv._data, x.var(axis=0, ddof=1), rtol=1e-14)


def test_batch_norm_eval_does_not_touch_running_stats():
    x, w, b, rm, rv = _bn_values((3, 2, 4), np.float64)
    rm_ck, rv_ck = ck.tensor(rm.copy()), ck.tensor(rv.copy())
    F.batch_norm(ck.tensor(x), rm_ck, rv_ck, ck.tensor(w), ck.tensor(b), training=False, momentum=0.5)
    np.testing.assert_array_equal(rm_ck._data, rm)
    np.testing.assert_array_equal(rv_ck._data, rv)


def test_batch_norm_updates_running_stats_under_no_grad():
    x = _bn_values((4, 3), np.float32)[0]
    rm, rv = ck.zeros(3), ck.ones(3)
    with ck.no_grad():
        y = F.batch_norm(ck.tensor(x), rm, rv, training=True)
    assert not y.requires_grad
    expected = 0.1 * x.mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(rm._data, expected, rtol=1e-5, atol=1e-7)


# ===== memory layouts: channels-last and arbitrary strides ==========================================

def _as_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout (an (N, C, *)-shaped view)."""
    if layout == "channels_last":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)
    if layout == "reversed":  # Fortran order: neither channels-first nor channels-last
        return np.asfortranarray(a)
    return np.ascontiguousarray(a)


@pytest.mark.parametrize("layout", ["channels_last", "reversed"])
@pytest.mark.parametrize("grad_layout", ["contiguous", "channels_last", "reversed"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 5, 2), (4, 3, 70)])
def test_batch_norm_any_memory_layout(layout, grad_layout, training, shape):
    x, w, b, rm, rv = _bn_values(shape, np.float64)
    xl = _as_layout(x, layout)
    assert not np.array_equal(xl.strides, np.ascontiguousarray(x).strides)
    g = _rng(7, *shape).standard_normal(shape)
    x_ck, w_ck, b_ck = ck.from_numpy(xl), ck.tensor(w), ck.tensor(b)
    for t in (x_ck, w_ck, b_ck):
        t.requires_grad_(True)
    x_th, w_th, b_th = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rm_ck, rv_ck, rm_th, rv_th = ck.tensor(rm.copy()), ck.tensor(rv.copy()), torch.tensor(rm), torch.tensor(rv)
    y_ck = F.batch_norm(x_ck, rm_ck, rv_ck, w_ck, b_ck, training=training)
    y_th = TF.batch_norm(x_th, rm_th, rv_th, w_th, b_th, training=training)
    assert_close(y_ck, y_th, RTOL, "output")
    y_ck.backward(ck.from_numpy(_as_layout(g, grad_layout)))
    y_th.backward(torch.tensor(g))
    for a, e, name in ((x_ck, x_th, "x"), (w_ck, w_th, "weight"), (b_ck, b_th, "bias")):
        assert_close(a.grad, e.grad, RTOL, f"gradient of {name}")
    assert_close(rm_ck, rm_th, RTOL, "running_mean")
    assert_close(rv_ck, rv_th, RTOL, "running_var")


# ===== hypothesis ==================================================================================

@given(n=st.integers(1, 5), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 4), max_size=3),
       training=st.booleans(), affine=st.sampled_from(AFFINE), momentum=st.floats(0.0, 1.0),
       eps=st.sampled_from([1e-5, 1e-2, 1.0]), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 16))
def test_batch_norm_hypothesis(n, c, spatial, training, affine, momentum, eps, dtype, seed):
    shape = (n, c) + tuple(spatial)
    if training and n * int(np.prod(spatial)) == 1:
        training = False  # a single value per channel cannot be normalized in training (tested below)
    if training:
        eps = _train_eps(shape, eps)
    _check_bn(shape, dtype, affine, training, with_running=True, momentum=momentum, eps=eps, seed=seed)


# ===== gradcheck (float64, finite differences) =====================================================

@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 2, 3), (4, 2, 1, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training):
    x, w, b, rm, rv = _bn_values(shape, np.float64)
    xs = [ck.tensor(a, requires_grad=True) for a in (x, w, b)]
    rm_ck, rv_ck = ck.tensor(rm), ck.tensor(rv)
    # momentum 0 keeps the running statistics fixed across the finite-difference evaluations
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm_ck, rv_ck, w, b, training=training, momentum=0.0), xs)


def test_batch_norm_gradcheck_without_affine():
    x = _bn_values((4, 3, 5), np.float64)[0]
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True, eps=1e-3),
                     [ck.tensor(x, requires_grad=True)])


# ===== special cases ================================================================================

def test_batch_norm_weight_grad_only():
    """Only the parameters need gradients (a network's first layer): input gradient skipped, others right."""
    x, w, b, _, _ = _bn_values((4, 3, 2, 2), np.float64)
    w_ck, b_ck = ck.tensor(w, requires_grad=True), ck.tensor(b, requires_grad=True)
    w_th, b_th = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    g = _rng(3).standard_normal(x.shape)
    F.batch_norm(ck.tensor(x), None, None, w_ck, b_ck, training=True).backward(g)
    TF.batch_norm(torch.tensor(x), None, None, w_th, b_th, training=True).backward(torch.tensor(g))
    assert_close(w_ck.grad, w_th.grad, RTOL, "weight grad")
    assert_close(b_ck.grad, b_th.grad, RTOL, "bias grad")


def test_batch_norm_backward_twice_with_retain_graph():
    x, w, b, _, _ = _bn_values((3, 2, 4), np.float64)
    xt, wt = ck.tensor(x, requires_grad=True), ck.tensor(w, requires_grad=True)
    y = F.batch_norm(xt, None, None, wt, None, training=True)
    g = _rng(5).standard_normal(x.shape)
    y.backward(g, retain_graph=True)
    first = xt.grad._data.copy(), wt.grad._data.copy()
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, 2 * first[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(wt.grad.data, 2 * first[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4), (2, 3, 0)])
def test_batch_norm_empty_batch(shape):
    """An empty batch gives an empty output, leaves the running statistics alone, backward works (as torch)."""
    x = np.zeros(shape, np.float32)
    rm, rv = ck.zeros(3), ck.ones(3)
    xt = ck.tensor(x, requires_grad=True)
    y = F.batch_norm(xt, rm, rv, ck.ones(3), ck.zeros(3), training=True)
    assert y.shape == shape and y.dtype == np.float32
    y.sum().backward()
    assert xt.grad.shape == shape
    np.testing.assert_array_equal(rm._data, 0)
    np.testing.assert_array_equal(rv._data, 1)


def test_batch_norm_float32_stays_float32():
    x, w, b, rm, rv = _bn_values((4, 3, 2, 2), np.float32)
    xt, wt, bt = (ck.tensor(a, requires_grad=True) for a in (x, w, b))
    for training in (True, False):
        y = F.batch_norm(xt, ck.tensor(rm), ck.tensor(rv), wt, bt, training=training)
        assert y.dtype == np.float32
        y.backward(np.ones(x.shape, np.float32))
        assert xt.grad.dtype == wt.grad.dtype == bt.grad.dtype == np.float32


# ===== errors =======================================================================================

def test_batch_norm_errors():
    x = ck.randn(4, 3, 2, 2)
    rm, rv = ck.zeros(3), ck.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training, "
                                         r"got input of shape \(1, 3\)"):
        F.batch_norm(ck.randn(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3, 1, 1\)"):
        F.batch_norm(ck.randn(1, 3, 1, 1), None, None, training=True)
    F.batch_norm(ck.randn(1, 3), rm, rv, training=False)  # one value is fine in evaluation
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of 2 or more dims \(N, C, \*\), "
                                         r"got shape \(5,\)"):
        F.batch_norm(ck.randn(5), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\).*got shape \(4,\)"):
        F.batch_norm(x, ck.zeros(4), ck.ones(4))
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\).*got shape \(2,\)"):
        F.batch_norm(x, None, None, ck.ones(2), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: bias must have shape \(3,\).*got shape \(3, 1\)"):
        F.batch_norm(x, None, None, None, ck.ones(3, 1), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are required in "
                                         r"evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var must both be given"):
        F.batch_norm(x, rm, None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: weight has dtype float64 but the input has dtype float32"):
        F.batch_norm(x, None, None, ck.ones(3, dtype=ck.float64), training=True)
    with pytest.raises(TypeError, match=r"batch_norm: running_var has dtype float64"):
        F.batch_norm(x, rm, ck.ones(3, dtype=ck.float64), training=True)
    with pytest.raises(TypeError, match=r"batch_norm: expected a floating point input, got dtype int64"):
        F.batch_norm(ck.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: expected a Tensor input, got ndarray"):
        F.batch_norm(np.ones((4, 3)), None, None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: running_mean must be a Tensor or None, got ndarray"):
        F.batch_norm(x, np.zeros(3), rv)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be positive in training mode, got 0"):
        F.batch_norm(x, None, None, training=True, eps=0)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be non-negative, got -1"):
        F.batch_norm(x, rm, rv, eps=-1)
    with pytest.raises(TypeError, match=r"batch_norm: momentum must be a number, got None"):
        F.batch_norm(x, rm, rv, training=True, momentum=None)
    np.testing.assert_array_equal(rm._data, 0)  # nothing was updated by the failing calls
    np.testing.assert_array_equal(rv._data, 1)


# ===== local_response_norm ==========================================================================

LRN_SIZES = [1, 2, 3, 4, 5, 6, 7, 10]
LRN_SHAPES = [(2, 6, 5), (2, 7, 4, 5), (1, 5, 3, 2, 2)]
# (alpha, beta, k): AlexNet's (1e-4, 0.75, 2) and large alphas so the cross-channel term of the backward matters
LRN_PARAMS = [(1e-4, 0.75, 2.0), (0.5, 0.75, 1.0), (2.0, 0.5, 2.0), (1.0, 1.3, 0.7)]


def _lrn_input(shape, dtype, seed=0):
    return np.asarray(_rng(11, seed, *shape).standard_normal(shape) * 1.5, dtype=dtype)


def _check_lrn(shape, size, alpha, beta, k, dtype, seed=0):
    out = check_op(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                   lambda x: TF.local_response_norm(x, size, alpha, beta, k),
                   [_lrn_input(shape, dtype, seed)], rtol=RTOL,
                   what=f"local_response_norm{shape} size={size} alpha={alpha} beta={beta} k={k} {np.dtype(dtype)}")
    assert out[0].dtype == dtype


# 8 sizes x 3 shapes x 4 parameter sets = 96 configurations in float64, and the same 96 in float32
@pytest.mark.parametrize("size", LRN_SIZES)
@pytest.mark.parametrize("shape", LRN_SHAPES)
@pytest.mark.parametrize("params", LRN_PARAMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_local_response_norm_grid(size, shape, params, dtype):
    _check_lrn(shape, size, *params, dtype)


def test_local_response_norm_defaults():
    x = _lrn_input((2, 8, 3, 3), np.float64) * 30
    check_op(lambda x: F.local_response_norm(x, 5), lambda x: TF.local_response_norm(x, 5), [x], rtol=RTOL)


@pytest.mark.parametrize("layout", ["channels_last", "reversed"])
def test_local_response_norm_any_memory_layout(layout):
    x = _lrn_input((2, 7, 4, 3), np.float64)
    g = _rng(13).standard_normal(x.shape)
    x_ck = ck.from_numpy(_as_layout(x, layout)).requires_grad_(True)
    x_th = torch.tensor(x, requires_grad=True)
    y_ck, y_th = F.local_response_norm(x_ck, 3, 0.5, 0.75, 1.0), TF.local_response_norm(x_th, 3, 0.5, 0.75, 1.0)
    assert_close(y_ck, y_th, RTOL, "output")
    y_ck.backward(ck.from_numpy(_as_layout(g, layout)))
    y_th.backward(torch.tensor(g))
    assert_close(x_ck.grad, x_th.grad, RTOL, "gradient")


@given(n=st.integers(1, 3), c=st.integers(1, 9), spatial=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       size=st.integers(1, 12), alpha=st.floats(1e-4, 3.0), beta=st.floats(0.0, 2.0), k=st.floats(0.5, 3.0),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 16))
def test_local_response_norm_hypothesis(n, c, spatial, size, alpha, beta, k, dtype, seed):
    _check_lrn((n, c) + tuple(spatial), size, alpha, beta, k, dtype, seed)


@pytest.mark.parametrize("size,params", list(itertools.product([1, 2, 3, 5], [(0.5, 0.75, 1.0), (2.0, 1.3, 0.7)])))
def test_local_response_norm_gradcheck(size, params):
    x = _lrn_input((2, 6, 3, 2), np.float64)
    assert gradcheck(lambda x: F.local_response_norm(x, size, *params), [ck.tensor(x, requires_grad=True)])


def test_local_response_norm_gradcheck_3d():
    x = _lrn_input((2, 5, 4), np.float64)
    assert gradcheck(lambda x: F.local_response_norm(x, 4, 1.0, 0.75, 1.0), [ck.tensor(x, requires_grad=True)])


def test_local_response_norm_empty_and_dtype():
    y = F.local_response_norm(ck.zeros(0, 4, 3, 3), 3)
    assert y.shape == (0, 4, 3, 3)
    x = ck.tensor(_lrn_input((2, 4, 3), np.float32), requires_grad=True)
    y = F.local_response_norm(x, 3, 0.5)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == np.float32


def test_local_response_norm_errors():
    with pytest.raises(ValueError, match=r"local_response_norm: expected an input of 3 or more dims "
                                         r"\(N, C, \*\), got shape \(3, 4\)"):
        F.local_response_norm(ck.randn(3, 4), 2)
    with pytest.raises(ValueError, match=r"local_response_norm: size must be a positive number of channels, "
                                         r"got 0"):
        F.local_response_norm(ck.randn(2, 3, 4), 0)
    with pytest.raises(ValueError, match=r"size must be a positive number of channels, got -2"):
        F.local_response_norm(ck.randn(2, 3, 4), -2)
    with pytest.raises(TypeError, match=r"local_response_norm: size must be an int, got 2.5"):
        F.local_response_norm(ck.randn(2, 3, 4), 2.5)
    with pytest.raises(TypeError, match=r"local_response_norm: size must be an int, got True"):
        F.local_response_norm(ck.randn(2, 3, 4), True)
    with pytest.raises(TypeError, match=r"local_response_norm: alpha must be a number, got '1'"):
        F.local_response_norm(ck.randn(2, 3, 4), 2, alpha="1")
    with pytest.raises(TypeError, match=r"local_response_norm: expected a floating point input, got dtype int64"):
        F.local_response_norm(ck.zeros(2, 3, 4, dtype=ck.int64), 2)
    with pytest.raises(TypeError, match=r"local_response_norm: expected a Tensor input, got ndarray"):
        F.local_response_norm(np.ones((2, 3, 4)), 2)
