"""ONNX nodes for the layers with weights or windows: convolution, pooling, normalization, fully connected.

Padding is written explicitly per side, ONNX order ``[top, left, bottom, right]``. A pooling in ceil mode
becomes extra bottom/right padding: the last window may run past the input, and ONNX, like PyTorch,
leaves those positions out of a max or of an average without ``count_include_pad``. Averages divide by

    D = the window's pixels inside the input          (AveragePool, count_include_pad = 0)

and a different divisor D' (``count_include_pad`` with overhanging windows, ``divisor_override``)
is one constant multiplication y · D / D' by the (H_out, W_out) map of ratios. Adaptive average pooling
over windows of unequal sizes is two matrix products (see ``adaptive_avg_pool``).
"""
from __future__ import annotations

import numpy as np

from ..ops import adaptive_pool, linalg, lrn, norm, pool
from ..ops import conv as conv_ops
from .graph import GraphBuilder, Op

# ----- convolution ------------------------------------------------------------------------------------------

def conv(g: GraphBuilder, op: Op) -> list:
    """Convolution(geometry): y = x ⋆ W + b."""
    geo = op.fn.geometry
    top, bottom, left, right = geo.pad
    return g.node("Conv", op.inputs, op.name, kernel_shape=list(geo.kernel), strides=list(geo.stride),
                  dilations=list(geo.dilation), pads=[top, left, bottom, right], group=int(geo.groups))


def conv_transpose(g: GraphBuilder, op: Op) -> list:
    """TransposedConvolution(geometry of the matching forward convolution): pads p on both sides, the
    output padding (p − bottom pad of that convolution) added at the bottom/right."""
    geo = op.fn.geometry
    top, bottom, left, right = geo.pad
    return g.node("ConvTranspose", op.inputs, op.name, kernel_shape=list(geo.kernel), strides=list(geo.stride),
                  dilations=list(geo.dilation), pads=[top, left, top, left],
                  output_padding=[top - bottom, left - right], group=int(geo.groups))


# ----- pooling ----------------------------------------------------------------------------------------------

