"""Dropout layers: ``Dropout`` (units) and ``Dropout2d`` (whole feature maps), inverted form.

In ``train()`` mode each unit (or channel) is zeroed with probability p and the survivors are scaled by
1/(1 − p); in ``eval()`` mode the layer is the identity. See ``cnnkit/ops/dropout.py``.
"""
from __future__ import annotations

from ..ops import validate
from ..ops.dropout import dropout, dropout2d
from .module import Module


class _DropoutNd(Module):
    _op = staticmethod(dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        validate.probability(p, "p", type(self).__name__)
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return self._op(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p during training, scaling the kept ones by 1/(1 − p)."""


class Dropout2d(_DropoutNd):
    """Zero whole channels x[n, c] of an (N, C, H, W) input with probability p during training
    (scaling the kept ones by 1/(1 − p)); a 3-d input is read as (N, C, L), as in PyTorch."""

    _op = staticmethod(dropout2d)


__all__ = ["Dropout", "Dropout2d"]
