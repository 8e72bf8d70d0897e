"""Convolution as differentiable ops: ``conv2d``, ``conv_transpose2d`` and the connection-table convolution.

Forward and backward of a 2-d convolution y = x ⋆ W + b (the kernels are in ``cnnkit/kernels/``):

    forward     Y  = cols(x) · W_mat                         (im2col + GEMM)
    backward    dW = cols(x)ᵀ · dY                            (GEMM with the same columns)
                dx = col2im(dY · W_matᵀ)                      (GEMM, then add each row back onto its window)
                db = Σ_{n, h, w} dY

A transposed convolution ("deconvolution") is the backward-data pass of the convolution with the same
weight, so it reuses the same three kernels with the roles swapped:

    forward     y  = col2im(x · W_matᵀ)                       (= the input gradient of a convolution)
    backward    dx = cols(dy) · W_mat                         (= a convolution forward)
                dW = cols(dy)ᵀ · x                            (= the convolution's weight gradient)

Output sizes (per spatial dim; k kernel, s stride, d dilation, p padding):

    conv2d            Ho = ⌊(H + p_top + p_bottom − d·(k − 1) − 1) / s⌋ + 1
    conv_transpose2d  Ho = (H − 1)·s − 2p + d·(k − 1) + output_padding + 1
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..function import Function
from ..kernels import ConvGeometry, is_channels_last, nhwc, out_size
from ..tensor import Tensor
from ._util import as_operand
from .shape import reshape

__all__ = ["conv2d", "conv_transpose2d", "table_conv2d", "pad2d", "Convolution", "TransposedConvolution",
           "ScatterKernels", "Pad2d", "pair", "conv_output_size", "conv_transpose_output_size"]


# ----- argument checking ----------------------------------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def pair(value, what: str, name: str, minimum: int = 1) -> tuple:
    """An int or a pair of ints as a pair, each at least ``minimum``; a clear error otherwise."""
    if _is_int(value):
        value = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        value = tuple(value)
    else:
        raise TypeError(f"{name}: expected {what} to be an int or a pair of ints, got {value!r}")
    value = (int(value[0]), int(value[1]))
    if min(value) < minimum:
        rule = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name}: expected {what} to be {rule}, got {value}")
    return value


def _padding(padding, kernel: tuple, stride: tuple, dilation: tuple, name: str) -> tuple:
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same' (PyTorch's rules).

    'same' pads d·(k − 1) in total per dim, the odd one on the bottom/right, and needs stride 1.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(expected stride 1, got stride {stride})")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"{name}: expected padding 'valid', 'same', an int or a pair of ints, got {padding!r}")
    ph, pw = pair(padding, "padding", name, minimum=0)
    return (ph, ph, pw, pw)


def _check_tensors(x, w, b, name: str):
    x = as_operand(x, name)
    w = as_operand(w, name)
    if b is not None:
        b = as_operand(b, name)
    for t, what in ((x, "input"), (w, "weight"), (b, "bias")):
        if t is not None and not np.issubdtype(t.dtype, np.floating):
            raise TypeError(f"{name}: expected a floating point {what}, got dtype {t.dtype}")
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        got = f"input {x.dtype}, weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        raise TypeError(f"{name}: expected input, weight and bias of one dtype, got {got}")
    if w.ndim != 4:
        raise ValueError(f"{name}: expected a 4-d weight, got shape {w.shape}")
    if min(w.shape) < 1:
        raise ValueError(f"{name}: expected a weight with positive sizes, got shape {w.shape}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {x.shape}")
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"{name}: expected an input with positive height and width, got shape {x.shape}")
    return x, w, b


def _check_groups(groups, name: str) -> int:
    if not _is_int(groups):
        raise TypeError(f"{name}: expected groups to be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{name}: expected groups to be positive, got {groups}")
    return int(groups)


def _check_bias(b, channels: int, name: str) -> None:
    if b is not None and b.shape != (channels,):
        raise ValueError(f"{name}: expected a bias of shape ({channels},), got shape {b.shape}")


def conv_output_size(hw: tuple, kernel, stride=1, padding=0, dilation=1) -> tuple:
    """(Ho, Wo) of conv2d on an input of spatial size ``hw`` (padding: int, pair, 'valid' or 'same')."""
    k, s, d = pair(kernel, "kernel_size", "conv_output_size"), pair(stride, "stride", "conv_output_size"), \
        pair(dilation, "dilation", "conv_output_size")
    p = _padding(padding, k, s, d, "conv_output_size")
    return out_size(hw[0], k[0], s[0], d[0], p[0], p[1]), out_size(hw[1], k[1], s[1], d[1], p[2], p[3])


def conv_transpose_output_size(hw: tuple, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> tuple:
    """(Ho, Wo) of conv_transpose2d: (H − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    name = "conv_transpose_output_size"
    k, s, d = pair(kernel, "kernel_size", name), pair(stride, "stride", name), pair(dilation, "dilation", name)
    p, op = pair(padding, "padding", name, 0), pair(output_padding, "output_padding", name, 0)
    return tuple((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2))


# ----- the ops ----------------------------------------------------------------------------------------------------

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


class Convolution(Function):
    """y = conv2d(x, W) + b on NCHW arrays; see the module docstring for the backward rules.

    Forward picks the algorithm (``self.algorithm``, see :func:`cnnkit.kernels.select`); backward uses it."""

    def __init__(self, geometry: ConvGeometry):
        self.geometry = geometry

    def forward(self, x, w, b=None):
        need = self.needs_input_grad
        self.algorithm = kernels.select(self.geometry, x.shape, w.shape)
        y, self.kept = kernels.forward(self.algorithm, x, w, self.geometry, keep=need[1])
        if b is not None:
            add_bias(y, b)
        self.x = x if need[1] and self.kept is None else None
        self.w = w if need[0] else None
        self.x_shape, self.w_shape = x.shape, w.shape
        return y

    def backward(self, gy):
        need, g, algorithm = self.needs_input_grad, self.geometry, self.algorithm
        gx = kernels.grad_input(algorithm, gy, self.w, g, self.x_shape) if need[0] else None
        gw = kernels.grad_weight(algorithm, self.x, gy, g, self.w_shape, self.kept) if need[1] else None
        if len(need) == 3:
            return gx, gw, (bias_grad(gy) if need[2] else None)
        return gx, gw


class TransposedConvolution(Function):
    """y = conv_transpose2d(x, W) + b: the input gradient of the convolution whose output x would be.

    ``geometry`` describes that convolution (its input is y, its output x); forward picks its algorithm
    (``self.algorithm``) and backward uses it.
    """

    def __init__(self, geometry: ConvGeometry):
        self.geometry = geometry

    def forward(self, x, w, b=None):
        need = self.needs_input_grad
        n = x.shape[0]
        c_out = w.shape[1] * self.geometry.groups
        y_shape = (n, c_out) + self.geometry.in_hw
        self.algorithm = kernels.select(self.geometry, y_shape, w.shape)
        y = kernels.grad_input(self.algorithm, x, w, self.geometry, y_shape)
        if b is not None:
            add_bias(y, b)
        self.x = x if need[1] else None
        self.w = w if need[0] else None
        self.w_shape = w.shape
        return y

    def backward(self, gy):
        need, g, algorithm = self.needs_input_grad, self.geometry, self.algorithm
        gx = kernels.forward(algorithm, gy, self.w, g)[0] if need[0] else None
        gw = kernels.grad_weight(algorithm, gy, self.x, g, self.w_shape) if need[1] else None
        if len(need) == 3:
            return gx, gw, (bias_grad(gy) if need[2] else None)
        return gx, gw


def _batched(x, name: str):
    """A 3-d (C, H, W) input becomes a batch of one (as in PyTorch); returns (x, was_unbatched)."""
    if x.ndim == 3:
        return reshape(x, (1,) + x.shape), True
    return x, False


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, _name: str = "conv2d") -> Tensor:
    """2-d convolution (cross-correlation, as in every CNN library) of an (N, C, H, W) or (C, H, W) input.

    weight (O, C/groups, kH, kW), bias (O,) or None. stride, dilation: int or pair; padding: int, pair,
    'valid' (none) or 'same' (output size = input size; stride 1 only; an odd total puts the extra row/column
    at the bottom/right). groups splits the channels into independent convolutions (groups = C: depthwise).

        y[n, o, h, w] = b[o] + Σ_{c ∈ group(o), i, j} x_pad[n, c, h·sH + i·dH, w·sW + j·dW] · W[o, c, i, j]
        Ho = ⌊(H + p_top + p_bottom − dH·(kH − 1) − 1) / sH⌋ + 1
    """
    name = _name
    x, w, b = _check_tensors(input, weight, bias, name)
    groups = _check_groups(groups, name)
    o, cg, kh, kw = w.shape
    s, d = pair(stride, "stride", name), pair(dilation, "dilation", name)
    pad = _padding(padding, (kh, kw), s, d, name)
    c, h, w_ = x.shape[-3:]
    if o % groups:
        raise ValueError(f"{name}: expected out_channels (weight.shape[0] = {o}) divisible by groups={groups}")
    if c != cg * groups:
        raise ValueError(f"{name}: expected input with {cg * groups} channels (weight {w.shape}, groups={groups}), "
                         f"got shape {x.shape}")
    _check_bias(b, o, name)
    hp, wp = h + pad[0] + pad[1], w_ + pad[2] + pad[3]
    eh, ew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    if eh > hp or ew > wp:
        raise ValueError(f"{name}: kernel size ({kh}, {kw}) (dilated: ({eh}, {ew})) is larger than the padded input "
                         f"({hp}, {wp}) of input shape {x.shape}")
    geometry = ConvGeometry((h, w_), (out_size(h, kh, s[0], d[0], pad[0], pad[1]),
                                      out_size(w_, kw, s[1], d[1], pad[2], pad[3])),
                            (kh, kw), s, d, pad, groups)
    x, unbatched = _batched(x, name)
    args = (x, w) if b is None else (x, w, b)
    y = Convolution(geometry)(*args)
    return reshape(y, y.shape[1:]) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     _name: str = "conv_transpose2d") -> Tensor:
    """Transposed 2-d convolution (the gradient of conv2d with respect to its input; "deconvolution").

    weight (C_in, C_out/groups, kH, kW) as in PyTorch, bias (C_out,) or None. Every input pixel spreads
    W-weighted copies of itself over a kH×kW window of the output, windows ``stride`` apart; ``padding`` p
    removes p rows/columns from both sides of that full output (it undoes conv2d's padding), and
    ``output_padding`` (< max(stride, dilation)) adds rows/columns at the bottom/right.

        Ho = (H − 1)·sH − 2·pH + dH·(kH − 1) + output_padding_H + 1
    """
    name = _name
    x, w, b = _check_tensors(input, weight, bias, name)
    groups = _check_groups(groups, name)
    c_in, og, kh, kw = w.shape
    s, d = pair(stride, "stride", name), pair(dilation, "dilation", name)
    if isinstance(padding, str):
        raise ValueError(f"{name}: expected padding to be an int or a pair of ints, got {padding!r}")
    p = pair(padding, "padding", name, minimum=0)
    op = pair(output_padding, "output_padding", name, minimum=0)
    for i in range(2):
        if op[i] >= max(s[i], d[i]):
            raise ValueError(f"{name}: expected output_padding smaller than stride or dilation, got "
                             f"output_padding={op}, stride={s}, dilation={d}")
    c, h, w_ = x.shape[-3:]
    if c_in % groups:
        raise ValueError(f"{name}: expected in_channels (weight.shape[0] = {c_in}) divisible by groups={groups}")
    if c != c_in:
        raise ValueError(f"{name}: expected input with {c_in} channels (weight {w.shape}), got shape {x.shape}")
    _check_bias(b, og * groups, name)
    ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    wo = (w_ - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"{name}: the output size ({ho}, {wo}) is not positive for input shape {x.shape}, "
                         f"kernel ({kh}, {kw}), stride {s}, padding {p}, dilation {d}")
    geometry = ConvGeometry((ho, wo), (h, w_), (kh, kw), s, d, (p[0], p[0] - op[0], p[1], p[1] - op[1]), groups)
    x, unbatched = _batched(x, name)
    args = (x, w) if b is None else (x, w, b)
    y = TransposedConvolution(geometry)(*args)
    return reshape(y, y.shape[1:]) if unbatched else y


