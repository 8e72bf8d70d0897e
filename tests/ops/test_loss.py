"""Losses against PyTorch: forward, every input's gradient, gradcheck, stability, dtypes and errors."""
from __future__ import annotations

import itertools
import os
import warnings
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.autograd import gradcheck
from tests.oracle import check_op

RTOL = 1e-8  # float64; check_op raises it to 1e-4 for float32
REDUCTIONS = ["none", "mean", "sum"]
# (input shape) for class losses: (N, C), (N, C, d1), (N, C, d1, d2) and a single sample (C,)
CLASS_SHAPES = [(6, 5), (3, 4, 5), (2, 3, 4, 3), (5,)]


SALT = int(os.environ.get("CNNKIT_TEST_SALT", "0"))


def _rng(*key):
    """A generator seeded by the test's parameters (stable across runs, unlike hash())."""
    return np.random.default_rng([zlib.crc32(repr(key).encode()), SALT])


def _targets(rng, shape, ignore_index, p_ignore=0.3):
    """Class indices for ``shape`` logits; about ``p_ignore`` of them set to ``ignore_index``."""
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    t = rng.integers(0, c, size=tshape)
    if len(shape) == 1 and t == ignore_index and c > 1:
        t = (t + 1) % c  # a single sample that counts
    if ignore_index is not None and len(shape) > 1:
        t = np.where(rng.random(tshape) < p_ignore, ignore_index, t)
        t.reshape(-1)[0] = 1 if ignore_index == 0 and c > 1 else 0  # keep at least one target that counts
    return np.asarray(t, dtype=np.int64)


def _opt(arr, cls):
    return None if arr is None else cls(arr)


def _like(a):
    """A constant array as a torch tensor of ``a``'s dtype (the oracle's float64 reference runs the same lambda)."""
    return lambda v: torch.from_numpy(v).to(a.dtype)


def _check(ck_fn, th_fn, inputs, dtype, grad=None, what="loss"):
    inputs = [x.astype(dtype) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in inputs]
    out = check_op(ck_fn, th_fn, inputs, grad=grad, rtol=RTOL, what=what)
    assert out[0].dtype == dtype, f"{what}: output dtype {out[0].dtype}, expected {dtype}"
    return out


# ===== cross-entropy with class indices: the full grid ============================================
# shape x weight x ignore_index x reduction x label_smoothing = 4 * 2 * 3 * 3 * 3 = 216 configurations

@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1, -1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25, 1.0])
def test_cross_entropy_grid(shape, weighted, ignore_index, reduction, label_smoothing):
    rng = _rng("ce", shape, weighted, ignore_index, reduction, label_smoothing)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape) * 2  # float32 near p = 1 is ill-conditioned; float64 covers it too
    t = _targets(rng, shape, ignore_index)
    w = rng.random(c) + 0.1 if weighted else None
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    for dtype in (np.float64, np.float32):
        wd = None if w is None else w.astype(dtype)
        _check(lambda a, b: F.cross_entropy(a, b, weight=_opt(wd, ck.tensor), **kw),
               lambda a, b: TF.cross_entropy(a, b, weight=_opt(wd, _like(a)), **kw),
               [x, t], dtype, what=f"cross_entropy {shape} w={weighted} {kw}")


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_gradcheck(shape, weighted, label_smoothing):
    rng = _rng("ce-gc", shape, weighted, label_smoothing)
    x = ck.tensor(rng.standard_normal(shape), requires_grad=True)
    t = ck.tensor(_targets(rng, shape, -100))
    w = ck.tensor(rng.random(shape[1]) + 0.1) if weighted else None
    for reduction in REDUCTIONS:
        assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction,
                                                   label_smoothing=label_smoothing), [x])


def test_cross_entropy_uint8_targets_and_default_arguments():
    rng = _rng("ce-u8")
    x = rng.standard_normal((7, 4))
    t = rng.integers(0, 4, 7).astype(np.uint8)
    _check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), [x, t], np.float64)
    _check(lambda a, b: F.cross_entropy(a, b, None, None, 2, None, "sum", 0.1),
           lambda a, b: TF.cross_entropy(a, b, None, None, 2, None, "sum", 0.1), [x, t.astype(np.int64)],
           np.float64)


