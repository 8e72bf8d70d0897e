"""Loss layers (PyTorch's ``nn.*Loss``): each stores its options and calls the fused op in ``ops/loss.py``.

Class weights (``weight``, ``pos_weight``) are buffers, as in PyTorch: they appear in ``state_dict()``
when given and follow ``.double()`` / ``.float()``.
"""
from __future__ import annotations

import numpy as np

from ..creation import as_tensor
from ..ops import loss as L
from ..tensor import Tensor
from .module import Module


def _buffer(value, fn: str, what: str):
    """A class-weight buffer: None, a Tensor, or an array or list of numbers (made a Tensor)."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, list, tuple)):
        return as_tensor(value)
    raise TypeError(f"{fn}: {what} must be a Tensor or None, got {type(value).__name__}")


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        fn = type(self).__name__
        self.reduction = L.legacy_reduction(size_average, reduce, reduction, fn)
        L.check_reduction(self.reduction, fn)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, type(self).__name__, "weight"))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (N, C, d1, ...) with class-index or class-probability targets.

    See :func:`cnnkit.ops.loss.cross_entropy` for the formula, ``weight``, ``ignore_index`` and
    ``label_smoothing``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = L.check_ignore_index(ignore_index, "CrossEntropyLoss")
        L.check_label_smoothing(label_smoothing, "CrossEntropyLoss")
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return L.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities (N, C, d1, ...)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = L.check_ignore_index(ignore_index, "NLLLoss")

    def forward(self, input, target):
        return L.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x − y)²."""

    def forward(self, input, target):
        return L.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x − y|."""

    def forward(self, input, target):
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """½(x − y)²/β where |x − y| < β, else |x − y| − ½β."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = L.check_positive(beta, "beta", "SmoothL1Loss", allow_zero=True)

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = L.check_positive(delta, "delta", "HuberLoss", allow_zero=False)

    def forward(self, input, target):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable: max(x, 0) − x·y + log(1 + e^{−|x|}), with weight/pos_weight."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, "BCEWithLogitsLoss", "weight"))
        self.register_buffer("pos_weight", _buffer(pos_weight, "BCEWithLogitsLoss", "pos_weight"))

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1] (logs clamped at −100)."""

    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss",
           "BCELoss"]
