"""Convolution as differentiable ops: ``conv2d`` and ``conv_transpose2d``.

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

import functools

import numpy as np

from .. import kernels
from ..autograd.grad_mode import is_grad_enabled
from ..function import Function
from ..kernels import ConvGeometry, out_size
from ..kernels.bias import add_bias, bias_grad
from ..tensor import Tensor
from . import validate
from ._util import as_operand
from .activation import relu, relu_in_place
from .shape import reshape

__all__ = ["conv2d", "conv2d_relu", "conv2d_add_relu", "conv_transpose2d", "Convolution", "TransposedConvolution",
           "conv_output_size", "conv_transpose_output_size"]


# ----- argument checking ----------------------------------------------------------------------------------------

def _check_tensors(x, w, b, name: str):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
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


def _check_bias(b, channels: int, name: str) -> None:
    if b is not None and b.shape != (channels,):
        raise ValueError(f"{name}: expected a bias of shape ({channels},), got shape {b.shape}")


def conv_output_size(hw: tuple, kernel, stride=1, padding=0, dilation=1) -> tuple:
    """(Ho, Wo) of conv2d on an input of spatial size ``hw`` (padding: int, pair, 'valid' or 'same')."""
    fn = "conv_output_size"
    k, s, d = validate.pair(kernel, "kernel_size", fn), validate.pair(stride, "stride", fn), \
        validate.pair(dilation, "dilation", fn)
    p = validate.padding(padding, k, s, d, fn)
    return out_size(hw[0], k[0], s[0], d[0], p[0], p[1]), out_size(hw[1], k[1], s[1], d[1], p[2], p[3])


def conv_transpose_output_size(hw: tuple, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> tuple:
    """(Ho, Wo) of conv_transpose2d: (H − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    fn = "conv_transpose_output_size"
    k, s, d = validate.pair(kernel, "kernel_size", fn), validate.pair(stride, "stride", fn), \
        validate.pair(dilation, "dilation", fn)
    p, op = validate.pair(padding, "padding", fn, 0), validate.pair(output_padding, "output_padding", fn, 0)
    return tuple((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2))


# ----- the ops ----------------------------------------------------------------------------------------------------

class Convolution(Function):
    """y = conv2d(x, W) + b on NCHW arrays; see the module docstring for the backward rules.

    Forward picks the algorithm (``self.algorithm``, see :func:`cnnkit.kernels.select`); backward uses it.
    Forward only (:func:`conv2d_relu`, :func:`conv2d_add_relu`): with ``add`` (an array of y's shape)
    y = conv2d(x, W) + b + add, inside the oneDNN primitive; with ``relu`` y = max(y, 0): on oneDNN its ReLU post-op
    when x, W and b are finite and nothing is added (it maps NaN to 0, PyTorch keeps NaN), else in place on y."""

    def __init__(self, geometry: ConvGeometry, relu: bool = False, add: np.ndarray | None = None):
        self.geometry = geometry
        self.relu = relu
        self.add = add

    def forward(self, x, w, b=None):
        need = self.needs_input_grad
        if (self.relu or self.add is not None) and any(need):
            raise RuntimeError("Convolution: a fused ReLU or addition has no backward (conv2d_relu records no graph)")
        self.algorithm = kernels.select(self.geometry, x.shape, w.shape, x.dtype)
        packed = kernels.onednn.packed
        post = (self.relu and self.add is None and self.algorithm == "onednn" and packed.all_finite(x)
                and packed.finite(w) and (b is None or packed.all_finite(b)))
        y, self.kept = kernels.forward(self.algorithm, x, w, self.geometry, keep=need[1], bias=b, relu=post,
                                       add=self.add)
        self.add = None
        if self.relu and not post:
            relu_in_place(y)
        self.x = x if need[1] and self.kept is None else None
        self.w = w if need[0] else None
        self.x_shape, self.w_shape = x.shape, w.shape
        return y

    def backward(self, gy):
        need, g, algorithm = self.needs_input_grad, self.geometry, self.algorithm
        gy = kernels.gradient_layout(algorithm, gy, g)
        gx = kernels.grad_input(algorithm, gy, self.w, g, self.x_shape) if need[0] else None
        if len(need) < 3 or not need[2]:
            gw = kernels.grad_weight(algorithm, self.x, gy, g, self.w_shape, self.kept) if need[1] else None
            return (gx, gw) if len(need) < 3 else (gx, gw, None)
        if need[1]:     # dW and db in one pass (oneDNN sums db inside its weight-gradient primitive)
            gw, gb = kernels.grad_weight(algorithm, self.x, gy, g, self.w_shape, self.kept, bias=True)
            return gx, gw, gb
        return gx, None, bias_grad(gy)


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
        self.algorithm = kernels.select(self.geometry, y_shape, w.shape, x.dtype)
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


def _batched(x):
    """A 3-d (C, H, W) input becomes a batch of one (as in PyTorch); returns (x, was_unbatched)."""
    if x.ndim == 3:
        return reshape(x, (1,) + x.shape), True
    return x, False


def _plain(v) -> bool:
    """An int, a str or a tuple of ints, all of exactly those types (no bool, no NumPy int): values whose equality
    implies the same validation result, so they may key a cache."""
    return type(v) is int or type(v) is str or (type(v) is tuple and all(type(e) is int for e in v))


def _conv2d_geometry(x_shape: tuple, w_shape: tuple, stride, padding, dilation, groups) -> ConvGeometry:
    """conv2d's argument checks and its ConvGeometry, from the shapes and the layer's options."""
    name = "conv2d"
    groups = validate.positive_int(groups, "groups", name)
    o, cg, kh, kw = w_shape
    s, d = validate.pair(stride, "stride", name), validate.pair(dilation, "dilation", name)
    pad = validate.padding(padding, (kh, kw), s, d, name)
    c, h, w_ = x_shape[-3:]
    if o % groups:
        raise ValueError(f"{name}: expected out_channels (weight.shape[0] = {o}) divisible by groups={groups}")
    if c != cg * groups:
        raise ValueError(f"{name}: expected input with {cg * groups} channels (weight {w_shape}, groups={groups}), "
                         f"got shape {x_shape}")
    hp, wp = h + pad[0] + pad[1], w_ + pad[2] + pad[3]
    eh, ew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    if eh > hp or ew > wp:
        raise ValueError(f"{name}: kernel size ({kh}, {kw}) (dilated: ({eh}, {ew})) is larger than the padded input "
                         f"({hp}, {wp}) of input shape {x_shape}")
    return ConvGeometry((h, w_), (out_size(h, kh, s[0], d[0], pad[0], pad[1]),
                                  out_size(w_, kw, s[1], d[1], pad[2], pad[3])),
                        (kh, kw), s, d, pad, groups)


@functools.lru_cache(maxsize=512)
def _cached_geometry(key: tuple) -> ConvGeometry:
    """:func:`_conv2d_geometry` of a (x_shape, w_shape, stride, padding, dilation, groups) key of :func:`_plain`
    options: a network calls each layer with the same ones, so its checks run once per shape (an error is not
    cached: it is raised again on every call)."""
    return _conv2d_geometry(*key)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-d convolution (cross-correlation, as in every CNN library) of an (N, C, H, W) or (C, H, W) input.

    weight (O, C/groups, kH, kW), bias (O,) or None. stride, dilation: int or pair; padding: int, pair,
    'valid' (none) or 'same' (output size = input size; stride 1 only; an odd total puts the extra row/column
    at the bottom/right). groups splits the channels into independent convolutions (groups = C: depthwise).

        y[n, o, h, w] = b[o] + Σ_{c ∈ group(o), i, j} x_pad[n, c, h·sH + i·dH, w·sW + j·dW] · W[o, c, i, j]
        Ho = ⌊(H + p_top + p_bottom − dH·(kH − 1) − 1) / sH⌋ + 1
    """
    x, w, b, geometry, unbatched = _conv2d_arguments(input, weight, bias, stride, padding, dilation, groups)
    args = (x, w) if b is None else (x, w, b)
    y = Convolution(geometry)(*args)
    return reshape(y, y.shape[1:]) if unbatched else y


def _conv2d_arguments(input, weight, bias, stride, padding, dilation, groups) -> tuple:
    """conv2d's checked arguments: (x batched, w, b, geometry, whether x was unbatched)."""
    x, w, b = _check_tensors(input, weight, bias, "conv2d")
    key = (x.shape, w.shape, stride, padding, dilation, groups)
    geometry = _cached_geometry(key) if all(_plain(v) for v in key[2:]) else _conv2d_geometry(*key)
    _check_bias(b, w.shape[0], "conv2d")
    x, unbatched = _batched(x)
    return x, w, b, geometry, unbatched


def conv2d_relu(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """max(conv2d(input, weight, bias, ...), 0) as one op (the fusion :class:`cnnkit.nn.Sequential` makes of a
    ``Conv2d`` followed by a ``ReLU``, :mod:`cnnkit.nn.fusion`): the same values as ``relu(conv2d(...))``.
    When a gradient would be recorded it is exactly that, two ops."""
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in tensors):
        return relu(conv2d(input, weight, bias, stride, padding, dilation, groups))
    return _fused(input, weight, bias, stride, padding, dilation, groups, None)


def conv2d_add_relu(input, weight, bias, residual, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """max(conv2d(input, weight, bias, ...) + residual, 0) as one op (a ResNet block's last convolution, its
    shortcut and its ReLU, :mod:`cnnkit.nn.fusion`); ``residual`` has the convolution's output shape. When a
    gradient would be recorded it is the three ops."""
    tensors = (input, weight, residual) if bias is None else (input, weight, bias, residual)
    if is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in tensors):
        return relu(conv2d(input, weight, bias, stride, padding, dilation, groups) + residual)
    return _fused(input, weight, bias, stride, padding, dilation, groups, residual)


def _fused(input, weight, bias, stride, padding, dilation, groups, residual) -> Tensor:
    name = "conv2d"
    x, w, b, geometry, unbatched = _conv2d_arguments(input, weight, bias, stride, padding, dilation, groups)
    add = None
    if residual is not None:
        if not isinstance(residual, Tensor):
            raise TypeError(f"{name}: expected the residual to be a Tensor, got {type(residual).__name__}")
        out_shape = (x.shape[0], w.shape[0]) + tuple(geometry.out_hw)
        add = residual._data if not unbatched else residual._data[None]
        if add.shape != out_shape or add.dtype != x.dtype:
            raise ValueError(f"{name}: the residual must have the convolution's output shape {out_shape[unbatched:]} "
                             f"and dtype {x.dtype}, got shape {tuple(residual.shape)} and dtype {residual.dtype}")
    y = Convolution(geometry, relu=True, add=add)(*((x, w) if b is None else (x, w, b)))
    return reshape(y, y.shape[1:]) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 2-d convolution (the gradient of conv2d with respect to its input; "deconvolution").

    weight (C_in, C_out/groups, kH, kW) as in PyTorch, bias (C_out,) or None. Every input pixel spreads
    W-weighted copies of itself over a kH×kW window of the output, windows ``stride`` apart; ``padding`` p
    removes p rows/columns from both sides of that full output (it undoes conv2d's padding), and
    ``output_padding`` (< max(stride, dilation)) adds rows/columns at the bottom/right.

        Ho = (H − 1)·sH − 2·pH + dH·(kH − 1) + output_padding_H + 1
    """
    name = "conv_transpose2d"
    x, w, b = _check_tensors(input, weight, bias, name)
    groups = validate.positive_int(groups, "groups", name)
    c_in, og, kh, kw = w.shape
    s, d = validate.pair(stride, "stride", name), validate.pair(dilation, "dilation", name)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple of two ints, got {padding!r}")
    p = validate.pair(padding, "padding", name, minimum=0)
    op = validate.pair(output_padding, "output_padding", name, minimum=0)
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
    x, unbatched = _batched(x)
    args = (x, w) if b is None else (x, w, b)
    y = TransposedConvolution(geometry)(*args)
    return reshape(y, y.shape[1:]) if unbatched else y