def test_cross_entropy_int32_targets_are_accepted():
    # PyTorch accepts only int64/uint8 class indices; cnnkit takes any integer dtype with the same result
    rng = _rng("ce-i32")
    x = rng.standard_normal((6, 3))
    t = rng.integers(0, 3, 6)
    got = F.cross_entropy(ck.tensor(x), ck.tensor(t.astype(np.int32)))
    want = TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)


def test_cross_entropy_negative_label_smoothing_means_none_like_pytorch():
    rng = _rng("ce-neg-ls")
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    _check(lambda a, b: F.cross_entropy(a, b, label_smoothing=-0.2),
           lambda a, b: TF.cross_entropy(a, b, label_smoothing=-0.2), [x, t], np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, kw", [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.2}),
                                      ("nll_loss", {})])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_targets_ignored(reduction, loss, kw, weighted):
    """'mean' over zero targets is 0/0 = nan (as in PyTorch); the gradient is zero, without warnings."""
    rng = _rng("all-ignored")
    x = rng.standard_normal((3, 4))
    t = np.full(3, -100)
    w = rng.random(4) if weighted else None
    xc, xt = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(F, loss)(xc, ck.tensor(t), weight=_opt(w, ck.tensor), reduction=reduction, **kw)
        v = np.full(got.shape, 0.7)
        got.backward(v)
    want = getattr(TF, loss)(xt, torch.from_numpy(t), weight=_opt(w, torch.from_numpy), reduction=reduction, **kw)
    want.backward(torch.from_numpy(v))
    # (tests/oracle.assert_close cannot compare an all-nan tensor: its tolerance becomes nan)
    np.testing.assert_array_equal(got._data, want.detach().numpy())
    assert np.isnan(got.item()) if reduction == "mean" else not np.any(got._data)
    np.testing.assert_array_equal(xc.grad._data, xt.grad.numpy())
    assert not np.any(xc.grad._data)


def test_cross_entropy_empty_batch():
    x = np.zeros((0, 4))
    t = np.zeros(0, dtype=np.int64)
    for reduction in ("none", "sum"):
        _check(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
               lambda a, b: TF.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1), [x, t], np.float64)
    xc = ck.tensor(x, requires_grad=True)
    out = F.cross_entropy(xc, ck.tensor(t), label_smoothing=0.1)
    assert np.isnan(out.item()) and np.isnan(TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item())
    out.backward()
    assert xc.grad.shape == (0, 4)


# ===== stability ====================================================================================

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_stable_at_huge_logits(dtype, label_smoothing, weighted):
    rng = _rng("ce-huge", label_smoothing, weighted)
    x = rng.choice([-1e4, 1e4], size=(8, 5)) + rng.standard_normal((8, 5))
    x[0] = 1e4  # a row of equal huge logits
    x[1] = -1e4
    t = rng.integers(0, 5, 8)
    w = (rng.random(5) + 0.5).astype(dtype) if weighted else None
    for reduction in REDUCTIONS:
        kw = dict(reduction=reduction, label_smoothing=label_smoothing)
        out = _check(lambda a, b: F.cross_entropy(a, b, weight=_opt(w, ck.tensor), **kw),
                     lambda a, b: TF.cross_entropy(a, b, weight=_opt(w, _like(a)), **kw), [x, t], dtype)
        assert np.all(np.isfinite(out[0]._data))
    xc = ck.tensor(x.astype(dtype), requires_grad=True)
    F.cross_entropy(xc, ck.tensor(t), label_smoothing=label_smoothing).backward()
    assert np.all(np.isfinite(xc.grad._data))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_stable_at_huge_logits(dtype):
    rng = _rng("bce-huge")
    x = rng.choice([-1e4, 1e4], size=(6, 4)) + rng.standard_normal((6, 4))
    y = rng.random((6, 4))
    pw = rng.random(4) + 0.5
    for reduction in REDUCTIONS:
        out = _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction,
                                                                     pos_weight=ck.tensor(pw.astype(dtype))),
                     lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction,
                                                                      pos_weight=torch.from_numpy(pw.astype(dtype))),
                     [x, y], dtype)
        assert np.all(np.isfinite(out[0]._data))


