"""Loss modules against torch.nn: output and input gradients (check_module), buffers, repr, errors."""
from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnkit as ck
import cnnkit.nn as nn
from tests.oracle import check_module

REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [np.float64, np.float32]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _pair(ck_cls, th_cls, dtype, buffers=None, **kw):
    """The cnnkit module and a torch module with the same options and buffer shapes (values copied later)."""
    buffers = {k: v.astype(dtype) for k, v in (buffers or {}).items() if v is not None}
    ck_m = ck_cls(**kw, **{k: ck.tensor(v) for k, v in buffers.items()})
    th_m = th_cls(**kw, **{k: torch.zeros(v.shape, dtype=torch.from_numpy(v).dtype) for k, v in buffers.items()})
    return ck_m, th_m


def _class_targets(rng, shape, c, ignore_index):
    t = rng.integers(0, c, size=shape)
    t = np.where(rng.random(shape) < 0.25, ignore_index, t)
    t.reshape(-1)[0] = 0 if ignore_index != 0 else 1
    return t.astype(np.int64)


# ===== CrossEntropyLoss: weight x ignore_index x reduction x label_smoothing x (2-d, 4-d) = 48 ==========

@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_loss(shape, weighted, ignore_index, reduction, label_smoothing):
    rng = _rng("CE", shape, weighted, ignore_index, reduction, label_smoothing)
    c = shape[1]
    x = rng.standard_normal(shape) * 2
    t = _class_targets(rng, (shape[0],) + shape[2:], c, ignore_index)
    w = rng.random(c) + 0.1 if weighted else None
    for dtype in DTYPES:
        ck_m, th_m = _pair(nn.CrossEntropyLoss, tnn.CrossEntropyLoss, dtype, {"weight": w},
                           ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
        check_module(ck_m, th_m, [x.astype(dtype), t], rtol=1e-8)
        assert list(ck_m.state_dict()) == list(th_m.state_dict())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_loss_probability_targets(reduction, weighted):
    rng = _rng("CE-prob", reduction, weighted)
    x = rng.standard_normal((5, 3, 2))
    y = rng.random((5, 3, 2))
    w = rng.random(3) + 0.1 if weighted else None
    ck_m, th_m = _pair(nn.CrossEntropyLoss, tnn.CrossEntropyLoss, np.float64, {"weight": w}, reduction=reduction,
                       label_smoothing=0.1)
    check_module(ck_m, th_m, [x, y], rtol=1e-8)


# ===== NLLLoss: shape x weight x reduction = 12 ========================================================

@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(shape, weighted, reduction):
    rng = _rng("NLL", shape, weighted, reduction)
    x = -rng.random(shape) * 3
    t = _class_targets(rng, (shape[0],) + shape[2:], shape[1], 2)
    w = rng.random(shape[1]) + 0.1 if weighted else None
    for dtype in DTYPES:
        ck_m, th_m = _pair(nn.NLLLoss, tnn.NLLLoss, dtype, {"weight": w}, ignore_index=2, reduction=reduction)
        check_module(ck_m, th_m, [x.astype(dtype), t], rtol=1e-8)


# ===== regression losses: 4 modules x options x reduction ==============================================

REGRESSION = [(nn.MSELoss, tnn.MSELoss, {}), (nn.L1Loss, tnn.L1Loss, {}),
              (nn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.5}), (nn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.0}),
              (nn.HuberLoss, tnn.HuberLoss, {"delta": 1.5})]


@pytest.mark.parametrize("ck_cls, th_cls, kw", REGRESSION, ids=[f"{c[1].__name__}{c[2]}" for c in REGRESSION])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(ck_cls, th_cls, kw, reduction):
    rng = _rng("REG", th_cls.__name__, tuple(kw.items()), reduction)
    x = rng.standard_normal((4, 3, 2)) * 2
    y = rng.standard_normal((4, 3, 2)) * 2
    for dtype in DTYPES:
        ck_m, th_m = _pair(ck_cls, th_cls, dtype, reduction=reduction, **kw)
        check_module(ck_m, th_m, [x.astype(dtype), y.astype(dtype)], rtol=1e-8)


