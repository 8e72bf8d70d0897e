"""The activations of mobile and efficient networks (MobileNet v2/v3, EfficientNet), PyTorch's definitions:

    relu6(x)       = min(max(x, 0), 6)                 d = 1 on (0, 6), else 0
    hardsigmoid(x) = relu6(x + 3) / 6                  d = 1/6 on (−3, 3), else 0
    hardswish(x)   = x · relu6(x + 3) / 6              d = 0 for x < −3, 1 for x > 3, (2x + 3)/6 between
                                                         (PyTorch's gradient is 0 at exactly −3 and 1 at exactly 3)
    silu(x)        = x · σ(x)                          d = σ(x) (1 + x (1 − σ(x)))
    softplus(x)    = (1/β) log(1 + e^{βx}),  x if βx > threshold      d = σ(βx) (1 where βx > threshold)
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import float_operand
from .activation import _logistic

__all__ = ["hardsigmoid", "hardswish", "relu6", "silu", "softplus"]


class ReLU6(Function):
    def forward(self, x):
        self.x = x
        return np.clip(x, 0, 6)

    def backward(self, gy):
        return gy * ((self.x > 0) & (self.x < 6))


class Hardsigmoid(Function):
    def forward(self, x):
        self.x = x
        return np.clip(x + 3, 0, 6) / x.dtype.type(6)

    def backward(self, gy):
        # PyTorch multiplies by 1/6 rounded to float32, also for float64 tensors: so does cnnkit
        return gy * ((self.x > -3) & (self.x < 3)) * gy.dtype.type(np.float32(1 / 6))


class Hardswish(Function):
    def forward(self, x):
        self.x = x
        return x * np.clip(x + 3, 0, 6) / x.dtype.type(6)

    def backward(self, gy):
        x = self.x
        mid = x / x.dtype.type(3) + x.dtype.type(0.5)  # PyTorch's form of (2x + 3)/6
        return gy * np.where(x <= -3, 0, np.where(x < 3, mid, 1)).astype(gy.dtype)


class SiLU(Function):
    def forward(self, x):
        self.x = x
        self.s = _logistic(x)
        return x * self.s

    def backward(self, gy):
        s = self.s
        return gy * (s * (1 + self.x * (1 - s)))


class Softplus(Function):
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        bx = x * x.dtype.type(self.beta)
        self.bx = bx
        soft = np.logaddexp(0, bx) / x.dtype.type(self.beta)
        return np.where(bx > self.threshold, x, soft).astype(x.dtype)

    def backward(self, gy):
        return gy * np.where(self.bx > self.threshold, 1, _logistic(self.bx)).astype(gy.dtype)


def relu6(input, inplace: bool = False) -> Tensor:
    return ReLU6()(float_operand(input, "relu6"))


def hardsigmoid(input, inplace: bool = False) -> Tensor:
    return Hardsigmoid()(float_operand(input, "hardsigmoid"))


def hardswish(input, inplace: bool = False) -> Tensor:
    return Hardswish()(float_operand(input, "hardswish"))


def silu(input, inplace: bool = False) -> Tensor:
    return SiLU()(float_operand(input, "silu"))


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta!r}")
    return Softplus(float(beta), float(threshold))(float_operand(input, "softplus"))
