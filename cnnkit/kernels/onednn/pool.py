"""Pooling on oneDNN: max and average pooling of a float32 2-d input, forward and backward.

    max          y = max_{x ∈ R} x                 dx: dy routed to the arg-max kept in the workspace
    avg_include  y = Σ_R x / (kH·kW)                dx = Σ over the windows containing x of dy / (kH·kW)
    avg_exclude  y = Σ_R x / |R ∩ input|            dx alike, with each window's count of real pixels

(``dnnl_pooling_forward`` / ``dnnl_pooling_backward``; R is the window over the padded input.) The geometry is
:class:`cnnkit.kernels.pool_windows.Plan`'s: oneDNN's dilation counts the gaps (d − 1) and its padding is
(top, left) / (bottom, right). PyTorch's ``ceil_mode`` is the right padding that makes the last, partial window
fit: oneDNN's max pooling ignores padding and its ``avg_exclude`` counts real pixels only, as PyTorch does;
``avg_include`` divides by kH·kW even where PyTorch clips a partial window at the padded input's end, so the
op keeps that case on NumPy (its divisor is not kH·kW there).

Max pooling in training keeps oneDNN's workspace (the arg-max of each window, in the order oneDNN scans it:
the first maximum in row-major order, as in PyTorch) for the backward pass. Two edge values differ from
PyTorch: a window holding a NaN yields NaN in PyTorch, and a window of only −∞ (or of only padding) yields
−∞; oneDNN's max skips NaN and starts at the lowest finite float. :func:`forward` returns None for an input
holding NaN or −∞ (one pass over x, ``x.min()``), :func:`geometry` for a window of only padding, and the op
then computes the layer on NumPy.

Activations are passed in place, NCHW or NHWC memory (the output and the input gradient take the input's
layout, as the NumPy kernels'); any other strides are copied to NCHW first.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

from ..layout import is_channels_last
from ..pool_windows import axis_taps
from . import cache, library
from .library import ALG, PROP, Dims
from .memory import Primitive, array_md, attr

__all__ = ["ALGORITHMS", "geometry", "supports", "forward", "backward"]

ALGORITHMS = {"max": ALG["pooling_max"], "avg_include": ALG["pooling_avg_include_padding"],
              "avg_exclude": ALG["pooling_avg_exclude_padding"]}
"""cnnkit's names of the pooling algorithms oneDNN computes."""


@lru_cache(maxsize=256)
def geometry(plan) -> tuple | None:
    """(kernel, stride, dilation gaps, padding top/left, padding bottom/right) of a pooling plan; the right
    padding is PyTorch's plus whatever ``ceil_mode``'s last window needs beyond it. None when a window holds
    only padding (dilation can do that): PyTorch's max is −∞ there, oneDNN's the lowest finite float."""
    for a, (n, o) in enumerate(((plan.H, plan.oh), (plan.W, plan.ow))):
        hit = np.zeros(o, bool)
        for *_, rows in axis_taps(n, o, plan.k[a], plan.s[a], plan.p[a], plan.d[a]):
            hit[rows] = True
        if not hit.all():
            return None
    right = tuple(max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)
                  for n, o, k, s, p, d in zip((plan.H, plan.W), (plan.oh, plan.ow), plan.k, plan.s, plan.p, plan.d))
    return tuple(plan.k), tuple(plan.s), (plan.d[0] - 1, plan.d[1] - 1), tuple(plan.p), right



def _as4d(a: np.ndarray) -> tuple:
    """(a as 4-d, NHWC memory?): a (C, H, W) array viewed (1, C, H, W); NCHW or NHWC memory kept, any other
    strides copied to NCHW. An array that is both (one channel, or 1×1 planes) counts as NCHW."""
    if a.ndim == 3:
        a = a[None]
    if a.flags.c_contiguous:
        return a, False
    if is_channels_last(a):
        return a, True
    return np.ascontiguousarray(a), False


def _empty(shape: tuple, last: bool) -> np.ndarray:
    if last:
        n, c, h, w = shape
        return np.empty((n, h, w, c), np.float32).transpose(0, 3, 1, 2)
    return np.empty(shape, np.float32)


def _key(shape: tuple, last: bool) -> tuple:
    """(shape, strides in elements) of an NCHW-shaped array in NCHW or (``last``) NHWC memory: the strides of
    size-1 dims do not matter, so descriptors use these rather than the array's own."""
    n, c, h, w = shape
    return shape, ((h * w * c, 1, w * c, c) if last else (c * h * w, h * w, w, 1))


def _create(fn, *args) -> Primitive | None:
    pd = ctypes.c_void_p()
    if fn(ctypes.byref(pd), *args) != 0:     # unimplemented or invalid for this shape: the NumPy path runs it
        return None
    try:
        p = Primitive(pd)
    except library.DnnlError:
        return None
    # oneDNN's reference implementation is a scalar loop, far slower than the NumPy window loops
    return None if p.implementation().startswith("ref") else p


