"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998), for 28×28 single-channel digits.

    layer   operation                        output        parameters
    C1      conv 6@5×5, padding 2            6×28×28       6·(1·25) + 6      =    156
    S2      2×2 pooling, stride 2            6×14×14
    C3      conv 16@5×5                      16×10×10      16·(6·25) + 16    =  2,416   (1,516 with the table)
    S4      2×2 pooling, stride 2            16×5×5
    C5      conv 120@5×5                     120×1×1       120·(16·25) + 120 = 48,120
    F6      fully connected 120 → 84         84            120·84 + 84       = 10,164
    output  fully connected 84 → classes     10            84·10 + 10        =    850
                                                           total              61,706   (60,806 classic)

The padding of 2 stands in for the paper's 32×32 input frame around a 28×28 digit
(``input_size=32`` takes 32×32 inputs without padding, e.g. CIFAR-10 with ``in_channels=3``).
The modern variant uses ReLU and max pooling. ``classic=True`` gives LeCun's: tanh,
average pooling (sub-sampling) and the S2→C3 connection table, in which each C3 map
sees only some S2 maps (``LENET5_C3_TABLE`` below). The paper's trainable
sub-sampling coefficients and RBF output layer are replaced by plain average pooling
and a linear layer, as is usual.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..nn import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, TableConv2d, Tanh
from ..ops import validate
from ..tensor import Tensor


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


class LeNet5(Module):
    """LeNet-5: ``features`` (C1, S2, C3, S4, C5 with their activations) then ``classifier`` (F6, output).

    ``input_size`` 28 (MNIST-like digits; C1 pads by 2) or 32 (the paper's 32×32 frame, or CIFAR; no padding):
    both reach C5 at 1×1, so the parameter count does not depend on it.
    """

    def __init__(self, num_classes: int = 10, classic: bool = False, in_channels: int = 1, input_size: int = 28):
        super().__init__()
        num_classes = validate.positive_int(num_classes, "num_classes", "lenet5")
        in_channels = validate.positive_int(in_channels, "in_channels", "lenet5")
        if not validate.is_int(input_size) or input_size not in (28, 32):
            raise ValueError(f"lenet5: input_size must be 28 or 32, got {input_size!r}")
        act = Tanh if classic else ReLU
        pool = AvgPool2d if classic else MaxPool2d
        c3 = TableConv2d(6, 16, 5, LENET5_C3_TABLE) if classic else Conv2d(6, 16, 5)
        self.classic, self.in_channels, self.input_size = bool(classic), in_channels, int(input_size)
        self.features = Sequential(OrderedDict([
            ("c1", Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2)), ("act1", act()), ("s2", pool(2)),
            ("c3", c3), ("act3", act()), ("s4", pool(2)),
            ("c5", Conv2d(16, 120, 5)), ("act5", act()),
        ]))
        self.classifier = Sequential(OrderedDict([
            ("flatten", Flatten()), ("f6", Linear(120, 84)), ("act6", act()), ("output", Linear(84, num_classes)),
        ]))

    def extra_repr(self) -> str:
        return f"classic={self.classic}, input_size={self.input_size}"

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a Tensor input, got {type(x).__name__}")
        expected = (self.in_channels, self.input_size, self.input_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected input of shape (N, {', '.join(map(str, expected))}), got shape "
                             f"{tuple(x.shape)}")
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, classic: bool = False, in_channels: int = 1, input_size: int = 28) -> LeNet5:
    """LeNet-5 for 28×28 inputs: 61,706 parameters (ReLU, max pooling), or LeCun's ``classic`` variant
    (tanh, average pooling, the S2→C3 connection table: 60,806 parameters)."""
    return LeNet5(num_classes=num_classes, classic=classic, in_channels=in_channels, input_size=input_size)
