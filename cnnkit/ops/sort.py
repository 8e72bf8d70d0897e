"""Sorting: ``topk``, ``sort``, ``argsort``.

topk/sort return (values, indices); values = x gathered at the indices along ``dim``, so the gradient is
dy scattered back to those indices: dx[..., indices[j], ...] = dy[..., j, ...]. Ties keep the order NumPy's
stable sort gives (lowest index first), which is what PyTorch's CPU kernel gives on ties as well.
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, normalize_dim
from .reduce import values_indices

__all__ = ["argsort", "sort", "topk"]


class Gather(Function):
    """y = take_along_axis(x, idx, axis);  dx = dy put back at idx (indices are distinct along the axis)."""

    def __init__(self, idx, axis):
        self.idx, self.axis = idx, axis

    def forward(self, x):
        self.in_shape = x.shape
        return np.take_along_axis(x, self.idx, axis=self.axis)

    def backward(self, gy):
        gx = np.zeros(self.in_shape, gy.dtype)
        np.put_along_axis(gx, self.idx, gy, axis=self.axis)
        return gx


def _order(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    if descending:  # stable descending: sort the negated keys (NaN first, as PyTorch puts NaN largest)
        keys = -data if data.dtype.kind in "fi" else ~data if data.dtype == np.bool_ else -data.astype(np.int64)
        if data.dtype.kind == "f":
            keys = np.where(np.isnan(data), -np.inf, keys)
        return np.argsort(keys, axis=axis, kind="stable")
    return np.argsort(data, axis=axis, kind="stable")


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> values_indices:
    """(values, indices) of ``input`` sorted along ``dim``."""
    x = as_operand(input, "sort")
    if x.ndim == 0:
        return values_indices(Gather(np.zeros((), np.int64), 0)(x.reshape(1)).reshape(()), Tensor._wrap(
            np.zeros((), np.int64)))
    axis = normalize_dim(dim, x.ndim, "sort")
    idx = _order(x._data, axis, descending)
    return values_indices(Gather(idx, axis)(x), Tensor._wrap(idx.astype(np.int64)))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> values_indices:
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` as (values, indices), in order."""
    x = as_operand(input, "topk")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    axis = normalize_dim(dim, x.ndim, "topk") if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) is out of range for dimension {dim} of size {n}")
    data = x._data.reshape(1) if x.ndim == 0 else x._data
    idx = np.take(_order(data, axis, largest), np.arange(int(k)), axis=axis)
    src = x if x.ndim else x.reshape(1)
    values, indices = Gather(idx, axis)(src), Tensor._wrap(idx.astype(np.int64))
    if x.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return values_indices(values, indices)
