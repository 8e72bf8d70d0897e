"""Regression losses of d = x − y: mean squared error, L1, smooth L1 (Fast R-CNN) and Huber.

One op, :class:`Regression`, computes them all; its docstring tables f(d) and f'(d) for each. Input and target
broadcast as in PyTorch (with its warning when their shapes differ); an optional per-element weight scales f.
"""
from __future__ import annotations

import numpy as np

from ..._warn import warn
from ...function import Function
from ...tensor import Tensor
from .. import validate
from .._util import sum_to
from .reduction import _output_scale, _promote, _reduce, _tensor, check_reduction, legacy_reduction


class Regression(Function):
    """Element-wise regression loss f(d) of d = x − y, optionally weighted, then reduced.

    kind     f(d)                                              f'(d)
    'mse'    d²                                                2d
    'l1'     |d|                                               sign d  (0 at d = 0)
    'smooth' ½d²/β if |d| < β else |d| − ½β                    d/β if |d| < β else sign d
    'huber'  ½d² if |d| < δ else δ(|d| − ½δ)                   d if |d| < δ else δ sign d

    With a weight w: per-element loss f·w; 'mean' is Σ f w / Σ w (``mean_by_weight``, PyTorch's
    mse_loss/l1_loss) or the plain mean of f w (huber_loss). ∂x = f'(d) w r, ∂y = −∂x, and
    ∂w = f r, or (f − L)·gy / Σ w for the weight-normalised mean L.
    """

    def __init__(self, kind: str, reduction: str, param: float = 1.0, mean_by_weight: bool = True):
        self.kind, self.reduction, self.param, self.mean_by_weight = kind, reduction, param, mean_by_weight

    def _loss(self, d: np.ndarray) -> np.ndarray:
        k, b = self.kind, self.param
        if k == "mse":
            return d * d
        a = np.abs(d)
        if k == "l1":
            return a
        if k == "smooth":
            return np.where(a < b, 0.5 * d * d / b, a - 0.5 * b)
        return np.where(a < b, 0.5 * d * d, b * (a - 0.5 * b))

    def _slope(self, d: np.ndarray) -> np.ndarray:
        k, b = self.kind, self.param
        if k == "mse":
            return 2 * d
        if k == "l1":
            return np.sign(d)
        inner = d / b if k == "smooth" else d
        outer = np.sign(d) if k == "smooth" else b * np.sign(d)
        return np.where(np.abs(d) < b, inner, outer)

    def forward(self, x, y, w=None):
        self.shapes = (x.shape, y.shape, None if w is None else w.shape)
        self.d, self.w = x - y, w
        f = self._loss(self.d).astype(x.dtype, copy=False)
        self.f = f
        if w is None:
            self.denominator = f.size
            return _reduce(f, self.reduction)
        fw = f * w
        self.denominator = w.sum(dtype=w.dtype) if self.mean_by_weight else fw.size
        self.value = _reduce(fw, self.reduction, self.denominator)
        return self.value

    def backward(self, gy):
        if self.reduction == "mean" and self.w is None:
            r = gy / max(self.denominator, 1)
        else:
            r = _output_scale(gy, self.reduction, self.denominator)
        need = self.needs_input_grad
        gx = gt = gw = None
        if need[0] or need[1]:
            g = self._slope(self.d) * r
            if self.w is not None:
                g = g * self.w
            g = g.astype(gy.dtype, copy=False)
            gx = sum_to(g, self.shapes[0]) if need[0] else None
            gt = sum_to(-g, self.shapes[1]) if need[1] else None
        if self.w is None:
            return gx, gt
        if need[2]:
            gw = sum_to(np.broadcast_to(self.f * r, self.f.shape), self.shapes[2])
            if self.reduction == "mean" and self.mean_by_weight:
                gw = gw - self.value * r  # ∂(Σ f w / Σ w)/∂w_j = (Σ_{k→j} f_k − L) / Σ w
            gw = gw.astype(gy.dtype, copy=False)
        return gx, gt, gw


def _regression(kind, input, target, reduction, param, weight, mean_by_weight, name) -> Tensor:
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} do not "
                             f"broadcast") from None
        warn(f"{name}: using a target size {target.shape} that is different to the input size "
             f"{input.shape}; this will likely lead to incorrect results due to broadcasting")
    if weight is None:
        x, y, _ = _promote(name, input, target)
        return Regression(kind, reduction, param, mean_by_weight)(x, y)
    weight = _tensor(weight, name, "weight")
    if weight.shape != input.shape:
        raise ValueError(f"{name}: weight must have the input's shape {input.shape}, got {weight.shape}")
    x, y, w, _ = _promote(name, input, target, weight)
    return Regression(kind, reduction, param, mean_by_weight)(x, y, w)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error (x − y)², broadcasting input and target as PyTorch does (with its warning).

    ``weight`` (the input's shape) scales each element; 'mean' is then Σ w (x − y)² / Σ w.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    return _regression("mse", input, target, reduction, 1.0, weight, True, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error |x − y| (gradient sign(x − y), 0 at x = y); weighted as :func:`mse_loss`."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    return _regression("l1", input, target, reduction, 1.0, weight, True, "l1_loss")


def check_positive(value, what: str, name: str, allow_zero: bool) -> float:
    if not validate.is_real(value):
        raise TypeError(f"{name}: {what} must be a float, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ValueError(f"{name}: {what} must be {'non-negative' if allow_zero else 'positive'}, got {value}")
    return float(value)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """½(x − y)²/β where |x − y| < β, else |x − y| − ½β (Fast R-CNN's loss); β = 0 is the L1 loss."""
    name = "smooth_l1_loss"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    beta = check_positive(beta, "beta", name, allow_zero=True)
    return _regression("smooth" if beta > 0 else "l1", input, target, reduction, beta, None, True, name)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); with ``weight``, 'mean' is the mean of w·l."""
    name = "huber_loss"
    delta = check_positive(delta, "delta", name, allow_zero=False)
    return _regression("huber", input, target, reduction, delta, weight, False, name)
