"""Batch normalization's passes over the data on oneDNN (float32, 4-d, channels-last memory).

Per channel c over the M = N·H·W values of that channel, batch normalization needs three kinds of pass; the op
(:class:`cnnkit.ops.norm.BatchNorm`) combines them with its per-channel coefficients computed in float64:

    batch_stats   μ, σ² (biased) of x                     dnnl_batch_normalization_forward (forward_training)
    grad_sums     Σ dy, Σ dy·(x − m), and a·dy             dnnl_batch_normalization_backward (global stats)
    normalize     y = s·(x − m) + t                        dnnl_batch_normalization_forward (global stats)

(s, t, a, m per-channel vectors). ``normalize`` is the batch normalization primitive with variance 1 and ε = 0,
so it computes exactly that affine map in one pass: the forward in training (m = μ̃, μ rounded to float32) and
evaluation (m = the running mean), and in the backward the x-dependent term of
dx = a·(dy + p·(x − μ̃) − q) (:mod:`cnnkit.ops.norm` has the formula).

Accuracy: oneDNN adds a channel's values one after another in float32, so its own batch statistics and
gradient sums carry an error growing with M (measured: 2.5x torch's float32 gradient error on the MobileNet
accuracy test, tests/nn/test_float32_accuracy.py). So the sums are never taken over a whole channel: the data is
viewed as P = M/r *partials* per channel, each of r values (r the smallest divisor of M that is ≥ 32, as
ops/norm.py's DEPTH, or M itself below 32), handed to oneDNN as P·C "channels"; the P partial results per
channel are added in float64 — μ = mean of the partial means, σ² = (Σ σ²ⱼ + Σ (μⱼ − μ)²)/P (Chan et al.'s
combination of equal-sized parts). That is the NumPy path's arithmetic (float32 partial sums of 32 values,
float64 beyond), in oneDNN's vectorized, threaded passes.

Layout: channels-last memory only (an NCHW-shaped view of NHWC memory, what the convolutions return). x is then
the matrix (M, C), and its split (r, M/r·C) is a 2-d (nc) tensor whose column j is a partial of channel j mod C.
NCHW memory runs on the NumPy path: oneDNN's NCHW implementation (ncsp_bnorm) took 2.6x the NumPy path's time
for the normalization pass of a 32×64×56×56 batch (22 ms vs 8.6, one thread). So does an M with no divisor
r ≤ 1024 (e.g. a large prime).
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np

from ..layout import is_channels_last
from . import cache, library
from .library import NORM, PROP
from .memory import Primitive, array_md, attr, describe, element_strides

__all__ = ["PART", "supports", "batch_stats", "grad_sums", "normalize"]

PART = 32
"""The fewest values a float32 partial sum adds before float64 takes over (ops/norm.py's DEPTH)."""
_LONGEST = 1024
_GLOBAL = NORM["use_global_stats"] | NORM["use_scale"] | NORM["use_shift"]



@functools.lru_cache(maxsize=1024)
def _part(n: int) -> int | None:
    """The partial length r for n values per run: n itself below PART, else its smallest divisor ≥ PART (None
    beyond _LONGEST)."""
    if n <= PART:
        return n
    for r in range(PART, min(n, _LONGEST) + 1):
        if n % r == 0:
            return r
    return None


class _Parts:
    """x's partials: ``wide(a)`` views an array of x's layout as the oneDNN tensor whose channels are the
    partials, ``expand(v)`` repeats a per-channel vector for them, ``total(p)`` adds partial results per channel."""

    def __init__(self, x: np.ndarray):
        n, c, h, w = x.shape
        self.c = c
        m = n * h * w
        self.r = _part(m)
        if self.r:
            self.shape, self.reps = (self.r, m // self.r * c), (m // self.r, c)

    def wide(self, a: np.ndarray) -> np.ndarray:
        """The partials' view of ``a`` (x's shape and layout); never a copy (oneDNN writes outputs into it)."""
        view = a.transpose(0, 2, 3, 1).view()
        view.shape = self.shape          # raises instead of copying when a is laid out otherwise
        return view

    def expand(self, v: np.ndarray) -> np.ndarray:
        return np.tile(v.astype(np.float32), self.reps[0])

    def total(self, p: np.ndarray) -> np.ndarray:
        return p.astype(np.float64).reshape(self.reps).sum(axis=0)

    @property
    def parts(self) -> int:
        return int(np.prod(self.reps)) // self.c


def supports(x: np.ndarray, statistics: bool = True) -> bool:
    """Does oneDNN take this input: switched on (``kernels.config().onednn_batch_norm``, on by default), float32,
    4-d with no empty axis, channels-last memory, and primitives exist? ``statistics`` (training, or any pass that
    will be differentiated) also needs the partial passes: an M = N·H·W with a partial length r. Evaluation without
    a gradient needs only the per-channel affine map. (The caller checks :func:`cnnkit.kernels.onednn.active`.)"""
    from ..config import config
    if not (config().onednn_batch_norm and x.dtype == np.float32 and x.ndim == 4 and x.size > 0
            and is_channels_last(x)):
        return False
    threads = library.configured_threads()
    if _forward(_key(x), _GLOBAL, "forward_inference", threads) is None:
        return False
    if not statistics:
        return True
    parts = _Parts(x)
    if parts.r is None:
        return False
    wide = (parts.shape, tuple(s // 4 for s in parts.wide(x).strides))
    return None not in (_forward(wide, NORM["none"], "forward_training", threads), _backward(wide, threads))


def _key(a: np.ndarray) -> tuple:
    return a.shape, element_strides(a)


def _create(fn, *args) -> Primitive | None:
    pd = ctypes.c_void_p()
    if fn(ctypes.byref(pd), *args) != 0:     # unimplemented for this case: the NumPy path takes it
        return None
    try:
        return Primitive(pd)
    except library.DnnlError:
        return None


def _forward(a_key: tuple, flags: int, prop: str, threads: int) -> Primitive:
    def create():
        md = array_md(*a_key)
        with library.threads(threads):
            return _create(library.lib().dnnl_batch_normalization_forward_primitive_desc_create, library.engine(),
                           PROP[prop], md, md, 0.0, flags, attr())
    return cache.get(("bnorm_fwd", a_key, flags, prop, threads), create)


def _backward(a_key: tuple, threads: int) -> Primitive:
    def create():
        hint = _forward(a_key, _GLOBAL, "forward_training", threads)
        if hint is None:
            return None
        md = array_md(*a_key)
        with library.threads(threads):
            return _create(library.lib().dnnl_batch_normalization_backward_primitive_desc_create, library.engine(),
                           PROP["backward"], md, md, md, 0.0, _GLOBAL, hint.pd, attr())
    return cache.get(("bnorm_bwd", a_key, threads), create)


def _arg(a: np.ndarray) -> tuple:
    return a, describe(a)


def _vector(v: np.ndarray) -> tuple:
    return _arg(np.ascontiguousarray(v, np.float32))


def _run(p: Primitive | None, inputs: dict, outputs: dict) -> None:
    if p is None:                              # callers ask supports() first
        raise library.DnnlError("dnnl_batch_normalization_*_primitive_desc_create", 3)
    with library.threads(p.threads):
        p.run(inputs, outputs)


def batch_stats(x: np.ndarray, scratch: np.ndarray) -> tuple:
    """(μ, σ²) per channel in float64, σ² biased: from oneDNN's statistics of each r-value partial, combined in
    float64. ``scratch`` (an array of x's shape and layout, e.g. the output's buffer) receives oneDNN's
    normalized partials and is meant to be overwritten."""
    parts = _Parts(x)
    wx, wy = parts.wide(x), parts.wide(scratch)
    k = wx.shape[1]
    means, variances = np.empty(k, np.float32), np.empty(k, np.float32)
    _run(_forward(_key(wx), NORM["none"], "forward_training", library.configured_threads()), {"src": _arg(wx)},
         {"dst": _arg(wy), "mean": _arg(means), "variance": _arg(variances)})
    mean = parts.total(means) / parts.parts
    spread = means.astype(np.float64).reshape(parts.reps) - mean
    m2 = parts.total(variances) + parts.total(spread * spread)
    return mean, m2 / parts.parts


def normalize(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, shift: np.ndarray,
              out: np.ndarray | None = None) -> np.ndarray:
    """y = scale·(x − mean) + shift per channel (float32 vectors of shape (C,)), in x's layout (into ``out``)."""
    y = np.empty_like(x) if out is None else out
    ones = np.ones(x.shape[1], np.float32)
    _run(_forward(_key(x), _GLOBAL, "forward_inference", library.configured_threads()),
         {"src": _arg(x), "mean": _vector(mean), "variance": _arg(ones), "scale": _vector(scale),
          "shift": _vector(shift)}, {"dst": _arg(y)})
    return y


def grad_sums(gy: np.ndarray, x: np.ndarray, mean: np.ndarray, a: np.ndarray, out: np.ndarray) -> tuple:
    """(Σ dy, Σ dy·(x − mean)) per channel in float64, from r-value partials added in float64; ``out`` (x's
    shape and layout) receives a·dy. ``mean`` and ``a`` are float32 vectors of shape (C,)."""
    if gy.strides != x.strides:                 # oneDNN's fast paths want dy in x's layout
        like = np.empty_like(x)
        like[...] = gy
        gy = like
    parts = _Parts(x)
    wx = parts.wide(x)
    k = wx.shape[1]
    gsum, gdot = np.empty(k, np.float32), np.empty(k, np.float32)
    _run(_backward(_key(wx), library.configured_threads()),
         {"src": _arg(wx), "diff_dst": _arg(parts.wide(gy)), "mean": _arg(parts.expand(mean)),
          "variance": _arg(np.ones(k, np.float32)), "scale": _arg(parts.expand(a))},
         {"diff_src": _arg(parts.wide(out)), "diff_scale": _arg(gdot), "diff_shift": _arg(gsum)})
    return parts.total(gsum), parts.total(gdot)
