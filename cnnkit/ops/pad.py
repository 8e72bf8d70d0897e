"""Padding: a constant border, or a border copied from the tensor itself (reflect, replicate, circular).

``pad(x, pad, mode, value)`` follows PyTorch's ``F.pad``: ``pad`` lists (before, after) widths from the last
dim backwards, (left, right, top, bottom, ...). For one row x₀ … x_{n−1} padded by 2 on each side:

    constant (value v)   v   v   | x₀ … x_{n−1} | v   v
    reflect              x₂  x₁  | x₀ … x_{n−1} | x_{n−2}  x_{n−3}     (mirror about the edge, width < n)
    replicate            x₀  x₀  | x₀ … x_{n−1} | x_{n−1}  x_{n−1}     (the edge repeated)
    circular             x_{n−2} x_{n−1} | x₀ … x_{n−1} | x₀  x₁       (the other side, width ≤ n)

Backward: a copied border sends its gradient back to the pixel it copies (reflect: the mirror pixel;
replicate: the edge pixel; circular: the other side), added to that pixel's own gradient; a constant border
has no gradient, and a negative constant width crops (its backward pads the gradient with zeros).
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from . import validate
from ._util import as_operand
from .shape import reshape

__all__ = ["pad", "ConstantPad", "Pad2d", "MODES"]

MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Function):
    """Constant padding (negative widths crop); dx = dy with the padding cut off."""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        self.in_shape = x.shape
        out_shape, self.src, self.dst = [], [], []
        for n, (lo, hi) in zip(x.shape, self.widths):
            m = n + lo + hi
            if m < 0:
                raise ValueError(f"pad: padding {(lo, hi)} leaves a negative size for a dimension of {n}")
            if n + min(lo, 0) + min(hi, 0) < 0:
                raise ValueError(f"pad: padding {(lo, hi)} crops more than the {n} elements of its dimension")
            out_shape.append(m)
            self.src.append(slice(max(-lo, 0), n - max(-hi, 0)))
            self.dst.append(slice(max(lo, 0), m - max(hi, 0)))
        self.src, self.dst = tuple(self.src), tuple(self.dst)
        y = np.full(out_shape, self.value, dtype=x.dtype)
        y[self.dst] = x[self.src]
        return y

    def backward(self, gy):
        gx = np.zeros(self.in_shape, gy.dtype)
        gx[self.src] = gy[self.dst]
        return gx


class Pad2d(Function):
    """Pad the last two dims by (top, bottom, left, right) with 'reflect', 'replicate' or 'circular' values.

    Backward folds the gradient of every padded row/column back onto the row/column it copies
    (reflect: the mirror image about the edge row; replicate: the edge row; circular: the other side).
    """

    _NUMPY = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def __init__(self, pad: tuple, mode: str):
        self.pad, self.mode = pad, mode

    def forward(self, x):
        t, b, l_, r = self.pad
        self.in_shape = x.shape
        return np.pad(x, ((0, 0),) * (x.ndim - 2) + ((t, b), (l_, r)), mode=self._NUMPY[self.mode])

    def _fold(self, g: np.ndarray, axis: int, lo: int, hi: int, n: int) -> np.ndarray:
        """Fold a gradient padded by (lo, hi) along ``axis`` back to length n."""
        g = np.moveaxis(g, axis, 0)
        out = g[lo:lo + n].copy()
        top, bottom = g[:lo], g[lo + n:]
        if self.mode == "replicate":
            out[0] += top.sum(axis=0)
            out[n - 1] += bottom.sum(axis=0)
        elif self.mode == "reflect":
            if lo:
                out[lo:0:-1] += top                  # padded row p (< lo) copies row lo - p
            if hi:  # (an unpadded axis may have n = 1: then out[n - 2::-1] would be every row)
                stop = n - 2 - hi if n - 2 - hi >= 0 else None
                out[n - 2:stop:-1] += bottom         # padded row n + lo + q copies row n - 2 - q
        else:  # circular
            out[n - lo:] += top                      # padded row p copies row n - lo + p
            out[:hi] += bottom                       # padded row n + lo + q copies row q
        return np.moveaxis(out, 0, axis)

    def backward(self, gy):
        t, b, l_, r = self.pad
        h, w = self.in_shape[-2:]
        g = self._fold(gy, -2, t, b, h)
        return np.ascontiguousarray(self._fold(g, -1, l_, r, w))


def _edge_pad(x: Tensor, pad: tuple, mode: str) -> Tensor:
    """reflect/replicate/circular padding of the last one (len(pad) = 2) or two (len(pad) = 4) dims of a
    tensor with one or two leading dims (PyTorch's (C, ...) or (N, C, ...) layouts)."""
    k = len(pad) // 2
    if len(pad) not in (2, 4) or x.ndim not in (k + 1, k + 2):
        raise ValueError(f"pad: {mode} padding takes 2 widths for a 2-d or 3-d input or 4 widths for a 3-d or 4-d "
                         f"input, got {len(pad)} widths for shape {tuple(x.shape)}")
    if min(pad) < 0:
        raise ValueError(f"pad: {mode} padding must be non-negative, got {pad}")
    tblr = (0, 0, pad[0], pad[1]) if k == 1 else (pad[2], pad[3], pad[0], pad[1])
    size = x.shape[-k:]
    for (lo, hi), n in zip(((pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))), size):
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"pad: reflect padding {pad} must be smaller than the input size {tuple(size)}")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"pad: circular padding {pad} must not exceed the input size {tuple(size)}")
        if mode == "replicate" and n == 0:
            raise ValueError(f"pad: replicate padding needs a non-empty input, got shape {tuple(x.shape)}")
    if k == 1:
        y = Pad2d(tblr, mode)(reshape(x, x.shape[:-1] + (1,) + x.shape[-1:]))
        return reshape(y, x.shape[:-1] + (y.shape[-1],))
    return Pad2d(tblr, mode)(x)


def pad(input, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad ``input`` as PyTorch's ``F.pad``: ``pad`` = (left, right, top, bottom, ...) from the last dim backwards.

    mode 'constant' pads any number of dims with ``value`` (negative widths crop); 'reflect', 'replicate' and
    'circular' pad the last dim (2 widths, input (C, W) or (N, C, W)) or the last two dims (4 widths, input
    (C, H, W) or (N, C, H, W)).
    """
    x = as_operand(input, "pad")
    validate.one_of(mode, MODES, "mode", "pad")
    if not isinstance(pad, (tuple, list)) or not all(validate.is_int(p) for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    pad = tuple(int(p) for p in pad)
    if mode != "constant":
        return _edge_pad(x, pad, mode)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths for at most {x.ndim} dims, got {pad}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return ConstantPad(widths, value)(x)
