"""Depthwise convolutions (one input channel per group): ``einsum`` over strided window views, no GEMM.

With a channel multiplier m = O / C, output channel c·m + k sees input channel c only:

    y[n, h, w, c·m + k] = Σ_{i, j} x_pad[n, h·sH + i·dH, w·sW + j·dW, c] · W[c·m + k, 0, i, j]

With stride 1 along W (and m = 1) the windows of one output row at offset (i, j) are one run of Wo·C
contiguous numbers, so einsum multiplies runs of Wo·C (the kernel tiled along W) instead of runs of C.
einsum calls no BLAS, so these kernels always split the batch over our own threads.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .layout import ConvGeometry, crop, nchw, nhwc, offset_window, padded_input, place, windows
from .parallel import over_batch

__all__ = ["picks", "handles", "forward", "grad_input", "grad_weight"]


def handles(g: ConvGeometry, c: int, o: int) -> bool:
    """One input channel per group, more than one group."""
    return g.groups > 1 and c == g.groups


def picks(g: ConvGeometry, n: int, c: int, o: int) -> bool:
    """Always chosen where it applies."""
    return handles(g, c, o)


def _row_windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The read-only view (N, Ho, kH, kW, Wo·C) of a contiguous padded NHWC input (needs stride 1 along W)."""
    (kh, kw), (sh, _), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_hw
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (xp.shape[0], ho, kh, kw, wo * xp.shape[3]), (s0, s1 * sh, s1 * dh, s2 * dw, s3),
                      writeable=False)


def _tiled(k: np.ndarray, times: int) -> np.ndarray:
    """A (kH, kW, C) kernel repeated along W: (kH, kW, times·C), contiguous."""
    kh, kw, c = k.shape
    return np.ascontiguousarray(np.broadcast_to(k[:, :, None, :], (kh, kw, times, c))).reshape(kh, kw, times * c)


def _kernel(w: np.ndarray, c: int) -> np.ndarray:
    """(O, 1, kH, kW) -> (kH, kW, C, m), contiguous."""
    o, _, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(c, o // c, kh, kw).transpose(2, 3, 0, 1))


def _correlate_into(out: np.ndarray, xp: np.ndarray, k: np.ndarray, g: ConvGeometry) -> None:
    """out (N, Ho, Wo, C·m) = Σ_ij window_ij · k[i, j] for a padded NHWC input and a (kH, kW, C, m) kernel."""
    n, c = xp.shape[0], xp.shape[3]
    (ho, wo), m = g.out_hw, k.shape[3]
    if m == 1 and g.stride[1] == 1:
        np.einsum("nhijq,ijq->nhq", _row_windows(xp, g), _tiled(k[..., 0], wo), out=out.reshape(n, ho, wo * c))
    else:
        np.einsum("nhwijc,ijck->nhwck", windows(xp, g), k, out=out.reshape(n, ho, wo, c, m))


def forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool):
    """(y, None): y NCHW-shaped in NHWC memory."""
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    k = _kernel(w, c)
    y = np.empty((n, ho, wo, o), x.dtype)

    def part(a, b):
        _correlate_into(y[a:b], padded_input(x[a:b], g), k, g)

    over_batch(part, n, n * ho * wo * o, blas=False)
    return nchw(y), None


def grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx: with stride 1 a depthwise correlation of dY with the flipped kernel; otherwise each kernel offset's
    contribution added back onto its window."""
    n, c, h, w_ = x_shape
    o, _, kh, kw = w.shape
    m = o // c
    (sh, sw), (dh, dw), (ho, wo) = g.stride, g.dilation, g.out_hw
    k = _kernel(w, c)
    gyn = nhwc(gy)
    work = n * h * w_ * o
    if sh == 1 and sw == 1:
        top, left = dh * (kh - 1) - g.pad[0], dw * (kw - 1) - g.pad[2]
        hp, wp = h + dh * (kh - 1), w_ + dw * (kw - 1)
        corr = ConvGeometry((hp, wp), (h, w_), (kh, kw), (1, 1), (dh, dw), (0, 0, 0, 0), c)
        kf = np.ascontiguousarray(k[::-1, ::-1])
        gx = np.empty((n, h, w_, c), gy.dtype)

        def part(a, b):
            gyp = place(gyn[a:b], top, left, hp, wp, True)
            if m == 1:
                _correlate_into(gx[a:b], gyp, kf, corr)
            else:
                v = windows(gyp, corr).reshape(b - a, h, w_, kh, kw, c, m)
                np.einsum("nhwijck,ijck->nhwc", v, kf, out=gx[a:b])

        over_batch(part, n, work, blas=False)
        return nchw(gx)
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)

    def part(a, b):
        gc = np.ascontiguousarray(gyn[a:b]).reshape(b - a, ho, wo, c, m)
        for i in range(kh):
            for j in range(kw):
                dst = gxp[(slice(a, b),) + offset_window(g, i, j)]
                dst += gc[..., 0] * k[i, j, :, 0] if m == 1 else np.einsum("nhwck,ck->nhwc", gc, k[i, j])

    over_batch(part, n, work, blas=False)
    return nchw(crop(gxp, g.pad[0], g.pad[2], h, w_))


def grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None) -> np.ndarray:
    """dW = Σ_{n, h, w} window · dY per channel, each part of the batch summing its share."""
    o, _, kh, kw = w_shape
    n, c = x.shape[:2]
    m = o // c
    ho, wo = g.out_hw
    gyn = nhwc(gy)

    def part(a, b):
        xp = padded_input(x[a:b], g)
        gc = np.ascontiguousarray(gyn[a:b])
        if m == 1 and g.stride[1] == 1:
            gk = np.einsum("nhijq,nhq->ijq", _row_windows(xp, g), gc.reshape(b - a, ho, wo * c))
            return gk.reshape(kh, kw, wo, c).sum(axis=2)[..., None]
        return np.einsum("nhwijc,nhwck->ijck", windows(xp, g), gc.reshape(b - a, ho, wo, c, m))

    results = over_batch(part, n, n * ho * wo * o, blas=False)
    gk = sum(results[1:], results[0])
    return np.ascontiguousarray(gk.transpose(2, 3, 0, 1)).reshape(w_shape)
