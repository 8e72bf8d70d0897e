"""Convolution with a connection table (LeNet-5's S2 → C3): output map j sees only the input maps i with
table[j, i] True.

    y[n, j] = b[j] + Σ_{i : table[j, i]} x[n, i] ⋆ W_{j,i}

Only the connected kernels W_{j,i} are stored, as a (connections, kH, kW) weight in the row-major order of
the True entries of the table. The op scatters them into a dense (out, in, kH, kW) weight that is zero where
the table is False and runs ``conv2d``; the backward of the scatter gathers the connected kernels' gradients,
so the others never receive one. LeNet-5's own table is ``cnnkit.models.lenet.LENET5_C3_TABLE``.
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand
from .conv import conv2d

__all__ = ["table_conv2d", "check_table", "ScatterKernels"]


class ScatterKernels(Function):
    """The dense weight (O, C, kH, kW) holding the connected kernels (n, kH, kW) where ``table`` (O, C) is True
    and zeros elsewhere. Backward gathers the connected kernels' gradients (the others have none)."""

    def __init__(self, table: np.ndarray):
        self.rows, self.cols = np.nonzero(table)
        self.shape = table.shape

    def forward(self, wc):
        dense = np.zeros(self.shape + wc.shape[1:], wc.dtype)
        dense[self.rows, self.cols] = wc
        return dense

    def backward(self, gd):
        return gd[self.rows, self.cols]


def check_table(table, fn: str) -> np.ndarray:
    """A connection table as a bool array (out_channels, in_channels) in which every output sees an input."""
    t = np.asarray(table._data if isinstance(table, Tensor) else table)
    if t.ndim != 2 or t.dtype.kind not in "biu" or not np.all((t == 0) | (t == 1)):
        raise ValueError(f"{fn}: expected a 2-d boolean table (out_channels, in_channels), got "
                         f"{'shape ' + str(t.shape) if t.ndim != 2 else 'dtype ' + str(t.dtype)}")
    t = t.astype(bool)
    empty = np.flatnonzero(~t.any(axis=1))
    if empty.size:
        raise ValueError(f"{fn}: output map(s) {empty.tolist()} have no input in the connection table")
    return t


def table_conv2d(input, weight, table, bias=None, stride=1, padding=0) -> Tensor:
    """Convolution in which output map j sees only the input maps i with ``table[j, i]`` True.

    ``weight`` holds the connected kernels only, shape (table.sum(), kH, kW), in the row-major order of the
    True entries of ``table`` (output map by output map). Equal to conv2d with a dense weight that is zero
    where the table is False; the gradient exists for the connected kernels only.
    """
    fn = "table_conv2d"
    t = check_table(table, fn)
    x = as_operand(input, fn)
    if x.ndim not in (3, 4):
        raise ValueError(f"{fn}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {x.shape}")
    if x.shape[-3] != t.shape[1]:
        raise ValueError(f"{fn}: expected input with {t.shape[1]} channels (table of shape {t.shape}), "
                         f"got shape {x.shape}")
    w = as_operand(weight, fn)
    if w.ndim != 3 or w.shape[0] != int(t.sum()):
        raise ValueError(f"{fn}: expected a weight of shape ({int(t.sum())}, kH, kW) (one kernel per connection "
                         f"of the table), got shape {w.shape}")
    return conv2d(x, ScatterKernels(t)(w), bias, stride, padding)
