"""1×1 convolutions that read no padding: a GEMM on the (sub-sampled) pixels, in the input's own layout.

    forward       y[n, :, h, w] = W · x[n, :, h·sH, w·sW]          (W the (O, C) matrix, per group)
    grad_input    dx[n, :, h·sH, w·sW] = Wᵀ · dy[n, :, h, w]        (zero at the pixels no output reads)
    grad_weight   dW = Σ_{n, h, w} dy[n, :, h, w] · x[n, :, h·sH, w·sW]ᵀ

No columns are built: in NHWC memory the pixels are the rows of an (N·Ho·Wo, C) matrix, in NCHW memory
each image is a (C, Ho·Wo) matrix.
"""
from __future__ import annotations

import numpy as np

from .im2col import grouped_matmul, weight_from_matrix, weight_matrix
from .layout import ConvGeometry, is_channels_last, nchw, nhwc
from .parallel import over_batch

__all__ = ["picks", "handles", "forward", "grad_input", "grad_weight"]


def handles(g: ConvGeometry, c: int, o: int) -> bool:
    """A 1×1 kernel that reads no padding (see :attr:`ConvGeometry.pointwise`)."""
    return g.pointwise


def picks(g: ConvGeometry, n: int, c: int, o: int) -> bool:
    """Always chosen where it applies."""
    return g.pointwise


def _subsample(a: np.ndarray, g: ConvGeometry) -> np.ndarray:
    (sh, sw), (ho, wo) = g.stride, g.out_hw
    return a[:, :, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw]


def forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool):
    """(y, None): y in x's memory layout (nothing is worth keeping: dW reads x itself)."""
    n, c = x.shape[:2]
    o = w.shape[0]
    gr = g.groups
    ho, wo = g.out_hw
    xs = _subsample(x, g)
    work = n * ho * wo * max(c, o)
    if is_channels_last(x):
        y = np.empty((n, ho, wo, o), x.dtype)
        wm = weight_matrix(w, gr)

        def part(a, b):
            xc = np.ascontiguousarray(nhwc(xs[a:b])).reshape(-1, gr, c // gr)
            grouped_matmul(xc, wm, y[a:b].reshape(-1, gr, o // gr))

        over_batch(part, n, work)
        return nchw(y), None
    y = np.empty((n, o, ho, wo), x.dtype)
    w3 = w.reshape(gr, o // gr, c // gr)

    def part(a, b):
        xc = np.ascontiguousarray(xs[a:b]).reshape(b - a, gr, c // gr, ho * wo)
        np.matmul(w3, xc, out=y[a:b].reshape(b - a, gr, o // gr, ho * wo))

    over_batch(part, n, work)
    return y, None


def grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx in dy's memory layout."""
    n, c, h, w_ = x_shape
    o = w.shape[0]
    gr = g.groups
    ho, wo = g.out_hw
    last = is_channels_last(gy)
    full = (ho, wo) == (h, w_)
    gx = np.empty((n, h, w_, c) if last else x_shape, gy.dtype) if full else \
        np.zeros((n, h, w_, c) if last else x_shape, gy.dtype)
    gx = nchw(gx) if last else gx
    gxs = _subsample(gx, g)

    def part(a, b):
        m = b - a
        if last:
            out = np.empty((m, ho, wo, c), gy.dtype) if not full else nhwc(gx[a:b])
            grouped_matmul(nhwc(gy[a:b]).reshape(-1, gr, o // gr), weight_matrix(w, gr).transpose(0, 2, 1),
                           out.reshape(-1, gr, c // gr))
            if not full:
                gxs[a:b] = nchw(out)
        else:
            gc = np.ascontiguousarray(gy[a:b]).reshape(m, gr, o // gr, ho * wo)
            wt = w.reshape(gr, o // gr, c // gr).transpose(0, 2, 1)
            if full:
                np.matmul(wt, gc, out=gx[a:b].reshape(m, gr, c // gr, ho * wo))
            else:
                gxs[a:b] = np.matmul(wt, gc).reshape(m, c, ho, wo)

    over_batch(part, n, n * ho * wo * max(c, o))
    return gx


def grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None) -> np.ndarray:
    """dW, each part of the batch summing its share (``kept`` is always None here)."""
    o, cg = w_shape[:2]
    gr = g.groups
    n = x.shape[0]
    ho, wo = g.out_hw
    xs = _subsample(x, g)
    last = is_channels_last(gy) or is_channels_last(x)

    def part(a, b):
        if last:
            xc = np.ascontiguousarray(nhwc(xs[a:b])).reshape(-1, gr, cg)
            gc = np.ascontiguousarray(nhwc(gy[a:b])).reshape(-1, gr, o // gr)
            return weight_from_matrix(np.matmul(xc.transpose(1, 2, 0), gc.transpose(1, 0, 2)), w_shape)
        xc = np.ascontiguousarray(xs[a:b]).reshape(b - a, gr, cg, -1)
        gc = np.ascontiguousarray(gy[a:b]).reshape(b - a, gr, o // gr, -1)
        return np.matmul(gc, xc.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w_shape)

    results = over_batch(part, n, n * ho * wo * max(cg * gr, o))
    return sum(results[1:], results[0])