# ----- connection tables (LeNet-5's S2 -> C3) ----------------------------------------------------------------

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


def check_table(table, name: str) -> np.ndarray:
    """A connection table as a bool array (out_channels, in_channels) in which every output sees an input."""
    t = np.asarray(table.data if isinstance(table, Tensor) else table)
    if t.ndim != 2 or t.dtype.kind not in "biu" or not np.all((t == 0) | (t == 1)):
        raise ValueError(f"{name}: expected a 2-d boolean table (out_channels, in_channels), got "
                         f"{'shape ' + str(t.shape) if t.ndim != 2 else 'dtype ' + str(t.dtype)}")
    t = t.astype(bool)
    empty = np.flatnonzero(~t.any(axis=1))
    if empty.size:
        raise ValueError(f"{name}: output map(s) {empty.tolist()} have no input in the connection table")
    return t


def table_conv2d(input, weight, table, bias=None, stride=1, padding=0, *, _name: str = "table_conv2d") -> Tensor:
    """Convolution in which output map j sees only the input maps i with ``table[j, i]`` True.

    ``weight`` holds the connected kernels only, shape (table.sum(), kH, kW), in the row-major order of the
    True entries of ``table`` (output map by output map). Equal to conv2d with a dense weight that is zero
    where the table is False; the gradient exists for the connected kernels only.
    """
    name = _name
    t = check_table(table, name)
    w = as_operand(weight, name)
    if w.ndim != 3 or w.shape[0] != int(t.sum()):
        raise ValueError(f"{name}: expected a weight of shape ({int(t.sum())}, kH, kW) (one kernel per connection "
                         f"of the table), got shape {w.shape}")
    dense = ScatterKernels(t)(w)
    return conv2d(input, dense, bias, stride, padding, _name=name)


