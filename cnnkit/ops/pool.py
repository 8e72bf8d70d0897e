"""Pooling: max, average, power-average (L_p) and adaptive pooling over the last two dims.

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
* adaptive: window i along a dim of size H with n outputs is [⌊iH/n⌋, ⌈(i+1)H/n⌉); average (divided
  by the window area) or max, with the same backward rules. Output 1×1 average is the global mean.

Implementation: one Python loop over the kH·kW window offsets (never over batch, channels or pixels).
For offset (i, j), the pixels that all windows read at that offset form one strided slice of the input,
x[..., i·d − p + s·oh, j·d − p + s·ow] over the outputs (oh, ow) for which it is inside the input; the
forward folds these slices with ``np.maximum``/``+``, the backward adds the gradient back into the
same slices (assignment instead of addition when windows do not overlap). With stride 2 the slices are
read from contiguous copies of the input's stride phases instead (see ``_Plan``). The arg-max is kept
as the offset number per output (uint8 for windows up to 255 pixels); adaptive pooling loops over the
offsets inside its variable-size windows, one dim at a time.
"""
from __future__ import annotations

import math
import numbers
from functools import lru_cache

import numpy as np

from .. import backend
from ..function import Function
from ..kernels import is_channels_last
from ..tensor import Tensor
from .elementwise import abs as _abs
from .elementwise import neg as _neg

__all__ = ["max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"]


# ===== argument checking ===========================================================================

def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _pair(value, arg: str, who) -> tuple:
    """An int or a 1- or 2-sequence of ints as (h, w); TypeError/ValueError naming ``who`` otherwise."""
    if _is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        if len(value) == 1:
            return int(value[0]), int(value[0])
        if len(value) == 2:
            return int(value[0]), int(value[1])
        raise ValueError(f"{who}: {arg} must be a single int or a tuple of two ints, got {value!r}")
    raise TypeError(f"{who}: {arg} must be an int or a tuple of two ints, got {value!r}")


def _check_bool(value, arg: str, who) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {arg} must be a bool, got {value!r}")
    return bool(value)


def _window_args(who, kernel_size, stride, padding, dilation=1) -> tuple:
    """Validate and normalise the window geometry: ((kH, kW), (sH, sW), (pH, pW), (dH, dW))."""
    k = _pair(kernel_size, "kernel_size", who)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _pair(stride, "stride", who)
    p = _pair(padding, "padding", who)
    d = _pair(dilation, "dilation", who)
    if min(k) < 1:
        raise ValueError(f"{who}: kernel_size must be positive, got {kernel_size!r}")
    if min(s) < 1:
        raise ValueError(f"{who}: stride must be positive, got {stride!r}")
    if min(d) < 1:
        raise ValueError(f"{who}: dilation must be positive, got {dilation!r}")
    if min(p) < 0:
        raise ValueError(f"{who}: padding must be non-negative, got {padding!r}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{who}: padding must be at most half the kernel size, got padding {p} for kernel "
                         f"{k} (at most {(k[0] // 2, k[1] // 2)})")
    return k, s, p, d


def _check_input(input, who) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor input, got {type(input).__name__}")
    shape = input.shape
    if input.ndim not in (3, 4) or 0 in shape[-3:]:
        raise ValueError(f"{who}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input with non-zero C, H and W, "
                         f"got shape {tuple(shape)}")
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{who}: expected a floating point input, got dtype {input.dtype}")
    return input


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = (span + s - 1) // s + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input or the left padding
            out -= 1
        return out
    return span // s + 1


def _output_hw(who, shape, k, s, p, d, ceil_mode) -> tuple:
    H, W = shape[-2:]
    oh = _out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    ow = _out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        ext = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        raise ValueError(f"{who}: the kernel {k} (spanning {ext} with dilation {d}) is larger than the input "
                         f"{(H, W)} padded by {p}: the output size would be {(oh, ow)} for input shape "
                         f"{tuple(shape)}")
    return oh, ow