def _forward_primitive(alg: str, training: bool, x_key: tuple, y_key: tuple, geom: tuple, threads: int):
    key = ("pool_fwd", alg, training, x_key, y_key, geom, threads)

    def create():
        k, s, d, left, right = geom
        with library.threads(threads):
            return _create(library.lib().dnnl_pooling_forward_primitive_desc_create, library.engine(),
                           PROP["forward_training" if training else "forward_inference"], ALGORITHMS[alg],
                           array_md(*x_key), array_md(*y_key), Dims(*s), Dims(*k), Dims(*d), Dims(*left),
                           Dims(*right), attr())
    return cache.get(key, create)


def supports(alg: str, plan, x: np.ndarray, training: bool) -> bool:
    """Does oneDNN have a (non-reference) primitive for pooling ``x`` (float32, 3-d or 4-d) by ``plan``?"""
    geom = geometry(plan)
    if x.dtype != np.float32 or geom is None or x.size == 0 or library.lib() is None:
        return False
    shape = ((1,) + x.shape) if x.ndim == 3 else x.shape
    last = x.ndim == 4 and not x.flags.c_contiguous and is_channels_last(x)
    return _forward_primitive(alg, training, _key(shape, last), _key(shape[:2] + (plan.oh, plan.ow), last), geom,
                              library.configured_threads()) is not None


def forward(alg: str, x: np.ndarray, plan, training: bool):
    """(y, saved) = the pooling ``alg`` of ``x`` by ``plan``, or None where oneDNN does not take the case (not
    float32, no primitive, or what it computes differs from PyTorch: max pooling of an input holding NaN or
    −∞, found in one pass over x). ``saved`` (the input's layout, the thread count and, for max pooling in
    training, the workspace) is what :func:`backward` needs; only a ``training`` forward can be followed by a
    backward."""
    geom = geometry(plan)
    if x.dtype != np.float32 or geom is None or x.size == 0 or library.lib() is None:
        return None
    x4, last = _as4d(x)
    x_key, y_key = _key(x4.shape, last), _key(x4.shape[:2] + (plan.oh, plan.ow), last)
    threads = library.configured_threads()
    p = _forward_primitive(alg, training, x_key, y_key, geom, threads)
    if p is None or (alg == "max" and not np.isfinite(x4.min())):
        return None
    y = _empty(y_key[0], last)
    outputs = {"dst": (y, array_md(*y_key))}
    ws = None
    if alg == "max" and training:
        want = p.md("workspace")
        ws = np.empty(library.lib().dnnl_memory_desc_get_size(want), np.uint8)
        outputs["workspace"] = (ws, want)
    with library.threads(threads):
        p.run({"src": (x4, array_md(*x_key))}, outputs)
    return (y[0] if x.ndim == 3 else y), (last, ws, threads)


def backward(alg: str, gy: np.ndarray, plan, x_shape: tuple, saved: tuple) -> np.ndarray:
    """dL/dx of the pooling of an input of ``x_shape`` for dL/dy ``gy``, with what :func:`forward` ``saved``; in
    the input's memory layout."""
    last, ws, threads = saved      # the forward's thread count: the workspace is laid out for its primitive
    three = len(x_shape) == 3
    shape = ((1,) + tuple(x_shape)) if three else tuple(x_shape)
    gy4 = gy[None] if three else gy
    x_key, y_key = _key(shape, last), _key(gy4.shape, last)
    if gy4.dtype != np.float32 or not (is_channels_last(gy4) if last else gy4.flags.c_contiguous):   # y's layout
        g = _empty(gy4.shape, last)
        np.copyto(g, gy4)
        gy4 = g
    gx = _empty(shape, last)
    geom = geometry(plan)
    key = ("pool_bwd", alg, x_key, y_key, geom, threads)

    def create():
        hint = _forward_primitive(alg, True, x_key, y_key, geom, threads)
        if hint is None:
            return None
        k, s, d, left, right = geom
        with library.threads(threads):
            return _create(library.lib().dnnl_pooling_backward_primitive_desc_create, library.engine(),
                           ALGORITHMS[alg], array_md(*x_key), array_md(*y_key), Dims(*s), Dims(*k), Dims(*d),
                           Dims(*left), Dims(*right), hint.pd, attr())
    p = cache.get(key, create)
    if p is None:
        raise library.DnnlError("dnnl_pooling_backward_primitive_desc_create", 3)
    inputs = {"diff_dst": (gy4, array_md(*y_key))}
    if ws is not None:
        inputs["workspace"] = (ws, p.md("workspace"))
    with library.threads(threads):
        p.run(inputs, {"diff_src": (gx, array_md(*x_key))})
    return gx[0] if three else gx
