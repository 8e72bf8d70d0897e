"""Changing a tensor's dtype (``x.float()``, ``x.double()``, ``x.to(dtype)``)."""
from __future__ import annotations

from .. import backend
from ..function import Function
from ..tensor import Tensor


class Cast(Function):
    """y = x converted to ``dtype``; the gradient is converted back to x's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.in_dtype)

def cast(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype`` (``x`` itself when it already has it)."""
    d = backend.as_dtype(dtype)
    if x.dtype == d:
        return x
    if not backend.is_floating(d) and x.requires_grad:
        # integer results carry no gradient: cut the graph, like PyTorch
        return Tensor._wrap(x._data.astype(d))
    return Cast(d)(x)

__all__ = ["Cast", "cast"]
