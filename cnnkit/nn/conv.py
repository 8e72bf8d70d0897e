"""Convolution layers: ``Conv2d`` and ``ConvTranspose2d`` (LeNet-5's ``TableConv2d`` is in ``table_conv.py``).

A convolution layer is *locally connected* (each output pixel sees a kH×kW window) and *shares its
weights* (the same kernel at every position):

    Conv2d           weight (out, in/groups, kH, kW), bias (out,):  out·(in/groups)·kH·kW + out parameters
    ConvTranspose2d  weight (in, out/groups, kH, kW), bias (out,):  in·(out/groups)·kH·kW + out parameters

PyTorch's default initialization: W ~ kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in) with fan_in =
weight.shape[1]·kH·kW, and b ~ U(−1/√fan_in, 1/√fan_in). The forward and backward passes are the ops of
``cnnkit/ops/conv.py``; the arguments are checked in ``__init__``, the input by the ops.
"""
from __future__ import annotations

import math

import numpy as np

from ..device import check_device
from ..ops import validate
from ..ops.conv import conv2d, conv_transpose2d
from ..ops.pad import pad
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, initialization and repr."""

    transposed = False
    lazy = False  # LazyConv2d: parameters are created (and initialized) at the first forward

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, dtype):
        super().__init__()
        fn = type(self).__name__
        self.in_channels = validate.positive_int(in_channels, "in_channels", fn)
        self.out_channels = validate.positive_int(out_channels, "out_channels", fn)
        self.groups = validate.positive_int(groups, "groups", fn)
        if self.in_channels % self.groups:
            raise ValueError(f"{fn}: in_channels ({self.in_channels}) must be divisible by groups ({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{fn}: out_channels ({self.out_channels}) must be divisible by groups ({self.groups})")
        self.kernel_size = validate.pair(kernel_size, "kernel_size", fn)
        self.stride = validate.pair(stride, "stride", fn)
        self.dilation = validate.pair(dilation, "dilation", fn)
        self.output_padding = validate.pair(output_padding, "output_padding", fn, minimum=0)
        if isinstance(padding, str):
            if self.transposed:
                raise ValueError(f"{fn}: padding must be an int or a tuple of two ints, got {padding!r}")
            self._pad4 = validate.padding(padding, self.kernel_size, self.stride, self.dilation, fn)
            self.padding = padding
        else:
            self.padding = validate.pair(padding, "padding", fn, minimum=0)
            self._pad4 = (self.padding[0], self.padding[0], self.padding[1], self.padding[1])
        self.padding_mode = validate.one_of(padding_mode, PADDING_MODES, "padding_mode", fn)
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{fn}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        d = validate.floating_dtype(dtype, fn)
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, d))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, d))
        else:
            self.register_parameter("bias", None)
        if not self.lazy:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ kaiming_uniform_(a=√5), b ~ U(−1/√fan_in, 1/√fan_in) with fan_in = weight.shape[1]·kH·kW."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-d convolution over an (N, C_in, H, W) or (C_in, H, W) input (PyTorch's ``nn.Conv2d``).

    y = conv2d(x, weight, bias, stride, padding, dilation, groups); Ho = ⌊(H + 2p − d·(k − 1) − 1)/s⌋ + 1.
    padding: int, pair, 'valid' or 'same'; padding_mode: 'zeros' (default), 'reflect', 'replicate' or
    'circular' (the input is padded with that rule first).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        check_device(device, type(self).__name__)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, input):
        if self.padding_mode != "zeros":
            t, b, l_, r = self._pad4
            input = pad(input, (l_, r, t, b), self.padding_mode)
            return conv2d(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-d convolution (PyTorch's ``nn.ConvTranspose2d``): the gradient of Conv2d w.r.t. its input.

    Ho = (H − 1)·s − 2p + d·(k − 1) + output_padding + 1; ``forward(input, output_size)`` picks the
    output_padding that gives ``output_size`` (its last two entries).
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        check_device(device, "ConvTranspose2d")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)
        for i in range(2):
            if self.output_padding[i] >= max(self.stride[i], self.dilation[i]):
                raise ValueError(f"ConvTranspose2d: output_padding must be smaller than stride or dilation, got "
                                 f"output_padding {self.output_padding} for stride {self.stride} and dilation "
                                 f"{self.dilation}")

    def _output_padding(self, x, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (None: the layer's own)."""
        if output_size is None:
            return self.output_padding
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a Tensor input, got {type(x).__name__}")
        size = list(output_size.shape if isinstance(output_size, Tensor) else output_size)
        if len(size) == x.ndim:
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(f"expected output_size with 2 or {x.ndim} entries, got {tuple(output_size)}")
        pads = []
        for i in range(2):
            lo = ((x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= int(size[i]) <= hi:
                raise ValueError(f"requested output size {tuple(size)} is not reachable from input shape "
                                 f"{x.shape}: expected sizes between {lo} and {hi} in dim {i}")
            pads.append(int(size[i]) - lo)
        return tuple(pads)

    def forward(self, input, output_size=None):
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups, self.dilation)
