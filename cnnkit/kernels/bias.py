"""The bias of a convolution on NCHW-shaped arrays of either memory layout: y += b, and its gradient.

    y[n, o, h, w] += b[o]          db[o] = Σ_{n, h, w} dY[n, o, h, w]

The NumPy algorithms leave the bias to these (:func:`cnnkit.kernels.forward` and
:func:`cnnkit.kernels.grad_weight` call them); the oneDNN backend adds it and sums its gradient inside its
primitives.
"""
from __future__ import annotations

import numpy as np

from .layout import is_channels_last, nhwc

__all__ = ["add_bias", "bias_grad"]


def add_bias(y: np.ndarray, b: np.ndarray) -> None:
    """y += b over the channel dim of an NCHW-shaped y, in place (in y's memory order).

    In NHWC memory a row of the image is W·C contiguous numbers: b tiled W times is added to each row
    (NumPy's inner loop then runs over W·C numbers rather than C)."""
    n, c, h, w = y.shape
    if is_channels_last(y) and y.size:
        nhwc(y).reshape(n * h, w * c)[...] += np.tile(b, w)
    else:
        y += b.reshape(-1, 1, 1)


def bias_grad(gy: np.ndarray) -> np.ndarray:
    """db = Σ_{n, h, w} dY.

    NCHW memory: a pairwise sum over each contiguous H·W plane, then over the batch. NHWC memory: the sum
    runs across image rows (one long row of W·C numbers each), which NumPy accumulates one row at a time,
    so it is done in float64; then over W."""
    n, c, h, w = gy.shape
    if not gy.size:
        return np.zeros(c, gy.dtype)
    if gy.flags.c_contiguous:
        return gy.reshape(n, c, h * w).sum(axis=2).sum(axis=0)
    if is_channels_last(gy):
        rows = nhwc(gy).reshape(n * h, w * c).sum(axis=0, dtype=np.float64)
        return rows.reshape(w, c).sum(axis=0).astype(gy.dtype)
    return gy.sum(axis=(0, 2, 3), dtype=np.float64).astype(gy.dtype)