# ===== cross-entropy with class probabilities ======================================================
# shape x weight x reduction x label_smoothing = 4 * 2 * 3 * 2 = 48, gradients to logits and targets

@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.4])
def test_cross_entropy_probability_targets(shape, weighted, reduction, label_smoothing):
    rng = _rng("ce-prob", shape, weighted, reduction, label_smoothing)
    axis = 0 if len(shape) == 1 else 1
    c = shape[axis]
    x = rng.standard_normal(shape) * 2
    y = rng.random(shape)
    y /= y.sum(axis=axis, keepdims=True)
    w = rng.random(c) + 0.1 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=label_smoothing)
    for dtype in (np.float64, np.float32):
        wd = None if w is None else w.astype(dtype)
        _check(lambda a, b: F.cross_entropy(a, b, weight=_opt(wd, ck.tensor), **kw),
               lambda a, b: TF.cross_entropy(a, b, weight=_opt(wd, _like(a)), **kw),
               [x, y], dtype, what=f"cross_entropy probs {shape} w={weighted} {kw}")


def test_cross_entropy_probability_targets_gradcheck_and_mixed_dtype():
    rng = _rng("ce-prob-gc")
    x = ck.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    y = ck.tensor(rng.random((3, 4, 2)), requires_grad=True)
    w = ck.tensor(rng.random(4) + 0.1)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.2), [x, y])
    xf, yd = rng.standard_normal((4, 3)).astype(np.float32), rng.random((4, 3))
    check_op(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), [xf, yd], rtol=1e-6)


# ===== nll_loss ======================================================================================
# shape x weight x ignore_index x reduction = 4 * 2 * 2 * 3 = 48

@pytest.mark.parametrize("shape", CLASS_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_grid(shape, weighted, ignore_index, reduction):
    rng = _rng("nll", shape, weighted, ignore_index, reduction)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = -rng.random(shape) * 4
    t = _targets(rng, shape, ignore_index)
    w = rng.random(c) + 0.1 if weighted else None
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    for dtype in (np.float64, np.float32):
        wd = None if w is None else w.astype(dtype)
        _check(lambda a, b: F.nll_loss(a, b, weight=_opt(wd, ck.tensor), **kw),
               lambda a, b: TF.nll_loss(a, b, weight=_opt(wd, _like(a)), **kw),
               [x, t], dtype, what=f"nll_loss {shape} w={weighted} {kw}")


def test_nll_loss_gradcheck_and_log_softmax_composition():
    rng = _rng("nll-gc")
    x = ck.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    t = ck.tensor(_targets(rng, (4, 3, 2), 1))
    w = ck.tensor(rng.random(3) + 0.1)
    for reduction in REDUCTIONS:
        assert gradcheck(lambda a: F.nll_loss(a, t, weight=w, ignore_index=1, reduction=reduction), [x])
    # nll_loss(log_softmax(x)) == cross_entropy(x)
    logp = x._data - np.log(np.exp(x._data).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.nll_loss(ck.tensor(logp), t, weight=w).item(),
                               F.cross_entropy(ck.tensor(x._data), t, weight=w).item(), rtol=1e-12)


# ===== regression losses ============================================================================

MSE_SHAPES = [((4, 3), (4, 3)), ((4, 3), (3,)), ((3,), (2, 4, 3)), ((2, 1, 3), (4, 1)), ((), ())]


REGRESSION_CASES = [(shapes, kind, weighted) for shapes in MSE_SHAPES for kind in ("mse", "l1", "smooth_l1", "huber")
                    for weighted in (False, True)
                    # smooth_l1_loss takes no weight; for a single element the weighted mean's weight
                    # gradient is exactly 0 mathematically (torch returns round-off), so not compared there
                    if not (weighted and (kind == "smooth_l1" or shapes[0] == ()))]


@pytest.mark.filterwarnings("ignore:.*target size")
@pytest.mark.parametrize("shapes, kind, weighted", REGRESSION_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_grid(shapes, reduction, weighted, kind):
    """(5 shape pairs x 4 losses + 4 x 3 weighted) x 3 reductions; gradients to input, target (and weight)."""
    rng = _rng("reg", shapes, reduction, weighted, kind)
    x = np.asarray(rng.standard_normal(shapes[0]) * 2)
    y = np.asarray(rng.standard_normal(shapes[1]) * 2)
    inputs = [x, y] + ([np.asarray(rng.random(shapes[0]) + 0.1)] if weighted else [])
    ck_f, th_f = {"mse": (F.mse_loss, TF.mse_loss), "l1": (F.l1_loss, TF.l1_loss),
                  "smooth_l1": (F.smooth_l1_loss, TF.smooth_l1_loss), "huber": (F.huber_loss, TF.huber_loss)}[kind]
    for dtype in (np.float64, np.float32):
        if weighted:
            _check(lambda a, b, w: ck_f(a, b, reduction=reduction, weight=w),
                   lambda a, b, w: th_f(a, b, reduction=reduction, weight=w), inputs, dtype,
                   what=f"{kind} {shapes} {reduction} weighted")
        else:
            _check(lambda a, b: ck_f(a, b, reduction=reduction), lambda a, b: th_f(a, b, reduction=reduction),
                   inputs, dtype, what=f"{kind} {shapes} {reduction}")


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_beta_and_ties(beta):
    """Including |x − y| == β exactly and x == y (where the L1 gradient is 0)."""
    rng = _rng("sl1", beta)
    x = rng.standard_normal((5, 4)) * 2
    y = x + rng.choice([0.0, beta, -beta, 0.3, -2.0], size=(5, 4))
    for reduction in REDUCTIONS:
        _check(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
               lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], np.float64)


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.0])
def test_huber_delta_and_ties(delta):
    rng = _rng("huber", delta)
    x = rng.standard_normal((5, 4)) * 2
    y = x + rng.choice([0.0, delta, -delta, 0.1, -3.0], size=(5, 4))
    w = rng.random((5, 4))
    for reduction in REDUCTIONS:
        _check(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta),
               lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta), [x, y], np.float64)
        _check(lambda a, b, c: F.huber_loss(a, b, reduction=reduction, delta=delta, weight=c),
               lambda a, b, c: TF.huber_loss(a, b, reduction=reduction, delta=delta, weight=c), [x, y, w],
               np.float64)


