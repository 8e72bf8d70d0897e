"""Batch normalization as an op (local response normalization is in :mod:`.lrn`).

Batch normalization (Ioffe & Szegedy, 2015), per channel c, over the M = N·H·W values of that channel
(N for 2-d input (N, C), N·L for 3-d (N, C, L)):

    μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²,   x̂ = (x − μ) / √(σ² + ε),   y = γ x̂ + β

Backward (training mode, the batch statistics depend on x):

    dx = (1/M) · γ/σ · (M·dy − Σ dy − x̂ · Σ dy·x̂),   dγ = Σ dy·x̂,   dβ = Σ dy

float32 accuracy: every per-channel sum (Σ x, Σ x_c², Σ dy, Σ dy·x_c) adds float32 partial sums of at most 32
values (or one BLAS dot product over an H·W row) in float64, and the per-channel coefficients (1/σ, γ/σ, the
shift) are computed in float64 and rounded once. μ is rounded to the input's dtype as μ̃ and x_c = x − μ̃; its
rounding r = μ − μ̃ is folded into per-channel terms (x − μ = x_c − r, σ² = Σ x_c²/M − r², y = x_c·γ/σ + β − r·γ/σ),
so no extra pass over the data is needed. Measured against float64 this puts the forward and the gradients
at torch float32's error level, mostly below it (torch's CPU kernel accumulates in float64); see docs/performance.md.

In training mode the running statistics are updated in place with the *unbiased* variance:
running_mean ← (1 − momentum)·running_mean + momentum·μ, running_var likewise with σ²·M/(M − 1).
In evaluation mode the running statistics replace μ and σ², y is an affine map of x and so is its backward:
dx = γ/√(running_var + ε) · dy.

With the oneDNN backend active, a float32 4-d input in channels-last memory (what the convolutions return) has its
passes over the data run by :mod:`cnnkit.kernels.onednn.batch_norm` — the sums over 32-value partials added in
float64, the same per-channel coefficients as here — so the accuracy is this path's; anything else runs here.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..kernels import onednn
from ..tensor import Tensor
from . import validate

# ===== per-channel arithmetic on a 2-d view ========================================================


class _ChannelLayout:
    """Views (N, C, *) arrays as matrices in which per-channel arithmetic runs on long contiguous rows.

    Channels-last memory (NHWC, and plain (N, C) input) becomes a (rows, C) matrix and a per-channel vector
    v broadcasts along the rows as it is. Channels-first memory (NCHW) becomes (N, C·L) with the vector
    expanded to the row ``repeat(v, L)``: 1.4× faster than broadcasting (1, C, 1, 1) over L-long runs.
    An array laid out otherwise is copied (once) by ``flat``.
    """

    def __init__(self, x: np.ndarray):
        self.shape = x.shape
        self.n, self.c = x.shape[0], x.shape[1]
        self.size = x.size
        self.length = x.size // (self.n * self.c)
        last = np.moveaxis(x, 1, -1)
        self.last = last.flags.c_contiguous
        self.last_shape = last.shape

    def flat(self, a: np.ndarray) -> np.ndarray:
        if self.last:
            return np.moveaxis(a, 1, -1).reshape(-1, self.c)
        return a.reshape(self.n, -1)

    def unflat(self, a2: np.ndarray) -> np.ndarray:
        if self.last:
            return np.moveaxis(a2.reshape(self.last_shape), -1, 1)
        return a2.reshape(self.shape)

    def new(self, dtype):
        """A new array of the input's shape (and memory layout) and its flat view: (array, flat)."""
        if self.last:
            flat = np.empty((self.size // self.c, self.c), dtype)
            return self.unflat(flat), flat
        full = np.empty(self.shape, dtype)
        return full, full.reshape(self.n, -1)

    def coef(self, v: np.ndarray) -> np.ndarray:
        """The per-channel vector v (C,) in the form that broadcasts against a flat array."""
        return v if self.last else np.repeat(v, self.length)

    def sum(self, a2: np.ndarray) -> np.ndarray:
        """Σ per channel of a flat array, shape (C,), in float64 (see :func:`_column_sums`)."""
        if self.last:
            return _column_sums(a2)
        if self.length >= 64:
            rows = a2.reshape(-1, self.length)
            part = rows @ np.ones(self.length, a2.dtype)
            return part.reshape(self.n, self.c).astype(np.float64).sum(axis=0)
        return _column_sums(a2).reshape(self.c, self.length) @ np.ones(self.length)

    def dot(self, a2: np.ndarray, b2: np.ndarray) -> np.ndarray:
        """Σ a·b per channel of two flat arrays, shape (C,), in float64, without a full-size temporary."""
        if self.last:
            return _column_sums(a2, b2)
        if self.length >= 64:
            length = self.length
            prods = np.matmul(a2.reshape(-1, 1, length), b2.reshape(-1, length, 1))
            return prods.reshape(self.n, self.c).astype(np.float64).sum(axis=0)
        return _column_sums(a2, b2).reshape(self.c, self.length) @ np.ones(self.length)


DEPTH = 32
"""The most values a float32 partial sum of :func:`_column_sums` adds up before float64 takes over."""


def _column_sums(a2: np.ndarray, b2: np.ndarray | None = None) -> np.ndarray:
    """Σ_r a[r, k] (or Σ_r a[r, k]·b[r, k]) of (R, K) arrays, shape (K,), float64.

    The R rows are cut into DEPTH runs of s = R // DEPTH consecutive rows each, seen as one (DEPTH, s·K) matrix:
    one BLAS matrix-vector product (or einsum) adds DEPTH values per float32 partial sum, and the s·K partial
    sums are added in float64. (A float32 sum of R values carries an error growing with R; this one with DEPTH.)
    """
    rows, k = a2.shape
    s = rows // DEPTH
    total = None
    if s:
        head = a2[:s * DEPTH].reshape(DEPTH, s * k)
        if b2 is None:
            part = np.ones(DEPTH, a2.dtype) @ head
        else:
            part = np.einsum("dj,dj->j", head, b2[:s * DEPTH].reshape(DEPTH, s * k))
        total = part.reshape(s, k).sum(axis=0, dtype=np.float64) if s > 1 else part.astype(np.float64)
    if rows > s * DEPTH:
        tail = a2[s * DEPTH:]
        if b2 is None:
            part = np.ones(tail.shape[0], a2.dtype) @ tail
        else:
            part = np.einsum("rk,rk->k", tail, b2[s * DEPTH:])
        total = part.astype(np.float64) if total is None else total + part
    return total if total is not None else np.zeros(k, np.float64)


# ===== batch normalization =========================================================================

class BatchNorm(Function):
    """One fused batch-normalization op; inputs ``x`` then ``weight`` and/or ``bias`` when given.

    Training mode normalizes with the batch statistics (kept in ``batch_mean``, ``batch_var`` (biased) and
    ``count`` for the running-statistics update); evaluation mode with ``running = (mean, var)`` arrays.
    Backward (training), with a = γ/σ, x_c = x − μ:
        dx = a · (dy + x_c · (−Σ dy·x_c / (M σ²)) − Σ dy / M),  dγ = Σ dy·x_c / σ,  dβ = Σ dy.
    """

    def __init__(self, training: bool, eps: float, has_weight: bool, has_bias: bool, running=None):
        self.training = training
        self.eps = eps
        self.has_weight = has_weight
        self.has_bias = has_bias
        self.running = running
        self.batch_mean = self.batch_var = None
        self.count = 0
        self.onednn = False

    def forward(self, x, *params):
        w = params[0] if self.has_weight else None
        b = params[-1] if self.has_bias else None
        self.w = w
        m = x.size // x.shape[1] if x.shape[1] else 0
        self.count = m
        if m == 0:
            return np.empty_like(x)
        self.onednn = onednn.active() and onednn.batch_norm.supports(x, self.training or any(self.needs_input_grad))
        if self.onednn:
            return self._forward_onednn(x, w, b)
        lay = self.layout = _ChannelLayout(x)
        x2 = lay.flat(x)
        dt = x.dtype
        if self.training:
            mean = lay.sum(x2) / m
            rounded = mean.astype(dt)
            y, xc = lay.new(dt)
            np.subtract(x2, lay.coef(rounded), out=xc)          # x − μ̃, in the output's buffer
            # x − μ = xc − resid: μ's rounding to the input's dtype is folded into per-channel terms
            resid = mean - rounded
            var = np.maximum(lay.dot(xc, xc) / m - resid * resid, 0.0)
            invstd = 1.0 / np.sqrt(var + self.eps)
            self.batch_mean = rounded
            self.batch_var = var.astype(dt)
            self.invstd, self.resid = invstd, resid
            scale = invstd if w is None else invstd * w
            shift = -resid * scale if b is None else b - resid * scale
            if any(self.needs_input_grad):
                self.x2 = x2        # the input (held by the graph anyway); backward recomputes x − μ̃ from it
            xc *= lay.coef(scale.astype(dt))
            xc += lay.coef(shift.astype(dt))
            return y
        mean, var = self.running
        invstd = 1.0 / np.sqrt(var.astype(np.float64) + self.eps)
        scale = invstd if w is None else invstd * w
        shift = -mean * scale if b is None else b - mean * scale
        self.invstd, self.scale = invstd, scale.astype(dt)
        if self.has_weight and self.needs_input_grad[1]:
            self.x2 = x2
        y = np.multiply(x2, lay.coef(scale.astype(dt)))
        y += lay.coef(shift.astype(dt))
        return lay.unflat(y)

    def _forward_onednn(self, x, w, b):
        """The forward with oneDNN's passes (:mod:`cnnkit.kernels.onednn.batch_norm`), the same float64
        per-channel coefficients as the NumPy path: y = (x − μ̃)·s + (β − r·s), s = γ/σ, r = μ − μ̃."""
        kernel, dt = onednn.batch_norm, x.dtype
        y = np.empty_like(x)
        if self.training:
            mean, var = kernel.batch_stats(x, y)
            rounded = mean.astype(dt)
            resid = mean - rounded
            invstd = 1.0 / np.sqrt(var + self.eps)
            self.batch_mean, self.batch_var = rounded, var.astype(dt)
            self.invstd, self.resid = invstd, resid
            if any(self.needs_input_grad):
                self.x = x
        else:
            rounded, var = self.running
            invstd = 1.0 / np.sqrt(var.astype(np.float64) + self.eps)
            self.invstd, resid = invstd, 0.0
            if any(self.needs_input_grad):
                self.x = x
        scale = invstd if w is None else invstd * w
        shift = -resid * scale if b is None else b - resid * scale
        self.scale = scale.astype(dt)
        return kernel.normalize(x, rounded, self.scale, shift.astype(dt), out=y)

    def _backward_onednn(self, gy):
        """Training: Σ dy and Σ dy·(x − μ̃) from oneDNN's partial sums (added in float64) and a·dy in one pass,
        then dx = a·dy + a·p·(x − μ̃) − a·q (the second pass :func:`normalize`'s). Evaluation: dx = a·dy."""
        need = self.needs_input_grad
        need_w = self.has_weight and need[1]
        need_b = self.has_bias and need[-1]
        dt, kernel = gy.dtype, onednn.batch_norm
        if not self.training:
            gx = gw = gb = None
            if need[0] or need_w or need_b:        # a·dy, Σ dy, Σ dy·(x − running mean)
                gx = np.empty_like(self.x)
                gsum, gdot = kernel.grad_sums(gy, self.x, self.running[0], self.scale, gx)
                gw = (gdot * self.invstd).astype(dt) if need_w else None
                gb = gsum.astype(dt) if need_b else None
            return self._grads(gx if need[0] else None, gw, gb)
        m, invstd, x = self.count, self.invstd, self.x
        gx = np.empty_like(x)
        gsum, gdot = kernel.grad_sums(gy, x, self.batch_mean, self.scale, gx)
        gdot -= self.resid * gsum                  # Σ dy·(x − μ) = Σ dy·(x − μ̃) − r·Σ dy
        gw = (gdot * invstd).astype(dt) if need_w else None
        if need[0]:
            a = invstd if self.w is None else invstd * self.w
            p = gdot * (invstd * invstd) * (-1.0 / m)
            q = gsum / m + self.resid * p
            gx += kernel.normalize(x, self.batch_mean, (a * p).astype(dt), (-a * q).astype(dt))
        return self._grads(gx if need[0] else None, gw, gsum.astype(dt) if need_b else None)

    def backward(self, gy):
        if self.onednn:
            return self._backward_onednn(gy)
        need = self.needs_input_grad
        need_x = need[0]
        need_w = self.has_weight and need[1]
        need_b = self.has_bias and need[-1]
        dt = gy.dtype
        if self.count == 0:
            zeros = np.zeros(gy.shape[1], dt)
            return self._grads(np.zeros_like(gy) if need_x else None, zeros if need_w else None,
                               zeros.copy() if need_b else None)
        lay = self.layout
        g2 = lay.flat(gy)
        gsum = lay.sum(g2) if (need_b or (need_x and self.training)) else None
        gx = gw = None
        if self.training:
            m, invstd = self.count, self.invstd
            xc = np.subtract(self.x2, lay.coef(self.batch_mean)) if need_x or need_w else None  # as the forward's
            if need_x or need_w:
                gdot = lay.dot(g2, xc)  # Σ dy·(x − μ) = Σ dy·(x − μ̃) − resid·Σ dy
                if gsum is not None:
                    gdot -= self.resid * gsum
                else:
                    gdot -= self.resid * lay.sum(g2)
            if need_w:
                gw = (gdot * invstd).astype(dt)
            if need_x:
                a = invstd if self.w is None else invstd * self.w
                p = gdot * (invstd * invstd) * (-1.0 / m)
                shift = gsum / m + self.resid * p
                gx2 = xc                                         # read for the last time above: reused
                gx2 *= lay.coef(p.astype(dt))
                gx = lay.unflat(gx2)
                gx2 += g2
                gx2 -= lay.coef(shift.astype(dt))
                gx2 *= lay.coef(a.astype(dt))
        else:
            if need_x:
                gx, gx2 = lay.new(g2.dtype)
                np.multiply(g2, lay.coef(self.scale), out=gx2)
            if need_w:
                xc = np.subtract(self.x2, lay.coef(self.running[0]))
                gw = (lay.dot(g2, xc) * self.invstd).astype(dt)
        return self._grads(gx, gw, gsum.astype(dt) if need_b else None)

    def _grads(self, gx, gw, gb):
        out = (gx,)
        if self.has_weight:
            out += (gw,)
        if self.has_bias:
            out += (gb,)
        return out if len(out) > 1 else gx


def _check_vector(t, what: str, c: int, dtype, fn: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor or None, got {type(t).__name__}")
    if t.shape != (c,):
        raise ValueError(f"{fn}: {what} must have shape ({c},) (one value per channel of the input), "
                         f"got shape {tuple(t.shape)}")
    if t.dtype != dtype:
        raise TypeError(f"{fn}: {what} has dtype {t.dtype} but the input has dtype {dtype}; all must share "
                        f"one dtype")


def check_channels_input(input, min_ndim: int, fn: str) -> None:
    """``input`` must be a floating point Tensor of at least ``min_ndim`` dims (N, C, *)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < min_ndim:
        raise ValueError(f"{fn}: expected an input of {min_ndim} or more dims (N, C, *), got shape "
                         f"{tuple(input.shape)}")
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5) -> Tensor:
    """Batch normalization over the channel axis 1 of ``input`` (N, C, *) (PyTorch's ``F.batch_norm``).

    y = γ (x − μ)/√(σ² + ε) + β per channel, the statistics taken over every axis but 1. With
    ``training=True`` the batch statistics are used and, when given, ``running_mean``/``running_var`` are
    updated in place: r ← (1 − momentum)·r + momentum·s (the unbiased variance for running_var).
    With ``training=False`` the running statistics are used.
    """
    fn = "batch_norm"
    check_channels_input(input, 2, fn)
    if training and validate.number(eps, "eps", fn) <= 0:
        raise ValueError(f"{fn}: eps must be positive in training mode, got {eps}")
    if eps < 0:
        raise ValueError(f"{fn}: eps must be non-negative, got {eps}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must both be given or both be None")
    c = input.shape[1]
    dtype = input.dtype
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        if t is not None:
            _check_vector(t, what, c, dtype, fn)
    if not training and running_mean is None:
        raise ValueError(f"{fn}: running_mean and running_var are required in evaluation mode "
                         f"(training=False)")
    if training and running_mean is not None:
        validate.number(momentum, "momentum", fn)
    if training and c and input._data.size // c == 1:
        raise ValueError(f"{fn}: expected more than 1 value per channel when training, got input of shape "
                         f"{tuple(input.shape)}")
    running = None if training else (running_mean._data, running_var._data)
    op = BatchNorm(bool(training), float(eps), weight is not None, bias is not None, running)
    args = [input] + [t for t in (weight, bias) if t is not None]
    y = op(*args)
    if training and running_mean is not None and op.count > 0:
        momentum = float(momentum)
        m = op.count
        rm, rv = running_mean._data, running_var._data
        rm *= 1.0 - momentum
        rm += momentum * op.batch_mean
        rv *= 1.0 - momentum
        rv += (momentum * m / (m - 1)) * op.batch_var
    return y
