"""Columns in the weight's own (c, i, j) order, for layers with few output pixels and many channels.

When a layer's weights outweigh its activations (ResNet's 7×7 and 14×14 stages, any layer at batch 1), the
copies of the weight that the (i, j, c) column order of im2col needs (the weight matrix, its flipped copy
for dx, the reordering of dW) cost more than the convolution's data. Columns ordered (c, i, j), like a row
of the (O, C, kH, kW) weight, use the weight W as it is, viewed as an (O, C·kH·kW) matrix:

    forward       Yᵀ    = W · colsᵀ
    grad_input    dx    = col2im(dY · W)            (each kernel offset's slice added back onto its window)
    grad_weight   dW    = dYᵀ · cols

The gather of the columns reads runs of kW instead of kW·C, which is cheap on few pixels.
"""
from __future__ import annotations

import numpy as np

from .config import config
from .layout import ConvGeometry, crop, nchw, nhwc, offset_window, padded_input, windows

__all__ = ["picks", "handles", "columns", "forward", "grad_input", "grad_weight"]


def handles(g: ConvGeometry, c: int, o: int) -> bool:
    """Weight-order columns compute every convolution with one group."""
    return g.groups == 1


def picks(g: ConvGeometry, n: int, c: int, o: int) -> bool:
    """Chosen for one group, not 1×1, and N·Ho·Wo ≤ ``weight_order_pixels`` × O output pixels (the columns
    are then no larger than the weight: N·Ho·Wo·C·kH·kW ≤ O·C·kH·kW, so they are built in one piece)."""
    ho, wo = g.out_hw
    return g.groups == 1 and not g.pointwise and n * ho * wo <= config().weight_order_pixels * o


def columns(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """cols (N·Ho·Wo, C·kH·kW): row (n, h, w) is the receptive field of output pixel (h, w), ordered (c, i, j)."""
    v = windows(padded_input(x, g), g)                                    # (N, Ho, Wo, kH, kW, C)
    n, ho, wo, kh, kw, c = v.shape
    cols = np.empty((n, ho, wo, c, kh, kw), x.dtype)
    for i in range(kh):  # one offset at a time reads runs of C (faster than one transposing copy)
        for j in range(kw):
            cols[..., i, j] = v[:, :, :, i, j]
    return cols.reshape(n * ho * wo, c * kh * kw)


def forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool):
    """(Y, kept): ``kept`` the columns when ``keep`` and they take at most ``keep_columns`` bytes, else None."""
    n, o = x.shape[0], w.shape[0]
    ho, wo = g.out_hw
    cols = columns(x, g)
    y = np.empty((n, ho, wo, o), x.dtype)
    # Yᵀ = W · colsᵀ, then transposed into place: with few pixels BLAS runs this orientation faster; the
    # transposing copy is of the small output.
    y.reshape(-1, o)[...] = np.matmul(w.reshape(o, -1), cols.T).T
    return nchw(y), (cols if keep and cols.nbytes <= config().keep_columns else None)


def grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx = col2im(dY · W): each kernel offset's slice of the column gradient added back onto its window."""
    n, c, h, w_ = x_shape
    o, _, kh, kw = w.shape
    ho, wo = g.out_hw
    gcols = np.matmul(nhwc(gy).reshape(-1, o), w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[(slice(None),) + offset_window(g, i, j)] += gcols[..., i, j]
    return nchw(crop(gxp, g.pad[0], g.pad[2], h, w_))


def grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None) -> np.ndarray:
    """dW = dYᵀ · cols, with the ``kept`` columns or columns rebuilt from x."""
    cols = kept if kept is not None else columns(x, g)
    o = w_shape[0]
    return np.matmul(nhwc(gy).reshape(-1, o).T, cols).reshape(w_shape)
