"""Resizing images: ``interpolate`` (PyTorch's ``F.interpolate``) in the modes ``nearest``, ``nearest-exact``,
``linear`` (3-d input), ``bilinear`` and ``bicubic`` (4-d input), ``trilinear`` (5-d input) and ``area`` (adaptive
average pooling).

Each spatial axis is resized independently, so a resize is a product with a small (out, in) matrix per axis:

    y = A_h · x · A_wᵀ   (over the H and W axes),     dx = A_hᵀ · dy · A_w.

Source coordinates follow PyTorch exactly. With scale = in/out (or 1/scale_factor when a scale factor is given and
not recomputed):
    nearest:        src = min(⌊dst · scale⌋, in − 1)          (computed in float32, as PyTorch does)
    nearest-exact:  src = min(⌊(dst + 0.5) · scale⌋, in − 1)
    linear, align_corners=False:  src = max(scale · (dst + 0.5) − 0.5, 0)
    linear, align_corners=True:   src = dst · (in − 1)/(out − 1)
and the linear weights are (1 − λ, λ) on ⌊src⌋ and ⌊src⌋ + 1 (clamped to the last pixel), λ = src − ⌊src⌋.
bicubic (Keys' cubic convolution with PyTorch's A = −0.75): src as for linear but not clamped at 0 when
align_corners=False; with t = src − ⌊src⌋ the four taps ⌊src⌋ − 1 … ⌊src⌋ + 2 (each clamped into [0, in − 1], so
border pixels repeat) get the weights
    W(t + 1), W(t), W(1 − t), W(2 − t),
    W(d) = (A + 2)d³ − (A + 3)d² + 1 for d ≤ 1,   A d³ − 5A d² + 8A d − 4A for 1 < d < 2.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand
from .adaptive_pool import adaptive_avg_pool2d

__all__ = ["interpolate"]

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
INTERPOLATING = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}  # mode -> the input's number of dims
CUBIC_A = -0.75


def _nearest_source(in_size: int, out_size: int, scale, exact: bool) -> np.ndarray:
    if out_size == in_size and not exact:
        return np.arange(out_size)
    if out_size == 2 * in_size and not exact:
        return np.arange(out_size) >> 1
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32) + (np.float32(0.5) if exact else np.float32(0))
    return np.minimum(np.floor(dst * s).astype(np.int64), in_size - 1)


def _source(in_size: int, out_size: int, scale, align_corners: bool) -> np.ndarray:
    """Each output position's coordinate on the input axis: x_src = x·(in−1)/(out−1) with align_corners, else
    (x + ½)/scale − ½ (scale = out/in unless given)."""
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return s * np.arange(out_size, dtype=np.float64)
    s = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    return s * (np.arange(out_size, dtype=np.float64) + 0.5) - 0.5


def _linear_matrix(in_size: int, out_size: int, scale, align_corners: bool) -> np.ndarray:
    src = np.maximum(_source(in_size, out_size, scale, align_corners), 0.0)
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < in_size - 1)
    lam = src - i0
    a = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(a, (rows, i0), 1 - lam)
    np.add.at(a, (rows, i1), lam)
    return a


def _cubic_matrix(in_size: int, out_size: int, scale, align_corners: bool) -> np.ndarray:
    src = _source(in_size, out_size, scale, align_corners)
    base = np.floor(src).astype(np.int64)
    t = src - base
    a = CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    for k, w in enumerate(weights):
        np.add.at(m, (rows, np.clip(base - 1 + k, 0, in_size - 1)), w)
    return m


def _index_matrix(idx: np.ndarray, in_size: int) -> np.ndarray:
    a = np.zeros((len(idx), in_size))
    a[np.arange(len(idx)), idx] = 1.0
    return a


class Resize(Function):
    """y = A_h · x · A_wᵀ over the resized axes (one matrix per axis); nearest modes index directly."""

    def __init__(self, mats, indices):
        self.mats, self.indices = mats, indices  # per resized axis: an (out, in) matrix; indices for nearest

    def forward(self, x):
        if self.indices is not None:
            return x[(Ellipsis,) + np.ix_(*self.indices)]
        y = x
        for k, a in enumerate(self.mats):
            a = a.astype(x.dtype)
            axis = x.ndim - len(self.mats) + k
            y = np.moveaxis(np.tensordot(y, a, axes=([axis], [1])), -1, axis)
        return np.ascontiguousarray(y)

    def backward(self, gy):
        g = gy
        for k, a in enumerate(self.mats):
            axis = gy.ndim - len(self.mats) + k
            g = np.moveaxis(np.tensordot(g, a.astype(gy.dtype), axes=([axis], [0])), -1, axis)
        return np.ascontiguousarray(g)


def _per_axis(value, n: int, what: str):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"interpolate: {what} must have {n} elements for a {n + 2}-d input, got {value!r}")
        return list(value)
    return [value] * n


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of an (N, C, W), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by
    ``scale_factor``."""
    x = as_operand(input, "interpolate")
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not implemented")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-d (N, C, W), 4-d (N, C, H, W) or 5-d (N, C, D, H, W) input, "
                         f"got shape {tuple(x.shape)}")
    if mode in INTERPOLATING and x.ndim != INTERPOLATING[mode]:
        raise ValueError(f"interpolate: mode {mode!r} needs a {INTERPOLATING[mode]}-d input, "
                         f"got shape {tuple(x.shape)}")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"interpolate: expected a floating point input, got dtype {x.dtype}")
    if align_corners is not None and mode not in INTERPOLATING:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    n = x.ndim - 2
    in_sizes = list(x.shape[2:])
    if size is not None:
        out_sizes = [int(s) for s in _per_axis(size, n, "size")]
        scales = [None] * n
    else:
        scales = [float(s) for s in _per_axis(scale_factor, n, "scale_factor")]
        if any(s <= 0 for s in scales):
            raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
        out_sizes = [math.floor(i * s) for i, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * n
    if any(o <= 0 for o in out_sizes):
        raise ValueError(f"interpolate: the output size {tuple(out_sizes)} must be positive (input {tuple(x.shape)})")
    if mode == "area":
        if n != 2:
            raise ValueError("interpolate: mode 'area' is implemented for 4-d input only")
        return adaptive_avg_pool2d(x, tuple(out_sizes))
    if mode in INTERPOLATING:
        matrix = _cubic_matrix if mode == "bicubic" else _linear_matrix
        mats = [matrix(i, o, s, bool(align_corners)) for i, o, s in zip(in_sizes, out_sizes, scales)]
        return Resize(mats, None)(x)
    idx = [_nearest_source(i, o, s, mode == "nearest-exact") for i, o, s in zip(in_sizes, out_sizes, scales)]
    return Resize([_index_matrix(k, i) for k, i in zip(idx, in_sizes)], idx)(x)
