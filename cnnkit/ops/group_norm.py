"""Per-sample normalization: layer normalization (Ba et al., 2016), group normalization (Wu & He, 2018) and
instance normalization (Ulyanov et al., 2016; group normalization with one channel per group), PyTorch's
``F.layer_norm``, ``F.group_norm`` and ``F.instance_norm``.

All three normalize each *group* of M values of one sample by that group's own statistics:

    μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²,   x̂ = (x − μ)/√(σ² + ε),   y = γ·x̂ + β

layer_norm: a group is the trailing ``normalized_shape`` of one sample, γ and β have that shape;
group_norm: (N, C, *) input, the C channels split into G groups of C/G channels, a group is (C/G, *) of one sample;
γ and β have one value per channel. Backward, per group, with g = γ·dy:

    dx = (1/σ) · (g − mean(g) − x̂ · mean(g·x̂)),   dγ = Σ dy·x̂,   dβ = Σ dy   (γ, β summed over what they broadcast)

Internally x is viewed as (N, G, P, L): the statistics run over (P, L) for each (N, G), γ and β are (G, P)
broadcast over L (layer_norm: G = 1, P = M, L = 1; group_norm: P = C/G, L = the spatial size).

float32 accuracy (as batch normalization's, cnnkit/ops/norm.py): every sum adds float32 partial sums of at most 32
values in float64; μ is rounded to the input's dtype as μ̃ and the rounding r = μ − μ̃ is folded into per-group terms
(σ² = Σ (x − μ̃)²/M − r²), so no value is normalized with a mean that is off by more than its rounding.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from . import validate
from .norm import _column_sums, batch_norm

__all__ = ["group_norm", "instance_norm", "layer_norm"]

RUN = 32
"""The most values a float32 partial sum of :func:`row_sums` adds before float64 takes over."""


def row_sums(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Σ_j a[i, j] (or Σ_j a[i, j]·b[i, j]) of (R, M) arrays, shape (R,), float64: runs of RUN consecutive values
    are added in the array's dtype (one BLAS product), the partial sums in float64."""
    rows, m = a.shape
    q = m // RUN
    total = np.zeros(rows, np.float64)
    if q:
        head = a[:, :q * RUN].reshape(rows, q, RUN)
        if b is None:
            part = head @ np.ones(RUN, a.dtype)
        else:
            part = np.einsum("rqd,rqd->rq", head, b[:, :q * RUN].reshape(rows, q, RUN))
        total += part.sum(axis=1, dtype=np.float64)
    if m > q * RUN:
        tail = a[:, q * RUN:]
        part = tail.sum(axis=1) if b is None else np.einsum("rk,rk->r", tail, b[:, q * RUN:])
        total += part
    return total


class GroupedNorm(Function):
    """x viewed as (N, G, P, L), normalized over (P, L) per (N, G); then x̂·γ + β with γ, β of shape (G, P).
    Inputs: ``x`` then ``weight`` and/or ``bias`` when given. Keeps the per-group ``mean`` and biased ``var``
    (float64, shape (N, G)) for instance normalization's running statistics."""

    def __init__(self, view: tuple, eps: float, has_weight: bool, has_bias: bool):
        self.view, self.eps = view, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params):
        n, g, p, length = self.view
        dt = x.dtype
        m = p * length
        x2 = np.ascontiguousarray(x).reshape(n * g, m)
        mean = row_sums(x2) / m
        rounded = mean.astype(dt)
        xc = x2 - rounded[:, None]
        resid = mean - rounded
        var = np.maximum(row_sums(xc, xc) / m - resid * resid, 0.0)
        rstd = 1.0 / np.sqrt(var + self.eps)
        self.mean, self.var = mean.reshape(n, g), var.reshape(n, g)
        if any(self.needs_input_grad):
            self.xc, self.resid, self.rstd = xc.copy(), resid, rstd
        xc *= rstd.astype(dt)[:, None]
        xc -= (resid * rstd).astype(dt)[:, None]
        xhat = xc.reshape(n, g, p, length)
        w = params[0] if self.has_weight else None
        b = params[-1] if self.has_bias else None
        self.w = w
        self.param_shape = params[0].shape if params else None
        y = xhat if w is None else xhat * w.reshape(1, g, p, 1)
        if b is not None:
            y = y + b.reshape(1, g, p, 1)
        elif w is None:
            y = xhat.copy()
        return y.reshape(x.shape)

    def backward(self, gy):
        n, g, p, length = self.view
        need = self.needs_input_grad
        dt = gy.dtype
        g4 = np.ascontiguousarray(gy).reshape(n, g, p, length)
        xc, resid, rstd = self.xc, self.resid, self.rstd
        out = []
        if need[0]:
            # with r = μ − μ̃ and x − μ = xc − r:  dx = rstd·g − k·xc + (k·r − rstd·mean(g)),
            # k = rstd³·mean(g·(x − μ)); per-group coefficients in float64, rounded once
            gg = g4 if self.w is None else g4 * self.w.reshape(1, g, p, 1)
            m = p * length
            gg2 = gg.reshape(n * g, m)
            a = row_sums(gg2) / m
            k = rstd ** 3 * (row_sums(gg2, xc) / m - resid * a)
            gx = gg2 * rstd.astype(dt)[:, None]
            gx -= xc * k.astype(dt)[:, None]
            gx += (k * resid - rstd * a).astype(dt)[:, None]
            out.append(gx.reshape(gy.shape))
        else:
            out.append(None)
        if self.has_weight and need[1]:
            xhat = xc * rstd.astype(dt)[:, None]
            xhat -= (resid * rstd).astype(dt)[:, None]
            xhat = xhat.reshape(n, g, p, length)
        if self.has_weight:
            out.append(_param_sum(g4, xhat).astype(dt).reshape(self.param_shape) if need[1] else None)
        if self.has_bias:
            out.append(_param_sum(g4, None).astype(dt).reshape(self.param_shape) if need[-1] else None)
        return tuple(out) if len(out) > 1 else out[0]


