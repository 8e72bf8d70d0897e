"""Fixed-window pooling: max, average and power-average (L_p) over the last two dims.

Inputs are ``(N, C, H, W)`` or ``(C, H, W)``; every plane is pooled on its own.

Output size (PyTorch's rule), per spatial dim, for input size H, kernel k, stride s (default k),
padding p and dilation d (the window spans d·(k−1)+1 pixels):

    H_out = ⌊(H + 2p − d·(k−1) − 1) / s⌋ + 1                              (ceil_mode=False)
    H_out = ⌈(H + 2p − d·(k−1) − 1) / s⌉ + 1, minus 1 if (H_out − 1)·s ≥ H + p   (ceil_mode=True)

(with ``ceil_mode`` a last, partial window is kept only if it starts inside the input or the left
padding). Padding is at most ⌊k/2⌋.

Forward and backward (y = output window value, dy = dL/dy, R(y) the input pixels of the window):

* max:  y = max_{x ∈ R} x; padding never wins (it is −∞). The gradient goes to the arg-max only,
  dx_j = Σ_{windows whose arg-max is j} dy ("max routes the error to the arg-max"). Ties go to the
  first pixel of the window in row-major scan order, a NaN wins over everything (the last NaN), as in
  PyTorch, so gradients agree exactly.
* avg:  y = Σ_{x ∈ R} x / D, dx_j = Σ_{windows ∋ j} dy / D ("spread evenly"), with D = the window
  area clipped to the padded input (count_include_pad=True), the number of real pixels in the window
  (False), or divisor_override.
* L_p:  y = (K · avg_pool(x^p))^(1/p) = (Σ_R x^p)^(1/p) for K = kH·kW (PyTorch's formula, also for
  partial ceil_mode windows, whose D is smaller than K). With a = avg_pool(x^p) and t = K·a:
  dx = p·x^(p−1) · avg_pool_backward(da),  da = K · (1/p) · t^(1/p − 1) · dy, and da = 0 where a = 0.

The loops over the window offsets, on raw arrays, are in ``cnnkit/kernels/pool_windows.py``; adaptive and
global pooling are in ``adaptive_pool.py``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..kernels import is_channels_last, onednn
from ..kernels.pool_windows import (
    Plan,
    pool_out_size,
    route_to_argmax,
    spread,
    window_argmax,
    window_max,
    window_plan,
    window_sum,
)
from ..tensor import Tensor
from . import validate
from .elementwise import abs as _abs
from .elementwise import neg as _neg

__all__ = ["max_pool2d", "avg_pool2d", "lp_pool2d", "MaxPool2d", "AvgPool2d", "LPPool2d", "window_args",
           "check_divisor", "check_norm_type", "check_input"]


# ===== argument checking ===========================================================================

def window_args(kernel_size, stride, padding, dilation, fn: str) -> tuple:
    """Validate and normalise the window geometry: ((kH, kW), (sH, sW), (pH, pW), (dH, dW)).

    ``stride`` None (or ()) means the kernel size; padding is at most half the kernel."""
    k = validate.pair(kernel_size, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        validate.pair(stride, "stride", fn)
    p = validate.pair(padding, "padding", fn, minimum=0)
    d = validate.pair(dilation, "dilation", fn)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{fn}: padding must be at most half the kernel size, got padding {p} for kernel "
                         f"{k} (at most {(k[0] // 2, k[1] // 2)})")
    return k, s, p, d


def check_divisor(divisor_override, fn: str):
    """avg_pool2d's ``divisor_override``: None or a non-zero int."""
    if divisor_override is None:
        return None
    if not validate.is_int(divisor_override):
        raise TypeError(f"{fn}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{fn}: divisor_override must not be zero, got 0")
    return int(divisor_override)


def check_norm_type(norm_type, fn: str) -> float:
    """lp_pool2d's p: a non-zero number (an int when it is integral, ±∞ allowed)."""
    p = validate.number(norm_type, "norm_type", fn)
    if p == 0 or np.isnan(p):
        raise ValueError(f"{fn}: norm_type must be a non-zero number (p of the L_p norm), got {norm_type!r}")
    return int(p) if p.is_integer() else p


