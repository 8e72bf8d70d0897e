"""Activation layers of mobile networks: ``ReLU6``, ``Hardsigmoid``, ``Hardswish``, ``SiLU``, ``Softplus``
(formulas in ``cnnkit/ops/mobile_activation.py``). ``inplace`` is accepted; results are computed out of place."""
from __future__ import annotations

from ..ops import mobile_activation as F
from .module import Module

__all__ = ["Hardsigmoid", "Hardswish", "ReLU6", "SiLU", "Softplus"]


class _Elementwise(Module):
    fn = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(_Elementwise):
    fn = staticmethod(F.relu6)


class Hardsigmoid(_Elementwise):
    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Elementwise):
    fn = staticmethod(F.hardswish)


class SiLU(_Elementwise):
    fn = staticmethod(F.silu)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if beta <= 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta!r}")
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