# ===== binary cross-entropy ===========================================================================

@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_loss(weighted, pos_weighted, reduction):
    rng = _rng("BCEL", weighted, pos_weighted, reduction)
    x = rng.standard_normal((5, 4)) * 3
    y = rng.random((5, 4))
    buffers = {"weight": rng.random((5, 1)) if weighted else None,
               "pos_weight": rng.random(4) * 3 if pos_weighted else None}
    for dtype in DTYPES:
        ck_m, th_m = _pair(nn.BCEWithLogitsLoss, tnn.BCEWithLogitsLoss, dtype, buffers, reduction=reduction)
        check_module(ck_m, th_m, [x.astype(dtype), y.astype(dtype)], rtol=1e-8)
        assert list(ck_m.state_dict()) == list(th_m.state_dict())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_loss(weighted, reduction):
    rng = _rng("BCE", weighted, reduction)
    x = rng.random((5, 4)) * 0.9 + 0.05
    y = rng.random((5, 4))
    for dtype in DTYPES:
        ck_m, th_m = _pair(nn.BCELoss, tnn.BCELoss, dtype, {"weight": rng.random(4) if weighted else None},
                           reduction=reduction)
        check_module(ck_m, th_m, [x.astype(dtype), y.astype(dtype)], rtol=1e-8)


# ===== module behaviour ================================================================================

def test_repr_attributes_and_state_dict_like_torch():
    for ck_m, th_m in [(nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()), (nn.NLLLoss(), tnn.NLLLoss()),
                       (nn.MSELoss(), tnn.MSELoss()), (nn.L1Loss(), tnn.L1Loss()),
                       (nn.SmoothL1Loss(beta=0.5), tnn.SmoothL1Loss(beta=0.5)), (nn.HuberLoss(), tnn.HuberLoss()),
                       (nn.BCEWithLogitsLoss(), tnn.BCEWithLogitsLoss()), (nn.BCELoss(), tnn.BCELoss())]:
        assert repr(ck_m) == repr(th_m)
        assert ck_m.reduction == th_m.reduction == "mean"
        assert list(ck_m.state_dict()) == list(th_m.state_dict()) == []
        assert list(ck_m.parameters()) == []
    m = nn.CrossEntropyLoss(weight=ck.ones(3), ignore_index=4, reduction="sum", label_smoothing=0.1)
    assert (m.ignore_index, m.reduction, m.label_smoothing) == (4, "sum", 0.1)
    assert list(m.state_dict()) == ["weight"]
    m = nn.BCEWithLogitsLoss(pos_weight=ck.ones(3))
    assert list(m.state_dict()) == ["pos_weight"] and m.weight is None


def test_weight_buffer_follows_double_and_accepts_arrays():
    rng = _rng("double")
    x = rng.standard_normal((4, 3))
    t = np.array([0, 1, 2, 1])
    m = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5], dtype=np.float32))
    assert m.weight.dtype == np.float32
    m.double()
    assert m.weight.dtype == np.float64
    out = m(ck.tensor(x), ck.tensor(t))
    want = tnn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))(
        torch.from_numpy(x), torch.from_numpy(t))
    np.testing.assert_allclose(out.item(), want.item(), rtol=1e-12)