def _window(op: Op):
    """(kernel, strides, dilations, pads with ceil-mode overhang at the end, overhang) of a pooling plan."""
    plan = op.fn.plan
    k, s, p, d = plan.k, plan.s, plan.p, plan.d
    size, out = (plan.H, plan.W), (plan.oh, plan.ow)
    extra = [max(0, (out[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 - (size[a] + 2 * p[a])) for a in (0, 1)]
    pads = [p[0], p[1], p[0] + extra[0], p[1] + extra[1]]
    return list(k), list(s), list(d), pads, extra


def _ceil_attrs(op: Op, pads, extra):
    """ONNX runtimes require each pad to be smaller than the kernel; otherwise use ceil_mode instead."""
    k = op.fn.plan.k
    if max(extra) and (pads[2] >= k[0] or pads[3] >= k[1]):
        return {"pads": pads[:2] * 2, "ceil_mode": 1}
    return {"pads": pads}


def max_pool(g: GraphBuilder, op: Op) -> list:
    if op.fn.return_indices:
        op.fail("with return_indices has no ONNX equivalent that matches PyTorch's indices; export without them")
    k, s, d, pads, extra = _window(op)
    return g.node("MaxPool", op.inputs, op.name, kernel_shape=k, strides=s, dilations=d, **_ceil_attrs(op, pads, extra))


def _real_pixels(plan) -> np.ndarray:
    """The number of input pixels (not padding, not overhang) in each window: (H_out, W_out)."""
    return np.asarray(plan.divisor(False, None), dtype=np.float64) * np.ones((plan.oh, plan.ow))


def _average(g: GraphBuilder, op: Op, x: str, divisor, name: str) -> str:
    """Σ_window x / divisor (a number or an (H_out, W_out) map) as AveragePool [× ratio]."""
    plan = op.fn.plan
    k, s, _, pads, extra = _window(op)
    if plan.d != (1, 1):
        op.fail(f"with dilation {plan.d} has no ONNX AveragePool equivalent")
    div = np.asarray(divisor, dtype=np.float64) * np.ones((plan.oh, plan.ow))
    including = np.asarray(plan.divisor(True, None), dtype=np.float64) * np.ones((plan.oh, plan.ow))
    if not max(extra) and np.array_equal(div, including):
        return g.one("AveragePool", [x], name, kernel_shape=k, strides=s, pads=pads,
                     count_include_pad=int(max(pads) > 0))
    real = _real_pixels(plan)
    if np.any(real == 0):
        op.fail("has a window without any input pixel")
    y = g.one("AveragePool", [x], name + "/mean", kernel_shape=k, strides=s, pads=pads, count_include_pad=0)
    if np.array_equal(div, real):
        return y
    dtype = np.dtype(op.in_dtypes[0])
    return g.one("Mul", [y, g.const((real / div).astype(dtype), name=f"{op.name}.divisor_ratio")], name)


def avg_pool(g: GraphBuilder, op: Op) -> list:
    return [_average(g, op, op.inputs[0], op.fn.divisor, op.name)]


def lp_pool(g: GraphBuilder, op: Op) -> list:
    """y = (kH·kW · avg_pool(x^p))^(1/p): LpPool for an even integer p without overhanging windows,
    else that formula node by node (it keeps PyTorch's sign rules for odd p)."""
    fn, plan = op.fn, op.fn.plan
    p = fn.p
    k, s, d, pads, extra = _window(op)
    full = np.array_equal(np.asarray(fn.divisor) * np.ones((plan.oh, plan.ow)), np.full((plan.oh, plan.ow),
                                                                                        plan.k[0] * plan.k[1]))
    if float(p).is_integer() and int(p) % 2 == 0 and not max(extra) and full and d == [1, 1]:
        return g.node("LpPool", op.inputs, op.name, kernel_shape=k, strides=s, pads=pads, p=int(p))
    dtype = np.dtype(op.in_dtypes[0])
    xp = g.one("Pow", [op.inputs[0], g.const(np.asarray(p, dtype))], op.name + "/pow")
    mean = _average(g, op, xp, fn.divisor, op.name + "/avg")
    t = g.one("Mul", [mean, g.const(np.asarray(plan.k[0] * plan.k[1], dtype))], op.name + "/sum")
    return g.node("Pow", [t, g.const(np.asarray(1.0 / p, dtype))], op.name)


def global_avg_pool(g: GraphBuilder, op: Op) -> list:
    if len(op.in_shapes[0]) == 4:
        return g.node("GlobalAveragePool", op.inputs, op.name)
    return [g.reduce("ReduceMean", op.inputs[0], [-2, -1], True, op.name)]


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """A[i, h] = 1/|window i| for h in PyTorch's adaptive window i = [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    i = np.arange(out)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    h = np.arange(size)
    inside = (h >= start[:, None]) & (h < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool(g: GraphBuilder, op: Op) -> list:
    """Adaptive average pooling with windows of unequal sizes is linear and separable: y = A_H · x · A_Wᵀ
    with the (H_out, H) averaging matrix A_H — two MatMuls. (1×1 and divisible sizes never get here:
    they are traced as global or plain average pooling.)"""
    (h, w), (oh, ow) = op.in_shapes[0][-2:], op.fn.out
    if not (oh and ow):
        op.fail(f"to an empty output {oh}x{ow}")
    dtype = np.dtype(op.in_dtypes[0])
    rows = g.const(_adaptive_matrix(h, oh, dtype), name=f"{op.name}.rows")
    cols = g.const(np.ascontiguousarray(_adaptive_matrix(w, ow, dtype).T), name=f"{op.name}.cols")
    t = g.one("MatMul", [op.inputs[0], cols], op.name + "/cols")
    return g.node("MatMul", [rows, t], op.name)


def adaptive_max_pool(g: GraphBuilder, op: Op) -> list:
    (h, w), (oh, ow) = op.in_shapes[0][-2:], op.fn.out
    if op.fn.return_indices:
        op.fail("with return_indices has no ONNX equivalent; export without them")
    if (oh, ow) == (1, 1) and len(op.in_shapes[0]) == 4:
        return g.node("GlobalMaxPool", op.inputs, op.name)
    if oh and ow and h % oh == 0 and w % ow == 0:
        k = [h // oh, w // ow]
        return g.node("MaxPool", op.inputs, op.name, kernel_shape=k, strides=k)
    op.fail(f"from {h}x{w} to {oh}x{ow} takes maxima over windows of unequal sizes, which ONNX cannot express; "
            f"choose an input size divisible by the output size")


# ----- normalization ----------------------------------------------------------------------------------------

def batch_norm(g: GraphBuilder, op: Op) -> list:
    """BatchNormalization with the running statistics (evaluation mode)."""
    fn = op.fn
    if fn.training or fn.running is None:
        op.fail("normalizes with batch statistics (training mode, or track_running_stats=False); ONNX inference "
                "needs running statistics: call model.eval() on a model that tracks them")
    c = op.in_shapes[0][1]
    dtype = np.dtype(op.in_dtypes[0])
    x, rest = op.inputs[0], list(op.inputs[1:])
    scale = rest.pop(0) if fn.has_weight else g.const(np.ones(c, dtype), name=op.name + ".weight")
    bias = rest.pop(0) if fn.has_bias else g.const(np.zeros(c, dtype), name=op.name + ".bias")
    mean, var = (g.buffer(a, f"{op.name}.{n}") for a, n in zip(fn.running, ("running_mean", "running_var"),
                                                                strict=True))
    return g.node("BatchNormalization", [x, scale, bias, mean, var], op.name, epsilon=float(fn.eps))


def local_response_norm(g: GraphBuilder, op: Op) -> list:
    """LRN: ONNX sums the channels c − ⌊(n−1)/2⌋ … c + ⌈(n−1)/2⌉, PyTorch c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋: equal
    for odd n."""
    fn = op.fn
    if fn.size % 2 == 0:
        op.fail(f"with an even size {fn.size} centres its channel window differently from ONNX's LRN; "
                f"use an odd size")
    if len(op.in_shapes[0]) != 4:
        op.fail(f"on a {len(op.in_shapes[0])}-d input: ONNX's LRN takes (N, C, H, W)")
    return g.node("LRN", op.inputs, op.name, size=int(fn.size), alpha=float(fn.alpha), beta=float(fn.beta),
                  bias=float(fn.k))


# ----- fully connected --------------------------------------------------------------------------------------

def linear(g: GraphBuilder, op: Op) -> list:
    """y = x Wᵀ + b: Gemm for a 2-d x, else MatMul with Wᵀ (+ Add)."""
    if len(op.in_shapes[0]) == 2:
        return g.node("Gemm", op.inputs, op.name, transB=1)
    wt = g.one("Transpose", [op.inputs[1]], op.name + "/weight_t", perm=[1, 0])
    if len(op.inputs) == 2:
        return g.node("MatMul", [op.inputs[0], wt], op.name)
    y = g.one("MatMul", [op.inputs[0], wt], op.name + "/matmul")
    return g.node("Add", [y, op.inputs[2]], op.name)


def matmul(g: GraphBuilder, op: Op) -> list:
    return g.node("MatMul", op.inputs, op.name)


CONVERTERS = {
    conv_ops.Convolution: conv,
    conv_ops.TransposedConvolution: conv_transpose,
    pool.MaxPool2d: max_pool,
    pool.AvgPool2d: avg_pool,
    pool.LPPool2d: lp_pool,
    adaptive_pool.GlobalAvgPool2d: global_avg_pool,
    adaptive_pool.AdaptiveAvgPool2d: adaptive_avg_pool,
    adaptive_pool.AdaptiveMaxPool2d: adaptive_max_pool,
    norm.BatchNorm: batch_norm,
    lrn.LocalResponseNorm: local_response_norm,
    linalg.Linear: linear,
    linalg.MatMul: matmul,
}
