"""Adaptive pooling: average or max over windows chosen so that the output has a given size.

Window i along a dim of size H with n outputs is [⌊iH/n⌋, ⌈(i+1)H/n⌉) (PyTorch's rule; neighbouring windows
may overlap by one pixel, and their sizes may differ by one). Average pooling divides by the window area,
max pooling routes dy to the arg-max (first maximum in row-major scan order, or the last NaN). Output 1×1
average pooling is *global* average pooling, the mean of every feature map (ResNet, GoogLeNet, DenseNet).

Both work separably, one dim at a time, with a loop over the offsets inside the variable-size windows
(never over batch, channels or pixels). When the windows tile the input exactly (H divisible by n) adaptive
average pooling is plain average pooling and runs as such.
"""
from __future__ import annotations

import math

import numpy as np

from ..function import Function
from ..kernels.pool_windows import window_plan
from . import validate
from .pool import AvgPool2d, check_input

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "GlobalAvgPool2d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d", "output_size_arg"]


def _adaptive_bounds(size: int, out: int):
    """PyTorch's adaptive windows: start_i = ⌊i·size/out⌋, end_i = ⌈(i+1)·size/out⌉."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_covers(size: int, out: int) -> tuple:
    """The transpose of the adaptive windows: pixel h lies in windows first[h] … last[h] (inclusive)."""
    start, end = _adaptive_bounds(size, out)
    h = np.arange(size)
    inside = (h[None, :] >= start[:, None]) & (h[None, :] < end[:, None])     # (out, size)
    first = np.argmax(inside, axis=0)
    last = out - 1 - np.argmax(inside[::-1], axis=0)
    return first, last + 1


def _range_sums(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int) -> np.ndarray:
    """out[…, r, …] = Σ_{c = lo[r]}^{hi[r] − 1} a[…, c, …] along ``axis``, as a loop over the offsets
    c − lo[r]: one gather per offset from ``a`` extended by a zero slice, which the shorter ranges read."""
    n = a.shape[axis]
    zero = np.zeros(a.shape[:axis % a.ndim] + (1,) + a.shape[axis % a.ndim + 1:], a.dtype)
    padded = np.concatenate([a, zero], axis=axis)
    out = None
    for m in range(int((hi - lo).max())):
        v = np.take(padded, np.where(lo + m < hi, lo + m, n), axis=axis)
        out = v if out is None else np.add(out, v, out=out)
    return out


class GlobalAvgPool2d(Function):
    """y = mean over H×W (adaptive average pooling to 1×1);  dx = dy / (H·W) everywhere.

    The sums are one matrix-vector product (BLAS) of the (planes, H·W) matrix with a vector of ones.
    """

    def forward(self, x):
        self.shape = x.shape
        n = x.shape[-2] * x.shape[-1]
        s = x.reshape(math.prod(x.shape[:-2]), n) @ np.ones(n, x.dtype)
        return np.divide(s, n, out=s).reshape(x.shape[:-2] + (1, 1))

    def backward(self, gy):
        gx = np.empty(self.shape, gy.dtype)
        np.copyto(gx, gy / (self.shape[-1] * self.shape[-2]))
        return gx


class AdaptiveAvgPool2d(Function):
    """Average over windows of varying size, separably: y = Σ_{h ∈ R_i} Σ_{w ∈ C_j} x[h, w] / (|R_i|·|C_j|),
    summed along W, then along H; dx[h, w] = Σ over the windows (i, j) containing (h, w) of dy / area."""

    def __init__(self, out: tuple):
        self.out = out

    def forward(self, x):
        (H, W), (oh, ow) = x.shape[-2:], self.out
        self.shape = x.shape
        if oh == 0 or ow == 0:
            return np.zeros(x.shape[:-2] + self.out, x.dtype)
        h0, h1 = _adaptive_bounds(H, oh)
        w0, w1 = _adaptive_bounds(W, ow)
        self.area = np.outer(h1 - h0, w1 - w0).astype(x.dtype)
        y = _range_sums(_range_sums(x, w0, w1, -1), h0, h1, -2)
        return np.divide(y, self.area, out=y)

    def backward(self, gy):
        (H, W), (oh, ow) = self.shape[-2:], self.out
        if oh == 0 or ow == 0:
            return np.zeros(self.shape, gy.dtype)
        g = gy / self.area
        return _range_sums(_range_sums(g, *_adaptive_covers(H, oh), -2), *_adaptive_covers(W, ow), -1)


def _scan_max_exact(xs, shape, dtype):
    """PyTorch's max scan over a sequence of arrays (update when x > best or x is NaN): (best, which)."""
    best = np.full(shape, -np.inf, dtype)
    which = np.zeros(shape, np.int64)
    for n, v in enumerate(xs):
        upd = (v > best) | np.isnan(v)
        np.copyto(best, v, where=upd)
        np.copyto(which, n, where=upd)
    return best, which


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive windows, separably: first along W, then along H.

    The window maximum is the maximum of its row maxima, and PyTorch's arg-max (the first maximum in
    row-major order, or the last NaN) is the chosen column of the chosen row when both 1-d scans use the
    same rule. dx: dy added at the arg-max pixel.
    """

    def __init__(self, out: tuple, return_indices: bool):
        self.out, self.return_indices = out, return_indices

    def forward(self, x):
        H, W = x.shape[-2:]
        oh, ow = self.out
        if oh == 0 or ow == 0:
            self.flat, self.shape = np.zeros(x.shape[:-2] + self.out, np.int64), x.shape
            y = np.empty(x.shape[:-2] + self.out, x.dtype)
            return (y, self.flat) if self.return_indices else y
        h0, h1 = _adaptive_bounds(H, oh)
        w0, w1 = _adaptive_bounds(W, ow)
        # along W: offset j of every window (clipped to the window's last column; duplicates never win)
        cols = [np.minimum(w0 + j, w1 - 1) for j in range(int((w1 - w0).max()))]
        t, jw = _scan_max_exact((x[..., c] for c in cols), x.shape[:-1] + (ow,), x.dtype)
        rows = [np.minimum(h0 + i, h1 - 1) for i in range(int((h1 - h0).max()))]
        y, ih = _scan_max_exact((t[..., r, :] for r in rows), x.shape[:-2] + (oh, ow), x.dtype)
        if not (self.needs_input_grad[0] or self.return_indices):
            return y
        r = np.minimum(h0[:, None] + ih, (h1 - 1)[:, None])
        c = np.minimum(w0 + np.take_along_axis(jw, r, axis=-2), w1 - 1)
        flat = r * W + c
        if self.needs_input_grad[0]:
            self.flat, self.shape = flat, x.shape
        return (y, flat) if self.return_indices else y

    def backward(self, gy, *_):
        if gy.size == 0:
            return np.zeros(self.shape, gy.dtype)
        plane = self.shape[-2] * self.shape[-1]
        planes = gy.size // (gy.shape[-1] * gy.shape[-2])
        where = (self.flat.reshape(planes, -1) + (np.arange(planes) * plane)[:, None]).ravel()
        gx = np.bincount(where, weights=gy.reshape(-1), minlength=planes * plane)
        return gx.astype(gy.dtype, copy=False).reshape(self.shape)


# ===== the public functions ========================================================================

def output_size_arg(output_size, shape, fn: str) -> tuple:
    """An adaptive pooling's ``output_size`` (an int, or a pair whose None entries keep the size in ``shape``)
    as (oH, oW) of non-negative ints."""
    if output_size is None or validate.is_int(output_size):
        sizes = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = tuple(output_size)
    elif isinstance(output_size, (tuple, list)):
        raise ValueError(f"{fn}: output_size must be an int or a tuple of two ints (or None), got "
                         f"{output_size!r}")
    else:
        raise TypeError(f"{fn}: output_size must be an int or a tuple of two ints (or None), got "
                        f"{output_size!r}")
    out = []
    for v, size in zip(sizes, shape[-2:]):
        if v is None:
            out.append(int(size))
        elif not validate.is_int(v):
            raise TypeError(f"{fn}: output_size must hold ints or None, got {output_size!r}")
        elif v < 0:
            raise ValueError(f"{fn}: output_size must be non-negative, got {output_size!r}")
        else:
            out.append(int(v))
    return tuple(out)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling (PyTorch's ``F.adaptive_avg_pool2d``) to ``output_size`` (int, or a pair
    whose None entries keep the input size); window i of n over size H is [⌊iH/n⌋, ⌈(i+1)H/n⌉).
    Output 1 is global average pooling (the mean over H×W)."""
    fn = "adaptive_avg_pool2d"
    check_input(input, fn)
    oh, ow = out = output_size_arg(output_size, input.shape, fn)
    H, W = input.shape[-2:]
    if oh == 0 or ow == 0:
        return AdaptiveAvgPool2d(out)(input)
    if oh == 1 and ow == 1:
        return GlobalAvgPool2d()(input)
    if H % oh == 0 and W % ow == 0:  # equal, non-overlapping windows: plain average pooling
        k = (H // oh, W // ow)
        return AvgPool2d(window_plan(H, W, oh, ow, k, k, (0, 0), (1, 1)), k[0] * k[1])(input)
    return AdaptiveAvgPool2d(out)(input)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling (PyTorch's ``F.adaptive_max_pool2d``) over the windows of
    :func:`adaptive_avg_pool2d`; backward routes dy to the arg-max (first maximum in scan order)."""
    fn = "adaptive_max_pool2d"
    check_input(input, fn)
    return_indices = validate.flag(return_indices, "return_indices", fn)
    out = output_size_arg(output_size, input.shape, fn)
    return AdaptiveMaxPool2d(out, return_indices)(input)
