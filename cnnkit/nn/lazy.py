"""Lazy layers: ``LazyLinear``, ``LazyConv2d``, ``LazyBatchNorm1d/2d`` infer ``in_features`` / ``in_channels`` /
``num_features`` from their first input.

Until then their parameters are empty placeholders (the same ``Parameter`` objects, so an optimizer built
before the first forward updates them afterwards). At the first forward, as in PyTorch, the parameters get
their shapes, ``reset_parameters()`` initializes them (drawing from the generator then, not at construction),
and the module becomes a plain ``Linear`` / ``Conv2d`` / ``BatchNorm1d`` / ``BatchNorm2d``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .conv import Conv2d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyConv2d", "LazyLinear"]


def _first_input(args, fn: str) -> Tensor:
    if not args or not isinstance(args[0], Tensor):
        raise TypeError(f"{fn}: expected a Tensor input")
    return args[0]


class LazyLinear(Linear):
    """``Linear`` whose ``in_features`` is the last dim of the first input."""

    lazy = True

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)  # checks the device

    def forward(self, *args):
        x = _first_input(args, "LazyLinear")
        if x.ndim == 0:
            raise ValueError(f"LazyLinear: expected an input with at least one dim, got shape {tuple(x.shape)}")
        self.in_features = int(x.shape[-1])
        self.weight._data = np.empty((self.out_features, self.in_features), self.weight.dtype)
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
        self.weight._data = np.empty((0,), self.weight.dtype)

    def forward(self, *args):
        x = _first_input(args, "LazyConv2d")
        if x.ndim not in (3, 4):
            raise ValueError(f"LazyConv2d: expected a 3-d or 4-d input, got shape {tuple(x.shape)}")
        c = int(x.shape[-3])
        if c % self.groups:
            raise ValueError(f"LazyConv2d: in_channels ({c}) must be divisible by groups ({self.groups})")
        self.in_channels = c
        self.weight._data = np.empty((self.out_channels, c // self.groups) + self.kernel_size, self.weight.dtype)
        self.reset_parameters()
        self.__class__ = Conv2d
        return self.forward(*args)


class _LazyBatchNorm:
    """``num_features`` is the channel dim (dim 1) of the first input; the module then becomes ``cls_to_become``."""

    cls_to_become = None

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        self.cls_to_become.__init__(self, 1, eps, momentum, affine, track_running_stats, device, dtype)
        self.num_features = 0

    def forward(self, *args):
        x = _first_input(args, type(self).__name__)
        if x.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input with a channel dim, got shape "
                             f"{tuple(x.shape)}")
        c = int(x.shape[1])
        self.num_features = c
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t._data = np.empty(c, t.dtype)
        self.reset_parameters()
        self.__class__ = self.cls_to_become
        return self.forward(*args)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``BatchNorm1d`` whose ``num_features`` comes from the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` comes from the first input."""

    cls_to_become = BatchNorm2d
