"""Geometric transforms: they move pixels. Border padding, random and central crops, horizontal flips (random
per sample, vectorised) and bilinear resizing, with torchvision's conventions for sizes and padding."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...ops import validate
from ...random import get_generator
from .base import Transform, _as_batch, _float


def _padding_ltrb(padding, name: str) -> tuple:
    """An image's border padding as (left, top, right, bottom), from torchvision's forms: an int, (left/right,
    top/bottom) or 4 values. (A convolution's padding, ``validate.padding``, is symmetric per dim and ordered
    (top, bottom, left, right).)"""
    p = (padding,) * 4 if validate.is_int(padding) else padding
    if isinstance(p, (tuple, list)) and len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    if not (isinstance(p, (tuple, list)) and len(p) == 4 and all(validate.is_int(v) and v >= 0 for v in p)):
        raise ValueError(f"{name}: padding must be a non-negative int or a tuple of 2 or 4 of them, got {padding!r}")
    return tuple(int(v) for v in p)


def _pad_batch(b: np.ndarray, left: int, top: int, right: int, bottom: int, fill) -> np.ndarray:
    if not (left or top or right or bottom):
        return b
    return np.pad(b, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


class Pad(Transform):
    """Pad the borders with ``fill``: ``padding`` int (all sides), (left/right, top/bottom) or (left, top, right,
    bottom), as torchvision. Output size (H + top + bottom, W + left + right)."""

    def __init__(self, padding, fill=0):
        self.padding, self.fill = _padding_ltrb(padding, "Pad"), fill

    def __call__(self, x):
        b, back = _as_batch(x, "Pad")
        return back(_pad_batch(b, *self.padding, self.fill))


def _crop_at(b: np.ndarray, top: np.ndarray, left: np.ndarray, h: int, w: int) -> np.ndarray:
    """Crop an (h, w) window from each image at its own (top, left): one gather from the strided view of all
    windows (N, C, H−h+1, W−w+1, h, w), no loop over samples."""
    windows = sliding_window_view(b, (h, w), axis=(2, 3))
    return np.ascontiguousarray(windows[np.arange(len(b)), :, top, left])  # N x C x h x w


class RandomCrop(Transform):
    """A random (h, w) window of each image after padding by ``padding`` with ``fill`` (e.g. CIFAR's 32 with
    padding 4). ``padding`` takes Pad's forms. Each image of a batch gets its own window: top ~ U{0..H'−h},
    left ~ U{0..W'−w} on the padded (H', W')."""

    def __init__(self, size, padding=None, fill=0):
        self.size = validate.pair(size, "size", "RandomCrop")
        self.padding = padding
        self._pad = _padding_ltrb(0 if padding is None else padding, "RandomCrop")
        self.fill = fill

    def __call__(self, x):
        b, back = _as_batch(x, "RandomCrop")
        b = _pad_batch(b, *self._pad, self.fill)
        h, w = self.size
        H, W = b.shape[2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the (padded) image {(H, W)}")
        rng = get_generator()
        top = rng.integers(0, H - h + 1, len(b))
        left = rng.integers(0, W - w + 1, len(b))
        return back(_crop_at(b, top, left, h, w))


class CenterCrop(Transform):
    """The central (h, w) window (torchvision's rounding: top = round((H − h) / 2))."""

    def __init__(self, size):
        self.size = validate.pair(size, "size", "CenterCrop")

    def __call__(self, x):
        b, back = _as_batch(x, "CenterCrop")
        h, w = self.size
        H, W = b.shape[2:]
        if h > H or w > W:
            raise ValueError(f"CenterCrop: crop {self.size} is larger than the image {(H, W)}")
        top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
        return back(b[:, :, top:top + h, left:left + w].copy())


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability p."""

    def __init__(self, p: float = 0.5):
        validate.probability(p, "p", "RandomHorizontalFlip")
        self.p = p

    def __call__(self, x):
        b, back = _as_batch(x, "RandomHorizontalFlip")
        flip = get_generator().random(len(b)) < self.p
        out = b.copy()
        out[flip] = b[flip][..., ::-1]
        return back(out)


def _bilinear_weights(n_in: int, n_out: int, dtype):
    """Source indices and weights of bilinear resizing along one axis (PyTorch's align_corners=False).

    Output pixel j samples the input at s_j = max((j + ½)·n_in/n_out − ½, 0) (half-pixel centres);
    i0 = ⌊s_j⌋, i1 = min(i0 + 1, n_in − 1), and the weights are (1 − λ, λ) with λ = s_j − i0. Computed in
    ``dtype`` (float32 for float32 images, as PyTorch does; s_j is rounded once, like its fused multiply-add).
    """
    scale = dtype.type(n_in) / dtype.type(n_out)
    src = (np.float64(scale) * (np.arange(n_out) + 0.5) - 0.5).astype(dtype)
    src = np.maximum(src, dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return i0, i1, (dtype.type(1) - lam).astype(dtype), lam


class Resize(Transform):
    """Bilinear resize, as PyTorch's ``interpolate(mode='bilinear', align_corners=False)`` (torchvision's
    ``Resize(size, antialias=False)``).

    ``size`` (h, w) gives exactly that size; an int s (or [s]) matches the smaller edge to s and keeps the
    aspect ratio like torchvision: the longer edge becomes ⌊s · long / short⌋. The result is float (integer
    images are converted to float32 first); each output pixel is
    (1 − λy)((1 − λx) x[i0, j0] + λx x[i0, j1]) + λy((1 − λx) x[i1, j0] + λx x[i1, j1]),
    separably (along the width, then the height). It equals PyTorch's result up to rounding (a few ulp:
    PyTorch's kernel sums the four terms in another order, with fused multiply-adds).
    """

    def __init__(self, size):
        if isinstance(size, (tuple, list)) and len(size) == 1:
            size = size[0]
        if validate.is_int(size):
            self.size = validate.positive_int(size, "size", "Resize")
        else:
            self.size = validate.pair(size, "size", "Resize")

    def output_size(self, height: int, width: int) -> tuple:
        """The (h, w) an image of (height, width) is resized to."""
        if isinstance(self.size, tuple):
            return self.size
        short, long = min(height, width), max(height, width)
        new_long = int(self.size * long / short)
        return (new_long, self.size) if height > width else (self.size, new_long)

    def __call__(self, x):
        b, back = _as_batch(x, "Resize")
        b = _float(b)
        h, w = self.output_size(*b.shape[2:])
        if h <= 0 or w <= 0 or b.shape[2] == 0 or b.shape[3] == 0:
            raise ValueError(f"Resize: cannot resize images of size {b.shape[2:]} to {(h, w)}")
        r0, r1, wy0, wy1 = _bilinear_weights(b.shape[2], h, b.dtype)
        c0, c1, wx0, wx1 = _bilinear_weights(b.shape[3], w, b.dtype)
        cols = np.take(b, c0, axis=3)  # along the width first, like PyTorch
        cols *= wx0
        part = np.take(b, c1, axis=3)
        part *= wx1
        cols += part
        out = np.take(cols, r0, axis=2)  # then along the height
        out *= wy0[:, None]
        part = np.take(cols, r1, axis=2)
        part *= wy1[:, None]
        out += part
        return back(out)
