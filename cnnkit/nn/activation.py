"""Activation layers: ``ReLU``, ``LeakyReLU``, ``ELU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax``,
``GLU``, ``GELU`` and cnnkit's own ``Maxout``. The formulas and their derivatives are in ``cnnkit/ops/activation.py``.
"""
from __future__ import annotations

from ..ops import activation as F
from ..ops import gelu as G
from ..ops import validate
from .module import Module


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """y = max(x, 0). ``inplace`` is accepted (and shown in the repr); the result is computed out of place."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope · x."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        validate.number(negative_slope, "negative_slope", "LeakyReLU")
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """y = x if x > 0 else alpha · (eˣ − 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        validate.number(alpha, "alpha", "ELU")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """y = 1 / (1 + e⁻ˣ)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """y = tanh x."""

    def forward(self, input):
        return F.tanh(input)


def _check_dim(dim, fn: str):
    if dim is not None and not validate.is_int(dim):
        raise TypeError(f"{fn}: dim must be an int or None, got {dim!r}")
    return dim


class Softmax(Module):
    """y = e^xᵢ / Σⱼ e^xⱼ along ``dim``. ``dim=None`` uses PyTorch's deprecated implicit rule (with a warning):
    dim 0 for 0-, 1- and 3-d input, dim 1 otherwise."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = _check_dim(dim, "Softmax")

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = log softmax(x) along ``dim``, by log-sum-exp (``dim=None``: PyTorch's implicit rule, with a warning)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = _check_dim(dim, "LogSoftmax")

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """Gated linear unit: a ⊙ σ(b) with a, b the halves of the input along ``dim`` (which must be even)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = validate.integer(dim, "dim", "GLU")

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Maxout(Module):
    """Maxout (Goodfellow et al. 2013), cnnkit's own layer: the max over each group of ``pieces``
    consecutive channels along ``dim``. Input (N, C, ...) with C divisible by pieces gives
    (N, C / pieces, ...); no parameters (put a Conv2d/Linear with pieces × the output channels before it).
    The gradient of each output goes to the winning channel only (the first one on ties).
    """

    def __init__(self, pieces: int, dim: int = 1):
        super().__init__()
        self.pieces = validate.positive_int(pieces, "pieces", "Maxout")
        self.dim = validate.integer(dim, "dim", "Maxout")

    def forward(self, input):
        return F.maxout(input, self.pieces, self.dim)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}, dim={self.dim}"


__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GLU", "Maxout"]


class GELU(Module):
    """y = x · Φ(x), or its tanh approximation with ``approximate='tanh'`` (formulas in ``cnnkit/ops/gelu.py``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in G.APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return G.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
