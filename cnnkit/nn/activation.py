"""Activation layers: ``ReLU``, ``LeakyReLU``, ``ELU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax``,
``GLU`` and cnnkit's own ``Maxout``. The formulas and their derivatives are in ``cnnkit/ops/activation.py``.
"""
from __future__ import annotations

from ..ops import activation as A
from .module import Module


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """y = max(x, 0). ``inplace`` is accepted (and shown in the repr); the result is computed out of place."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return A._relu(input, self)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope · x."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        A._number(negative_slope, "negative_slope", "LeakyReLU")
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return A._leaky_relu(input, self.negative_slope, self)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """y = x if x > 0 else alpha · (eˣ − 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        A._number(alpha, "alpha", "ELU")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return A._elu(input, self.alpha, self)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """y = 1 / (1 + e⁻ˣ)."""

    def forward(self, input):
        return A.Sigmoid()(A._float_arg(input, self, promote=True))


class Tanh(Module):
    """y = tanh x."""

    def forward(self, input):
        return A.Tanh()(A._float_arg(input, self, promote=True))


def _check_dim(dim, who: str):
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise TypeError(f"{who}: dim must be an int or None, got {dim!r}")
    return dim


class Softmax(Module):
    """y = e^xᵢ / Σⱼ e^xⱼ along ``dim``. ``dim=None`` uses PyTorch's deprecated implicit rule (with a warning):
    dim 0 for 0-, 1- and 3-d input, dim 1 otherwise."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = _check_dim(dim, "Softmax")

    def forward(self, input):
        return A._softmax_like(A.Softmax, input, self.dim, None, self, 4)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = log softmax(x) along ``dim``, by log-sum-exp (``dim=None``: PyTorch's implicit rule, with a warning)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = _check_dim(dim, "LogSoftmax")

    def forward(self, input):
        return A._softmax_like(A.LogSoftmax, input, self.dim, None, self, 4)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """Gated linear unit: a ⊙ σ(b) with a, b the halves of the input along ``dim`` (which must be even)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"GLU: dim must be an int, got {dim!r}")
        self.dim = dim

    def forward(self, input):
        return A._glu(input, self.dim, self)

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
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {pieces!r}")
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"Maxout: dim must be an int, got {dim!r}")
        self.pieces, self.dim = pieces, dim

    def forward(self, input):
        return A._maxout(input, self.pieces, self.dim, self)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}, dim={self.dim}"


__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GLU", "Maxout"]