def test_l1_gradient_is_zero_where_equal():
    x = np.array([1.0, 2.0, 3.0])
    out = _check(lambda a, b: F.l1_loss(a, b, reduction="sum"), lambda a, b: TF.l1_loss(a, b, reduction="sum"),
                 [x, x.copy()], np.float64)
    assert out[0].item() == 0.0


def test_regression_gradcheck():
    rng = _rng("reg-gc")
    fns = [F.mse_loss, F.l1_loss, lambda a, b, **k: F.smooth_l1_loss(a, b, beta=0.7, **k),
           lambda a, b, **k: F.huber_loss(a, b, delta=0.8, **k)]
    for fn in fns:
        for reduction in REDUCTIONS:
            x = ck.tensor(rng.standard_normal((3, 4)), requires_grad=True)
            y = ck.tensor(rng.standard_normal((4,)), requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), [x, y])
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss):
        x, y = (ck.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2))
        w = ck.tensor(rng.random((3, 4)) + 0.1, requires_grad=True)
        for reduction in REDUCTIONS:
            assert gradcheck(lambda a, b, c: fn(a, b, reduction=reduction, weight=c), [x, y, w])


def test_mse_dtype_promotion_like_pytorch():
    rng = _rng("mse-dtype")
    x32 = rng.standard_normal((3, 4)).astype(np.float32)
    y64 = rng.standard_normal((3, 4))
    out = check_op(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [x32, y64], rtol=1e-6)
    assert out[0].dtype == np.float64
    yi = rng.integers(-2, 3, (3, 4))
    out = check_op(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [x32, yi], grad=[0])
    assert out[0].dtype == np.float32


