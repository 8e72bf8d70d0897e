"""Batch normalization on oneDNN: forward (training and inference) and backward of a float32 4-d input.

Per channel c over the M = N·H·W values of that channel (oneDNN's formulas are PyTorch's):

    μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²  (the biased variance),   y = γ (x − μ)/√(σ² + ε) + β

    forward_training    y, μ, σ² from x                      dnnl_batch_normalization_forward (forward_training)
    forward_inference   y from x and given μ, σ²             the same with dnnl_use_global_stats
    backward            dx, dγ, dβ from dy, x, μ, σ², γ      dnnl_batch_normalization_backward (prop backward)

With the batch statistics (training) the backward is the full derivative
dx = γ/σ · (dy − Σ dy/M − x̂ · Σ dy·x̂ / M); with given statistics (``global_stats``) they are constants and
dx = γ/σ · dy. In both dγ = Σ dy·x̂ and dβ = Σ dy. γ and β are optional (the flags dnnl_use_scale,
dnnl_use_shift); without γ, dx is computed as with γ = 1.

The running statistics' update needs the *unbiased* variance σ²·M/(M − 1): the op
(:func:`cnnkit.ops.norm.batch_norm`) derives it from σ² as it does on the NumPy path.

Activations are read and written in their own memory: NCHW-contiguous or channels-last (an NCHW-shaped view of
NHWC memory, what the oneDNN and NumPy convolutions return); y and dx are allocated in x's layout, and a dy
in another layout is copied into x's once (oneDNN's fast implementations want dy and x alike).
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..layout import is_channels_last
from . import cache, library
from .library import NORM, PROP
from .memory import Primitive, array_md, attr, describe

__all__ = ["supports", "forward_training", "forward_inference", "backward", "primitive"]


def _threads() -> int:
    from ..config import config
    return config().threads


def supports(x: np.ndarray) -> bool:
    """Does oneDNN take this input: float32, 4-d with no empty axis, NCHW-contiguous or channels-last memory?
    (The caller checks :func:`cnnkit.kernels.onednn.active`.)"""
    return (x.dtype == np.float32 and x.ndim == 4 and x.size > 0
            and (x.flags.c_contiguous or is_channels_last(x)))


def _flags(weight, bias, global_stats: bool) -> int:
    return ((NORM["use_scale"] if weight is not None else 0) | (NORM["use_shift"] if bias is not None else 0)
            | (NORM["use_global_stats"] if global_stats else 0))


def _key(a: np.ndarray) -> tuple:
    return a.shape, tuple(s // a.itemsize for s in a.strides)


def _create(fn, *args) -> Primitive | None:
    pd = ctypes.c_void_p()
    if fn(ctypes.byref(pd), *args) != 0:     # unimplemented for this case: the NumPy path takes it
        return None
    try:
        return Primitive(pd)
    except library.DnnlError:
        return None


def _forward(x_key: tuple, flags: int, eps: float, prop: str, threads: int) -> Primitive | None:
    key = ("bnorm_fwd", x_key, flags, eps, prop, threads)

    def create():
        md = array_md(*x_key)
        with library.threads(threads):
            return _create(library.lib().dnnl_batch_normalization_forward_primitive_desc_create, library.engine(),
                           PROP[prop], md, md, eps, flags, attr())
    return cache.get(key, create)


def _backward(x_key: tuple, flags: int, eps: float, threads: int) -> Primitive | None:
    key = ("bnorm_bwd", x_key, flags, eps, threads)

    def create():
        hint = _forward(x_key, flags, eps, "forward_training", threads)
        if hint is None:
            return None
        md = array_md(*x_key)
        with library.threads(threads):
            return _create(library.lib().dnnl_batch_normalization_backward_primitive_desc_create, library.engine(),
                           PROP["backward"], md, md, md, eps, flags, hint.pd, attr())
    return cache.get(key, create)


def primitive(x: np.ndarray, weight=None, bias=None, eps: float = 1e-5, training: bool = True,
              backward: bool = False) -> Primitive | None:
    """The (cached) primitive for ``x``'s shape and layout, or None when oneDNN has no implementation."""
    flags = _flags(weight, bias, not training)
    if backward:
        return _backward(_key(x), flags, float(eps), _threads())
    return _forward(_key(x), flags, float(eps), "forward_training" if training else "forward_inference", _threads())


def _vector(v: np.ndarray) -> tuple:
    v = np.ascontiguousarray(v, np.float32)
    return v, describe(v)


def _params(weight, bias) -> dict:
    args = {}
    if weight is not None:
        args["scale"] = _vector(weight)
    if bias is not None:
        args["shift"] = _vector(bias)
    return args


def _run(p: Primitive | None, inputs: dict, outputs: dict, what: str) -> None:
    if p is None:
        raise library.DnnlError(what, 3)       # unimplemented: callers ask supports()/primitive() first
    with library.threads(_threads()):
        p.run(inputs, outputs)


def forward_training(x: np.ndarray, weight=None, bias=None, eps: float = 1e-5) -> tuple:
    """(y, μ, σ²): y normalized with the batch statistics, in x's layout; μ and the biased σ² of shape (C,)."""
    c = x.shape[1]
    y = np.empty_like(x)
    mean, var = np.empty(c, np.float32), np.empty(c, np.float32)
    _run(primitive(x, weight, bias, eps, training=True),
         {"src": (x, describe(x)), **_params(weight, bias)},
         {"dst": (y, describe(y)), "mean": (mean, describe(mean)), "variance": (var, describe(var))},
         "dnnl_batch_normalization_forward_primitive_desc_create")
    return y, mean, var


def forward_inference(x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight=None, bias=None,
                      eps: float = 1e-5) -> np.ndarray:
    """y normalized with the given statistics μ, σ² (the running ones), in x's layout."""
    y = np.empty_like(x)
    _run(primitive(x, weight, bias, eps, training=False),
         {"src": (x, describe(x)), "mean": _vector(mean), "variance": _vector(var), **_params(weight, bias)},
         {"dst": (y, describe(y))}, "dnnl_batch_normalization_forward_primitive_desc_create")
    return y


def backward(gy: np.ndarray, x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight=None, bias=None,
             eps: float = 1e-5, training: bool = True) -> tuple:
    """(dx, dγ, dβ) for the forward that normalized ``x`` with ``mean``, ``var`` (the batch statistics when
    ``training``, else given constants); dγ is None without ``weight``, dβ None without ``bias``. (β does not
    enter the backward: oneDNN takes γ only, and rejects a shift argument there.)"""
    if gy.strides != x.strides:
        like = np.empty_like(x)
        like[...] = gy
        gy = like
    gx = np.empty_like(x)
    outputs = {"diff_src": (gx, describe(gx))}
    c = x.shape[1]
    gw = np.empty(c, np.float32) if weight is not None else None
    gb = np.empty(c, np.float32) if bias is not None else None
    if gw is not None:
        outputs["diff_scale"] = (gw, describe(gw))
    if gb is not None:
        outputs["diff_shift"] = (gb, describe(gb))
    _run(primitive(x, weight, bias, eps, training=training, backward=True),
         {"src": (x, describe(x)), "diff_dst": (gy, describe(gy)), "mean": _vector(mean), "variance": _vector(var),
          **_params(weight, None)}, outputs, "dnnl_batch_normalization_backward_primitive_desc_create")
    return gx, gw, gb
