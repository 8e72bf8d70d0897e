"""More element-wise functions, with their derivatives:

    square: 2x         reciprocal: −1/x²        rsqrt: −½ x^(−3/2)       log1p: 1/(1 + x)      expm1: eˣ
    floor, ceil, round, trunc: 0 (piecewise constant, PyTorch's convention)
and the reductions ``prod`` (dx_i = dy · Π_{j≠i} x_j, from the products before and after i, so zeros are
exact), ``cumsum`` (dx = reverse cumulative sum of dy), ``logsumexp`` (dx = dy · softmax(x)) and
``norm`` (the p-norm over all or some dims, composed from the ops above so its gradient is theirs) and ``dist``
(the norm of a difference).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, normalize_dim, normalize_dims
from .dtype import cast
from .elementwise import abs as abs_
from .elementwise import exp, log, sqrt, sub
from .elementwise import pow as pow_
from .reduce import amax, sum

__all__ = ["ceil", "cumsum", "dist", "expm1", "floor", "log1p", "logsumexp", "norm", "prod", "reciprocal", "round",
           "rsqrt", "square", "trunc"]


class _Unary(Function):
    def forward(self, x):
        self.x = x
        self.y = self.f(x)
        return self.y


class Square(_Unary):
    f = staticmethod(np.square)

    def backward(self, gy):
        return gy * (2 * self.x)


class Reciprocal(_Unary):
    f = staticmethod(np.reciprocal)

    def backward(self, gy):
        return -gy * self.y * self.y


class Rsqrt(_Unary):
    @staticmethod
    def f(x):
        return 1 / np.sqrt(x)

    def backward(self, gy):
        return gy * (-0.5 * self.y * self.y * self.y)


class Log1p(_Unary):
    f = staticmethod(np.log1p)

    def backward(self, gy):
        return gy / (1 + self.x)


class Expm1(_Unary):
    f = staticmethod(np.expm1)

    def backward(self, gy):
        return gy * (self.y + 1)


class Prod(Function):
    """y = Π x along ``axis`` (None: all elements)."""

    def __init__(self, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim

    def forward(self, x):
        self.x = x
        return np.asarray(np.prod(x, axis=self.axis, keepdims=self.keepdim))

    def backward(self, gy):
        x = self.x.reshape(-1) if self.axis is None else np.moveaxis(self.x, self.axis, -1)
        ones = np.ones(x.shape[:-1] + (1,), x.dtype)
        before = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(x, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = before * after  # Π_{j≠i} x_j
        if self.axis is None:
            return (gy.reshape(()) * others).reshape(self.x.shape)
        g = gy if self.keepdim else np.expand_dims(gy, self.axis)
        return np.moveaxis(others, -1, self.axis) * g


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return np.cumsum(x, axis=self.axis)

    def backward(self, gy):
        return np.flip(np.cumsum(np.flip(gy, self.axis), axis=self.axis), self.axis)


def _float(x, name) -> Tensor:
    x = as_operand(x, name)
    return x if backend.is_floating(x.dtype) else cast(x, backend.get_default_dtype())


def square(input) -> Tensor:
    x = as_operand(input, "square")
    return Square()(x)


def reciprocal(input) -> Tensor:
    return Reciprocal()(_float(input, "reciprocal"))


def rsqrt(input) -> Tensor:
    return Rsqrt()(_float(input, "rsqrt"))


def log1p(input) -> Tensor:
    return Log1p()(_float(input, "log1p"))


def expm1(input) -> Tensor:
    return Expm1()(_float(input, "expm1"))


def _constant(np_fn, x, name, **kwargs) -> Tensor:
    x = as_operand(x, name)
    return Tensor._wrap(np.asarray(np_fn(x._data, **kwargs)))


def floor(input) -> Tensor:
    return _constant(np.floor, input, "floor")


def ceil(input) -> Tensor:
    return _constant(np.ceil, input, "ceil")


def trunc(input) -> Tensor:
    return _constant(np.trunc, input, "trunc")


def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy do)."""
    return _constant(np.round, input, "round", decimals=decimals)


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``; integer tensors give int64 (no gradient), as in PyTorch."""
    x = as_operand(input, "prod")
    if dtype is not None:
        x = cast(x, dtype)
    if not backend.is_floating(x.dtype):
        axis = None if dim is None else normalize_dim(dim, x.ndim, "prod")
        return Tensor._wrap(np.asarray(np.prod(x._data, axis=axis, keepdims=keepdim and axis is not None,
                                               dtype=np.int64)))
    if dim is None:
        return Prod(None, False)(x)
    if x.ndim == 0:
        return x
    return Prod(normalize_dim(dim, x.ndim, "prod"), keepdim)(x)


def cumsum(input, dim: int, *, dtype=None) -> Tensor:
    x = as_operand(input, "cumsum")
    if dtype is not None:
        x = cast(x, dtype)
    elif not backend.is_floating(x.dtype):
        x = cast(x, backend.int64)
    if x.ndim == 0:
        return x
    return Cumsum(normalize_dim(dim, x.ndim, "cumsum"))(x)


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """log Σ exp(x) over ``dim``, computed as m + log Σ exp(x − m) with m the max (stable)."""
    x = _float(input, "logsumexp")
    axes = normalize_dims(dim, x.ndim, "logsumexp")
    m = amax(x, axes, keepdim=True).detach()
    m = Tensor._wrap(np.where(np.isfinite(m._data), m._data, 0).astype(x.dtype))
    out = log(sum(exp(x - m), axes, keepdim=True)) + m
    return out if keepdim else sum(out, axes)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The p-norm (default 2, 'fro' = 2 over the flattened dims; p = inf: max |x|) over ``dim`` (None: all)."""
    x = _float(input, "norm") if dtype is None else cast(as_operand(input, "norm"), dtype)
    if p == "fro" or p is None:
        p = 2
    if not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, 'fro' or inf, got {p!r}")
    axes = normalize_dims(dim, x.ndim, "norm")
    if p == float("inf"):
        return amax(abs_(x), axes, keepdim)
    if p == 2:
        return sqrt(sum(Square()(x), axes, keepdim))
    return pow_(sum(pow_(abs_(x), p), axes, keepdim), 1.0 / p)


def dist(input, other, p=2) -> Tensor:
    """‖input − other‖_p over every element (the two broadcast against each other), PyTorch's ``torch.dist``."""
    a, b = as_operand(input, "dist"), as_operand(other, "dist")
    return norm(sub(a, b), p)
