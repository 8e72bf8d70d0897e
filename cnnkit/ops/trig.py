"""Trigonometric and hyperbolic functions (``tanh`` is an activation, in ``activation.py``).

    sin:  dx = dy · cos x          cos:  dx = −dy · sin x          tan:  dx = dy · (1 + tan² x)
    sinh: dx = dy · cosh x         cosh: dx = dy · sinh x
    asin: dx = dy / √(1 − x²)      acos: dx = −dy / √(1 − x²)      atan: dx = dy / (1 + x²)
Integer inputs are promoted to the default float dtype, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand
from .dtype import cast

__all__ = ["acos", "asin", "atan", "cos", "cosh", "sin", "sinh", "tan"]


class Sin(Function):
    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, gy):
        return gy * np.cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, gy):
        return -gy * np.sin(self.x)


class Tan(Function):
    def forward(self, x):
        self.y = np.tan(x)
        return self.y

    def backward(self, gy):
        return gy * (1 + self.y * self.y)


class Sinh(Function):
    def forward(self, x):
        self.x = x
        return np.sinh(x)

    def backward(self, gy):
        return gy * np.cosh(self.x)


class Cosh(Function):
    def forward(self, x):
        self.x = x
        return np.cosh(x)

    def backward(self, gy):
        return gy * np.sinh(self.x)


class Asin(Function):
    def forward(self, x):
        self.x = x
        return np.arcsin(x)

    def backward(self, gy):
        return gy / np.sqrt(1 - self.x * self.x)


class Acos(Function):
    def forward(self, x):
        self.x = x
        return np.arccos(x)

    def backward(self, gy):
        return -gy / np.sqrt(1 - self.x * self.x)


class Atan(Function):
    def forward(self, x):
        self.x = x
        return np.arctan(x)

    def backward(self, gy):
        return gy / (1 + self.x * self.x)


def _apply(fn_cls, x, name) -> Tensor:
    x = as_operand(x, name)
    if not backend.is_floating(x.dtype):
        x = cast(x, backend.get_default_dtype())
    return fn_cls()(x)


def sin(input) -> Tensor:
    return _apply(Sin, input, "sin")


def cos(input) -> Tensor:
    return _apply(Cos, input, "cos")


def tan(input) -> Tensor:
    return _apply(Tan, input, "tan")


def sinh(input) -> Tensor:
    return _apply(Sinh, input, "sinh")


def cosh(input) -> Tensor:
    return _apply(Cosh, input, "cosh")


def asin(input) -> Tensor:
    return _apply(Asin, input, "asin")


def acos(input) -> Tensor:
    return _apply(Acos, input, "acos")


def atan(input) -> Tensor:
    return _apply(Atan, input, "atan")
