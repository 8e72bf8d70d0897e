"""Padding layers (PyTorch's API): ``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d``, ``CircularPad1d/2d``; each calls ``F.pad`` (``cnnkit/ops/pad.py``) with its mode.

``padding`` is an int (the same width on every side) or a tuple: (left, right) for the 1d layers,
(left, right, top, bottom) for the 2d layers.
"""
from __future__ import annotations

from ..ops import validate
from ..ops.pad import pad
from .module import Module

__all__ = ["CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d"]


class _Pad(Module):
    mode = "constant"
    sides = 2

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        fn = type(self).__name__
        if validate.is_int(padding):
            padding = (int(padding),) * self.sides
        if not isinstance(padding, (tuple, list)) or len(padding) != self.sides or \
                not all(validate.is_int(p) for p in padding):
            raise TypeError(f"{fn}: padding must be an int or a tuple of {self.sides} ints, got {padding!r}")
        self.padding = tuple(int(p) for p in padding)
        self.value = float(validate.number(value, "value", fn))

    def forward(self, input):
        return pad(input, self.padding, self.mode, self.value)

    def extra_repr(self) -> str:
        if type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad1d(_Pad):
    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ConstantPad2d(_Pad):
    sides = 4

    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ZeroPad1d(_Pad):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(_Pad):
    sides = 4

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_Pad):
    mode = "reflect"


class ReflectionPad2d(_Pad):
    mode, sides = "reflect", 4


class ReplicationPad1d(_Pad):
    mode = "replicate"


class ReplicationPad2d(_Pad):
    mode, sides = "replicate", 4


class CircularPad1d(_Pad):
    mode = "circular"


class CircularPad2d(_Pad):
    mode, sides = "circular", 4
