"""Pooling windows on raw arrays: the plan of a fixed-window pooling and the loops over its window offsets.

For input size H, kernel k, stride s, padding p and dilation d (the window spans d·(k−1)+1 pixels), PyTorch's
output size per spatial dim is

    H_out = ⌊(H + 2p − d·(k−1) − 1) / s⌋ + 1                              (ceil_mode=False)
    H_out = ⌈(H + 2p − d·(k−1) − 1) / s⌉ + 1, minus 1 if (H_out − 1)·s ≥ H + p   (ceil_mode=True)

One Python loop runs over the kH·kW window offsets (never over batch, channels or pixels). For offset (i, j),
the pixels that all windows read at that offset form one strided slice of the input,
x[..., i·d − p + s·oh, j·d − p + s·ow] over the outputs (oh, ow) for which it is inside the input; the
forward folds these slices with ``np.maximum``/``+`` (:func:`window_max`, :func:`window_sum`), the backward adds
the gradient back into the same slices (:func:`spread`, :func:`route_to_argmax`; assignment instead of addition
when windows do not overlap). With stride 2 the slices are read from contiguous copies of the input's stride
phases instead (see :class:`Plan`). The arg-max is kept as the offset number per output (uint8 for windows up to
255 pixels).

Arrays only: no Tensor, no Function (those are in ``cnnkit/ops/pool.py``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["pool_out_size", "axis_taps", "Plan", "alloc", "window_plan", "window_max", "window_argmax",
           "window_sum", "spread", "route_to_argmax"]


def pool_out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = (span + s - 1) // s + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input or the left padding
            out -= 1
        return out
    return span // s + 1


def axis_taps(size: int, out: int, k: int, s: int, p: int, d: int) -> list:
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


class Plan:
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
        rows = axis_taps(H, oh, k[0], s[0], p[0], d[0])
        cols = axis_taps(W, ow, k[1], s[1], p[1], d[1])
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
            return {None: alloc(shape, dtype, last, 0)}
        return {key: alloc(shape[:-2] + self._phase_hw(key), dtype, last, 0) for key in self.keys}

    def merge(self, bufs: dict, shape: tuple, dtype, last: bool) -> np.ndarray:
        """Interleave the phase gradients into one input-shaped gradient."""
        if not self.phased:
            return bufs[None]
        sh, sw = self.s
        gx = alloc(shape, dtype, last, None if len(self.keys) == sh * sw else 0)
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


def alloc(shape: tuple, dtype, last: bool, fill=None) -> np.ndarray:
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
def window_plan(H, W, oh, ow, k, s, p, d) -> Plan:
    return Plan(H, W, oh, ow, k, s, p, d)


# ===== the window loops on arrays ==================================================================

def window_max(xs: dict, plan: Plan, shape: tuple, dtype, last: bool) -> np.ndarray:
    """Max over every window of the phases ``xs`` (NaN propagates, padding is −∞)."""
    y = alloc(shape, dtype, last)
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


def window_argmax(xs: dict, y: np.ndarray, plan: Plan) -> np.ndarray:
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


def window_sum(xs: dict, plan: Plan, shape: tuple, dtype, last: bool) -> np.ndarray:
    y = alloc(shape, dtype, last, 0)
    for _, key, src, yi, _ in plan.taps:
        ys = y[yi]
        np.add(ys, xs[key][src], out=ys)
    return y


def spread(g: np.ndarray, shape: tuple, plan: Plan, last: bool) -> np.ndarray:
    """The adjoint of :func:`window_sum`: every window's value added to each of its pixels."""
    bufs = plan.grad_buffers(shape, g.dtype, last)
    for _, key, src, yi, _ in plan.taps:
        gs = bufs[key][src]
        if plan.disjoint:  # every pixel belongs to at most one window
            np.copyto(gs, g[yi])
        else:
            np.add(gs, g[yi], out=gs)
    return plan.merge(bufs, shape, g.dtype, last)


def route_to_argmax(gy: np.ndarray, idx: np.ndarray, shape: tuple, plan: Plan, last: bool) -> np.ndarray:
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
