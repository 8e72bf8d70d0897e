"""Lazy layers: ``LazyLinear`` and ``LazyConv2d`` infer ``in_features`` / ``in_channels`` from their first input.

Until then their parameters are empty placeholders (the same ``Parameter`` objects, so an optimizer built
before the first forward updates them afterwards). At the first forward, as in PyTorch, the parameters get
their shapes, ``reset_parameters()`` initializes them (drawing from the generator then, not at construction),
and the module becomes a plain ``Linear`` / ``Conv2d``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .conv import Conv2d
from .linear import Linear

__all__ = ["LazyConv2d", "LazyLinear"]


def _first_input(args, fn: str) -> Tensor:
    if not args or not isinstance(args[0], Tensor):
        raise TypeError(f"{fn}: expected a Tensor input")
    return args[0]


class LazyLinear(Linear):
    """``Linear`` whose ``in_features`` is the last dim of the first input."""

    lazy = True

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)

    def forward(self, *args):
        x = _first_input(args, "LazyLinear")
        if x.ndim == 0:
            raise ValueError(f"LazyLinear: expected an input with at least one dim, got shape {tuple(x.shape)}")
        self.in_features = int(x.shape[-1])
        self.weight.data = np.empty((self.out_features, self.in_features), self.weight.dtype)
        self.reset_parameters()
        self.__class__ = Linear
        return self.forward(*args)


class LazyConv2d(Conv2d):
    """``Conv2d`` whose ``in_channels`` is the channel dim of the first input (N, C, H, W) or (C, H, W)."""

    lazy = True

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self.in_channels = 0
        self.weight.data = np.empty((0,), self.weight.dtype)

    def forward(self, *args):
        x = _first_input(args, "LazyConv2d")
        if x.ndim not in (3, 4):
            raise ValueError(f"LazyConv2d: expected a 3-d or 4-d input, got shape {tuple(x.shape)}")
        c = int(x.shape[-3])
        if c % self.groups:
            raise ValueError(f"LazyConv2d: in_channels ({c}) must be divisible by groups ({self.groups})")
        self.in_channels = c
        self.weight.data = np.empty((self.out_channels, c // self.groups) + self.kernel_size, self.weight.dtype)
        self.reset_parameters()
        self.__class__ = Conv2d
        return self.forward(*args)
