"""Convolution layers: ``Conv2d``, ``ConvTranspose2d`` and LeNet-5's connection-table ``TableConv2d``.

A convolution layer is *locally connected* (each output pixel sees a kH×kW window) and *shares its
weights* (the same kernel at every position):

    Conv2d           weight (out, in/groups, kH, kW), bias (out,):  out·(in/groups)·kH·kW + out parameters
    ConvTranspose2d  weight (in, out/groups, kH, kW), bias (out,):  in·(out/groups)·kH·kW + out parameters
    TableConv2d      weight (connections, kH, kW), bias (out,):     connections·kH·kW + out parameters

PyTorch's default initialization: W ~ kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in) with fan_in =
weight.shape[1]·kH·kW, and b ~ U(−1/√fan_in, 1/√fan_in). The forward and backward passes are the ops of
``cnnkit/ops/conv.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..ops import conv as ops
from ..random import get_generator
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _lenet5_c3_table() -> np.ndarray:
    """LeNet-5's S2 -> C3 connections (LeCun et al. 1998, Table I) as a bool array (16, 6).

    The first six C3 maps take three neighbouring S2 maps, the next six four neighbouring maps, the next
    three four non-neighbouring maps, and the last one all six: 60 connections that break the symmetry
    between the maps and keep the number of connections "within reasonable bounds".
    """
    inputs = [[j % 6 for j in range(i, i + 3)] for i in range(6)]
    inputs += [[j % 6 for j in range(i, i + 4)] for i in range(6)]
    inputs += [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], list(range(6))]
    table = np.zeros((16, 6), bool)
    for out, ins in enumerate(inputs):
        table[out, ins] = True
    table.setflags(write=False)
    return table


LENET5_C3_TABLE = _lenet5_c3_table()
"""LeNet-5's connection table between S2 (6 maps) and C3 (16 maps), shape (out=16, in=6), 60 connections."""


def _channels(v, what: str, who: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{who}: expected {what} to be a positive int, got {v!r}")
    return int(v)


def _dtype(dtype, who: str) -> np.dtype:
    d = backend.as_dtype(dtype) or backend.get_default_dtype()
    if not backend.is_floating(d):
        raise TypeError(f"{who}: dtype must be a floating point type, got {d}")
    return d


def _input(x, who) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(x).__name__}")
    return x


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, initialization and repr."""

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, dtype):
        super().__init__()
        who = type(self).__name__
        self.in_channels = _channels(in_channels, "in_channels", who)
        self.out_channels = _channels(out_channels, "out_channels", who)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"{who}: expected groups to be a positive int, got {groups!r}")
        self.groups = int(groups)
        if self.in_channels % self.groups:
            raise ValueError(f"{who}: in_channels ({self.in_channels}) must be divisible by groups ({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{who}: out_channels ({self.out_channels}) must be divisible by groups ({self.groups})")
        self.kernel_size = ops.pair(kernel_size, "kernel_size", who)
        self.stride = ops.pair(stride, "stride", who)
        self.dilation = ops.pair(dilation, "dilation", who)
        self.output_padding = ops.pair(output_padding, "output_padding", who, minimum=0)
        if isinstance(padding, str):
            if self.transposed:
                raise ValueError(f"{who}: expected padding to be an int or a pair of ints, got {padding!r}")
            self._pad4 = ops._padding(padding, self.kernel_size, self.stride, self.dilation, who)
            self.padding = padding
        else:
            self.padding = ops.pair(padding, "padding", who, minimum=0)
            self._pad4 = (self.padding[0], self.padding[0], self.padding[1], self.padding[1])
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{who}: expected padding_mode to be one of {PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        d = _dtype(dtype, who)
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, d))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, d))
        else:
            self.register_parameter("bias", None)
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

    def _name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv2d(_ConvNd):
    """2-d convolution over an (N, C_in, H, W) or (C_in, H, W) input (PyTorch's ``nn.Conv2d``).

    y = conv2d(x, weight, bias, stride, padding, dilation, groups); Ho = ⌊(H + 2p − d·(k − 1) − 1)/s⌋ + 1.
    padding: int, pair, 'valid' or 'same'; padding_mode: 'zeros' (default), 'reflect', 'replicate' or
    'circular' (the input is padded with that rule first).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, input):
        x = _input(input, self._name())
        name = self._name()
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {x.shape}")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels, got shape {x.shape}")
        if self.padding_mode != "zeros":
            x = ops.pad2d(x, self._pad4, self.padding_mode, name)
            return ops.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups, _name=name)
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                          _name=name)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-d convolution (PyTorch's ``nn.ConvTranspose2d``): the gradient of Conv2d w.r.t. its input.

    Ho = (H − 1)·s − 2p + d·(k − 1) + output_padding + 1; ``forward(input, output_size)`` picks the
    output_padding that gives ``output_size`` (its last two entries).
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)
        for i in range(2):
            if self.output_padding[i] >= max(self.stride[i], self.dilation[i]):
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be smaller than "
                                 f"stride {self.stride} or dilation {self.dilation}")

    def _output_padding(self, x: Tensor, output_size, name: str) -> tuple:
        if output_size is None:
            return self.output_padding
        size = list(output_size.shape if isinstance(output_size, Tensor) else output_size)
        if len(size) == x.ndim:
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(f"{name}: expected output_size with 2 or {x.ndim} entries, got {tuple(output_size)}")
        pads = []
        for i in range(2):
            lo = ((x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= int(size[i]) <= hi:
                raise ValueError(f"{name}: requested output size {tuple(size)} is not reachable from input shape "
                                 f"{x.shape}: expected sizes between {lo} and {hi} in dim {i}")
            pads.append(int(size[i]) - lo)
        return tuple(pads)

    def forward(self, input, output_size=None):
        name = self._name()
        x = _input(input, name)
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {x.shape}")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels, got shape {x.shape}")
        op = self._output_padding(x, output_size, name)
        return ops.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                    self.dilation, _name=name)


