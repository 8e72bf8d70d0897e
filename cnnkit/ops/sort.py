"""Sorting: ``topk``, ``sort``, ``argsort``, and ``unique`` (the sorted distinct values; no gradient, as in PyTorch).

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

__all__ = ["argsort", "sort", "topk", "unique"]


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


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values of ``input`` (or distinct slices along ``dim``) in ascending order (also with
    ``sorted=False``); with ``return_inverse`` the index of each element's value in them (input's shape, or one per
    slice), with ``return_counts`` how often each occurs. Returns a Tensor, or a tuple when either is asked for."""
    x = as_operand(input, "unique")
    axis = None if dim is None else normalize_dim(dim, max(x.ndim, 1), "unique")
    values, inverse, counts = np.unique(x._data, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(x.shape if axis is None else (-1,)).astype(np.int64)
    out = (Tensor._wrap(values),)
    if return_inverse:
        out += (Tensor._wrap(inverse),)
    if return_counts:
        out += (Tensor._wrap(counts.astype(np.int64)),)
    return out if len(out) > 1 else out[0]
