"""Geometry and memory layout of a 2-d convolution: sizes, NCHW/NHWC views, padding, cropping, windows.

A convolution with weight W of shape (O, C/g, kH, kW) maps an input x of shape (N, C, H, W) to y of shape
(N, O, Ho, Wo):

    y[n, o, h, w] = Σ_{c, i, j} x_pad[n, c, h·sH + i·dH, w·sW + j·dW] · W[o, c, i, j]      (c within o's group)

    Ho = ⌊(H + pad_top + pad_bottom − dH·(kH − 1) − 1) / sH⌋ + 1      (Wo alike)

Arrays are NCHW-shaped at the boundary (PyTorch's convention), but the kernels compute channels-last
(NHWC): a receptive field is then kW·C contiguous numbers, one GEMM covers many images, and its result
*is* the output in NHWC memory, returned as an NCHW-shaped view (no transpose back).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .parallel import workspace

__all__ = ["ConvGeometry", "out_size", "nhwc", "nchw", "is_channels_last", "offset_window", "place", "crop",
           "windows", "padded_input"]


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about a convolution except the values: sizes, kernel, stride, dilation, padding, groups.

    ``in_hw`` is the (padding-free) input size and ``out_hw`` the output size; ``pad`` is
    (top, bottom, left, right). A negative bottom/right pad means trailing input rows that no window
    reaches (this happens in the convolution seen from a transposed convolution with output_padding).
    """

    in_hw: tuple
    out_hw: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad: tuple
    groups: int

    @property
    def pointwise(self) -> bool:
        """A 1×1 kernel that reads no padding: the convolution is a GEMM on (sub-sampled) pixels."""
        (kh, kw), (sh, sw), (ho, wo), (h, w) = self.kernel, self.stride, self.out_hw, self.in_hw
        return (kh == kw == 1 and self.pad[0] == 0 and self.pad[2] == 0
                and (ho - 1) * sh < h and (wo - 1) * sw < w)

    def extent(self) -> tuple:
        """Rows and columns of the padded input that the windows touch."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out_hw
        return (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1


def out_size(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    """⌊(n + lo + hi − d·(k − 1) − 1) / s⌋ + 1 (may be < 1 when the kernel does not fit)."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def nhwc(a: np.ndarray) -> np.ndarray:
    """The channels-last view of an NCHW-shaped array (no copy)."""
    return a.transpose(0, 2, 3, 1)


def nchw(a: np.ndarray) -> np.ndarray:
    """The NCHW-shaped view of a channels-last array (no copy)."""
    return a.transpose(0, 3, 1, 2)


def is_channels_last(a: np.ndarray) -> bool:
    """Whether an NCHW-shaped (4-d) array lives in NHWC memory (its channels-last view is C-contiguous)."""
    return a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous


def offset_window(g: ConvGeometry, i: int, j: int) -> tuple:
    """The slices (rows, columns) of the padded input that kernel offset (i, j) reads over all output pixels:
    rows i·dH, i·dH + sH, …, i·dH + (Ho − 1)·sH (columns alike). col2im adds each offset's gradient there."""
    (sh, sw), (dh, dw), (ho, wo) = g.stride, g.dilation, g.out_hw
    return slice(i * dh, i * dh + (ho - 1) * sh + 1, sh), slice(j * dw, j * dw + (wo - 1) * sw + 1, sw)


def place(x: np.ndarray, top: int, left: int, hp: int, wp: int, scratch: bool = False) -> np.ndarray:
    """A C-contiguous (N, hp, wp, C) array z with z[:, i, j] = x[:, i − top, j − left] where that exists, else 0.

    ``x`` is NHWC-shaped (any memory layout). This is zero padding (positive offsets) and cropping
    (negative offsets, or hp/wp smaller than needed) in one copy; it also converts the memory to NHWC.
    With ``scratch`` the result lives in the "pad" :func:`workspace`.
    """
    n, h, w, c = x.shape
    if top == 0 and left == 0 and hp == h and wp == w and x.flags.c_contiguous:
        return x
    z = workspace((n, hp, wp, c), x.dtype, "pad") if scratch else np.empty((n, hp, wp, c), x.dtype)
    r0, r1 = max(0, -top), min(h, hp - top)
    c0, c1 = max(0, -left), min(w, wp - left)
    if r1 <= r0 or c1 <= c0:
        z[...] = 0
        return z
    a, b, e, f = r0 + top, r1 + top, c0 + left, c1 + left
    z[:, :a] = 0
    z[:, b:] = 0
    z[:, a:b, :e] = 0
    z[:, a:b, f:] = 0
    z[:, a:b, e:f] = x[:, r0:r1, c0:c1]
    return z


def crop(xp: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    """x[:, i, j] = xp[:, i + top, j + left] for an (N, h, w, C) result: a view when xp covers it, else a copy."""
    if top >= 0 and left >= 0 and top + h <= xp.shape[1] and left + w <= xp.shape[2]:
        return xp[:, top:top + h, left:left + w]
    return place(xp, -top, -left, h, w)


def windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The read-only strided view (N, Ho, Wo, kH, kW, C) of every receptive field of the padded NHWC input."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_hw
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (xp.shape[0], ho, wo, kh, kw, xp.shape[3]),
                      (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def padded_input(x: np.ndarray, g: ConvGeometry, transposed: bool = False) -> np.ndarray:
    """The input with its padding, cut to the rows and columns the windows touch, in the "pad"
    :func:`workspace` (or x itself when that is already it): NHWC, or NCHW for transposed columns."""
    hp, wp = g.extent()
    if transposed:
        n, c, h, w = x.shape
        return place(x.reshape(n * c, h, w, 1), g.pad[0], g.pad[2], hp, wp, True).reshape(n, c, hp, wp)
    return place(nhwc(x), g.pad[0], g.pad[2], hp, wp, True)
