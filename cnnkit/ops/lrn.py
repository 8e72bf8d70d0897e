"""Local response normalization (LRN) as an op.

Local response normalization (Krizhevsky et al., 2012; PyTorch's form), across channels:

    y_c = x_c · D_c^(−β),   D_c = k + (α/n) Σ_{c' = c − ⌊n/2⌋}^{c + ⌊(n−1)/2⌋} x_{c'}²

(channels outside [0, C) count as zero). With T_c = dy_c · y_c / D_c the backward is

    dx_j = dy_j · D_j^(−β) − (2αβ/n) · x_j · Σ_{c = j − ⌊(n−1)/2⌋}^{j + ⌊n/2⌋} T_c

(the transposed window). Both window sums are a loop over the n window offsets, never over channels.
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from . import validate
from .norm import check_channels_input

__all__ = ["LocalResponseNorm", "check_lrn_args", "local_response_norm"]


def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = Σ_{d = −before}^{after} a[:, c + d] over the channel axis 1 (zero outside [0, C))."""
    c = a.shape[1]
    s = a.copy(order="K")
    for d in range(1, min(after, c - 1) + 1):
        s[:, :c - d] += a[:, d:]
    for d in range(1, min(before, c - 1) + 1):
        s[:, d:] += a[:, :c - d]
    return s


class LocalResponseNorm(Function):
    """y = x · D^(−β), D = k + (α/n)·(window sum of x² over n neighbouring channels); see the module doc."""

    def __init__(self, size: int, alpha: float, beta: float, k: float):
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        n = self.size
        sq = np.multiply(x, x)
        d = _window_sum(sq, n // 2, (n - 1) // 2)
        d *= self.alpha / n
        d += self.k
        r = np.power(d, -self.beta, out=sq)
        y = np.multiply(x, r)
        if self.needs_input_grad[0]:
            self.x, self.d, self.r = x, d, r
        return y

    def backward(self, gy):
        n = self.size
        gx = np.multiply(gy, self.r)
        t = np.multiply(gx, self.x)
        t /= self.d
        w = _window_sum(t, (n - 1) // 2, n // 2)
        del t
        w *= self.x
        w *= 2.0 * self.alpha * self.beta / n
        gx -= w
        return gx


def check_lrn_args(size, alpha, beta, k, fn: str) -> None:
    """Local response normalization's arguments: size a positive int, alpha, beta and k numbers."""
    if not validate.is_int(size):
        raise TypeError(f"{fn}: size must be an int, got {size!r}")
    if size < 1:
        raise ValueError(f"{fn}: size must be a positive number of channels, got {size}")
    for name, v in (("alpha", alpha), ("beta", beta), ("k", k)):
        validate.number(v, name, fn)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0) -> Tensor:
    """Local response normalization across channels (PyTorch's ``F.local_response_norm``, AlexNet's LRN).

    y_c = x_c / (k + (α/n) Σ_{c'} x_{c'}²)^β, the sum over the n = ``size`` channels
    c' = c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ (those outside [0, C) count as zero). ``input`` is (N, C, *) with at least 3 dims.
    """
    fn = "local_response_norm"
    check_channels_input(input, 3, fn)
    check_lrn_args(size, alpha, beta, k, fn)
    return LocalResponseNorm(int(size), float(alpha), float(beta), float(k))(input)