# ===== window geometry =============================================================================

def _axis_taps(size: int, out: int, k: int, s: int, p: int, d: int) -> list:
    """For each window offset i along one dim: (i, first input pixel, count, output slice), where the
    output slice selects the windows whose i-th pixel o·s − p + i·d lies inside [0, size); those pixels
    are first, first + s, …. Offsets that no window can use are left out."""
    taps = []
    for i in range(k):
        off = i * d - p
        lo = max(0, -(off // s))                    # first o with o·s + off >= 0
        hi = min(out, (size - 1 - off) // s + 1)    # one past the last o with o·s + off <= size − 1
        if hi > lo:
            taps.append((i, lo * s + off, hi - lo, slice(lo, hi)))
    return taps


class _Plan:
    """The geometry of one pooling configuration on one input size (cached; it holds only small data).

    With stride 2 along W (2×2/2 and the overlapping 3×3/2 of AlexNet and ResNet) the input is first
    split into its *phases* x[..., a::s_H, b::2] (contiguous copies, one pass over the input). Every
    window offset then reads a contiguous block of one phase instead of a strided slice of x — NumPy runs
    contiguous loops several times faster, and max pooling reads each pixel several times (the max, the
    arg-max). The backward accumulates into phase buffers and interleaves them once at the end. Larger
    strides split into too many small phases for this to pay; they use strided slices of x directly.
    """

    def __init__(self, H, W, oh, ow, k, s, p, d):
        self.H, self.W, self.oh, self.ow = H, W, oh, ow
        self.k, self.s, self.p, self.d = k, s, p, d
        self.phased = s[1] == 2 and s[0] <= 2
        rows = _axis_taps(H, oh, k[0], s[0], p[0], d[0])
        cols = _axis_taps(W, ow, k[1], s[1], p[1], d[1])
        # (offset number k = i·kW + j, source phase, index into it, output index, covers every output)
        self.taps = []
        for i, r0, rn, ro in rows:
            for j, c0, cn, co in cols:
                if self.phased:
                    key = (r0 % s[0], c0 % s[1])
                    src = (Ellipsis, slice(r0 // s[0], r0 // s[0] + rn), slice(c0 // s[1], c0 // s[1] + cn))
                else:
                    key = None
                    src = (Ellipsis, slice(r0, r0 + (rn - 1) * s[0] + 1, s[0]),
                           slice(c0, c0 + (cn - 1) * s[1] + 1, s[1]))
                full = ro == slice(0, oh) and co == slice(0, ow)
                self.taps.append((i * k[1] + j, key, src, (Ellipsis, ro, co), full))
        self.keys = sorted({t[1] for t in self.taps}) if self.phased else [None]
        # windows never share a pixel (each input pixel receives at most one gradient term)
        self.disjoint = all(s[a] >= d[a] * (k[a] - 1) + 1 for a in (0, 1))
        n = k[0] * k[1]
        self.idx_dtype = np.dtype(np.uint8 if n <= 256 else np.uint16 if n <= 65536 else np.int64)

    def _phase_hw(self, key) -> tuple:
        (a, b), (sh, sw) = key, self.s
        return (self.H - a + sh - 1) // sh, (self.W - b + sw - 1) // sw

    def split(self, x: np.ndarray) -> dict:
        """The phases the taps read, by key (or {None: x} for stride 1)."""
        if not self.phased:
            return {None: x}
        sh, sw = self.s
        return {key: x[..., key[0]::sh, key[1]::sw].copy(order="K") for key in self.keys}

    def grad_buffers(self, shape: tuple, dtype, last: bool) -> dict:
        """Zeroed gradient accumulators, one per phase (or the whole input for stride 1)."""
        if not self.phased:
            return {None: _alloc(shape, dtype, last, 0)}
        return {key: _alloc(shape[:-2] + self._phase_hw(key), dtype, last, 0) for key in self.keys}

    def merge(self, bufs: dict, shape: tuple, dtype, last: bool) -> np.ndarray:
        """Interleave the phase gradients into one input-shaped gradient."""
        if not self.phased:
            return bufs[None]
        sh, sw = self.s
        gx = _alloc(shape, dtype, last, None if len(self.keys) == sh * sw else 0)
        for (a, b), g in bufs.items():
            gx[..., a::sh, b::sw] = g
        return gx

    def first_taps(self) -> np.ndarray:
        """PyTorch's starting arg-max of each window: its first pixel at or after the input's start."""
        i0 = np.maximum(0, -((np.arange(self.oh) * self.s[0] - self.p[0]) // self.d[0]))
        j0 = np.maximum(0, -((np.arange(self.ow) * self.s[1] - self.p[1]) // self.d[1]))
        return (i0[:, None] * self.k[1] + j0[None, :]).astype(self.idx_dtype)

    def flat_indices(self, idx: np.ndarray) -> np.ndarray:
        """Offset numbers → PyTorch's indices into the flattened H·W input plane (int64)."""
        i, j = np.divmod(idx.astype(np.int64), self.k[1])
        rows = (np.arange(self.oh) * self.s[0] - self.p[0])[:, None] + i * self.d[0]
        cols = (np.arange(self.ow) * self.s[1] - self.p[1])[None, :] + j * self.d[1]
        return rows * self.W + cols

    def divisor(self, count_include_pad: bool, divisor_override):
        """avg_pool's divisor per output window: a number if all windows share it, else an (oH, oW) array."""
        if divisor_override is not None:
            return divisor_override
        counts = []
        for a, size, out in ((0, self.H, self.oh), (1, self.W, self.ow)):
            start = np.arange(out) * self.s[a] - self.p[a]
            end = np.minimum(start + self.k[a], size + self.p[a])
            counts.append(end - start if count_include_pad else np.minimum(end, size) - np.maximum(start, 0))
        if counts[0].min() == counts[0].max() and counts[1].min() == counts[1].max():
            return int(counts[0][0] * counts[1][0])
        return np.outer(counts[0], counts[1])


def _alloc(shape: tuple, dtype, last: bool, fill=None) -> np.ndarray:
    """An array of NCHW shape ``shape``, in NHWC memory when ``last``: a pooling layer keeps its input's layout,
    so that the element-wise work before and after it (ReLU, its gradient) runs on matching layouts."""
    if last and len(shape) == 4:
        n, c, h, w = shape
        a = np.empty((n, h, w, c), dtype).transpose(0, 3, 1, 2)
    else:
        a = np.empty(shape, dtype)
    if fill is not None:
        a.fill(fill)
    return a


@lru_cache(maxsize=256)
def _plan(H, W, oh, ow, k, s, p, d) -> _Plan:
    return _Plan(H, W, oh, ow, k, s, p, d)


# ===== the window loops on arrays ==================================================================

def _window_max(xs: dict, plan: _Plan, shape: tuple, dtype, last: bool) -> np.ndarray:
    """Max over every window of the phases ``xs`` (NaN propagates, padding is −∞)."""
    y = _alloc(shape, dtype, last)
    taps = plan.taps
    first = next((t for t in taps if t[4]), None)
    if first is not None:
        np.copyto(y, xs[first[1]][first[2]])
    else:
        y.fill(-np.inf)
    for t in taps:
        if t is not first:
            ys = y[t[3]]
            np.maximum(ys, xs[t[1]][t[2]], out=ys)
    return y


def _window_argmax(xs: dict, y: np.ndarray, plan: _Plan) -> np.ndarray:
    """The offset number of each window's arg-max, chosen as PyTorch does (first maximum in scan order)."""
    if y.size == 0:
        return np.zeros_like(y, dtype=plan.idx_dtype)
    n = plan.k[0] * plan.k[1]
    if y.min() > -np.inf and n < 256:
        # y is the maximum of real pixels. The first offset k with x_k == y has the largest n − k:
        # code = max_k (x_k == y)·(n − k) in uint8 arithmetic, idx = n − code.
        eq = np.empty_like(y, dtype=bool)
        term = np.empty_like(y, dtype=np.uint8)
        code = np.zeros_like(y, dtype=np.uint8)
        for k, key, src, yi, _ in plan.taps:
            es, ts, cs = eq[yi], term[yi], code[yi]
            np.equal(xs[key][src], y[yi], out=es)
            np.multiply(es.view(np.uint8), n - k, out=ts)
            np.maximum(cs, ts, out=cs)
        return np.subtract(n, code, out=code)
    # NaN or −∞ somewhere (or huge windows): replay PyTorch's scan (update when x > best or x is NaN)
    idx = np.empty_like(y, dtype=plan.idx_dtype)
    idx[...] = plan.first_taps()
    best = np.full_like(y, -np.inf)
    for k, key, src, yi, _ in plan.taps:
        v, bs = xs[key][src], best[yi]
        upd = (v > bs) | np.isnan(v)
        np.copyto(bs, v, where=upd)
        np.copyto(idx[yi], k, where=upd)
    return idx


def _window_sum(xs: dict, plan: _Plan, shape: tuple, dtype, last: bool) -> np.ndarray:
    y = _alloc(shape, dtype, last, 0)
    for _, key, src, yi, _ in plan.taps:
        ys = y[yi]
        np.add(ys, xs[key][src], out=ys)
    return y


def _spread(g: np.ndarray, shape: tuple, plan: _Plan, last: bool) -> np.ndarray:
    """The adjoint of :func:`_window_sum`: every window's value added to each of its pixels."""
    bufs = plan.grad_buffers(shape, g.dtype, last)
    for _, key, src, yi, _ in plan.taps:
        gs = bufs[key][src]
        if plan.disjoint:  # every pixel belongs to at most one window
            np.copyto(gs, g[yi])
        else:
            np.add(gs, g[yi], out=gs)
    return plan.merge(bufs, shape, g.dtype, last)


def _route_to_argmax(gy: np.ndarray, idx: np.ndarray, shape: tuple, plan: _Plan, last: bool) -> np.ndarray:
    """dx: each window's gradient added to the pixel at its arg-max offset.

    dy·[arg-max = k] is formed on whole (contiguous) arrays — an output whose arg-max is offset k lies
    inside that offset's valid block — and only the accumulation works on the block.
    """
    bufs = plan.grad_buffers(shape, gy.dtype, last)
    mask = np.empty_like(idx, dtype=bool)
    part = np.empty_like(gy)
    for k, key, src, yi, full in plan.taps:
        np.equal(idx, k, out=mask)
        gs = bufs[key][src]
        if plan.disjoint and full:  # nothing to add to: write dy·[arg-max is k] in place
            np.multiply(gy, mask, out=gs)
            continue
        np.multiply(gy, mask, out=part)
        if plan.disjoint:
            np.copyto(gs, part[yi])
        else:
            np.add(gs, part[yi], out=gs)
    return plan.merge(bufs, shape, gy.dtype, last)


# ===== Functions ===================================================================================

class MaxPool2d(Function):
    """y = max over each window; dx: dy routed to the window's arg-max (first maximum in scan order).

    Outputs y, and with ``return_indices`` also PyTorch's int64 indices into the flattened H·W plane.
    """

    def __init__(self, plan: _Plan, return_indices: bool):
        self.plan, self.return_indices = plan, return_indices

    def forward(self, x):
        plan = self.plan
        self.last = is_channels_last(x)
        xs = plan.split(x)
        y = _window_max(xs, plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
        if not (self.needs_input_grad[0] or self.return_indices):
            return y
        idx = _window_argmax(xs, y, plan)
        if self.needs_input_grad[0]:
            self.idx, self.shape = idx, x.shape
        if self.return_indices:
            return y, self.plan.flat_indices(idx)
        return y

    def backward(self, gy, *_):
        return _route_to_argmax(gy, self.idx, self.shape, self.plan, self.last)


class AvgPool2d(Function):
    """y = Σ_window x / D;  dx = Σ over the windows containing x of dy / D (D per window)."""

    def __init__(self, plan: _Plan, divisor):
        self.plan, self.divisor = plan, divisor

    def forward(self, x):
        plan = self.plan
        self.shape, self.last = x.shape, is_channels_last(x)
        y = _window_sum(plan.split(x), plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
        np.divide(y, self._divisor(x.dtype), out=y)
        return y

    def _divisor(self, dtype):
        d = self.divisor
        return d.astype(dtype) if isinstance(d, np.ndarray) else d

    def backward(self, gy):
        return _spread(gy / self._divisor(gy.dtype), self.shape, self.plan, self.last)


class LPPool2d(Function):
    """y = (K · a)^(1/p) with a = avg_pool(x^p), K = kH·kW (PyTorch's formula; see the module docstring)."""

    def __init__(self, plan: _Plan, divisor, p):
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
            a = _window_sum(plan.split(xp), plan, x.shape[:-2] + (plan.oh, plan.ow), x.dtype, self.last)
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
            gxp = _spread(ga / self._div(gy.dtype), self.x.shape, self.plan, self.last)
            return gxp * (p * np.power(self.x, p - 1))


# ===== adaptive pooling ============================================================================

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

def _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, who):
    k, s, p, d = _window_args(who, kernel_size, stride, padding, dilation)
    ceil_mode = _check_bool(ceil_mode, "ceil_mode", who)
    return_indices = _check_bool(return_indices, "return_indices", who)
    _check_input(input, who)
    oh, ow = _output_hw(who, input.shape, k, s, p, d, ceil_mode)
    return MaxPool2d(_plan(*input.shape[-2:], oh, ow, k, s, p, d), return_indices)(input)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling (PyTorch's ``F.max_pool2d``): y = max over each kH×kW window (dilated by
    ``dilation``, stride default = kernel, implicit −∞ padding). Backward routes dy to the arg-max.
    With ``return_indices`` returns (y, indices into the flattened H·W input plane)."""
    return _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d")


def _avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, who):
    k, s, p, d = _window_args(who, kernel_size, stride, padding)
    ceil_mode = _check_bool(ceil_mode, "ceil_mode", who)
    count_include_pad = _check_bool(count_include_pad, "count_include_pad", who)
    divisor_override = _check_divisor(divisor_override, who)
    _check_input(input, who)
    oh, ow = _output_hw(who, input.shape, k, s, p, d, ceil_mode)
    plan = _plan(*input.shape[-2:], oh, ow, k, s, p, d)
    return AvgPool2d(plan, plan.divisor(count_include_pad, divisor_override))(input)


def _check_divisor(divisor_override, who):
    if divisor_override is None:
        return None
    if not _is_int(divisor_override):
        raise TypeError(f"{who}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{who}: divisor_override must not be zero")
    return int(divisor_override)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling (PyTorch's ``F.avg_pool2d``): y = Σ_window x / D with implicit zero padding.

    D = the window area inside the padded input (``count_include_pad=True``), the number of real input
    pixels in the window (False), or ``divisor_override``. Backward spreads dy / D over the window."""
    return _avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                       "avg_pool2d")


def _check_norm_type(norm_type, who) -> float:
    if not isinstance(norm_type, (numbers.Real, np.floating, np.integer)) or isinstance(norm_type,
                                                                                         (bool, np.bool_)):
        raise TypeError(f"{who}: norm_type must be a number, got {norm_type!r}")
    p = float(norm_type)
    if p == 0 or np.isnan(p):
        raise ValueError(f"{who}: norm_type must be a non-zero number (p of the L_p norm), got {norm_type!r}")
    return int(p) if p.is_integer() else p


def _lp_pool2d(input, norm_type, kernel_size, stride, ceil_mode, who):
    p = _check_norm_type(norm_type, who)
    k, s, _, d = _window_args(who, kernel_size, stride, 0)
    ceil_mode = _check_bool(ceil_mode, "ceil_mode", who)
    _check_input(input, who)
    oh, ow = _output_hw(who, input.shape, k, s, (0, 0), d, ceil_mode)
    plan = _plan(*input.shape[-2:], oh, ow, k, s, (0, 0), d)
    if np.isinf(p):  # the limit p → ±∞: the max (min) of |x|, as PyTorch defines it
        if p > 0:
            return MaxPool2d(plan, False)(_abs(input))
        return _neg(MaxPool2d(plan, False)(_neg(_abs(input))))
    return LPPool2d(plan, plan.divisor(True, None), p)(input)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling (PyTorch's ``F.lp_pool2d``): y = (Σ_window x^p)^(1/p), computed as
    (kH·kW · avg_pool2d(x^p))^(1/p); p = 2 is L2 pooling, p = ∞ max pooling of |x|. The gradient is
    zero where the window's Σ x^p is zero."""
    return _lp_pool2d(input, norm_type, kernel_size, stride, ceil_mode, "lp_pool2d")


def _adaptive_out(output_size, shape, who) -> tuple:
    if output_size is None or _is_int(output_size):
        sizes = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = tuple(output_size)
    elif isinstance(output_size, (tuple, list)):
        raise ValueError(f"{who}: output_size must be an int or a tuple of two ints (or None), got "
                         f"{output_size!r}")
    else:
        raise TypeError(f"{who}: output_size must be an int or a tuple of two ints (or None), got "
                        f"{output_size!r}")
    out = []
    for v, size in zip(sizes, shape[-2:]):
        if v is None:
            out.append(int(size))
        elif not _is_int(v):
            raise TypeError(f"{who}: output_size must hold ints or None, got {output_size!r}")
        elif v < 0:
            raise ValueError(f"{who}: output_size must be non-negative, got {output_size!r}")
        else:
            out.append(int(v))
    return tuple(out)


def _adaptive_avg_pool2d(input, output_size, who):
    _check_input(input, who)
    oh, ow = out = _adaptive_out(output_size, input.shape, who)
    H, W = input.shape[-2:]
    if oh == 0 or ow == 0:
        return AdaptiveAvgPool2d(out)(input)
    if oh == 1 and ow == 1:
        return GlobalAvgPool2d()(input)
    if H % oh == 0 and W % ow == 0:  # equal, non-overlapping windows: plain average pooling
        k = (H // oh, W // ow)
        return AvgPool2d(_plan(H, W, oh, ow, k, k, (0, 0), (1, 1)), k[0] * k[1])(input)
    return AdaptiveAvgPool2d(out)(input)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling (PyTorch's ``F.adaptive_avg_pool2d``) to ``output_size`` (int, or a pair
    whose None entries keep the input size); window i of n over size H is [⌊iH/n⌋, ⌈(i+1)H/n⌉).
    Output 1 is global average pooling (the mean over H×W)."""
    return _adaptive_avg_pool2d(input, output_size, "adaptive_avg_pool2d")


def _adaptive_max_pool2d(input, output_size, return_indices, who):
    _check_input(input, who)
    return_indices = _check_bool(return_indices, "return_indices", who)
    out = _adaptive_out(output_size, input.shape, who)
    return AdaptiveMaxPool2d(out, return_indices)(input)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling (PyTorch's ``F.adaptive_max_pool2d``) over the windows of
    :func:`adaptive_avg_pool2d`; backward routes dy to the arg-max (first maximum in scan order)."""
    return _adaptive_max_pool2d(input, output_size, return_indices, "adaptive_max_pool2d")