# ----- padding modes of Conv2d ------------------------------------------------------------------------------------

class Pad2d(Function):
    """Pad H and W by (top, bottom, left, right) with 'reflect', 'replicate' or 'circular' values.

    Backward folds the gradient of every padded row/column back onto the row/column it copies
    (reflect: the mirror image about the edge row; replicate: the edge row; circular: the other side).
    """

    _NUMPY = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def __init__(self, pad: tuple, mode: str):
        self.pad, self.mode = pad, mode

    def forward(self, x):
        t, b, l_, r = self.pad
        self.in_shape = x.shape
        return np.pad(x, ((0, 0), (0, 0), (t, b), (l_, r)), mode=self._NUMPY[self.mode])

    def _fold(self, g: np.ndarray, axis: int, lo: int, hi: int, n: int) -> np.ndarray:
        """Fold a gradient padded by (lo, hi) along ``axis`` back to length n."""
        g = np.moveaxis(g, axis, 0)
        out = g[lo:lo + n].copy()
        top, bottom = g[:lo], g[lo + n:]
        if self.mode == "replicate":
            out[0] += top.sum(axis=0)
            out[n - 1] += bottom.sum(axis=0)
        elif self.mode == "reflect":
            out[lo:0:-1] += top                      # padded row p (< lo) copies row lo - p
            stop = n - 2 - hi if n - 2 - hi >= 0 else None
            out[n - 2:stop:-1] += bottom             # padded row n + lo + q copies row n - 2 - q
        else:  # circular
            out[n - lo:] += top                      # padded row p copies row n - lo + p
            out[:hi] += bottom                       # padded row n + lo + q copies row q
        return np.moveaxis(out, 0, axis)

    def backward(self, gy):
        t, b, l_, r = self.pad
        n, c, h, w = self.in_shape
        g = self._fold(gy, 2, t, b, h)
        return np.ascontiguousarray(self._fold(g, 3, l_, r, w))


def pad2d(x, pad: tuple, mode: str, name: str = "pad2d") -> Tensor:
    """Pad the last two dims of an (N, C, H, W) or (C, H, W) tensor by pad = (top, bottom, left, right)."""
    if mode not in Pad2d._NUMPY:
        raise ValueError(f"{name}: expected padding_mode 'zeros', 'reflect', 'replicate' or 'circular', got {mode!r}")
    x = as_operand(x, name)
    h, w = x.shape[-2:]
    t, b, l_, r = pad
    if mode == "reflect" and (max(t, b) >= h or max(l_, r) >= w):
        raise ValueError(f"{name}: reflect padding {pad} must be smaller than the input size ({h}, {w})")
    if mode == "circular" and (max(t, b) > h or max(l_, r) > w):
        raise ValueError(f"{name}: circular padding {pad} must not exceed the input size ({h}, {w})")
    if x.ndim == 3:
        return reshape(Pad2d(pad, mode)(reshape(x, (1,) + x.shape)), x.shape[0], h + t + b, w + l_ + r)
    return Pad2d(pad, mode)(x)
