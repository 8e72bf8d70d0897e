"""Binary cross-entropy, on logits (sigmoid fused in, stable) and on probabilities.

Binary cross-entropy with logits (stable: log σ(x) = min(x, 0) − log(1 + e^{−|x|})), with
pos_weight p and lw = 1 + (p − 1) y:

    l = w [(1 − y) x − lw log σ(x)]          (= w [max(x, 0) − x y + log(1 + e^{−|x|})] for p = 1)
    ∂l/∂x = w [lw σ(x) − p y],   ∂l/∂y = −w [x + (p − 1) log σ(x)]

On probabilities (see :class:`BCE`) each log is clamped at −100, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ...function import Function
from ...tensor import Tensor
from ..dtype import cast
from .reduction import _floating, _output_scale, _promote, _reduce, _tensor, check_reduction, legacy_reduction


class BCEWithLogits(Function):
    """Binary cross-entropy on logits (see the module docstring for the formula and its derivatives)."""

    def __init__(self, weight, pos_weight, reduction):
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def forward(self, x, y):
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e^{−|x|} ∈ (0, 1]
        log1p_e = np.log1p(e)
        softplus_neg = log1p_e - np.minimum(x, 0)  # −log σ(x) = log(1 + e^{−|x|}) + max(−x, 0), stable
        loss = 1 - y
        loss *= x
        if self.pos_weight is None:
            loss += softplus_neg
        else:
            lw = (self.pos_weight - 1) * y + 1
            loss += lw * softplus_neg
        if self.weight is not None:
            loss *= self.weight
        need_x, need_y = self.needs_input_grad
        self.size = x.size
        if need_x:  # σ(x) = 1 / (1 + e^{−x}); e^{−x} = inf for x ≪ 0 gives exactly 0, never nan
            sig = np.negative(x)
            with np.errstate(over="ignore"):
                np.exp(sig, out=sig)
            sig += 1
            np.reciprocal(sig, out=sig)
            self.sig, self.y = sig, y
        if need_y:
            self.x = x
            if self.pos_weight is not None:
                self.softplus_neg, self.softplus = softplus_neg, log1p_e + np.maximum(x, 0)
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction)

    def _scale(self, g, gy):
        """g · dL/dl · w (/ n for 'mean'), in PyTorch's order of rounding."""
        g *= gy
        if self.weight is not None:
            g *= self.weight
        if self.reduction == "mean":
            g /= np.asarray(self.size, g.dtype)
        return g

    def backward(self, gy):
        need_x, need_y = self.needs_input_grad
        gx = gt = None
        if need_x:  # σ(x) − y, or (p y + 1 − y) σ(x) − p y with pos_weight p
            if self.pos_weight is None:
                gx = self.sig - self.y
            else:
                py = self.pos_weight * self.y
                gx = (py + 1 - self.y) * self.sig - py
            gx = self._scale(gx, gy)
        if need_y:  # −x, or log σ(−x) − p log σ(x)
            if self.pos_weight is None:
                gt = -self.x
            else:
                gt = self.pos_weight * self.softplus_neg - self.softplus
            gt = self._scale(gt, gy)
        return gx, gt


class BCE(Function):
    """Binary cross-entropy on probabilities x ∈ [0, 1], logs clamped at −100 as in PyTorch:

    l = −w [y max(log x, −100) + (1 − y) max(log(1 − x), −100)]
    ∂l/∂x = w (x − y) / max(x (1 − x), 1e-12),   ∂l/∂y = w (log(1 − x) − log x) = −w logit(x)
    """

    def __init__(self, weight, reduction):
        self.weight, self.reduction = weight, reduction

    def forward(self, x, y):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = (y - 1) * log_1mx - y * log_x
        if self.weight is not None:
            loss = loss * self.weight
        self.x, self.y = x, y
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction)

    def backward(self, gy):
        need_x, need_y = self.needs_input_grad
        x = self.x
        r = _output_scale(gy, self.reduction, x.size)
        if self.weight is not None:
            r = r * self.weight
        gx = gt = None
        if need_x:
            gx = ((x - self.y) / np.maximum(x * (1 - x), 1e-12) * r).astype(gy.dtype, copy=False)
        if need_y:
            with np.errstate(divide="ignore"):
                gt = ((np.log1p(-x) - np.log(x)) * r).astype(gy.dtype, copy=False)
        return gx, gt


def _broadcast_weight(w, shape: tuple, dtype, name: str, what: str):
    """A constant (non-differentiable) weight array that broadcasts to ``shape``, in ``dtype``."""
    if w is None:
        return None
    w = _tensor(w, name, what)
    _floating(w, name, what)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: {what} of shape {w.shape} does not broadcast to the input's shape {shape}")
    return w._data.astype(dtype, copy=False)


def _check_unit_interval(x: Tensor, name: str, what: str) -> None:
    a = x._data
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        raise ValueError(f"{name}: all elements of {what} should be between 0 and 1, found {float(a[bad].flat[0])}")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable op: max(x,0) − x·y + log(1 + e^{−|x|}).

    ``weight`` rescales each element's loss (broadcast to the input); ``pos_weight`` weighs the positive
    term (broadcast along the last dims, e.g. one entry per class). Neither receives a gradient.
    The result has the target's dtype, as in PyTorch.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    _floating(input, name, "input")
    _floating(target, name, "target")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size {input.shape}")
    x, y, dt = _promote(name, input, target)
    w = _broadcast_weight(weight, x.shape, dt, name, "weight")
    pw = _broadcast_weight(pos_weight, x.shape, dt, name, "pos_weight")
    return cast(BCEWithLogits(w, pw, reduction)(x, y), target.dtype)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """−w [y log x + (1 − y) log(1 − x)] on probabilities x ∈ [0, 1] (each log clamped at −100).

    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is stable where σ saturates.
    """
    name = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size {input.shape}")
    x, y, dt = _promote(name, input, target)
    _check_unit_interval(x, name, "input")
    _check_unit_interval(y, name, "target")
    w = _broadcast_weight(weight, x.shape, dt, name, "weight")
    return BCE(w, reduction)(x, y)