def _param_sum(g4: np.ndarray, xhat: np.ndarray | None) -> np.ndarray:
    """Σ over N and L of dy (or dy·x̂) for (N, G, P, L) arrays: shape (G·P,), float64."""
    n, g, p, length = g4.shape
    if length == 1:
        return _column_sums(g4.reshape(n, g * p), None if xhat is None else xhat.reshape(n, g * p))
    rows = row_sums(g4.reshape(-1, length), None if xhat is None else xhat.reshape(-1, length))
    return rows.reshape(n, g * p).sum(axis=0)


def _check_input(input, fn: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected a Tensor input, got {type(input).__name__}")
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")


def _check_param(t, what: str, shape: tuple, dtype, fn: str) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{fn}: {what} must have shape {shape}, got {tuple(t.shape)}")
    if t.dtype != dtype:
        raise TypeError(f"{fn}: {what} has dtype {t.dtype} but the input has dtype {dtype}; all must share one dtype")


def _eps(eps, fn: str) -> float:
    if validate.number(eps, "eps", fn) < 0:
        raise ValueError(f"{fn}: eps must be non-negative, got {eps!r}")
    return float(eps)


def _apply(input, view, weight, bias, eps) -> tuple:
    op = GroupedNorm(view, eps, weight is not None, bias is not None)
    return op(*[t for t in (input, weight, bias) if t is not None]), op


def normalized_shape_tuple(normalized_shape, fn: str) -> tuple:
    """``normalized_shape`` (an int or a sequence of ints) as a tuple of positive ints."""
    shape = (normalized_shape,) if validate.is_int(normalized_shape) else normalized_shape
    if not isinstance(shape, (tuple, list)) or not all(validate.is_int(s) for s in shape):
        raise TypeError(f"{fn}: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}")
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"{fn}: normalized_shape must be non-empty with positive sizes, got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims of ``input`` (PyTorch's ``F.layer_norm``);
    ``weight`` and ``bias`` have shape ``normalized_shape``."""
    fn = "layer_norm"
    _check_input(input, fn)
    shape = normalized_shape_tuple(normalized_shape, fn)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise ValueError(f"{fn}: the input's last {k} dims must be normalized_shape {list(shape)}, got input "
                         f"of shape {tuple(input.shape)}")
    _check_param(weight, "weight", shape, input.dtype, fn)
    _check_param(bias, "bias", shape, input.dtype, fn)
    m = math.prod(shape)
    return _apply(input, (input._data.size // m, 1, m, 1), weight, bias, _eps(eps, fn))[0]


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Group normalization of (N, C, *) input (PyTorch's ``F.group_norm``): the C channels in ``num_groups`` groups,
    each sample's group normalized by its own statistics; ``weight`` and ``bias`` have shape (C,)."""
    fn = "group_norm"
    _check_input(input, fn)
    if input.ndim < 2:
        raise ValueError(f"{fn}: expected an input of 2 or more dims (N, C, *), got shape {tuple(input.shape)}")
    groups = validate.positive_int(num_groups, "num_groups", fn)
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise ValueError(f"{fn}: the number of channels {c} must be divisible by num_groups {groups}")
    _check_param(weight, "weight", (c,), input.dtype, fn)
    _check_param(bias, "bias", (c,), input.dtype, fn)
    length = input._data.size // (n * c) if n * c else 0
    return _apply(input, (n, groups, c // groups, length), weight, bias, _eps(eps, fn))[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization of (N, C, *) input (PyTorch's ``F.instance_norm``): each channel of each sample
    normalized by its own statistics (``use_input_stats=True``); the running statistics, when given, move towards
    the batch's mean of the instance means and of the unbiased instance variances:
    r ← (1 − momentum)·r + momentum·s. With ``use_input_stats=False`` the running statistics are used instead."""
    fn = "instance_norm"
    _check_input(input, fn)
    if input.ndim < 3:
        raise ValueError(f"{fn}: expected an input of 3 or more dims (N, C, *), got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_param(t, what, (c,), input.dtype, fn)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must both be given or both be None")
    eps = _eps(eps, fn)
    if not use_input_stats:
        if running_mean is None:
            raise ValueError(f"{fn}: running_mean and running_var are required with use_input_stats=False")
        return batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    length = input._data.size // (n * c) if n * c else 0
    if length <= 1:
        raise ValueError(f"{fn}: expected more than 1 spatial element when training, got input of shape "
                         f"{tuple(input.shape)}")
    y, op = _apply(input, (n, c, 1, length), weight, bias, eps)
    if running_mean is not None:
        momentum = float(validate.number(momentum, "momentum", fn))
        dt = input.dtype
        mean = op.mean.mean(axis=0)
        var = (op.var * (length / (length - 1))).mean(axis=0)
        rm, rv = running_mean._data, running_var._data
        rm *= 1.0 - momentum
        rm += (momentum * mean).astype(dt)
        rv *= 1.0 - momentum
        rv += (momentum * var).astype(dt)
    return y