def test_mse_warns_on_broadcast_like_pytorch():
    with pytest.warns(UserWarning, match="mse_loss: using a target size"):
        F.mse_loss(ck.zeros(4, 3), ck.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(ck.zeros(4, 3), ck.zeros(4, 3))


# ===== binary cross-entropy ==========================================================================
# shape x weight x pos_weight x reduction = 2 * 3 * 3 * 3 = 54, gradients to logits and targets

@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("weight", [None, "full", "broadcast"])
@pytest.mark.parametrize("pos_weight", [None, "per_class", "full"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_grid(shape, weight, pos_weight, reduction):
    rng = _rng("bcel", shape, weight, pos_weight, reduction)
    x = rng.standard_normal(shape) * 3
    y = rng.random(shape)
    y[..., 0] = np.round(y[..., 0])  # some hard 0/1 labels
    w = {None: None, "full": rng.random(shape), "broadcast": rng.random(shape[-1:])}[weight]
    pw = {None: None, "per_class": rng.random(shape[-1:]) * 3, "full": rng.random(shape) * 3}[pos_weight]
    for dtype in (np.float64, np.float32):
        wd, pwd = (None if a is None else a.astype(dtype) for a in (w, pw))
        _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=_opt(wd, ck.tensor),
                                                               reduction=reduction, pos_weight=_opt(pwd, ck.tensor)),
               lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=_opt(wd, torch.from_numpy),
                                                                reduction=reduction,
                                                                pos_weight=_opt(pwd, torch.from_numpy)),
               [x, y], dtype, what=f"bce_with_logits {shape} w={weight} pw={pos_weight} {reduction}")


def test_bce_with_logits_gradcheck_and_dtype():
    rng = _rng("bcel-gc")
    x = ck.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    y = ck.tensor(rng.random((3, 4)), requires_grad=True)
    w, pw = ck.tensor(rng.random((3, 1))), ck.tensor(rng.random(4) * 2)
    for reduction in REDUCTIONS:
        assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction,
                                                                         pos_weight=pw), [x, y])
        assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x, y])
    # the output takes the target's dtype (PyTorch casts the loss to it)
    x32, y64 = rng.standard_normal((3, 4)).astype(np.float32), rng.random((3, 4))
    out = check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b),
                   lambda a, b: TF.binary_cross_entropy_with_logits(a, b), [x32, y64], rtol=1e-6)
    assert out[0].dtype == np.float64
    out = check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b),
                   lambda a, b: TF.binary_cross_entropy_with_logits(a, b), [y64 * 4 - 2, x32 * 0 + 0.25],
                   rtol=1e-6)
    assert out[0].dtype == np.float32


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(weighted, reduction):
    rng = _rng("bce", weighted, reduction)
    x = rng.random((5, 4)) * 0.98 + 0.01
    x[0, :2] = [0.0, 1.0]  # log clamped at -100, gradient through the 1e-12 floor
    y = rng.random((5, 4))
    y[0, :2] = [0.0, 1.0]
    w = rng.random(4) if weighted else None
    for dtype in (np.float64, np.float32):
        wd = None if w is None else w.astype(dtype)
        _check(lambda a, b: F.binary_cross_entropy(a, b, weight=_opt(wd, ck.tensor), reduction=reduction),
               lambda a, b: TF.binary_cross_entropy(a, b, weight=_opt(wd, torch.from_numpy), reduction=reduction),
               [x, y], dtype, grad=[0])
    # gradient to the target too (infinite where x is exactly 0 or 1, so on the open interval)
    _check(lambda a, b: F.binary_cross_entropy(a, b, weight=_opt(w, ck.tensor), reduction=reduction),
           lambda a, b: TF.binary_cross_entropy(a, b, weight=_opt(w, torch.from_numpy), reduction=reduction),
           [x[1:], y[1:]], np.float64)
    xt, yt = ck.tensor(x[1:].copy(), requires_grad=True), ck.tensor(y[1:].copy(), requires_grad=True)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=_opt(w, ck.tensor), reduction=reduction),
                     [xt, yt])


# ===== hypothesis ====================================================================================

@st.composite
def _class_problem(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 6))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return dict(shape=(n, c) + spatial, seed=draw(st.integers(0, 2 ** 31)), weighted=draw(st.booleans()),
                ignore_index=draw(st.sampled_from([-100, 0, c - 1] if c > 1 else [-100])),
                reduction=draw(st.sampled_from(REDUCTIONS)),
                label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
                scale=draw(st.sampled_from([0.1, 1.0, 8.0])), dtype=draw(st.sampled_from([np.float64, np.float32])))


