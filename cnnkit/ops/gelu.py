"""GELU, the Gaussian error linear unit (Hendrycks & Gimpel, 2016; ConvNeXt, vision transformers), PyTorch's
``F.gelu`` with its two forms:

    approximate='none':  gelu(x) = x · Φ(x) = x/2 · (1 + erf(x/√2))
                         d = Φ(x) + x · φ(x),   φ(x) = e^(−x²/2) / √(2π)
    approximate='tanh':  gelu(x) = x/2 · (1 + tanh(u)),   u = √(2/π) · (x + 0.044715 x³)
                         d = (1 + t)/2 + x/2 · (1 − t²) · √(2/π) · (1 + 3·0.044715 x²),   t = tanh(u)

erf is SciPy's (``scipy.special.erf``, a float32 and a float64 loop, like the input), imported when first used
so that ``import cnnkit`` imports no third-party package but NumPy.
"""
from __future__ import annotations

import math

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import float_operand

__all__ = ["gelu"]

APPROXIMATIONS = ("none", "tanh")
_KAPPA = 0.044715


class GELU(Function):
    def __init__(self, approximate: str):
        self.approximate = approximate

    def forward(self, x):
        one = x.dtype.type(1)
        half = x.dtype.type(0.5)
        self.x = x
        if self.approximate == "none":
            from scipy.special import erf  # imported on first use: `import cnnkit` imports only NumPy
            cdf = half * (one + erf(x * x.dtype.type(1 / math.sqrt(2))))
            self.cdf = cdf
            return x * cdf
        c = x.dtype.type(math.sqrt(2 / math.pi))
        t = np.tanh(c * (x + x.dtype.type(_KAPPA) * x * x * x))
        self.t = t
        return half * x * (one + t)

    def backward(self, gy):
        x = self.x
        one, half = x.dtype.type(1), x.dtype.type(0.5)
        if self.approximate == "none":
            pdf = np.exp(-half * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))
            return gy * (self.cdf + x * pdf)
        t = self.t
        c = x.dtype.type(math.sqrt(2 / math.pi))
        inner = c * (one + x.dtype.type(3 * _KAPPA) * x * x)
        return gy * (half * (one + t) + half * x * (one - t * t) * inner)


def gelu(input, approximate: str = "none") -> Tensor:
    """x · Φ(x) (``approximate='none'``) or its tanh approximation (``'tanh'``); see the module docstring."""
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(float_operand(input, "gelu"))