class TableConv2d(Module):
    """Convolution with a connection table (LeNet-5's C3): output map j sees the input maps i with table[j, i].

    ``table`` is a bool array of shape (out_channels, in_channels). Only the connected kernels are
    parameters: ``weight`` has shape (connections, kH, kW), ordered output map by output map (the
    row-major order of the True entries of the table); ``bias`` (out_channels,). With LENET5_C3_TABLE
    and 5×5 kernels that is 60·25 + 16 = 1516 parameters. The result equals a Conv2d whose dense weight is
    zero where the table is False, and only connected kernels receive gradients.

    Initialization: U(−1/√fan_in_j, 1/√fan_in_j) for the kernels and the bias of output map j, where
    fan_in_j = (inputs of j)·kH·kW (PyTorch's default rule applied to the actual connectivity).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, table, stride=1, padding=0,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        who = "TableConv2d"
        self.in_channels = _channels(in_channels, "in_channels", who)
        self.out_channels = _channels(out_channels, "out_channels", who)
        t = ops.check_table(table, who)
        if t.shape != (self.out_channels, self.in_channels):
            raise ValueError(f"{who}: expected a table of shape (out_channels, in_channels) = "
                             f"({self.out_channels}, {self.in_channels}), got shape {t.shape}")
        t = t.copy()
        t.setflags(write=False)
        self.table = t
        self.kernel_size = ops.pair(kernel_size, "kernel_size", who)
        self.stride = ops.pair(stride, "stride", who)
        if isinstance(padding, str):
            ops._padding(padding, self.kernel_size, self.stride, (1, 1), who)
            self.padding = padding
        else:
            self.padding = ops.pair(padding, "padding", who, minimum=0)
        d = _dtype(dtype, who)
        self.weight = Parameter(np.empty((int(t.sum()),) + self.kernel_size, d))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def connections(self) -> int:
        return int(self.table.sum())

    def reset_parameters(self) -> None:
        """Kernels and bias of output map j ~ U(−1/√fan_in_j, 1/√fan_in_j), fan_in_j = (inputs of j)·kH·kW."""
        kh, kw = self.kernel_size
        fan_in = self.table.sum(axis=1) * kh * kw
        bound = 1.0 / np.sqrt(fan_in)
        rows = np.nonzero(self.table)[0]
        rng = get_generator()
        w = rng.uniform(-1.0, 1.0, self.weight.shape) * bound[rows, None, None]
        self.weight.data[...] = w
        if self.bias is not None:
            self.bias.data[...] = rng.uniform(-1.0, 1.0, self.out_channels) * bound

    def dense_weight(self) -> Tensor:
        """The equivalent Conv2d weight (out, in, kH, kW): the kernels where the table allows, zeros elsewhere."""
        return ops.ScatterKernels(self.table)(self.weight)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"connections={self.connections}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def forward(self, input):
        name = f"TableConv2d({self.extra_repr()})"
        x = _input(input, name)
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {x.shape}")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels, got shape {x.shape}")
        return ops.table_conv2d(x, self.weight, self.table, self.bias, self.stride, self.padding, _name=name)