@given(_class_problem())
def test_cross_entropy_and_nll_hypothesis(p):
    rng = np.random.default_rng(p["seed"])
    shape, c = p["shape"], p["shape"][1]
    # extreme scales only in float64: in float32 the gradient p − onehot is cancellation-bound when p → 1
    # (large logits) or p → 1/C with label smoothing 1 (tiny logits), beyond the oracle's float32 resolution
    scale = p["scale"] if p["dtype"] == np.float64 else float(np.clip(p["scale"], 1.0, 2.0))
    x = rng.standard_normal(shape) * scale
    t = _targets(rng, shape, p["ignore_index"])
    w = (rng.random(c) + 0.1).astype(p["dtype"]) if p["weighted"] else None
    kw = dict(ignore_index=p["ignore_index"], reduction=p["reduction"])
    ls = p["label_smoothing"]
    _check(lambda a, b: F.cross_entropy(a, b, weight=_opt(w, ck.tensor), label_smoothing=ls, **kw),
           lambda a, b: TF.cross_entropy(a, b, weight=_opt(w, _like(a)), label_smoothing=ls, **kw),
           [x, t], p["dtype"], what=f"cross_entropy {p}")
    _check(lambda a, b: F.nll_loss(a, b, weight=_opt(w, ck.tensor), **kw),
           lambda a, b: TF.nll_loss(a, b, weight=_opt(w, _like(a)), **kw), [x, t], p["dtype"],
           what=f"nll_loss {p}")


@given(st.integers(0, 2 ** 31), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(REDUCTIONS), st.booleans(), st.sampled_from([np.float64, np.float32]))
def test_bce_with_logits_and_mse_hypothesis(seed, shape, reduction, with_pos_weight, dtype):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    x, y = rng.standard_normal(shape) * 4, rng.random(shape)
    pw = (rng.random(shape[-1:]) * 3).astype(dtype) if with_pos_weight else None
    _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction,
                                                           pos_weight=_opt(pw, ck.tensor)),
           lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction,
                                                            pos_weight=_opt(pw, torch.from_numpy)),
           [x, y], dtype)
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction),
           [x, y], dtype)


# ===== dtypes =========================================================================================

def test_float32_in_float32_out_everywhere():
    x = ck.randn(4, 3)
    y = ck.rand(4, 3)
    t = ck.tensor([0, 2, 1, 2])
    outs = [F.cross_entropy(x, t), F.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
            F.cross_entropy(x, y), F.nll_loss(x, t, weight=ck.ones(3)), F.mse_loss(x, y),
            F.l1_loss(x, y, reduction="sum"), F.smooth_l1_loss(x, y), F.huber_loss(x, y, weight=ck.ones(4, 3)),
            F.binary_cross_entropy_with_logits(x, y, pos_weight=ck.ones(3)), F.binary_cross_entropy(y, y)]
    for out in outs:
        assert out.dtype == np.float32
    xr = ck.randn(4, 3, requires_grad=True)
    F.cross_entropy(xr, t, label_smoothing=0.2).backward()
    assert xr.grad.dtype == np.float32


# ===== errors ========================================================================================

def _ce(**kw):
    return F.cross_entropy(ck.zeros(4, 10), ck.tensor([0, 1, 2, 3]), **kw)


