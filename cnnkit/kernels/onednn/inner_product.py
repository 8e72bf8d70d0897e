"""Inner product (the fully connected layer) on oneDNN: forward, input gradient, weight and bias gradients, float32.

    forward       y  = x Wᵀ + b                  dnnl_inner_product_forward (prop forward_training)
    grad_input    dx = dy W                      dnnl_inner_product_backward_data
    grad_weight   dW = dyᵀ x,  db = Σₙ dy         dnnl_inner_product_backward_weights

x (N, in), W (out, in), b (out,), y (N, out): oneDNN's 2-d ``nc``/``oi`` layouts are cnnkit's row-major arrays,
so every argument is described exactly and read or written in place — no reorder, the weight stays in its own
array (a layer's input of more dims is flattened to (N, in) by the op). An input that is not row-major is
copied first. A shape for which oneDNN offers only its reference implementation is left to NumPy's GEMM
(:func:`supports` says no), as is a product below ``config().onednn_linear_min`` multiply-adds (0 by default:
every product, so no BLAS thread pool runs beside oneDNN's; see docs/performance.md).
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import cache, library
from .library import PROP
from .memory import Primitive, array_md, attr, describe

__all__ = ["supports", "forward", "grad_input", "grad_weight", "forward_primitive"]



def _plain(shape: tuple):
    """The descriptor of a row-major float32 array of ``shape``."""
    strides = tuple(int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape)))
    return array_md(tuple(shape), strides)


def _create(fn, *args) -> Primitive | None:
    """The primitive, or None when oneDNN has no implementation for it but its reference one (or none at all):
    then NumPy's GEMM is faster."""
    pd = ctypes.c_void_p()
    if fn(ctypes.byref(pd), *args) != 0:
        return None
    try:
        p = Primitive(pd)
    except library.DnnlError:        # the half-made Primitive destroys the descriptor when it is collected
        return None
    return None if p.implementation().startswith("ref") else p


def forward_primitive(n: int, k: int, m: int, bias: bool) -> Primitive | None:
    """The (cached) forward primitive of an (n, k) input, an (m, k) weight and, with ``bias``, an (m,) bias;
    None when oneDNN has no fast implementation for it."""
    threads = library.configured_threads()
    key = ("ip_fwd", n, k, m, bias, threads)

    def create():
        with library.threads(threads):
            return _create(library.lib().dnnl_inner_product_forward_primitive_desc_create, library.engine(),
                           PROP["forward_training"], _plain((n, k)), _plain((m, k)),
                           _plain((m,)) if bias else None, _plain((n, m)), attr())
    return cache.get(key, create)


def supports(n: int, k: int, m: int, dtype, bias: bool = True) -> bool:
    """Does oneDNN compute the product of an (n, k) input and an (m, k) weight in ``dtype`` fast enough: float32,
    n·k·m at least ``config().onednn_linear_min`` multiply-adds, and a primitive other than oneDNN's reference?"""
    from ..config import config
    if np.dtype(dtype) != np.float32 or min(n, k, m) < 1 or library.lib() is None:
        return False
    if n * k * m < config().onednn_linear_min:
        return False
    return forward_primitive(n, k, m, bias) is not None


def _row_major(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """y = x Wᵀ + b (N, out), row-major."""
    x, w = _row_major(x), _row_major(w)
    (n, k), m = x.shape, w.shape[0]
    y = np.empty((n, m), np.float32)
    p = forward_primitive(n, k, m, b is not None)
    if p is None:
        raise library.DnnlError("dnnl_inner_product_forward_primitive_desc_create", 3)
    inputs = {"src": (x, describe(x)), "weights": (w, describe(w))}
    if b is not None:
        b = _row_major(b)
        inputs["bias"] = (b, describe(b))
    with library.threads(p.threads):
        p.run(inputs, {"dst": (y, describe(y))})
    return y


def grad_input(gy: np.ndarray, w: np.ndarray) -> np.ndarray:
    """dL/dx = dy W (N, in), row-major."""
    gy, w = _row_major(gy), _row_major(w)
    (n, m), k = gy.shape, w.shape[1]
    gx = np.empty((n, k), np.float32)
    threads = library.configured_threads()

    def create():
        hint = forward_primitive(n, k, m, False)
        if hint is None:
            return None
        with library.threads(threads):
            return _create(library.lib().dnnl_inner_product_backward_data_primitive_desc_create, library.engine(),
                           _plain((n, k)), _plain((m, k)), _plain((n, m)), hint.pd, attr())
    p = cache.get(("ip_bwd_data", n, k, m, threads), create)
    if p is None:
        raise library.DnnlError("dnnl_inner_product_backward_data_primitive_desc_create", 3)
    with library.threads(threads):
        p.run({"diff_dst": (gy, describe(gy)), "weights": (w, describe(w))}, {"diff_src": (gx, describe(gx))})
    return gx


def grad_weight(x: np.ndarray, gy: np.ndarray, bias: bool = False) -> tuple:
    """(dL/dW (out, in), dL/db (out,) with ``bias``, else None), row-major."""
    x, gy = _row_major(x), _row_major(gy)
    (n, k), m = x.shape, gy.shape[1]
    gw = np.empty((m, k), np.float32)
    gb = np.empty(m, np.float32) if bias else None
    threads = library.configured_threads()

    def create():
        hint = forward_primitive(n, k, m, bias)
        if hint is None:
            return None
        with library.threads(threads):
            return _create(library.lib().dnnl_inner_product_backward_weights_primitive_desc_create,
                           library.engine(), _plain((n, k)), _plain((m, k)), _plain((m,)) if bias else None,
                           _plain((n, m)), hint.pd, attr())
    p = cache.get(("ip_bwd_weights", n, k, m, bias, threads), create)
    if p is None:
        raise library.DnnlError("dnnl_inner_product_backward_weights_primitive_desc_create", 3)
    outputs = {"diff_weights": (gw, describe(gw))}
    if bias:
        outputs["diff_bias"] = (gb, describe(gb))
    with library.threads(threads):
        p.run({"src": (x, describe(x)), "diff_dst": (gy, describe(gy))}, outputs)
    return gw, gb
