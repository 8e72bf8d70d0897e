"""DenseNet (Huang, Liu, van der Maaten & Weinberger, 2016, "Densely Connected Convolutional Networks").

Inside a dense block, layer ℓ receives the concatenation of the block input and the outputs of all the
layers before it, x_ℓ = H_ℓ([x_0, x_1, …, x_{ℓ−1}]), and adds k new maps (k = the growth rate): the block
input has c₀ channels, layer ℓ sees c₀ + (ℓ − 1)·k and the block outputs c₀ + L·k. Features are reused
instead of re-learned, so the layers can be narrow.

H_ℓ (DenseNet-B, the bottleneck version): BN-ReLU-conv 1×1 to bn_size·k = 4k maps, then BN-ReLU-conv 3×3 to
k maps. Between blocks a transition layer (DenseNet-C, compression θ = 0.5) halves the channels and the
map: BN-ReLU-conv 1×1 to ⌊θ·c⌋, 2×2/2 average pool.

    stage            output (224×224)   densenet121       densenet169       densenet201       densenet161
    conv0 7×7/2, BN, ReLU, max pool 3×3/2 → 56×56      64                64                64                96
    denseblock1      56×56               6 layers          6                 6                 6
    transition1      28×28
    denseblock2      28×28              12                 12                12                12
    transition2      14×14
    denseblock3      14×14              24                 32                48                36
    transition3      7×7
    denseblock4      7×7                16                 32                32                24
    norm5, ReLU, global average pool, fc → classes
    growth rate k                        32                 32                32                48
    parameters (1000 classes)            7,978,856          14,149,480        20,013,928        28,681,000

torchvision's layout and key names (``features.denseblock1.denselayer1.norm1.weight``,
``features.transition1.conv.weight``, ``features.norm5.*``, ``classifier.*``) and initialization
(convolutions kaiming_normal_ (fan_in), BN γ = 1, β = 0, classifier bias 0).

Concatenation without quadratic copying: a block allocates one (N, c₀ + L·k, H, W) buffer; each layer's
k new maps are written into their slice once, and every layer's input [x_0, …, x_{ℓ−1}] is a view of
the buffer's first channels (``GrowingConcat``). Concatenating anew for every layer would copy
Σ_ℓ (c₀ + ℓk) channels per block, quadratic in L. The backward pass hands each piece its slice of the
incoming gradient, exactly like ``cat``.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..function import Function
from ..nn import AvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ModuleDict, ReLU, Sequential, init
from ..nn import functional as F
from ..ops.shape import cat, flatten
from ..tensor import Tensor
from ._util import check_image_batch, check_in_channels


class GrowingConcat(Function):
    """y = [x_0, …, x_m] joined along channels, as a view of a block-wide buffer.

    Only the last input is copied (into ``buffer[:, c − c_m : c]``); the earlier ones were written there
    by the previous calls of the same block, in order. Backward: dx_i = its channel slice of dy (views).
    """

    def __init__(self, buffer: np.ndarray):
        self.buffer = buffer

    def forward(self, *xs):
        self.bounds = np.cumsum([0] + [x.shape[1] for x in xs])
        start, stop = self.bounds[-2], self.bounds[-1]
        self.buffer[:, start:stop] = xs[-1]
        return self.buffer[:, :stop]

    def backward(self, gy):
        return tuple(gy[:, self.bounds[i]:self.bounds[i + 1]] if need else None
                     for i, need in enumerate(self.needs_input_grad))


class _DenseLayer(Module):
    """BN-ReLU-conv1×1 (bn_size·k maps) → BN-ReLU-conv3×3 (k maps), on the concatenation of earlier maps."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = BatchNorm2d(num_input_features)
        self.relu1 = ReLU(inplace=True)
        self.conv1 = Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = BatchNorm2d(bn_size * growth_rate)
        self.relu2 = ReLU(inplace=True)
        self.conv2 = Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, input):
        """``input``: the concatenated earlier maps, or a list of them (joined here)."""
        x = input if isinstance(input, Tensor) else cat(list(input), 1)
        bottleneck = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new = F.dropout(new, p=self.drop_rate, training=self.training)
        return new


class _DenseBlock(ModuleDict):
    """``num_layers`` dense layers (``denselayer1`` …); output: the input and every new map, concatenated."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int,
                 drop_rate: float):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)
        self.num_input_features = num_input_features
        self.growth_rate = growth_rate

    def forward(self, init_features):
        x = init_features
        n, _, h, w = x.shape
        total = self.num_input_features + len(self) * self.growth_rate
        buffer = np.empty((n, total, h, w), dtype=x.dtype)
        pieces = [x]
        features = GrowingConcat(buffer)(x)
        for layer in self.values():
            pieces.append(layer(features))
            features = GrowingConcat(buffer)(*pieces)
        return features


class _Transition(Sequential):
    """BN-ReLU-conv 1×1 to ``num_output_features`` (compression), then 2×2/2 average pooling."""

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__()
        self.add_module("norm", BatchNorm2d(num_input_features))
        self.add_module("relu", ReLU(inplace=True))
        self.add_module("conv", Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                                       bias=False))
        self.add_module("pool", AvgPool2d(kernel_size=2, stride=2))


class DenseNet(Module):
    native_size = 224
    min_size = 29  # after conv0 and pool0 the three transitions' 2×2/2 pools need an 8×8 map

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000, compression: float = 0.5,
                 name: str = "DenseNet", in_channels: int = 3):
        super().__init__()
        self.arch = name
        self.in_channels = check_in_channels(in_channels, name)
        self.features = Sequential(OrderedDict([
            ("conv0", Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", BatchNorm2d(num_init_features)),
            ("relu0", ReLU(inplace=True)),
            ("pool0", MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                out = int(num_features * compression)
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, out))
                num_features = out
        self.features.add_module("norm5", BatchNorm2d(num_features))
        self.classifier = Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, Linear):
                init.zeros_(m.bias)

    def forward(self, x):
        check_image_batch(x, self.arch, self.in_channels, self.min_size, self.native_size)
        out = F.relu(self.features(x))
        return self.classifier(flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))


def _densenet(name, growth_rate, block_config, num_init_features, num_classes, **kwargs) -> DenseNet:
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, name=name, **kwargs)


def densenet121(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16): 7,978,856 parameters."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, num_classes, **kwargs)


def densenet161(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-161 (k = 48, blocks 6-12-36-24, 96 initial maps): 28,681,000 parameters."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, num_classes, **kwargs)


def densenet169(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-169 (k = 32, blocks 6-12-32-32): 14,149,480 parameters."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, num_classes, **kwargs)


def densenet201(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-201 (k = 32, blocks 6-12-48-32): 20,013,928 parameters."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, num_classes, **kwargs)
