"""Dropout (Srivastava et al. 2014), in its *inverted* form.

In training every unit is kept with probability 1 − p and the kept ones are scaled by 1/(1 − p):

    y = x ⊙ m / (1 − p),   m ~ Bernoulli(1 − p)    so  E[y] = x;
    dx = dy ⊙ m / (1 − p)  (the same mask).

At evaluation time the layer is the identity (no rescaling is needed, unlike the original form that
scaled the weights by 1 − p at test time). ``dropout2d`` draws one m per (sample, channel) and drops whole
feature maps (Tompson et al. 2015). Masks come from cnnkit's project-wide generator, so
``ck.manual_seed`` reproduces them. The scale is 1/(1 − p) rounded to the input's dtype, as in PyTorch:
a kept value is exactly ``x * dtype(1 / (1 - p))``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..random import get_generator
from ..tensor import Tensor
from . import validate


class Dropout(Function):
    """y = x ⊙ m · s with a fixed boolean mask m (broadcast to x) and scale s = 1/(1 − p);  dx = dy ⊙ m · s."""

    def __init__(self, mask: np.ndarray, scale: float):
        self.mask, self.scale = mask, scale

    def forward(self, x):
        y = np.multiply(x, x.dtype.type(self.scale))
        with np.errstate(invalid="ignore"):            # a dropped ±inf gives nan, silently, as in PyTorch
            y *= self.mask
        return y

    def backward(self, gy):
        g = np.multiply(gy, gy.dtype.type(self.scale))
        with np.errstate(invalid="ignore"):
            g *= self.mask
        return g


def _keep_mask(shape, p: float) -> np.ndarray:
    """Boolean mask, True with probability 1 − p (a float32 uniform draw u is kept when u >= p)."""
    return get_generator().random(shape, dtype=np.float32) >= np.float32(p)


def _channel_mask_shape(shape) -> tuple:
    """One mask entry per (sample, channel): (N, C, 1, ..., 1)."""
    return tuple(shape[:2]) + (1,) * (len(shape) - 2)


def _inverted_dropout(x, p, training, channelwise: bool, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{fn}: expected a Tensor, got {type(x).__name__}")
        x = Tensor._wrap(x)
    p = validate.probability(p, "p", fn)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{fn}: expected a floating point tensor, got dtype {x.dtype}")
    if channelwise and x.ndim < 2:
        raise ValueError(f"{fn}: expected input of shape (N, C, H, W) or (N, C, L), got shape {tuple(x.shape)}")
    if not training or p == 0.0 or x._data.size == 0:
        return x
    shape = _channel_mask_shape(x.shape) if channelwise else x.shape
    if p == 1.0:
        return Dropout(np.zeros(shape, np.bool_), 0.0)(x)
    return Dropout(_keep_mask(shape, p), 1.0 / (1.0 - p))(x)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1 − p) (training only).

    p = 0 or ``training=False`` returns the input unchanged; p = 1 gives zeros. ``inplace`` is accepted
    for PyTorch compatibility; the result is always a new tensor.
    """
    return _inverted_dropout(input, p, training, False, "dropout")


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout: zero whole feature maps x[n, c] with probability p, scale the rest by 1/(1 − p).

    As in PyTorch, a 3-d input is read as (N, C, L) (one mask entry per sample and channel).
    """
    return _inverted_dropout(input, p, training, True, "dropout2d")


__all__ = ["dropout", "dropout2d"]