def check_input(input, fn: str) -> Tensor:
    """A floating point (C, H, W) or (N, C, H, W) Tensor with non-zero C, H and W."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected a Tensor input, got {type(input).__name__}")
    shape = input.shape
    if input.ndim not in (3, 4) or 0 in shape[-3:]:
        raise ValueError(f"{fn}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input with non-zero C, H and W, "
                         f"got shape {tuple(shape)}")
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")
    return input


def _output_hw(shape, k, s, p, d, ceil_mode, fn: str) -> tuple:
    H, W = shape[-2:]
    oh = pool_out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    ow = pool_out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        ext = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        raise ValueError(f"{fn}: the kernel {k} (spanning {ext} with dilation {d}) is larger than the input "
                         f"{(H, W)} padded by {p}: the output size would be {(oh, ow)} for input shape "
                         f"{tuple(shape)}")
    return oh, ow


# ===== Functions ===================================================================================

class MaxPool2d(Function):
    """y = max over each window; dx: dy routed to the window's arg-max (first maximum in scan order).

    Outputs y, and with ``return_indices`` also PyTorch's int64 indices into the flattened H·W plane.
    A float32 input without indices runs on oneDNN when it is active and takes the case
    (:mod:`cnnkit.kernels.onednn.pool`; its workspace, the arg-max, is kept for backward).
    """

    def __init__(self, plan: Plan, return_indices: bool):
        self.plan, self.return_indices = plan, return_indices
        self.dnn = None

    def forward(self, x):
        plan = self.plan
        if not self.return_indices and onednn.active():
            out = onednn.pool.forward("max", x, plan, self.needs_input_grad[0])
            if out is not None:
                y, self.dnn = out
                self.shape = x.shape
                return y
        self.last = is_channels_last(x)
        xs = plan.split(x)
        y = window_max(xs, plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
        if not (self.needs_input_grad[0] or self.return_indices):
            return y
        idx = window_argmax(xs, y, plan)
        if self.needs_input_grad[0]:
            self.idx, self.shape = idx, x.shape
        if self.return_indices:
            return y, self.plan.flat_indices(idx)
        return y

    def backward(self, gy, *_):
        if self.dnn is not None:
            return onednn.pool.backward("max", gy, self.plan, self.shape, self.dnn)
        return route_to_argmax(gy, self.idx, self.shape, self.plan, self.last)


class AvgPool2d(Function):
    """y = Σ_window x / D;  dx = Σ over the windows containing x of dy / D (D per window).

    A float32 input runs on oneDNN when it is active and has the divisor: kH·kW for every window (its
    ``avg_include``) or, with ``exclude_padding``, each window's count of real pixels (``avg_exclude``).
    """

    def __init__(self, plan: Plan, divisor, exclude_padding: bool = False):
        self.plan, self.divisor = plan, divisor
        self.dnn = None
        if exclude_padding:
            self.alg = "avg_exclude"
        elif not isinstance(divisor, np.ndarray) and divisor == plan.k[0] * plan.k[1]:
            self.alg = "avg_include"
        else:
            self.alg = None

    def forward(self, x):
        plan = self.plan
        if self.alg is not None and onednn.active():
            out = onednn.pool.forward(self.alg, x, plan, self.needs_input_grad[0])
            if out is not None:
                y, self.dnn = out
                self.shape = x.shape
                return y
        self.shape, self.last = x.shape, is_channels_last(x)
        y = window_sum(plan.split(x), plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
        np.divide(y, self._divisor(x.dtype), out=y)
        return y

    def _divisor(self, dtype):
        d = self.divisor
        return d.astype(dtype) if isinstance(d, np.ndarray) else d

    def backward(self, gy):
        if self.dnn is not None:
            return onednn.pool.backward(self.alg, gy, self.plan, self.shape, self.dnn)
        return spread(gy / self._divisor(gy.dtype), self.shape, self.plan, self.last)


class LPPool2d(Function):
    """y = (K · a)^(1/p) with a = avg_pool(x^p), K = kH·kW (PyTorch's formula; see the module docstring)."""

    def __init__(self, plan: Plan, divisor, p):
        self.plan, self.divisor, self.p = plan, divisor, p
        self.area = plan.k[0] * plan.k[1]

    def _div(self, dtype):
        d = self.divisor
        return d.astype(dtype) if isinstance(d, np.ndarray) else d

    def forward(self, x):
        p = self.p
        with np.errstate(all="ignore"):
            xp = x * x if p == 2 else np.power(x, p)
            plan = self.plan
            self.last = is_channels_last(xp)
            a = window_sum(plan.split(xp), plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
            np.divide(a, self._div(x.dtype), out=a)
            t = a * self.area
            y = np.sqrt(t) if p == 2 else np.power(t, 1.0 / p)
        if self.needs_input_grad[0]:
            self.x, self.a, self.t = x, a, t
        return y

    def backward(self, gy):
        p, inv_p = self.p, 1.0 / self.p
        with np.errstate(all="ignore"):
            gt = gy * (inv_p * np.power(self.t, inv_p - 1))
            # d/da [sign(a)·relu(|a|)] is 1 where a ≠ 0 and 0 at a = 0 (PyTorch: zero gradient at zero)
            ga = np.where(self.a == 0, 0, gt * self.area)
            gxp = spread(ga / self._div(gy.dtype), self.x.shape, self.plan, self.last)
            return gxp * (p * np.power(self.x, p - 1))


# ===== the public functions ========================================================================

def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling (PyTorch's ``F.max_pool2d``): y = max over each kH×kW window (dilated by
    ``dilation``, stride default = kernel, implicit −∞ padding). Backward routes dy to the arg-max.
    With ``return_indices`` returns (y, indices into the flattened H·W input plane)."""
    fn = "max_pool2d"
    k, s, p, d = window_args(kernel_size, stride, padding, dilation, fn)
    ceil_mode = validate.flag(ceil_mode, "ceil_mode", fn)
    return_indices = validate.flag(return_indices, "return_indices", fn)
    check_input(input, fn)
    oh, ow = _output_hw(input.shape, k, s, p, d, ceil_mode, fn)
    return MaxPool2d(window_plan(*input.shape[-2:], oh, ow, k, s, p, d), return_indices)(input)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling (PyTorch's ``F.avg_pool2d``): y = Σ_window x / D with implicit zero padding.

    D = the window area inside the padded input (``count_include_pad=True``), the number of real input
    pixels in the window (False), or ``divisor_override``. Backward spreads dy / D over the window."""
    fn = "avg_pool2d"
    k, s, p, d = window_args(kernel_size, stride, padding, 1, fn)
    ceil_mode = validate.flag(ceil_mode, "ceil_mode", fn)
    count_include_pad = validate.flag(count_include_pad, "count_include_pad", fn)
    divisor_override = check_divisor(divisor_override, fn)
    check_input(input, fn)
    oh, ow = _output_hw(input.shape, k, s, p, d, ceil_mode, fn)
    plan = window_plan(*input.shape[-2:], oh, ow, k, s, p, d)
    exclude = not count_include_pad and divisor_override is None
    return AvgPool2d(plan, plan.divisor(count_include_pad, divisor_override), exclude)(input)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling (PyTorch's ``F.lp_pool2d``): y = (Σ_window x^p)^(1/p), computed as
    (kH·kW · avg_pool2d(x^p))^(1/p); p = 2 is L2 pooling, p = ∞ max pooling of |x|. The gradient is
    zero where the window's Σ x^p is zero."""
    fn = "lp_pool2d"
    p = check_norm_type(norm_type, fn)
    k, s, _, d = window_args(kernel_size, stride, 0, 1, fn)
    ceil_mode = validate.flag(ceil_mode, "ceil_mode", fn)
    check_input(input, fn)
    oh, ow = _output_hw(input.shape, k, s, (0, 0), d, ceil_mode, fn)
    plan = window_plan(*input.shape[-2:], oh, ow, k, s, (0, 0), d)
    if np.isinf(p):  # the limit p → ±∞: the max (min) of |x|, as PyTorch defines it
        if p > 0:
            return MaxPool2d(plan, False)(_abs(input))
        return _neg(MaxPool2d(plan, False)(_neg(_abs(input))))
    return LPPool2d(plan, plan.divisor(True, None), p)(input)