def test_legacy_arguments_map_like_torch():
    with pytest.warns(UserWarning, match="deprecated"):
        m = nn.MSELoss(size_average=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m.reduction == tnn.MSELoss(size_average=False).reduction == "sum"
        assert nn.NLLLoss(reduce=False).reduction == tnn.NLLLoss(reduce=False).reduction == "none"


def test_training_loop_step_reduces_loss():
    """A tiny softmax regression trained by hand with CrossEntropyLoss: the loss goes down."""
    rng = _rng("train")
    x = ck.tensor(rng.standard_normal((32, 5)))
    t = ck.tensor(rng.integers(0, 3, 32))
    w = ck.tensor(np.zeros((5, 3)), requires_grad=True)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    losses = []
    for _ in range(20):
        w.grad = None
        loss = loss_fn(x @ w, t)
        loss.backward()
        with ck.no_grad():
            w._data -= 0.5 * w.grad._data
        losses.append(loss.item())
    assert losses[0] == pytest.approx(np.log(3))
    assert losses[-1] < losses[0] - 0.1


@pytest.mark.parametrize("make, call, exc, match", [
    (lambda: nn.CrossEntropyLoss(), lambda m: m(ck.zeros(4, 10), ck.tensor([0, 1, 10, 3])), ValueError,
     r"CrossEntropyLoss\(\): cross_entropy: target contains class 10, expected values in \[0, 10\) \(or ignore_index=-100\)"),
    (lambda: nn.CrossEntropyLoss(), lambda m: m(ck.zeros(4, 10), ck.tensor([0, 1, 2])), ValueError,
     r"CrossEntropyLoss\(\): cross_entropy: expected target of shape \(N,\) = \(4,\) for input of shape \(4, 10\), got \(3,\)"),
    (lambda: nn.CrossEntropyLoss(weight=ck.ones(3)), lambda m: m(ck.zeros(4, 10), ck.tensor([0, 1, 2, 3])),
     ValueError,
     r"CrossEntropyLoss\(\): cross_entropy: weight must be a 1-d tensor with one entry per class \(10\), got shape \(3,\)"),
    (lambda: nn.CrossEntropyLoss(), lambda m: m(ck.zeros(4, 10), ck.zeros(4)), TypeError,
     r"CrossEntropyLoss\(\): cross_entropy: class-index target must be an integer tensor"),
    (lambda: nn.NLLLoss(), lambda m: m(ck.zeros(4, 3), ck.tensor([0, 1, 3, 1])), ValueError,
     r"NLLLoss\(\): nll_loss: target contains class 3, expected values in \[0, 3\)"),
    (lambda: nn.MSELoss(), lambda m: m(ck.zeros(4, 3), ck.zeros(4)), ValueError,
     r"MSELoss\(\): mse_loss: input of shape \(4, 3\) and target of shape \(4,\) do not broadcast"),
    (lambda: nn.BCEWithLogitsLoss(), lambda m: m(ck.zeros(4, 3), ck.zeros(4, 1)), ValueError,
     r"BCEWithLogitsLoss\(\): binary_cross_entropy_with_logits: target size \(4, 1\) must be the same as input size \(4, 3\)"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=ck.ones(5)), lambda m: m(ck.zeros(4, 3), ck.zeros(4, 3)), ValueError,
     r"BCEWithLogitsLoss\(\): binary_cross_entropy_with_logits: pos_weight of shape \(5,\) does not broadcast to "
     r"the input's shape \(4, 3\)"),
    (lambda: nn.BCELoss(), lambda m: m(ck.full((2,), 2.0), ck.zeros(2)), ValueError,
     r"BCELoss\(\): binary_cross_entropy: all elements of input should be between 0 and 1, found 2.0"),
])
def test_errors_name_the_module(make, call, exc, match):
    with pytest.raises(exc, match=match):
        call(make())


@pytest.mark.parametrize("make, exc, match", [
    (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     r"CrossEntropyLoss: reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    (lambda: nn.MSELoss(reduction="elementwise_mean"), ValueError, r"MSELoss: reduction must be"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=2.0), ValueError,
     r"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got 2.0"),
    (lambda: nn.CrossEntropyLoss(ignore_index=None), TypeError, r"CrossEntropyLoss: ignore_index must be an int"),
    (lambda: nn.CrossEntropyLoss(weight="heavy"), TypeError,
     r"CrossEntropyLoss: weight must be a Tensor or None, got str"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight={}), TypeError,
     r"BCEWithLogitsLoss: pos_weight must be a Tensor or None, got dict"),
    (lambda: nn.SmoothL1Loss(beta=-0.5), ValueError, r"SmoothL1Loss: beta must be non-negative, got -0.5"),
    (lambda: nn.HuberLoss(delta=0), ValueError, r"HuberLoss: delta must be positive, got 0"),
])
def test_constructor_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
