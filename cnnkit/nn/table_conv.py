"""LeNet-5's connection-table convolution as a layer: ``TableConv2d``.

Output map j sees only the input maps i with table[j, i] True; only the connected kernels are parameters,
so LeNet-5's C3 (16 maps over 6, 60 connections, 5×5 kernels) has 60·25 + 16 = 1516 of them instead of
the 2416 of a dense Conv2d. The op is ``cnnkit/ops/table_conv.py``; LeNet-5's table is
``cnnkit.models.lenet.LENET5_C3_TABLE``.
"""
from __future__ import annotations

import numpy as np

from ..ops import validate
from ..ops.inplace import changed
from ..ops.table_conv import ScatterKernels, check_table, table_conv2d
from ..random import get_generator
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["TableConv2d"]


class TableConv2d(Module):
    """Convolution with a connection table (LeNet-5's C3): output map j sees the input maps i with table[j, i].

    ``table`` is a bool array of shape (out_channels, in_channels). Only the connected kernels are
    parameters: ``weight`` has shape (connections, kH, kW), ordered output map by output map (the
    row-major order of the True entries of the table); ``bias`` (out_channels,). With LeNet-5's table
    (``cnnkit.models.lenet.LENET5_C3_TABLE``) and 5×5 kernels that is 60·25 + 16 = 1516 parameters. The
    result equals a Conv2d whose dense weight is zero where the table is False, and only connected kernels
    receive gradients.

    Initialization: U(−1/√fan_in_j, 1/√fan_in_j) for the kernels and the bias of output map j, where
    fan_in_j = (inputs of j)·kH·kW (PyTorch's default rule applied to the actual connectivity).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, table, stride=1, padding=0,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        fn = "TableConv2d"
        self.in_channels = validate.positive_int(in_channels, "in_channels", fn)
        self.out_channels = validate.positive_int(out_channels, "out_channels", fn)
        t = check_table(table, fn)
        if t.shape != (self.out_channels, self.in_channels):
            raise ValueError(f"{fn}: expected a table of shape (out_channels, in_channels) = "
                             f"({self.out_channels}, {self.in_channels}), got shape {t.shape}")
        t = t.copy()
        t.setflags(write=False)
        self.table = t
        self.kernel_size = validate.pair(kernel_size, "kernel_size", fn)
        self.stride = validate.pair(stride, "stride", fn)
        if isinstance(padding, str):
            validate.padding(padding, self.kernel_size, self.stride, (1, 1), fn)
            self.padding = padding
        else:
            self.padding = validate.pair(padding, "padding", fn, minimum=0)
        d = validate.floating_dtype(dtype, fn)
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
        self.weight._data[...] = w
        changed(self.weight)
        if self.bias is not None:
            self.bias._data[...] = rng.uniform(-1.0, 1.0, self.out_channels) * bound

    def dense_weight(self) -> Tensor:
        """The equivalent Conv2d weight (out, in, kH, kW): the kernels where the table allows, zeros elsewhere."""
        return ScatterKernels(self.table)(self.weight)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"connections={self.connections}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def forward(self, input):
        return table_conv2d(input, self.weight, self.table, self.bias, self.stride, self.padding)
