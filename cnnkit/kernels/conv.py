"""The convolution engine's entry points: :func:`select` picks the algorithm once per convolution, and
:func:`forward`, :func:`grad_input` and :func:`grad_weight` run that algorithm's kernel.

    forward       y  = x ⋆ W                      (N, C, H, W) ⋆ (O, C/g, kH, kW) -> (N, O, Ho, Wo)
    grad_input    dx = dy ⋆ᵀ W                     (the forward pass of the transposed convolution)
    grad_weight   dW = x ⋆ dy                      (per kernel offset: Σ over pixels of x · dy)

The ladder, tried in this order (the measurements behind it are in docs/performance.md):

* ``pointwise``     a 1×1 kernel reading no padding: a GEMM in the input's own layout;
* ``depthwise``     one input channel per group: einsum on strided views;
* ``weight_order``  one group and few output pixels for many channels (N·Ho·Wo ≤ weight_order_pixels × O):
                    columns in the weight's own (c, i, j) order;
* ``winograd``      3×3, stride 1, one group, ≥ winograd_min_channels channels in and out, an output of at
                    least winograd_min_map (4) rows and columns (float32 error below): F(2×2, 3×3);
* ``im2col``        everything else: im2col + GEMM.

Before the ladder, with the optional oneDNN library loaded and ``cnnkit.backends.onednn.enabled`` on, a
float32 convolution that oneDNN has a primitive for goes to ``onednn`` (:mod:`cnnkit.kernels.onednn.conv`);
float64 (oneDNN has no f64 convolution) and a forced ``config().algorithm`` stay on the NumPy ladder.

A forward pass stores the name :func:`select` returned and hands it to both gradients, so the three
always agree. ``config().algorithm`` forces one algorithm (an error where it cannot compute the layer).
"""
from __future__ import annotations

import numpy as np

from . import depthwise, im2col, onednn, pointwise, weight_order, winograd
from .bias import add_bias, bias_grad
from .config import ALGORITHMS, config
from .layout import ConvGeometry

__all__ = ["BACKENDS", "select", "forward", "gradient_layout", "grad_input", "grad_weight"]

BACKENDS = ("onednn",)
"""Names :func:`select` may return besides :data:`ALGORITHMS`: a whole layer on an optional library."""

_KERNELS = {"pointwise": pointwise, "depthwise": depthwise, "weight_order": weight_order, "winograd": winograd,
            "im2col": im2col}
assert tuple(_KERNELS) == ALGORITHMS


def select(g: ConvGeometry, x_shape: tuple, w_shape: tuple, dtype=None) -> str:
    """The algorithm (a name of :data:`ALGORITHMS` or :data:`BACKENDS`) for a convolution of an input of shape
    ``x_shape`` (N, C, H, W) with a weight of shape ``w_shape`` (O, C/groups, kH, kW): the forced one of
    ``config().algorithm``, else "onednn" for a ``dtype`` the active oneDNN backend computes, else the first of
    the ladder that takes it (``dtype`` None: the NumPy ladder only)."""
    n, c = x_shape[:2]
    o = w_shape[0]
    forced = config().algorithm
    if forced is not None:
        if not _KERNELS[forced].handles(g, c, o):
            raise ValueError(f"conv: the forced algorithm {forced!r} cannot compute a convolution with kernel "
                             f"{g.kernel}, stride {g.stride}, dilation {g.dilation}, padding {g.pad}, "
                             f"groups {g.groups} and {c} input channels")
        return forced
    if dtype is not None and onednn.active() and onednn.conv.supports(g, x_shape, w_shape, dtype):
        return "onednn"
    return _ladder(g, x_shape, w_shape)


def _ladder(g: ConvGeometry, x_shape: tuple, w_shape: tuple) -> str:
    """The first algorithm of the NumPy ladder that takes the convolution."""
    n, c = x_shape[:2]
    return next(name for name in ALGORITHMS if _KERNELS[name].picks(g, n, c, w_shape[0]))


def _kernels(algorithm: str):
    if algorithm == "onednn":
        return onednn.conv
    try:
        return _KERNELS[algorithm]
    except KeyError:
        raise ValueError(f"conv: expected an algorithm of {', '.join(ALGORITHMS + BACKENDS)}, got {algorithm!r}") \
            from None


def forward(algorithm: str, x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool = False,
            bias: np.ndarray | None = None, relu: bool = False, add: np.ndarray | None = None):
    """(y, kept): y = conv(x, w) (+ ``bias`` over the channels when given) for an NCHW-shaped x (any memory
    layout), NCHW-shaped (in NHWC memory except for a 1×1 convolution of an NCHW input). With ``keep`` (the
    weight gradient will be asked for) ``kept`` holds what the algorithm keeps for :func:`grad_weight` (columns
    or transforms of at most ``keep_columns`` bytes; oneDNN: x in NHWC memory), else None, and then
    grad_weight needs x. With ``add`` (an array of y's shape), y += add (on oneDNN a post-op). ``relu`` is
    oneDNN's ReLU post-op (NaN becomes 0); the NumPy algorithms leave it to the caller."""
    if algorithm == "onednn":
        return onednn.conv.forward(x, w, g, keep, bias, relu, add)
    y, kept = _kernels(algorithm).forward(x, w, g, keep)
    if bias is not None:
        add_bias(y, bias)
    if add is not None:
        y += add
    return y, kept


def gradient_layout(algorithm: str, gy: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """dL/dy in the memory layout ``algorithm``'s gradients read: for oneDNN channels-last (a copy of an NCHW
    ``gy``, made once for both :func:`grad_input` and :func:`grad_weight` rather than by each) unless the layer
    runs on NCHW memory (:func:`cnnkit.kernels.onednn.conv.plain`), else ``gy``."""
    return onednn.conv.gradient_layout(gy, g) if algorithm == "onednn" else gy


def grad_input(algorithm: str, gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dL/dx for dL/dy ``gy`` (NCHW-shaped, any memory layout), NCHW-shaped. A layer on oneDNN whose input gradient
    oneDNN has only its reference implementation for takes it from the NumPy ladder."""
    if algorithm == "onednn" and not onednn.conv.has_grad_input(gy, w.shape, g, x_shape):
        algorithm = _ladder(g, x_shape, w.shape)
    return _kernels(algorithm).grad_input(gy, w, g, x_shape)


def grad_weight(algorithm: str, x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None = None, bias: bool = False):
    """dL/dW (O, C/groups, kH, kW) from the ``kept`` arrays of :func:`forward`, or else from x; with ``bias``
    the pair (dL/dW, dL/db)."""
    if algorithm == "onednn":
        return onednn.conv.grad_weight(x, gy, g, w_shape, kept, bias)
    gw = _kernels(algorithm).grad_weight(x, gy, g, w_shape, kept)
    return (gw, bias_grad(gy)) if bias else gw