ERRORS = [
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([0, 10, 2, 3])), ValueError,
     r"cross_entropy: target contains class 10, expected values in \[0, 10\) \(or ignore_index=-100\)"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([0, -1, 2, 3])), ValueError,
     r"cross_entropy: target contains class -1, expected values in \[0, 10\)"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([0, -100, 2, 3]), ignore_index=5), ValueError,
     r"cross_entropy: target contains class -100, expected values in \[0, 10\) \(or ignore_index=5\)"),
    (lambda: F.cross_entropy(ck.zeros(2, 3, 2, 2), ck.full((2, 2, 2), 3)), ValueError,
     r"cross_entropy: target contains class 3, expected values in \[0, 3\)"),
    (lambda: F.nll_loss(ck.zeros(4, 10), ck.tensor([0, 1, 12, 3])), ValueError,
     r"nll_loss: target contains class 12, expected values in \[0, 10\)"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([0.0, 1.0, 2.0, 3.0])), TypeError,
     r"cross_entropy: class-index target must be an integer tensor \(int64\), got dtype float32"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([True, False, True, True])), TypeError,
     r"cross_entropy: class-index target must be an integer tensor"),
    (lambda: F.nll_loss(ck.zeros(4, 10), ck.zeros(4)), TypeError, r"nll_loss: class-index target must be an int"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.zeros(4, 10, dtype=ck.int64)), TypeError,
     r"cross_entropy: a target of the input's shape \(4, 10\) holds class probabilities and must be floating"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.tensor([0, 1, 2])), ValueError,
     r"cross_entropy: expected target of shape \(N,\) = \(4,\) for input of shape \(4, 10\), got \(3,\)"),
    (lambda: F.cross_entropy(ck.zeros(2, 3, 4, 5), ck.zeros(2, 4, 4, dtype=ck.int64)), ValueError,
     r"cross_entropy: expected target of shape \(N, d1, ...\) = \(2, 4, 5\) for input of shape \(2, 3, 4, 5\), "
     r"got \(2, 4, 4\)"),
    (lambda: F.cross_entropy(ck.zeros(10), ck.tensor([1])), ValueError,
     r"cross_entropy: expected target of shape \(\) = \(\) for input of shape \(10,\), got \(1,\)"),
    (lambda: F.nll_loss(ck.zeros(4, 10), ck.zeros(4, 1, dtype=ck.int64)), ValueError,
     r"nll_loss: expected target of shape \(N,\) = \(4,\)"),
    (lambda: F.cross_entropy(ck.tensor(1.0), ck.tensor(0)), ValueError,
     r"cross_entropy: expected input of shape \(C,\) or \(N, C, d1, ...\), got a 0-d tensor"),
    (lambda: F.cross_entropy(ck.zeros(4, 10, dtype=ck.int64), ck.tensor([0, 1, 2, 3])), TypeError,
     r"cross_entropy: input must be a floating point tensor, got dtype int64"),
    (lambda: F.cross_entropy("logits", ck.tensor([0])), TypeError, r"cross_entropy: input must be a Tensor, got str"),
    (lambda: _ce(reduction="avg"), ValueError,
     r"cross_entropy: reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    (lambda: _ce(reduction=None), ValueError, r"cross_entropy: reduction must be"),
    (lambda: F.nll_loss(ck.zeros(2, 3), ck.tensor([0, 1]), reduction="max"), ValueError, r"nll_loss: reduction"),
    (lambda: F.mse_loss(ck.zeros(2), ck.zeros(2), reduction="mean "), ValueError, r"mse_loss: reduction"),
    (lambda: F.binary_cross_entropy_with_logits(ck.zeros(2), ck.zeros(2), reduction="all"), ValueError,
     r"binary_cross_entropy_with_logits: reduction"),
    (lambda: _ce(weight=ck.ones(9)), ValueError,
     r"cross_entropy: weight must be a 1-d tensor with one entry per class \(10\), got shape \(9,\)"),
    (lambda: _ce(weight=ck.ones(1, 10)), ValueError, r"cross_entropy: weight must be a 1-d tensor"),
    (lambda: F.nll_loss(ck.zeros(2, 3), ck.tensor([0, 1]), weight=ck.ones(4)), ValueError,
     r"nll_loss: weight must be a 1-d tensor with one entry per class \(3\), got shape \(4,\)"),
    (lambda: _ce(weight=ck.ones(10, dtype=ck.float64)), TypeError,
     r"cross_entropy: weight must have the input's dtype float32, got float64"),
    (lambda: _ce(weight=ck.ones(10, dtype=ck.int64)), TypeError,
     r"cross_entropy: weight must be a floating point tensor, got dtype int64"),
    (lambda: _ce(label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"),
    (lambda: _ce(label_smoothing="0.1"), TypeError, r"cross_entropy: label_smoothing must be a float"),
    (lambda: _ce(ignore_index=1.0), TypeError, r"cross_entropy: ignore_index must be an int, got float"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.zeros(4, 10), ignore_index=3), ValueError,
     r"cross_entropy: ignore_index is not supported for class-probability \(float\) targets"),
    (lambda: F.cross_entropy(ck.zeros(4, 10), ck.zeros(4, 10), weight=ck.ones(3)), ValueError,
     r"cross_entropy: weight must be a 1-d tensor with one entry per class \(10\)"),
    (lambda: F.mse_loss(ck.zeros(4, 3), ck.zeros(4)), ValueError,
     r"mse_loss: input of shape \(4, 3\) and target of shape \(4,\) do not broadcast"),
    (lambda: F.mse_loss(ck.zeros(4, 3, dtype=ck.int64), ck.zeros(4, 3, dtype=ck.int64)), TypeError,
     r"mse_loss: expected floating point input or target, got dtypes int64, int64"),
    (lambda: F.mse_loss(ck.zeros(4, 3), ck.zeros(4, 3), weight=ck.ones(3)), ValueError,
     r"mse_loss: weight must have the input's shape \(4, 3\), got \(3,\)"),
    (lambda: F.l1_loss(ck.zeros(4, 3), ck.zeros(2, 3)), ValueError, r"l1_loss: input of shape \(4, 3\)"),
    (lambda: F.smooth_l1_loss(ck.zeros(2), ck.zeros(2), beta=-1.0), ValueError,
     r"smooth_l1_loss: beta must be non-negative, got -1.0"),
    (lambda: F.huber_loss(ck.zeros(2), ck.zeros(2), delta=0.0), ValueError,
     r"huber_loss: delta must be positive, got 0.0"),
    (lambda: F.binary_cross_entropy_with_logits(ck.zeros(4, 3), ck.zeros(3)), ValueError,
     r"binary_cross_entropy_with_logits: target size \(3,\) must be the same as input size \(4, 3\)"),
    (lambda: F.binary_cross_entropy_with_logits(ck.zeros(4, 3), ck.zeros(4, 3, dtype=ck.int64)), TypeError,
     r"binary_cross_entropy_with_logits: target must be a floating point tensor, got dtype int64"),
    (lambda: F.binary_cross_entropy_with_logits(ck.zeros(4, 3), ck.zeros(4, 3), pos_weight=ck.ones(4)),
     ValueError, r"binary_cross_entropy_with_logits: pos_weight of shape \(4,\) does not broadcast to the "
                 r"input's shape \(4, 3\)"),
    (lambda: F.binary_cross_entropy_with_logits(ck.zeros(4, 3), ck.zeros(4, 3), weight=ck.ones(2, 4, 3)),
     ValueError, r"binary_cross_entropy_with_logits: weight of shape \(2, 4, 3\) does not broadcast"),
    (lambda: F.binary_cross_entropy(ck.tensor([0.5, 1.5]), ck.tensor([0.0, 1.0])), ValueError,
     r"binary_cross_entropy: all elements of input should be between 0 and 1, found 1.5"),
    (lambda: F.binary_cross_entropy(ck.tensor([0.5, 0.5]), ck.tensor([0.0, -1.0])), ValueError,
     r"binary_cross_entropy: all elements of target should be between 0 and 1, found -1.0"),
    (lambda: F.binary_cross_entropy(ck.tensor([0.5, 0.5]), ck.tensor([0.5])), ValueError,
     r"binary_cross_entropy: target size \(1,\) must be the same as input size \(2,\)"),
]


@pytest.mark.parametrize("call, exc, match", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_legacy_size_average_and_reduce_map_like_pytorch():
    rng = _rng("legacy")
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    for size_average, reduce in itertools.product([None, True, False], repeat=2):
        if size_average is None and reduce is None:
            continue
        with pytest.warns(UserWarning, match="deprecated"):
            got = F.cross_entropy(ck.tensor(x), ck.tensor(t), size_average=size_average, reduce=reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), size_average=size_average,
                                    reduce=reduce)
        np.testing.assert_allclose(got._data, want.numpy(), rtol=1e-12)
