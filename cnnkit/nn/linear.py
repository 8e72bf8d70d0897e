"""The fully connected layer and the shape layers around it: ``Linear``, ``Flatten``, ``Unflatten``.

Linear: y = x Wᵀ + b for x of shape (..., in_features), W (out_features, in_features), b (out_features,);
in_features · out_features (+ out_features) parameters. PyTorch's default initialization:
W ~ kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in), and b ~ U(−1/√in, 1/√in).
The backward (dx = dy W, dW = dyᵀ x, db = Σ dy) is the fused ``Linear`` op of ``cnnkit/ops/linalg.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ..device import check_device
from ..ops import linalg, validate
from ..ops.shape import reshape
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def _tensor_input(x) -> Tensor:
    """The input of a layer's forward; ``Module.__call__`` names the layer in the error."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a Tensor, got {type(x).__name__}")
    return x


class Linear(Module):
    """y = x Wᵀ + b (the fully connected layer) on the last dimension of the input."""

    lazy = False  # LazyLinear: parameters are created (and initialized) at the first forward

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device, type(self).__name__)
        self.in_features = validate.non_negative_int(in_features, "in_features", "Linear")
        self.out_features = validate.non_negative_int(out_features, "out_features", "Linear")
        d = validate.floating_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), d))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, d))
        else:
            self.register_parameter("bias", None)
        if not self.lazy:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in);  b ~ U(−1/√fan_in, 1/√fan_in)."""
        if self.weight.numel() > 0:
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        x = _tensor_input(input)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input with last dimension {self.in_features}, "
                             f"got shape {tuple(x.shape)}")
        w, b = self.weight, self.bias
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise TypeError(f"input dtype {x.dtype} does not match the layer's dtype {w.dtype} "
                            f"(convert the input with .to({w.dtype}) or the layer with .to({x.dtype}))")
        return linalg.Linear()(x, w) if b is None else linalg.Linear()(x, w, b)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dims start_dim … end_dim into one: (N, C, H, W) -> (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = validate.integer(start_dim, "start_dim", "Flatten")
        self.end_dim = validate.integer(end_dim, "end_dim", "Flatten")

    def forward(self, input):
        x = _tensor_input(input)
        s = validate.dim(self.start_dim, x.ndim, "flatten")
        e = validate.dim(self.end_dim, x.ndim, "flatten")
        if x.ndim == 0:
            return reshape(x, 1)
        if s > e:
            raise ValueError(f"start_dim comes after end_dim for input of shape {tuple(x.shape)}")
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
        return reshape(x, shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (one entry may be −1): the inverse of Flatten."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        dim = validate.integer(dim, "dim", "Unflatten")
        try:
            sizes = tuple(int(s) for s in unflattened_size)
        except (TypeError, ValueError):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}") from None
        if sum(s == -1 for s in sizes) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"Unflatten: unflattened_size may hold non-negative sizes and at most one -1, "
                             f"got {sizes}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input):
        x = _tensor_input(input)
        if x.ndim == 0:
            raise ValueError("expected a tensor with at least 1 dimension, got a 0-d tensor")
        d = validate.dim(self.dim, x.ndim, "unflatten")
        n, sizes = x.shape[d], list(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        if -1 in sizes and known > 0 and n % known == 0:
            sizes[sizes.index(-1)] = n // known
        if -1 in sizes or math.prod(sizes) != n:
            raise ValueError(f"cannot split dimension {self.dim} of size {n} into {self.unflattened_size} "
                             f"(input shape {tuple(x.shape)})")
        return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["Linear", "Flatten", "Unflatten"]
