"""Reductions over dimensions: sum, mean, var, max/min (with indices), amax/amin, argmax/argmin.

Backward of a reduction broadcasts the gradient back over the reduced
dimensions: sum copies it, mean divides it by the count, var multiplies by
2(x - mean)/(N - correction); max/min route it to the chosen element.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from . import elementwise
from ._util import as_operand, normalize_dim, normalize_dims
from .dtype import cast
from .elementwise import sqrt

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(gy: np.ndarray, in_shape: tuple, axes: tuple, keepdim: bool) -> np.ndarray:
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim:
        gy = np.expand_dims(gy, axes) if axes else gy
    return np.broadcast_to(gy, in_shape)


class Sum(Function):
    """y = Σ_axes x;  dx = dy broadcast back."""

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy):
        return _expand_back(gy, self.in_shape, self.axes, self.keepdim)


class Mean(Function):
    """y = (1/N) Σ_axes x;  dx = dy / N broadcast back."""

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        self.count = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        return np.asarray(x.mean(axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy):
        return _expand_back(gy / gy.dtype.type(self.count), self.in_shape, self.axes, self.keepdim)


class Var(Function):
    """y = Σ (x - x̄)² / (N - correction);  dx = dy · 2(x - x̄) / (N - correction)."""

    def __init__(self, axes, correction, keepdim):
        self.axes, self.correction, self.keepdim = axes, correction, keepdim

    def forward(self, x):
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        n = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        self.denom = builtins.max(n - self.correction, 0)  # this module's max() is the tensor op
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = np.square(self.centered).sum(axis=self.axes, keepdims=self.keepdim)
            return np.asarray(ss / x.dtype.type(self.denom))

    def backward(self, gy):
        g = gy if self.keepdim else (np.expand_dims(gy, self.axes) if self.axes else gy)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (self.centered * gy.dtype.type(2.0 / self.denom if self.denom else np.inf))


class Amax(Function):
    """y = max over axes; dx = dy shared evenly among the elements equal to the max (PyTorch's amax rule)."""

    def __init__(self, axes, keepdim, minimum=False):
        self.axes, self.keepdim, self.minimum = axes, keepdim, minimum

    def forward(self, x):
        fn = np.min if self.minimum else np.max
        y = fn(x, axis=self.axes, keepdims=True)
        self.x, self.y_kept = x, y
        return np.asarray(y if self.keepdim else y.reshape([s for i, s in enumerate(y.shape) if i not in self.axes]))

    def backward(self, gy):
        mask = self.x == self.y_kept
        count = mask.sum(axis=self.axes, keepdims=True)
        g = gy if self.keepdim else (np.expand_dims(gy, self.axes) if self.axes else gy)
        return mask * (g / count.astype(gy.dtype))


class MaxDim(Function):
    """(values, indices) = max over one dim; dx = dy scattered to the index of each max."""

    def __init__(self, axis, keepdim, minimum=False):
        self.axis, self.keepdim, self.minimum = axis, keepdim, minimum

    def forward(self, x):
        if x.ndim == 0:  # a 0-d tensor is its own max, at index 0
            self.in_shape, self.idx = (), None
            return x.copy(), np.zeros((), np.int64)
        idx = (np.argmin if self.minimum else np.argmax)(x, axis=self.axis, keepdims=True)
        values = np.take_along_axis(x, idx, axis=self.axis)
        self.in_shape, self.idx = x.shape, idx
        if not self.keepdim:
            values, idx = np.squeeze(values, self.axis), np.squeeze(idx, self.axis)
        return values, idx.astype(np.int64)

    def backward(self, gy, _gidx):
        if self.idx is None:
            return gy
        g = gy if self.keepdim else np.expand_dims(gy, self.axis)
        gx = np.zeros(self.in_shape, gy.dtype)
        np.put_along_axis(gx, self.idx, g, axis=self.axis)
        return gx


# ----- public functions -------------------------------------------------------------------------

def _dim(dim, axis, name):
    """``dim``, or NumPy's spelling ``axis`` that PyTorch accepts as an alias."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{name}: give dim or axis, not both")
    return axis


def _reducible(x, name):
    x = as_operand(x, name)
    if x.dtype == np.bool_:
        x = cast(x, backend.int64)
    return x


def sum(x, dim=None, keepdim: bool = False, *, axis=None, dtype=None) -> Tensor:
    """Sum over ``dim`` (int, tuple, or None for all)."""
    dim = _dim(dim, axis, "sum")
    x = _reducible(x, "sum") if dtype is None else cast(as_operand(x, "sum"), dtype)
    return Sum(normalize_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim: bool = False, *, axis=None, dtype=None) -> Tensor:
    """Mean over ``dim`` (int, tuple, or None for all)."""
    dim = _dim(dim, axis, "mean")
    x = as_operand(x, "mean") if dtype is None else cast(as_operand(x, "mean"), dtype)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"mean: expected a floating point tensor, got dtype {x.dtype}; convert it with .float()")
    return Mean(normalize_dims(dim, x.ndim, "mean"), keepdim)(x)


def var(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over ``dim``, divided by N - correction (correction=1, the unbiased estimate, by default)."""
    x = as_operand(x, "var")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"var: expected a floating point tensor, got dtype {x.dtype}")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise ValueError("var: give either unbiased or correction, not both")
    return Var(normalize_dims(dim, x.ndim, "var"), correction, keepdim)(x)


def std(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation: the square root of :func:`var`."""
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


def _max_or_min(x, dim, keepdim, other, minimum: bool):
    name = "min" if minimum else "max"
    if isinstance(dim, Tensor) and other is None:
        dim, other = None, dim
    if other is not None:
        return (elementwise.minimum if minimum else elementwise.maximum)(x, other)
    x = as_operand(x, name)
    if x._data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor")
    if dim is None:
        return Amax(normalize_dims(None, x.ndim, name), False, minimum)(x)
    return values_indices(*MaxDim(normalize_dim(dim, x.ndim, name), keepdim, minimum)(x))


def max(x, dim=None, keepdim: bool = False, *, other=None):
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices) along ``dim``; ``max(x, y)``: maximum."""
    return _max_or_min(x, dim, keepdim, other, minimum=False)


def min(x, dim=None, keepdim: bool = False, *, other=None):
    """``min(x)``: the smallest element; ``min(x, dim)``: (values, indices) along ``dim``; ``min(x, y)``: minimum."""
    return _max_or_min(x, dim, keepdim, other, minimum=True)


def amax(x, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
    """Max over ``dim`` (int, tuple or None); the gradient is shared evenly among ties."""
    dim = _dim(dim, axis, "amax")
    x = as_operand(x, "amax")
    return Amax(normalize_dims(dim, x.ndim, "amax"), keepdim)(x)


def amin(x, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
    dim = _dim(dim, axis, "amin")
    x = as_operand(x, "amin")
    return Amax(normalize_dims(dim, x.ndim, "amin"), keepdim, minimum=True)(x)


def _arg(fn, x, dim, keepdim, name):
    x = as_operand(x, name)
    if x._data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor")
    if dim is None:
        out = fn(x._data.reshape(-1))
        return Tensor._wrap(np.asarray(out, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    axis = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(np.asarray(fn(x._data, axis=axis, keepdims=keepdim), dtype=np.int64))


def argmax(x, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
    """Index of the largest element (over the flattened tensor when ``dim`` is None)."""
    dim = _dim(dim, axis, "argmax")
    return _arg(np.argmax, x, dim, keepdim, "argmax")


def argmin(x, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
    dim = _dim(dim, axis, "argmin")
    return _arg(np.argmin, x, dim, keepdim, "argmin")
